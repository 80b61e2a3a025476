package policies

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// entry turns one catalog entry of a role's service into needs, one per
// peer, or into an omission that says why it was left out.
func (r *resolver) entry(role *catalog.Role, rs catalog.RoleService, svc *catalog.Service, e catalog.Entry) {
	omit := func(reason string) {
		r.g.Omitted = append(r.g.Omitted, Omission{Role: role.ID, Service: svc.ID, Proto: e.Protocol,
			Ports: strings.Join(e.Ports, ","), Label: e.Label, Reason: reason})
	}
	scenarios := nonEmpty(rs.Scenario, e.Scenario)
	var osReasons []string
	for _, c := range []struct {
		when *catalog.Condition
		why  string
	}{{rs.When, rs.Why}, {e.When, e.Why}} {
		if c.when == nil {
			continue
		}
		ok, why := r.holds(c.when)
		if !ok {
			reason := fmt.Sprintf("not needed for this OS mix: %s (%s)", c.why, why)
			omit(reason)
			for _, sc := range scenarios {
				r.scenarioMissed(sc, role.ID, reason)
			}
			return
		}
		osReasons = append(osReasons, fmt.Sprintf("%s (%s)", c.why, why))
	}
	on := true
	for _, sc := range scenarios {
		on = on && r.scenarioOn(sc)
	}
	for _, sc := range scenarios {
		// A scenario's state is its own: dfsn's NetBIOS entries belong to
		// dfs-namespaces and netbios, and opening them needs both, but
		// dfs-namespaces is on when it was asked for.
		r.scenarioPorts(sc, role.ID, e, r.scenarioOn(sc), on)
	}
	if !on {
		return
	}
	base := Need{Role: role.ID, Service: svc.ID, ServiceName: svc.Name, SystemService: svc.SystemService,
		Label: e.Label, Proto: e.Protocol, ICMPType: e.ICMPType, Optional: len(scenarios) > 0,
		Scenarios: scenarios, OSReason: strings.Join(osReasons, "; "), Notes: svc.Notes,
		Refs: r.refs(svc, e, rs.Ref), Family: cmp.Or(ICMPFamily(e.Protocol), e.Family)}
	var builds []int
	for _, o := range r.listeners() {
		builds = append(builds, o.Build)
	}
	if b, ok := r.c.BindingFor(svc.ID, e, builds); ok {
		base.Program, base.WinService, base.BindNote = b.Program, b.WinService, b.Why
		base.BindRefs = r.citeAll(b.Ref)
	}
	for _, peer := range entryPeers(role, e) {
		n := base
		n.Peer = peer
		src, ok := r.sources(role, peer)
		if !ok {
			id, _ := peer.Role()
			r.absent[id] = addUnique(r.absent[id], svc.ID)
			continue
		}
		if fam := n.Family; fam != 0 && src != nil {
			// ICMPv4 comes from IPv4 addresses only, ICMPv6 from IPv6 ones.
			if src, ok = r.site.sets.family(src, fam); !ok {
				continue // the peer has no address that sends this protocol
			}
		}
		n.setSources(src)
		if e.AnySource {
			n.setSources(nil)
			n.AnySource = true
			r.note(fmt.Sprintf("%s %s of %s is open to any address: %s", e.Protocol, strings.Join(e.Ports, ","), svc.ID, e.Why))
		}
		r.addPorts(n, e)
	}
}

// entryPeers are an entry's peers, with admins after clients: an
// administrator's workstation is a computer of the estate like any other,
// and needs what clients need besides what its tools do. The members of a
// role whose members are each other's clients (domain controllers) come
// after clients too.
func entryPeers(role *catalog.Role, e catalog.Entry) []Peer {
	peers := slices.Clone([]Peer(e.Peers))
	if e.Peers.Has(Clients) && !e.Peers.Has(Admins) {
		peers = append(peers, Admins)
	}
	if e.Peers.Has(Clients) && role.MembersAreClients && !e.Peers.Has(Members) {
		peers = append(peers, Members)
	}
	return peers
}

// addPorts adds the needs of one peer for each port string of an entry.
func (r *resolver) addPorts(n Need, e catalog.Entry) {
	if !e.Protocol.HasPorts() {
		r.add(n)
		return
	}
	for _, p := range e.Ports {
		for _, m := range r.ports(n, p, e.RPC) {
			r.add(m)
		}
	}
}

// ports expands one port string of an entry: a number or a range, the RPC
// dynamic range (which a static RPC port of the entry's interface
// replaces, and a restricted range narrows) or the OS's ephemeral range.
func (r *resolver) ports(base Need, p, iface string) []Need {
	switch p {
	case catalog.RPCDynamicSymbol:
		return r.rpcPorts(base, iface)
	case catalog.EphemeralSymbol:
		var out []Need
		for _, pr := range r.ephemeral {
			n := base
			n.Ports = pr
			out = append(out, n)
		}
		return out
	}
	pr, err := catalog.ParsePortRange(p)
	if err != nil { // the catalog's Check rules this out
		panic(fmt.Sprintf("catalog: service %s: %v", base.Service, err))
	}
	base.Ports = pr
	base.RPCInterface = iface
	return []Need{base}
}

func (r *resolver) rpcPorts(base Need, iface string) []Need {
	base.RPCInterface = iface
	for _, s := range r.g.RPC.Static {
		if iface != "" && s.Interface == iface {
			base.RPC = "static"
			base.Ports = PortRange{From: s.Port, To: s.Port}
			return []Need{base}
		}
	}
	base.RPC = "dynamic"
	if r.p.RPC.Range != nil {
		base.RPC = "restricted"
	}
	var out []Need
	for _, pr := range r.g.RPC.Ranges {
		n := base
		n.Ports = pr
		out = append(out, n)
	}
	return out
}

// needKey identifies a need: two needs of one key are the same.
type needKey struct {
	role, service, label string
	proto                Proto
	ports                PortRange
	icmp                 int
	peer                 Peer
}

func keyOf(n Need) needKey {
	icmp := -1
	if n.ICMPType != nil {
		icmp = *n.ICMPType
	}
	return needKey{n.Role, n.Service, n.Label, n.Proto, n.Ports, icmp, n.Peer}
}

// add appends a need unless an equal one is there already.
func (r *resolver) add(n Need) {
	k := keyOf(n)
	if r.seen[k] {
		return
	}
	r.seen[k] = true
	r.g.Needs = append(r.g.Needs, n)
}

// refs resolves an entry's citations, or its service's when it has none,
// and then those of the role's service.
func (r *resolver) refs(svc *catalog.Service, e catalog.Entry, roleRefs []catalog.Citation) []Ref {
	cites := e.Ref
	if len(cites) == 0 {
		cites = svc.Ref
	}
	return r.citeAll(slices.Concat(cites, roleRefs))
}

// citeAll resolves citations to Refs with their documents' titles and
// addresses, each once. Needs that cite the same share one slice, clipped
// so that an append makes a copy: a site's needs cite a few hundred lists.
func (r *resolver) citeAll(cites []catalog.Citation) []Ref {
	var key strings.Builder
	for _, c := range cites {
		key.WriteString(c.Doc + "\x00" + c.Section + "\x00")
	}
	if refs, ok := r.site.refs[key.String()]; ok {
		return refs
	}
	refs := slices.Clip(r.cite(cites))
	r.site.refs[key.String()] = refs
	return refs
}

func (r *resolver) cite(cites []catalog.Citation) []Ref {
	var out []Ref
	for _, c := range cites {
		ref := Ref{Doc: c.Doc, Section: c.Section}
		if d := r.c.Document(c.Doc); d != nil {
			ref.Title, ref.URL = d.Title, d.URL
		}
		out = addUnique(out, ref)
	}
	return out
}

// holds evaluates an OS condition against the group's servers (or, with
// Mix, the whole OS mix) and says why.
func (r *resolver) holds(w *catalog.Condition) (bool, string) {
	hosts, what, noun := r.listeners(), "the servers run", "server"
	if w.Mix {
		hosts, what, noun = r.oses, "the OS mix has", "host"
	}
	anyOS := func(f func(*catalog.OS) bool) bool { return slices.ContainsFunc(hosts, f) }
	names := func(f func(*catalog.OS) bool) string {
		var out []string
		for _, o := range hosts {
			if f(o) {
				out = append(out, o.Name)
			}
		}
		return strings.Join(out, ", ")
	}
	var reasons []string
	if len(w.OSAny) > 0 {
		var want []string
		for _, id := range w.OSAny {
			o, _ := r.c.OS(id)
			want = append(want, o.Name)
		}
		in := func(o *catalog.OS) bool { return slices.Contains(want, o.Name) }
		if !anyOS(in) {
			return false, "no " + noun + " runs " + strings.Join(want, " or ")
		}
		reasons = append(reasons, what+" "+names(in))
	}
	if w.Before != "" {
		limit, _ := r.c.OS(w.Before)
		older := func(o *catalog.OS) bool { return o.Build < limit.Build }
		if !anyOS(older) {
			return false, "every " + noun + " runs " + limit.Name + " or later"
		}
		reasons = append(reasons, fmt.Sprintf("%s %s, older than %s", what, names(older), limit.Name))
	}
	if w.From != "" {
		limit, _ := r.c.OS(w.From)
		newer := func(o *catalog.OS) bool { return o.Build >= limit.Build }
		if !anyOS(newer) {
			return false, "every " + noun + " is older than " + limit.Name
		}
		reasons = append(reasons, fmt.Sprintf("%s %s, %s or later", what, names(newer), limit.Name))
	}
	return true, strings.Join(reasons, "; ")
}

// scenarioOn reports whether the group asked for scenario id.
func (r *resolver) scenarioOn(id string) bool {
	return r.p.Optional || slices.Contains(r.p.Scenarios, id) || slices.Contains(r.h.Scenarios, id)
}

// scenarioPorts records that scenario id of role is on or off, and that
// it opens (or, off, would open) the ports of entry e: opens tells whether
// the entry's ports are open, which needs all of its scenarios on.
func (r *resolver) scenarioPorts(id, role string, e catalog.Entry, on, opens bool) {
	st := r.scenarioState(id, role, on)
	if on == opens {
		st.Ports = addUnique(st.Ports, entryPortText(e))
	}
}

// scenarioMissed records that an entry of scenario id was left out for the
// OS mix, so that a scenario asked for that opens nothing says why.
func (r *resolver) scenarioMissed(id, role, reason string) {
	r.scenarioState(id, role, r.scenarioOn(id))
	if _, ok := r.missed[id]; !ok {
		r.missed[id] = reason
	}
}

func (r *resolver) scenarioState(id, role string, on bool) *ScenarioState {
	st := r.scenarios[id]
	if st == nil {
		st = &ScenarioState{ID: id, Name: id, On: on}
		if sc, err := r.c.Scenario(id); err == nil {
			st.Name, st.Description = sc.Name, sc.Description
			for _, c := range sc.Ref {
				ref := Ref{Doc: c.Doc, Section: c.Section}
				if d := r.c.Document(c.Doc); d != nil {
					ref.Title, ref.URL = d.Title, d.URL
				}
				st.Refs = append(st.Refs, ref)
			}
		}
		r.scenarios[id] = st
	}
	st.Roles = addUnique(st.Roles, role)
	return st
}

// entryPortText names what an entry opens: "80/tcp", "rpc-dynamic/tcp",
// "icmpv6 type 128", "esp".
func entryPortText(e catalog.Entry) string {
	switch {
	case e.ICMPType != nil:
		return fmt.Sprintf("%s type %d", e.Protocol, *e.ICMPType)
	case len(e.Ports) == 0:
		return string(e.Protocol)
	}
	return strings.Join(e.Ports, ",") + "/" + string(e.Protocol)
}

// scenarioList returns the group's scenarios, sorted by id, and notes
// those asked for that open nothing on these servers.
func (r *resolver) scenarioList() []ScenarioState {
	var out []ScenarioState
	for _, st := range r.scenarios {
		slices.Sort(st.Roles)
		if st.On && len(st.Ports) == 0 {
			r.note(fmt.Sprintf("scenario %s is on but opens nothing on these servers: %s", st.ID, r.missed[st.ID]))
		}
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b ScenarioState) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// note adds a note to the group once.
func (r *resolver) note(s string) {
	if !slices.Contains(r.g.Notes, s) {
		r.g.Notes = append(r.g.Notes, s)
	}
}

// sortNeeds orders needs by role, service, protocol, port, ICMP type, peer
// and label, so that output never depends on catalog order.
func sortNeeds(ns []Need) {
	slices.SortFunc(ns, func(a, b Need) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Ports.From, b.Ports.From),
			cmp.Compare(a.Ports.To, b.Ports.To), cmp.Compare(icmpKey(a.ICMPType), icmpKey(b.ICMPType)),
			cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.Label, b.Label))
	})
}

// nonEmpty returns the strings that are not empty.
func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// unionPrefixes joins source lists; an empty list (any address) absorbs

// ICMPFamily is the IP version of an ICMP protocol: 4 for icmpv4, 6 for
// icmpv6, and 0 for the other protocols, which both versions carry.
func ICMPFamily(p Proto) int {
	switch p {
	case ICMPv4:
		return 4
	case ICMPv6:
		return 6
	}
	return 0
}

// OfFamily keeps the prefixes of IP version fam (4 or 6).
func OfFamily(ps []netip.Prefix, fam int) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if (fam == 4) == p.Addr().Is4() {
			out = append(out, p)
		}
	}
	return out
}
