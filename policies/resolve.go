package policies

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// legacyBuild is the first build of Windows Vista / Server 2008: earlier
// versions use the old RPC dynamic range and lack newer firewall tooling.
const legacyBuild = 6000

// sitePolicyDoc is the document id a site policy's own services cite when
// they name none.
const sitePolicyDoc = "site-policy"

// Resolve turns a policy into a Ruleset, reading ports from the catalog
// c together with the policy's own services and roles.
func Resolve(p *Policy, c *catalog.Catalog) (*Ruleset, error) {
	c, err := withPolicy(p, c)
	if err != nil {
		return nil, err
	}
	rs := &Ruleset{Schema: RulesetSchema, Policy: p.Name, Source: p.Source}
	for _, name := range slices.Sorted(maps.Keys(p.Networks)) {
		if name != QuickFrom {
			rs.Networks = append(rs.Networks, Network{Name: name, Prefixes: sortPrefixes(p.Networks[name])})
		}
	}
	site := newSite(p, c)
	shared := newNeedsShare()
	shapes := map[string]*Group{}
	var errs []error
	for i := range p.Hosts {
		h := &p.Hosts[i]
		key := shapeKey(p, h)
		if g, ok := shapes[key]; ok && resolveShapes {
			rs.Groups = append(rs.Groups, g.as(h))
			continue
		}
		g, own, err := resolveGroup(site, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("host group %q: %w", h.Name, err))
			continue
		}
		shared.share(g)
		if !own {
			shapes[key] = g
		}
		rs.Groups = append(rs.Groups, *g)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rs.sources = site.sets
	rs.index = &groupIndex{}
	rs.names = newSourceNames()
	rs.SourceSets = rs.listSets()
	return rs, nil
}

// resolveShapes lets Resolve resolve a shape's groups once; tests turn
// it off to compare.
var resolveShapes = true

// shapeKey is what resolving a host group reads of it, but for its name,
// addresses and profiles: its roles, OS mix, scenarios and named peers.
// Groups of one shape whose resolution did not depend on the group itself
// (resolveGroup's own) resolve the same: a site's groups are mostly a few
// shapes.
func shapeKey(p *Policy, h *Host) string {
	var b strings.Builder
	list := func(items []string) {
		for _, it := range items {
			b.WriteString(it)
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	list(h.Roles)
	if len(h.OS) > 0 {
		list(h.OS)
	} else {
		list(p.OS)
	}
	list(h.Scenarios)
	for _, peer := range slices.Sorted(maps.Keys(h.Peers)) {
		list([]string{string(peer)})
		list(h.Peers[peer])
	}
	return b.String()
}

// as is g, resolved for another host group of its shape, as h's group.
// The slices are g's, clipped: a Ruleset's groups are read-only, and an
// append makes a copy.
func (g *Group) as(h *Host) Group {
	o := *g
	o.Name, o.Addresses, o.Profiles = h.Name, h.Addresses, h.Profiles
	o.Roles, o.OS, o.Needs = slices.Clip(g.Roles), slices.Clip(g.OS), slices.Clip(g.Needs)
	o.Omitted, o.Scenarios, o.Notes = slices.Clip(g.Omitted), slices.Clip(g.Scenarios), slices.Clip(g.Notes)
	o.RPC.Ranges, o.RPC.Static = slices.Clip(g.RPC.Ranges), slices.Clip(g.RPC.Static)
	return o
}

// site holds what the resolution of every host group of a policy shares:
// the source sets, and the holders of each role, worked out once rather
// than once per group.
type site struct {
	p       *Policy
	c       *catalog.Catalog
	sets    *sourceTable
	holders map[string][]*Host      // role id → the host groups that hold it, in policy order
	peers   map[string]holderResult // holders of a role or named networks, by cache key
	refs    map[string][]Ref        // the Refs of a list of citations (citeAll)
}

// holderResult is a peer's addresses: its set, and the host groups left
// out because they have no addresses.
type holderResult struct {
	set  *SourceSet
	bare []string
}

func newSite(p *Policy, c *catalog.Catalog) *site {
	return &site{p: p, c: c, sets: newSourceTable(), holders: map[string][]*Host{}, peers: map[string]holderResult{}, refs: map[string][]Ref{}}
}

// roleHolders are the host groups that hold role id, in policy order.
func (s *site) roleHolders(id string) []*Host {
	if hs, ok := s.holders[id]; ok {
		return hs
	}
	var hs []*Host
	for i := range s.p.Hosts {
		if h := &s.p.Hosts[i]; s.holdsRole(h, id) {
			hs = append(hs, h)
		}
	}
	s.holders[id] = hs
	return hs
}

func (s *site) holdsRole(h *Host, role string) bool {
	for _, name := range h.Roles {
		if rr, err := s.c.Role(name); err == nil && rr.ID == role {
			return true
		}
	}
	return false
}

// withPolicy adds the policy's services and roles to the catalog; a service
// that cites nothing cites the site policy. A scenario that the policy's
// services name and the catalog does not have is the policy's own.
func withPolicy(p *Policy, c *catalog.Catalog) (*catalog.Catalog, error) {
	if len(p.Services) == 0 && len(p.Roles) == 0 {
		return c, nil
	}
	add := catalog.Additions{Documents: []catalog.Document{{ID: sitePolicyDoc, Title: "site policy " + p.Name}}}
	add.Services = slices.Clone(p.Services)
	for i := range add.Services {
		if len(add.Services[i].Ref) == 0 {
			add.Services[i].Ref = []catalog.Citation{{Doc: sitePolicyDoc}}
		}
		for _, e := range add.Services[i].Entries {
			if _, err := c.Scenario(e.Scenario); e.Scenario != "" && err != nil &&
				!slices.ContainsFunc(add.Scenarios, func(s catalog.Scenario) bool { return s.ID == e.Scenario }) {
				add.Scenarios = append(add.Scenarios, catalog.Scenario{ID: e.Scenario, Name: e.Scenario,
					Description: "a scenario of the site policy's service " + add.Services[i].ID + ": " + e.Why})
			}
		}
	}
	add.Roles = slices.Clone(p.Roles)
	for i := range add.Roles {
		if len(add.Roles[i].Ref) == 0 {
			add.Roles[i].Ref = []catalog.Citation{{Doc: sitePolicyDoc}}
		}
	}
	return c.With(add)
}

// resolver holds what one host group's resolution needs.
type resolver struct {
	site *site
	p    *Policy
	h    *Host
	c    *catalog.Catalog
	g    *Group
	oses []*catalog.OS
	seen map[needKey]bool
	// ephemeral are the default dynamic ranges of the servers' OS (KB
	// 929851), which the os-ephemeral symbol stands for.
	ephemeral []PortRange
	scenarios map[string]*ScenarioState
	// missed says why a scenario's first entry left out for the OS mix was.
	missed map[string]string
	// sourceCache holds the sources of each (role, peer), worked out once.
	sourceCache map[sourceKey]sourceResult
	// absent lists, for each role whose servers would connect but that no
	// host group holds, the services they would connect to.
	absent map[string][]string
	// anyWhy says why a peer may connect from any address, where the
	// reason is not that the policy names no networks for it.
	anyWhy map[Peer]string
	// own is set when the group's needs depend on the group itself (its
	// own addresses as its members), not only on its shape (shapeKey).
	own bool
}

type sourceKey struct {
	role string
	peer Peer
}

type sourceResult struct {
	src *SourceSet
	ok  bool
}

// resolveGroup resolves host group h; own reports whether its needs
// depend on the group itself rather than only on its shape (shapeKey).
func resolveGroup(s *site, h *Host) (g *Group, own bool, err error) {
	p, c := s.p, s.c
	r := &resolver{site: s, p: p, h: h, c: c, seen: map[needKey]bool{}, scenarios: map[string]*ScenarioState{}, missed: map[string]string{},
		sourceCache: map[sourceKey]sourceResult{}, absent: map[string][]string{},
		anyWhy: map[Peer]string{}}
	r.g = &Group{Name: h.Name, Addresses: h.Addresses, Profiles: h.Profiles, sets: s.sets, views: &viewCache{}}
	if err := r.osMix(); err != nil {
		return nil, false, err
	}
	if err := r.rpcChoice(); err != nil {
		return nil, false, err
	}
	for _, name := range h.Roles {
		role, err := c.Role(name)
		if err != nil {
			return nil, false, err
		}
		if slices.Contains(r.g.Roles, role.ID) {
			continue
		}
		r.g.Roles = append(r.g.Roles, role.ID)
		for _, rs := range role.Services {
			svc, err := c.Service(rs.ID)
			if err != nil {
				return nil, false, fmt.Errorf("role %q: %w", role.ID, err)
			}
			for _, e := range svc.Entries {
				r.entry(role, rs, svc, e)
			}
		}
	}
	if len(r.g.Roles) == 0 {
		return nil, false, errors.New("no roles")
	}
	r.endpointMapper()
	r.absentNotes()
	sortNeeds(r.g.Needs)
	r.g.Scenarios = r.scenarioList()
	r.openNotes()
	r.unpinnedNote()
	slices.SortFunc(r.g.Omitted, func(a, b Omission) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Ports, b.Ports), cmp.Compare(a.Label, b.Label),
			cmp.Compare(a.Reason, b.Reason))
	})
	r.g.Omitted = slices.Compact(r.g.Omitted)
	return r.g, r.own, nil
}

// osMix resolves the group's OS versions, oldest first.
func (r *resolver) osMix() error {
	names := r.h.OS
	if len(names) == 0 {
		names = r.p.OS
	}
	if len(names) == 0 {
		return errors.New("no OS versions: name them (for example --os 2016)")
	}
	for _, n := range names {
		o, err := r.c.OS(n)
		if err != nil {
			return err
		}
		if !slices.Contains(r.oses, o) {
			r.oses = append(r.oses, o)
		}
	}
	slices.SortStableFunc(r.oses, func(a, b *catalog.OS) int { return a.Build - b.Build })
	for _, o := range r.oses {
		r.g.OS = append(r.g.OS, OSVersion{ID: o.ID, Name: o.Name, Kind: o.Kind, Build: o.Build, Legacy: o.Build < legacyBuild})
	}
	return nil
}

// rpcChoice decides which range stands for "RPC dynamic".
func (r *resolver) rpcChoice() error {
	for _, iface := range slices.Sorted(maps.Keys(r.p.RPC.Static)) {
		if !slices.Contains(r.c.RPCInterfaces(), iface) {
			// The loader knows the catalog's interfaces; a policy that
			// overrides the service declaring one leaves the pin nothing
			// to pin, which the reader should know.
			r.g.Notes = append(r.g.Notes, fmt.Sprintf("the static RPC port for %s pins nothing: no service of this policy declares that interface", iface))
			continue
		}
		r.g.RPC.Static = append(r.g.RPC.Static, StaticRPC{Interface: iface, Port: r.p.RPC.Static[iface]})
	}
	slices.SortFunc(r.g.RPC.Static, func(a, b StaticRPC) int { return cmp.Compare(a.Interface, b.Interface) })
	for _, o := range r.listeners() {
		if !slices.Contains(r.ephemeral, o.RPCDynamic) {
			r.ephemeral = append(r.ephemeral, o.RPCDynamic)
		}
	}
	slices.SortFunc(r.ephemeral, func(a, b PortRange) int { return cmp.Compare(a.From, b.From) })
	if r.p.RPC.Range != nil {
		r.g.RPC.Ranges = []PortRange{*r.p.RPC.Range}
		r.g.RPC.Reason = fmt.Sprintf("restricted RPC dynamic range %s set in the registry (KB 154596)", r.p.RPC.Range)
		return nil
	}
	byRange := map[PortRange][]string{}
	for _, o := range r.listeners() {
		if _, ok := byRange[o.RPCDynamic]; !ok {
			r.g.RPC.Ranges = append(r.g.RPC.Ranges, o.RPCDynamic)
		}
		byRange[o.RPCDynamic] = append(byRange[o.RPCDynamic], o.Name)
	}
	slices.SortFunc(r.g.RPC.Ranges, func(a, b PortRange) int { return cmp.Compare(a.From, b.From) })
	var parts []string
	for _, pr := range r.g.RPC.Ranges {
		parts = append(parts, fmt.Sprintf("%s for %s", pr, strings.Join(byRange[pr], ", ")))
	}
	r.g.RPC.Reason = "default RPC dynamic range of the servers' OS (KB 929851): " + strings.Join(parts, "; ")
	return nil
}

// listeners are the OS versions whose RPC dynamic range the group's servers
// listen on (Group.Hosts): client versions in the mix are peers, and their
// own ranges open nothing on the servers.
func (r *resolver) listeners() []*catalog.OS {
	var out []*catalog.OS
	for _, v := range r.g.Hosts() {
		o, _ := r.c.OS(v.ID) // osMix found it
		out = append(out, o)
	}
	return out
}

// sources are the addresses peer may connect from for an entry of role;
// nil means any address. ok is false when the peer is the servers of a
// role that no host group of a site policy holds and the group names no
// networks for: then nobody is that peer.
func (r *resolver) sources(role *catalog.Role, peer Peer) (src *SourceSet, ok bool) {
	k := sourceKey{role.ID, peer}
	if res, done := r.sourceCache[k]; done {
		return res.src, res.ok
	}
	var res sourceResult
	res.src, res.ok = r.findSources(role, peer)
	r.sourceCache[k] = res
	return res.src, res.ok
}

func (r *resolver) findSources(role *catalog.Role, peer Peer) (*SourceSet, bool) {
	if names, named := r.h.Peers[peer]; named {
		return r.named(names), true
	}
	if id, isRole := peer.Role(); isRole {
		return r.roleSources(id)
	}
	switch peer {
	case Admins:
		// Administrators work from client computers: left out, they are
		// the clients, and reach only what a scope already admits.
		return r.named(r.h.Peers[Clients]), true
	case Clients:
		return nil, true
	}
	if role.Members != catalog.MembersSite {
		r.own = true
		return r.holderAddresses(peer, "members of role "+role.ID, "host group "+r.h.Name, []*Host{r.h}), true
	}
	holders := r.site.roleHolders(role.ID)
	if !slices.Contains(holders, r.h) {
		r.own = true
		holders = append(slices.Clone(holders), r.h)
		slices.SortFunc(holders, func(a, b *Host) int { return r.hostIndex(a) - r.hostIndex(b) })
		return r.holderAddresses(peer, "members of role "+role.ID, "members of role "+role.ID+" and host group "+r.h.Name, holders), true
	}
	return r.holderAddresses(peer, "members of role "+role.ID, "members of role "+role.ID, holders), true
}

// hostIndex is the place of host group h in the policy.
func (r *resolver) hostIndex(h *Host) int {
	return slices.IndexFunc(r.p.Hosts, func(o Host) bool { return o.Name == h.Name })
}

// roleSources are the addresses of the host groups that hold role id: in
// quick mode, where no group does, the addresses the clients come from.
func (r *resolver) roleSources(id string) (*SourceSet, bool) {
	holders := r.site.roleHolders(id)
	switch {
	case len(holders) == 0 && r.p.Quick:
		return r.named(r.h.Peers[Clients]), true
	case len(holders) == 0:
		return nil, false
	}
	return r.holderAddresses(catalog.RolePeer(id), "the servers of role "+id, "servers of role "+id, holders), true
}

// holderAddresses are the addresses of the host groups that are a peer, as
// the set name. Groups without addresses cannot be scoped: the note says
// which are left out, or, when none has addresses, that the peer may
// connect from any.
func (r *resolver) holderAddresses(peer Peer, what, name string, holders []*Host) *SourceSet {
	key := "holders of " + name
	res, ok := r.site.peers[key]
	if !ok {
		var out []netip.Prefix
		for _, h := range holders {
			if len(h.Addresses) == 0 {
				res.bare = append(res.bare, h.Name)
			}
			out = append(out, h.Addresses...)
		}
		res.set = r.site.sets.intern(name, sortPrefixes(out))
		r.site.peers[key] = res
	}
	if len(holders) == 1 && holders[0] == r.h {
		r.own = true // the note below depends on it
	}
	switch {
	case len(res.bare) > 0 && res.set == nil && !(len(holders) == 1 && holders[0] == r.h):
		r.anyWhy[peer] = fmt.Sprintf("host group %s has no addresses (hosts[].addresses)", strings.Join(res.bare, ", "))
	case len(res.bare) > 0 && res.set != nil:
		r.note(fmt.Sprintf("%s leave out host group %s, which has no addresses (hosts[].addresses)",
			what, strings.Join(res.bare, ", ")))
	}
	return res.set
}

// absentNotes say, once per role, that the servers of a role would
// connect to some services of the group, and that no host group holds it.
func (r *resolver) absentNotes() {
	for _, id := range slices.Sorted(maps.Keys(r.absent)) {
		r.note(fmt.Sprintf("no rule for the servers of role %s, which connect to %s: no host group of the policy holds that role "+
			"(add its host group, or name its networks under peers.%s)", id, strings.Join(r.absent[id], ", "), id))
	}
}

// named are the addresses of the networks and host groups names lists, as
// one set named after them ("clients-01 + host group dcs").
func (r *resolver) named(names []string) *SourceSet {
	parts := make([]string, len(names))
	for i, n := range names {
		switch _, ok := r.p.Networks[n]; {
		case n == QuickFrom && ok:
			parts[i] = "--from addresses"
		case ok:
			parts[i] = n
		default:
			parts[i] = "host group " + n
		}
	}
	name := joinParts(parts, nil)
	if res, ok := r.site.peers[name]; ok {
		return res.set
	}
	var out []netip.Prefix
	for _, n := range names {
		if net, ok := r.p.Networks[n]; ok {
			out = append(out, net...)
			continue
		}
		for i := range r.p.Hosts {
			if r.p.Hosts[i].Name == n {
				out = append(out, r.p.Hosts[i].Addresses...)
			}
		}
	}
	set := r.site.sets.intern(name, sortPrefixes(out))
	r.site.peers[name] = holderResult{set: set}
	return set
}

// endpointMapper makes sure that every peer that may reach the RPC ports
// of a service (the dynamic range, a restricted range or a static port)
// may also reach the RPC endpoint mapper, 135/tcp, through which an RPC
// client finds them (KB 224196). The catalog's services have it; a site
// policy's own may not, and then it is added, with a note.
func (r *resolver) endpointMapper() {
	type svcPeer struct {
		role, service string
		peer          Peer
		scenarios     string
	}
	epm := map[svcPeer]bool{}
	for _, n := range r.g.Needs {
		if n.Proto == TCP && n.Ports == (PortRange{From: epmPort, To: epmPort}) {
			epm[svcPeer{n.Role, n.Service, n.Peer, strings.Join(n.Scenarios, ",")}] = true
		}
	}
	for _, n := range slices.Clone(r.g.Needs) {
		k := svcPeer{n.Role, n.Service, n.Peer, strings.Join(n.Scenarios, ",")}
		if n.RPC == "" || n.Proto != TCP || epm[k] {
			continue
		}
		epm[k] = true
		m := n
		m.Ports, m.RPC, m.RPCInterface = PortRange{From: epmPort, To: epmPort}, "", ""
		m.Label = "RPC endpoint mapper"
		m.Refs = append(slices.Clone(n.Refs), Ref{Doc: "kb224196", Title: "Restrict Active Directory RPC traffic to a specific port",
			URL: "https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/restrict-ad-rpc-traffic-to-specific-port"})
		r.add(m)
		r.note(fmt.Sprintf("135/tcp added for %s of %s: an RPC client finds the RPC ports through the endpoint mapper (KB 224196)", n.Peer, n.Service))
	}
}

func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return slices.Compact(out)
}

// openNotes says which peers of the group's needs may connect from any
// address, so that no format hides an unscoped rule.
func (r *resolver) openNotes() {
	var peers []Peer
	for _, n := range r.g.Needs {
		if len(n.Sources) == 0 && !n.AnySource && !slices.Contains(peers, n.Peer) {
			peers = append(peers, n.Peer)
		}
	}
	slices.Sort(peers)
	for _, peer := range peers {
		what := string(peer)
		if id, ok := peer.Role(); ok {
			what = "the servers of role " + id
		}
		why := "the policy gives no addresses for them"
		if w, ok := r.anyWhy[peer]; ok {
			why = w
		}
		r.note(fmt.Sprintf("%s may connect from any address: %s", what, why))
	}
}

// unpinnedNote says which services keep the RPC dynamic range although the
// policy pins RPC ports, so that nobody expects pinning to close the range.
func (r *resolver) unpinnedNote() {
	if len(r.g.RPC.Static) == 0 {
		return
	}
	var services []string
	for _, n := range r.g.Needs {
		if n.RPC == "dynamic" || n.RPC == "restricted" {
			services = addUnique(services, n.Service)
		}
	}
	if len(services) > 0 {
		r.g.Notes = append(r.g.Notes, fmt.Sprintf("static RPC ports pin only their own interfaces; the RPC dynamic range stays open for %s",
			strings.Join(services, ", ")))
	}
}
