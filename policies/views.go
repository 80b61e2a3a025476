package policies

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/fwgen/fwgen/catalog"
)

// ServiceRule is a rule of the by-service view: the ports one role's service
// needs for one protocol from one set of sources. Windows admins and the KB
// think this way; CSV, PowerShell and netsh use it.
type ServiceRule struct {
	Role          string `json:"role"`
	Service       string `json:"service"`
	ServiceName   string `json:"service_name"`
	SystemService string `json:"system_service,omitempty"`
	Proto         Proto  `json:"protocol"`
	// Ports are merged: numbers and ranges, sorted.
	Ports    []PortRange `json:"ports,omitempty"`
	ICMPType *int        `json:"icmp_type,omitempty"`
	// Sources are the union of the addresses of the rule's peers; empty
	// means any address.
	Sources []netip.Prefix `json:"sources,omitempty"`
	// Set is the source set of Sources, which outputs with address
	// objects write once; nil for any address.
	Set    *SourceSet `json:"-"`
	Peers  []Peer     `json:"peers"`
	Labels []string   `json:"labels,omitempty"`
	RPC    []string   `json:"rpc,omitempty"`
	// AnySource marks a rule of needs open to any address whatever the
	// peers' scope (DHCP): their senders have no address yet and send to a
	// broadcast or multicast address, so a host firewall matches them on
	// any destination too.
	AnySource bool `json:"any_source,omitempty"`
	// Family is the IP version the rule is limited to, 4 or 6; 0 for both.
	Family int `json:"family,omitempty"`
	// Optional marks a rule of a scenario's entries: they get rules of
	// their own, so that a reader sees what a scenario opened; Scenarios
	// names them.
	Optional  bool     `json:"optional,omitempty"`
	Scenarios []string `json:"scenarios,omitempty"`
	OSReasons []string `json:"os_reasons,omitempty"`
	Notes     string   `json:"notes,omitempty"`
	Refs      []Ref    `json:"refs"`
	// Program and WinService bind the rule to the program and Windows
	// service that listen (see Need); empty in the port-only view and
	// where fwgen knows no program. BindRefs cite them; BindNotes say why
	// a port stays port-only on purpose.
	Program    string   `json:"program,omitempty"`
	WinService string   `json:"win_service,omitempty"`
	BindRefs   []Ref    `json:"bind_refs,omitempty"`
	BindNotes  []string `json:"bind_notes,omitempty"`

	bound bool // made by ByService, which splits rules by binding
}

// ScopeRule is a rule of the by-scope view: every port of one protocol that
// one set of sources may reach, with the services and roles that need them.
// It makes the fewest rules; nftables and iptables use it.
type ScopeRule struct {
	Sources []netip.Prefix `json:"sources,omitempty"`
	// Set is the source set of Sources (see ServiceRule.Set).
	Set *SourceSet `json:"-"`
	// AnySource and Family: see ServiceRule.
	AnySource bool        `json:"any_source,omitempty"`
	Family    int         `json:"family,omitempty"`
	Proto     Proto       `json:"protocol"`
	Ports     []PortRange `json:"ports,omitempty"`
	ICMPType  *int        `json:"icmp_type,omitempty"`
	Services  []string    `json:"services"`
	Roles     []string    `json:"roles"`
}

// portAtom is one port or range of one protocol (and ICMP type) of one
// rule key, with the union of the sources of every peer that needs it: a
// port that clients from one network and the other domain controllers
// need is one port open to both.
type portAtom struct {
	key    needKind // the rule key the views group by, without the sources
	any    bool     // the needs are AnySource ones
	family int      // the needs' IP version, or 0
	proto  Proto
	ports  PortRange
	icmp   *int
	set    *SourceSet // the union of the needs' sources; nil for any address
	peers  string     // the needs' peers, sorted, joined with ","
	needs  []*Need
}

// needKind is what the views group needs by, besides their sources: for
// the by-scope view the protocol and ICMP type, for the by-service view
// also the role, service and scenarios, and for the bound by-service view
// the program and Windows service too.
type needKind struct {
	role, service, scenarios string
	proto                    Proto
	icmp                     int // -1 for none
	program, winService      string
}

// Kinds of view, which decide a need's needKind.
const (
	kindScope = iota
	kindService
	kindBound
)

func kindOf(n *Need, kind int) needKind {
	k := needKind{proto: n.Proto, icmp: -1}
	if n.ICMPType != nil {
		k.icmp = *n.ICMPType
	}
	if kind == kindScope {
		return k
	}
	k.role, k.service, k.scenarios = n.Role, n.Service, strings.Join(n.Scenarios, ",")
	if kind == kindBound {
		k.program, k.winService = n.Program, n.WinService
	}
	return k
}

// viewCache holds the views of a group made by Resolve, worked out once
// and shared by every format; groups are read-only once resolved.
type viewCache struct {
	atomsOnce [3]sync.Once
	atoms     [3][]*portAtom
	scopeOnce sync.Once
	scope     []ScopeRule
	svcOnce   [2]sync.Once
	svc       [2][]ServiceRule
}

// atoms groups the needs by kind and port, and joins the sources of each
// group.
func (g *Group) atoms(kind int) []*portAtom {
	if g.views == nil {
		return g.makeAtoms(kind)
	}
	v := g.views
	v.atomsOnce[kind].Do(func() { v.atoms[kind] = g.makeAtoms(kind) })
	return v.atoms[kind]
}

func (g *Group) makeAtoms(kind int) []*portAtom {
	type atomKey struct {
		k      needKind
		ports  PortRange
		any    bool
		family int
	}
	sets := g.sets
	if sets == nil {
		sets = newSourceTable() // a group made by hand, outside Resolve
	}
	byKey := map[atomKey]*portAtom{}
	var out []*portAtom
	for i := range g.Needs {
		n := &g.Needs[i]
		set := n.set
		if set == nil && len(n.Sources) > 0 {
			ps := sortPrefixes(n.Sources)
			set = sets.intern(SourcesKey(ps), ps)
		}
		ak := atomKey{kindOf(n, kind), n.Ports, n.AnySource, n.Family}
		a, ok := byKey[ak]
		if !ok {
			a = &portAtom{key: ak.k, any: n.AnySource, family: n.Family, proto: n.Proto, ports: n.Ports, icmp: n.ICMPType, set: set}
			byKey[ak] = a
			out = append(out, a)
		} else {
			a.set = sets.union(a.set, set)
		}
		a.needs = append(a.needs, n)
	}
	for _, a := range out {
		var peers []string
		for _, n := range a.needs {
			if !slices.Contains(peers, string(n.Peer)) {
				peers = append(peers, string(n.Peer))
			}
		}
		slices.Sort(peers)
		a.peers = strings.Join(peers, ",")
	}
	return out
}

// sources are the atom's source prefixes; nil for any address.
func (a *portAtom) sources() []netip.Prefix {
	if a.set == nil {
		return nil
	}
	return a.set.Prefixes
}

// ByService groups the needs by (role, service, protocol, ICMP type,
// scenarios, program and Windows service, peers, sources), where the
// sources of a port are the union of those of every peer that needs it: a
// rule says which peers it admits and, bound to the program that listens,
// what may receive it. The rules are worked out once per group: callers
// must not change them.
func (g *Group) ByService() []ServiceRule { return g.serviceView(true) }

// PortOnly is ByService without the bindings: rules that admit their
// ports whatever program listens (--bind none).
func (g *Group) PortOnly() []ServiceRule { return g.serviceView(false) }

func (g *Group) serviceView(bind bool) []ServiceRule {
	i := 0
	if bind {
		i = 1
	}
	if g.views == nil {
		return g.byService(bind)
	}
	v := g.views
	v.svcOnce[i].Do(func() { v.svc[i] = g.byService(bind) })
	return v.svc[i]
}

// serviceRuleKey is what a by-service rule is made of.
type serviceRuleKey struct {
	k      needKind
	peers  string
	set    *SourceSet
	any    bool
	family int
}

func (g *Group) byService(bind bool) []ServiceRule {
	byKey := map[serviceRuleKey]*ServiceRule{}
	var keys []serviceRuleKey
	ranges := map[serviceRuleKey][]PortRange{}
	kind := kindService
	if bind {
		kind = kindBound
	}
	for _, a := range g.atoms(kind) {
		k := serviceRuleKey{a.key, a.peers, a.set, a.any, a.family}
		r, ok := byKey[k]
		if !ok {
			n := a.needs[0]
			r = &ServiceRule{Role: n.Role, Service: n.Service, ServiceName: n.ServiceName,
				SystemService: n.SystemService, Proto: n.Proto, ICMPType: n.ICMPType,
				Sources: a.sources(), Set: a.set, AnySource: a.any, Family: a.family, Optional: n.Optional, Scenarios: n.Scenarios, Notes: n.Notes}
			if bind {
				r.Program, r.WinService, r.bound = n.Program, n.WinService, true
			}
			byKey[k] = r
			keys = append(keys, k)
		}
		if a.proto.HasPorts() {
			ranges[k] = append(ranges[k], a.ports)
		}
		for _, n := range a.needs {
			r.Peers = addUnique(r.Peers, n.Peer)
			r.Labels = addUnique(r.Labels, n.Label)
			r.RPC = addUnique(r.RPC, n.RPC)
			r.OSReasons = addUnique(r.OSReasons, n.OSReason)
			for _, ref := range n.Refs {
				r.Refs = addUnique(r.Refs, ref)
			}
			if bind {
				for _, ref := range n.BindRefs {
					r.BindRefs = addUnique(r.BindRefs, ref)
				}
				r.BindNotes = addUnique(r.BindNotes, n.BindNote)
			}
		}
	}
	out := make([]ServiceRule, 0, len(keys))
	for _, k := range keys {
		r := byKey[k]
		r.Ports = catalog.MergeRanges(ranges[k])
		slices.Sort(r.Peers)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ServiceRule) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(icmpKey(a.ICMPType), icmpKey(b.ICMPType)),
			boolCmp(a.Optional, b.Optional), slices.Compare(a.Scenarios, b.Scenarios),
			slices.Compare(a.Peers, b.Peers), compareSets(a.Set, b.Set),
			boolCmp(a.AnySource, b.AnySource), cmp.Compare(a.Family, b.Family),
			cmp.Compare(a.Program, b.Program), cmp.Compare(a.WinService, b.WinService))
	})
	return out
}

// compareSets orders source sets by name, any address (nil) first.
func compareSets(a, b *SourceSet) int {
	switch {
	case a == b:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(a.Name, b.Name)
}

// boolCmp orders false before true.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ByScope groups the needs by (sources, protocol, ICMP type) and merges
// their ports, where the sources of a port are the union of those of every
// peer that needs it. The rules are worked out once per group: callers
// must not change them.
func (g *Group) ByScope() []ScopeRule {
	if g.views == nil {
		return g.byScope()
	}
	v := g.views
	v.scopeOnce.Do(func() { v.scope = g.byScope() })
	return v.scope
}

func (g *Group) byScope() []ScopeRule {
	type scopeKey struct {
		k      needKind
		set    *SourceSet
		any    bool
		family int
	}
	byKey := map[scopeKey]*ScopeRule{}
	var keys []scopeKey
	ranges := map[scopeKey][]PortRange{}
	for _, a := range g.atoms(kindScope) {
		k := scopeKey{a.key, a.set, a.any, a.family}
		r, ok := byKey[k]
		if !ok {
			r = &ScopeRule{Sources: a.sources(), Set: a.set, AnySource: a.any, Family: a.family, Proto: a.proto, ICMPType: a.icmp}
			byKey[k] = r
			keys = append(keys, k)
		}
		if a.proto.HasPorts() {
			ranges[k] = append(ranges[k], a.ports)
		}
		for _, n := range a.needs {
			r.Services = addUnique(r.Services, n.Service)
			r.Roles = addUnique(r.Roles, n.Role)
		}
	}
	out := make([]ScopeRule, 0, len(keys))
	for _, k := range keys {
		r := byKey[k]
		r.Ports = catalog.MergeRanges(ranges[k])
		slices.Sort(r.Services)
		slices.Sort(r.Roles)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ScopeRule) int {
		return cmp.Or(compareSets(a.Set, b.Set), boolCmp(a.AnySource, b.AnySource),
			cmp.Compare(a.Family, b.Family),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(icmpKey(a.ICMPType), icmpKey(b.ICMPType)))
	})
	return out
}

// PortRule is a row of the by-port view: a protocol and port (or range)
// with every service that needs it.
type PortRule struct {
	Proto    Proto     `json:"protocol"`
	Ports    PortRange `json:"ports,omitzero"`
	ICMPType *int      `json:"icmp_type,omitempty"`
	Services []string  `json:"services"`
	Roles    []string  `json:"roles"`
	Peers    []Peer    `json:"peers"`
	Labels   []string  `json:"labels,omitempty"`
}

// ByPort groups the needs by (protocol, port or range, ICMP type).
func (g *Group) ByPort() []PortRule {
	byKey := map[string]*PortRule{}
	var keys []string
	for _, n := range g.Needs {
		k := fmt.Sprintf("%s|%05d|%05d|%s", n.Proto, n.Ports.From, n.Ports.To, icmpKey(n.ICMPType))
		r, ok := byKey[k]
		if !ok {
			r = &PortRule{Proto: n.Proto, Ports: n.Ports, ICMPType: n.ICMPType}
			byKey[k] = r
			keys = append(keys, k)
		}
		r.Services = addUnique(r.Services, n.Service)
		r.Roles = addUnique(r.Roles, n.Role)
		r.Peers = addUnique(r.Peers, n.Peer)
		r.Labels = addUnique(r.Labels, n.Label)
	}
	slices.Sort(keys)
	out := make([]PortRule, 0, len(keys))
	for _, k := range keys {
		r := byKey[k]
		slices.Sort(r.Services)
		slices.Sort(r.Roles)
		slices.Sort(r.Peers)
		out = append(out, *r)
	}
	return out
}

// SourcesKey is a stable text form of a source list; "" means any address.
func SourcesKey(ps []netip.Prefix) string {
	b := make([]byte, 0, 20*len(ps))
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.AppendTo(b)
	}
	return string(b)
}

func icmpKey(t *int) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("%03d", *t)
}

// addUnique appends v unless it is zero or already present, keeping order.
func addUnique[T comparable](s []T, v T) []T {
	var zero T
	if v == zero || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// hasFamily reports whether a prefix of ps is of IP version fam, as
// len(OfFamily(ps, fam)) > 0 without making the list.
func hasFamily(ps []netip.Prefix, fam int) bool {
	for _, p := range ps {
		if (fam == 4) == p.Addr().Is4() {
			return true
		}
	}
	return false
}

// Meets reports whether the rule can match traffic to servers: whether
// some IP version is one of the rule's (Family, or its ICMP's), of its
// sources (any when none) and of the servers (any when none). An ICMPv6
// rule for servers with IPv4 addresses only, or IPv6 sources for IPv4
// servers, can never match, and outputs leave it out rather than write a
// rule that reads as open.
func (r ServiceRule) Meets(servers []netip.Prefix) bool {
	fam := r.Family
	if f := ICMPFamily(r.Proto); f != 0 {
		fam = f
	}
	for _, f := range []int{4, 6} {
		if fam != 0 && f != fam {
			continue
		}
		if (len(r.Sources) == 0 || hasFamily(r.Sources, f)) && (len(servers) == 0 || hasFamily(servers, f)) {
			return true
		}
	}
	return false
}
