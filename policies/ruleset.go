package policies

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/fwgen/fwgen/catalog"
)

// RulesetSchema names the JSON form of a Ruleset that fwgen writes: v2
// lists each source set once (Ruleset.SourceSets) and needs name theirs.
// fwgen reads RulesetSchemaV1 too, whose needs list their sources.
const (
	RulesetSchema   = "fwgen/ruleset/v2"
	RulesetSchemaV1 = "fwgen/ruleset/v1"
)

// Proto, PortRange and Peer are the catalog's; emitters name them through
// this package so that they need not import the catalog.
type (
	Proto     = catalog.Proto
	PortRange = catalog.PortRange
	Peer      = catalog.Peer
)

// Possible Proto values.
const (
	TCP    = catalog.TCP
	UDP    = catalog.UDP
	ICMPv4 = catalog.ICMPv4
	ICMPv6 = catalog.ICMPv6
	GRE    = catalog.GRE
	ESP    = catalog.ESP
	AH     = catalog.AH
)

// Possible Peer values.
const (
	Clients = catalog.Clients
	Members = catalog.Members
	Admins  = catalog.Admins
)

// Ruleset is the resolved policy: for each host group, the inbound traffic
// its servers must accept, each need traced to its role, service, OS reason
// and reference. Emitters read only this.
type Ruleset struct {
	Schema string `json:"schema"`
	Policy string `json:"policy"`
	Source string `json:"source"`
	// Networks are the named networks of the policy, sorted by name, so
	// that an output can name a set of sources ("clients") rather than
	// list its prefixes.
	Networks []Network `json:"networks,omitempty"`
	// SourceSets are the lists of sources of the needs, each once, sorted
	// by name; a need names its own (Need.SourceSet).
	SourceSets []*SourceSet `json:"source_sets,omitempty"`
	Groups     []Group      `json:"groups"`

	sources *sourceTable // the table of SourceSets and of the sets views make from them
	index   *groupIndex  // finds groups for ForGroup (nil outside Resolve)
	names   *sourceNames // SourceName's answers (nil outside Resolve)
}

// sourceNames keeps what SourceName answered for each list of sources:
// the rules of a site share a few thousand lists, and naming one looks at
// every network and group.
type sourceNames struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64][]namedSources
	// index holds, for both IP versions and each (0, 4, 6), the networks
	// and host groups that names are made of.
	index [3]struct {
		once sync.Once
		ix   *nameIndex
	}
}

type namedSources struct {
	ps   []netip.Prefix
	name string
}

func newSourceNames() *sourceNames {
	return &sourceNames{seed: maphash.MakeSeed(), m: map[uint64][]namedSources{}}
}

// lookup returns the name of sources, working it out with name the first
// time.
func (c *sourceNames) lookup(sources []netip.Prefix, name func() string) string {
	if c == nil {
		return name()
	}
	key := hashPrefixes(c.seed, sources)
	c.mu.Lock()
	for _, n := range c.m[key] {
		if slices.Equal(n.ps, sources) {
			c.mu.Unlock()
			return n.name
		}
	}
	c.mu.Unlock()
	v := name()
	c.mu.Lock()
	c.m[key] = append(c.m[key], namedSources{slices.Clone(sources), v})
	c.mu.Unlock()
	return v
}

// Network is a named set of addresses of a policy.
type Network struct {
	Name     string         `json:"name"`
	Prefixes []netip.Prefix `json:"prefixes"`
}

// SourceName names a list of sources as the policy does: "any address"
// for none; the networks and host groups whose addresses make it up
// ("clients + admins", "host group dcs"), with " (IPv6)" when it is their
// addresses of one IP version (an ICMPv6 rule's); or else the prefixes
// themselves.
func (rs *Ruleset) SourceName(sources []netip.Prefix) string {
	if len(sources) == 0 {
		return "any address"
	}
	return rs.names.lookup(sources, func() string { return rs.sourceName(sources) })
}

func (rs *Ruleset) sourceName(sources []netip.Prefix) string {
	want := sources // a source set's prefixes are sorted already
	if !sortedPrefixes(want) {
		want = sortPrefixes(sources)
	}
	if name := rs.namedAs(want, 0); name != "" {
		return name
	}
	for _, fam := range []int{4, 6} {
		if len(OfFamily(want, fam)) == len(want) {
			if name := rs.namedAs(want, fam); name != "" {
				return fmt.Sprintf("%s (IPv%d)", name, fam)
			}
		}
	}
	return SourcesKey(want)
}

// namedAs names want as a union of networks, and then of networks and
// host groups, whose prefixes of IP version fam (0 for both) are exactly
// want; "" when there is none.
func (rs *Ruleset) namedAs(want []netip.Prefix, fam int) string {
	ix := rs.nameIndexOf(fam)
	var names []string
	var covered []netip.Prefix
	for _, n := range ix.networks {
		if len(n.ps) > 0 && containsAll(want, n.ps) {
			names = append(names, n.name)
			covered = append(covered, n.ps...)
		}
	}
	if len(names) > 0 && slices.Equal(sortPrefixes(covered), want) {
		return strings.Join(names, " + ")
	}
	// The groups that hold a prefix of want, in the policy's order: a
	// site has thousands of groups and a name takes a few.
	var candidates []int
	for _, p := range want {
		candidates = append(candidates, ix.byPrefix[p]...)
	}
	slices.Sort(candidates)
	for _, i := range slices.Compact(candidates) {
		if n := ix.groups[i]; containsAll(want, n.ps) {
			names = append(names, n.name)
			covered = append(covered, n.ps...)
		}
	}
	if len(names) > 0 && slices.Equal(sortPrefixes(covered), want) {
		return strings.Join(names, " + ")
	}
	return ""
}

// nameIndex is what names are made of, for one IP version or both: the
// networks and the host groups (but those that are part of another's
// file) with their prefixes of that version, sorted, and the groups that
// hold each prefix.
type nameIndex struct {
	networks, groups []namedSources
	byPrefix         map[netip.Prefix][]int // indexes of groups
}

// nameIndexOf returns the nameIndex of IP version fam, worked out once
// per Ruleset (each time for one built by hand).
func (rs *Ruleset) nameIndexOf(fam int) *nameIndex {
	build := func() *nameIndex {
		ix := &nameIndex{byPrefix: map[netip.Prefix][]int{}}
		of := func(ps []netip.Prefix) []netip.Prefix {
			if fam != 0 {
				ps = OfFamily(ps, fam)
			}
			return sortPrefixes(ps)
		}
		for _, n := range rs.Networks {
			ix.networks = append(ix.networks, namedSources{name: n.Name, ps: of(n.Prefixes)})
		}
		for _, g := range rs.Groups {
			if ps := of(g.Addresses); g.SharedWith == "" && len(ps) > 0 {
				for _, p := range ps {
					ix.byPrefix[p] = append(ix.byPrefix[p], len(ix.groups))
				}
				ix.groups = append(ix.groups, namedSources{name: "host group " + g.Name, ps: ps})
			}
		}
		return ix
	}
	if rs.names == nil {
		return build()
	}
	i := map[int]int{0: 0, 4: 1, 6: 2}[fam]
	c := &rs.names.index[i]
	c.once.Do(func() { c.ix = build() })
	return c.ix
}

// sortedPrefixes reports whether ps is as sortPrefixes makes it: masked,
// sorted and without repeats.
func sortedPrefixes(ps []netip.Prefix) bool {
	for i, p := range ps {
		if p != p.Masked() || i > 0 && comparePrefixes(ps[i-1], p) >= 0 {
			return false
		}
	}
	return true
}

// containsAll reports whether every prefix of part is in whole, both
// sorted.
func containsAll(whole, part []netip.Prefix) bool {
	for _, p := range part {
		if _, ok := slices.BinarySearchFunc(whole, p, comparePrefixes); !ok {
			return false
		}
	}
	return true
}

// Group is one host group's resolved needs.
type Group struct {
	Name      string         `json:"name"`
	Roles     []string       `json:"roles"`
	OS        []OSVersion    `json:"os"`
	Addresses []netip.Prefix `json:"addresses,omitempty"`
	Profiles  []string       `json:"profiles,omitempty"`
	RPC       RPCChoice      `json:"rpc"`
	Needs     []Need         `json:"needs"`
	// Omitted lists catalog entries left out, and why: optional ones not
	// asked for, and ones whose OS condition the mix does not meet.
	Omitted []Omission `json:"omitted,omitempty"`
	// Scenarios are the scenarios of the group's roles, on or off, with
	// the ports each opens (or would open).
	Scenarios []ScenarioState `json:"scenarios,omitempty"`
	// Notes are facts about the group a reader of any format should see,
	// such as a peer class that is open to any address.
	Notes []string `json:"notes,omitempty"`
	// SharedWith names the group whose file this group is part of, limited
	// to the addresses they share (see Ruleset.ForGroup); empty otherwise.
	SharedWith string `json:"shared_with,omitempty"`

	sets  *sourceTable // the Ruleset's: unions of the needs' source sets
	views *viewCache   // the views, worked out once (nil outside Resolve)
}

// OSVersion is a Windows version of a group's OS mix.
type OSVersion struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"` // "server" or "client"
	Build  int    `json:"build"`
	Legacy bool   `json:"legacy"` // before Vista / Server 2008
}

// Hosts are the versions the group's own servers run: the server versions
// of the OS mix, or the whole mix when it names client versions only. The
// other versions are peers that talk to the servers.
func (g *Group) Hosts() []OSVersion {
	var servers []OSVersion
	for _, v := range g.OS {
		if v.Kind == "server" {
			servers = append(servers, v)
		}
	}
	if len(servers) == 0 {
		return g.OS
	}
	return servers
}

// RPCChoice is the port range that stands for "RPC dynamic" in a group.
type RPCChoice struct {
	Ranges []PortRange `json:"ranges"`
	// Reason says why: the OS mix (KB 929851) or a restricted range (KB 154596).
	Reason string `json:"reason"`
	// Static lists the RPC interfaces pinned to a port (KB 224196).
	Static []StaticRPC `json:"static,omitempty"`
}

// StaticRPC is an RPC interface pinned to one port.
type StaticRPC struct {
	Interface string `json:"interface"`
	Port      uint16 `json:"port"`
}

// Need is the resolver's atom: one role's service needs one protocol and
// port (or range) open to one peer class.
type Need struct {
	Role          string    `json:"role"`
	Service       string    `json:"service"`
	ServiceName   string    `json:"service_name"`
	SystemService string    `json:"system_service,omitempty"`
	Label         string    `json:"label,omitempty"`
	Proto         Proto     `json:"protocol"`
	Ports         PortRange `json:"ports,omitzero"`
	ICMPType      *int      `json:"icmp_type,omitempty"`
	Peer          Peer      `json:"peer"`
	// Sources are the addresses the peer class may connect from; empty
	// means any address. They are the prefixes of the source set that
	// SourceSet names, which the JSON form lists once, in
	// Ruleset.SourceSets.
	Sources   []netip.Prefix `json:"-"`
	SourceSet string         `json:"source_set,omitempty"`
	// AnySource marks a need that stays open to any address whatever the
	// peer's scope, because its senders have no address yet (DHCP).
	AnySource bool `json:"any_source,omitempty"`
	// Family is the IP version the need is limited to, 4 or 6 (ICMPv4 and
	// ICMPv6, DHCP and DHCPv6); 0 for both.
	Family int `json:"family,omitempty"`
	// RPC tells how an RPC port was chosen: "dynamic" (the OS default
	// range), "restricted" (a narrowed range) or "static" (a pinned port).
	RPC string `json:"rpc,omitempty"`
	// RPCInterface is the interface of a static or dynamic RPC entry.
	RPCInterface string `json:"rpc_interface,omitempty"`
	// Optional marks a need that only a scenario brings; Scenarios names
	// them (all of them must be on).
	Optional  bool     `json:"optional,omitempty"`
	Scenarios []string `json:"scenarios,omitempty"`
	// OSReason says why an entry with an OS condition was kept.
	OSReason string `json:"os_reason,omitempty"`
	Notes    string `json:"notes,omitempty"`
	Refs     []Ref  `json:"refs"`
	// Program and WinService are the program and Windows service short
	// name that listen on the need's port, as Windows' predefined rules
	// bind them ("%SystemRoot%\System32\lsass.exe", "" or
	// "%SystemRoot%\system32\svchost.exe", "RpcSs"); empty when fwgen
	// knows none, and a Windows rule for the need binds nothing. BindRefs
	// cite where they come from; BindNote says why an entry stays
	// port-only on purpose.
	Program    string `json:"program,omitempty"`
	WinService string `json:"win_service,omitempty"`
	BindRefs   []Ref  `json:"bind_refs,omitempty"`
	BindNote   string `json:"bind_note,omitempty"`

	set *SourceSet // the set of Sources; nil for any address
}

// Set is the source set of the need's sources; nil for any address, and
// for a need made by hand, outside Resolve.
func (n *Need) Set() *SourceSet { return n.set }

// SetSources makes ps the need's sources, for a Ruleset built or edited by
// hand: the views make a source set of them. Views that a group's
// formats already asked for are not worked out again.
func (n *Need) SetSources(ps []netip.Prefix) { n.set, n.Sources, n.SourceSet = nil, ps, "" }

// setSources makes s the need's sources; nil is any address.
func (n *Need) setSources(s *SourceSet) {
	n.set, n.Sources, n.SourceSet = s, nil, ""
	if s != nil {
		n.Sources, n.SourceSet = s.Prefixes, s.Name
	}
}

// ScenarioState is a scenario of a group's roles: whether it is on, and
// what it opens (or would open) there, as "80/tcp" and "icmpv4 type 8".
type ScenarioState struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	On          bool     `json:"on"`
	Description string   `json:"description"`
	Roles       []string `json:"roles"`
	Ports       []string `json:"ports,omitempty"`
	Refs        []Ref    `json:"refs,omitempty"`
}

// Omission is a catalog entry the resolver left out.
type Omission struct {
	Role    string `json:"role"`
	Service string `json:"service"`
	Proto   Proto  `json:"protocol"`
	Ports   string `json:"ports,omitempty"`
	Label   string `json:"label,omitempty"`
	Reason  string `json:"reason"`
}

// Ref is a citation, resolved so that emitters can print it.
type Ref struct {
	Doc     string `json:"doc"`
	Title   string `json:"title"`
	URL     string `json:"url"`
	Section string `json:"section,omitempty"`
}

// String formats the citation as "KB 832017 (Active Directory)".
func (r Ref) String() string {
	s := r.Doc
	if len(s) > 2 && s[:2] == "kb" {
		s = "KB " + s[2:]
	} else if r.Title != "" {
		s = r.Title
	}
	if r.Section != "" {
		s += " (" + r.Section + ")"
	}
	return s
}

// Suggest returns the candidate closest to s when s looks like a typo of
// it, or "". It is the catalog's, shared so that every "did you mean" agrees.
func Suggest(s string, candidates []string) string { return catalog.Suggest(s, candidates) }

// ForGroup returns the Ruleset of host group name alone, as a file of its
// own carries it, or nil when rs has no such group. With shared, it also
// holds every other group whose servers' addresses overlap the group's,
// limited to the shared addresses and marked SharedWith: a firewall that
// loads each group's file, as one router loads the Linux files of a
// site, then accepts in every file all that any group accepts on those
// addresses, so that one file's --default-deny drops nothing another
// group's file accepts.
func (rs *Ruleset) ForGroup(name string, shared bool) *Ruleset {
	idx := rs.index.get(rs)
	i := -1
	if idx != nil {
		if j, ok := idx.byName[name]; ok {
			i = j
		}
	} else {
		i = slices.IndexFunc(rs.Groups, func(g Group) bool { return g.Name == name })
	}
	if i < 0 {
		return nil
	}
	one := *rs
	one.index = nil // of rs's groups, not of one's
	if rs.names != nil {
		one.names = newSourceNames() // one's groups name sources otherwise
	}
	one.Groups = []Group{rs.Groups[i]}
	defer func() { one.SourceSets = one.listSets() }()
	if !shared {
		return &one
	}
	own := rs.Groups[i].Addresses
	others := func(yield func(int) bool) {
		for j := range rs.Groups {
			if !yield(j) {
				return
			}
		}
	}
	if idx != nil {
		others = slices.Values(idx.overlapping(own))
	}
	for j := range others {
		if j == i {
			continue
		}
		g := rs.Groups[j]
		if common := overlap(own, g.Addresses); len(common) > 0 {
			g.Addresses, g.SharedWith = common, name
			one.Groups = append(one.Groups, g)
		}
	}
	return &one
}

// groupIndex finds a Ruleset's groups by name, and by the addresses of
// their servers, so that ForGroup on every group of a large site takes
// time in proportion to the groups, not to their square. It is built on
// first use; groups are read-only once resolved.
type groupIndex struct {
	once   sync.Once
	byName map[string]int
	// byPrefix lists each group's prefixes (masked), sorted by address
	// and then length, with the index of the group.
	byPrefix []indexedPrefix
	// exact maps a masked prefix to the groups that have it.
	exact map[netip.Prefix][]int
}

type indexedPrefix struct {
	p     netip.Prefix
	group int
}

// get returns the index of rs's groups, building it on first use; nil
// for a Ruleset without one.
func (x *groupIndex) get(rs *Ruleset) *groupIndex {
	if x == nil {
		return nil
	}
	x.once.Do(func() {
		x.byName = make(map[string]int, len(rs.Groups))
		x.exact = map[netip.Prefix][]int{}
		for i, g := range rs.Groups {
			if _, dup := x.byName[g.Name]; !dup {
				x.byName[g.Name] = i
			}
			for _, p := range g.Addresses {
				p = p.Masked()
				x.byPrefix = append(x.byPrefix, indexedPrefix{p, i})
				x.exact[p] = append(x.exact[p], i)
			}
		}
		slices.SortStableFunc(x.byPrefix, func(a, b indexedPrefix) int { return comparePrefixes(a.p, b.p) })
	})
	return x
}

// overlapping returns, in order, the groups with a prefix that overlaps
// one of ps: one that holds it, or one that it holds.
func (x *groupIndex) overlapping(ps []netip.Prefix) []int {
	var out []int
	for _, p := range ps {
		p = p.Masked()
		if !p.IsValid() {
			continue
		}
		// The prefixes that hold p, p among them.
		for bits := 0; bits <= p.Bits(); bits++ {
			if q, err := p.Addr().Prefix(bits); err == nil {
				out = append(out, x.exact[q]...)
			}
		}
		// The longer prefixes that p holds: sorted by address, they start
		// at p's address and run while p holds their address.
		k, _ := slices.BinarySearchFunc(x.byPrefix, p, func(e indexedPrefix, t netip.Prefix) int { return comparePrefixes(e.p, t) })
		for ; k < len(x.byPrefix) && p.Contains(x.byPrefix[k].p.Addr()); k++ {
			if x.byPrefix[k].p.Bits() > p.Bits() {
				out = append(out, x.byPrefix[k].group)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// overlap returns the addresses that a and b both hold: of each pair of
// prefixes that overlap, the narrower.
func overlap(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range a {
		for _, q := range b {
			if !p.Overlaps(q) {
				continue
			}
			if p.Bits() >= q.Bits() {
				out = append(out, p)
			} else {
				out = append(out, q)
			}
		}
	}
	return sortPrefixes(out)
}

// OmissionText says what was left out and why, and, when other needs of
// the group keep the same port open, that it stays open and for whom:
// "dc/w32time udp 123 (SNTP): not needed ... (udp 123 stays open for
// dc/w32time)".
func (g *Group) OmissionText(o Omission) string {
	what := strings.TrimSpace(o.Role + "/" + o.Service + " " + string(o.Proto) + " " + o.Ports)
	if o.Label != "" {
		what += " (" + o.Label + ")"
	}
	text := what + ": " + o.Reason
	pr, err := catalog.ParsePortRange(o.Ports)
	if err != nil {
		return text
	}
	var keep []string
	for _, n := range g.Needs {
		if n.Proto == o.Proto && n.Ports.Contains(pr.From) && !slices.Contains(keep, n.Role+"/"+n.Service) {
			keep = append(keep, n.Role+"/"+n.Service)
		}
	}
	if len(keep) > 0 {
		text += fmt.Sprintf(" (%s %s stays open for %s)", o.Proto, o.Ports, strings.Join(keep, ", "))
	}
	return text
}
