package emit

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

var _ = register(Format{Name: "nftables", Ext: "nft", Netfilter: true, Emitter: EmitFunc(emitNftables),
	Description: "a file for nft -f: its own inet table, replaced atomically on every load, with named sets"})

// nftCommentMax is the longest rule comment nft accepts, in bytes.
const nftCommentMax = 128

// nftData is what the nftables template lays out.
type nftData struct {
	Header []string
	Table  string
	Chain  string
	Policy string
	Sets   []nftSet
	Rules  []nftRule
}

// nftSet is a named set; Elements is its element list, already joined.
type nftSet struct {
	Name, Type, Elements string
}

// nftRule is a rule with the comment lines above it.
type nftRule struct {
	Notes []string
	Text  string
}

func emitNftables(w io.Writer, rs *policies.Ruleset, opts Options) error {
	d, err := nftBuild(rs, opts)
	if err != nil {
		return err
	}
	return render(w, "nftables.tmpl", d)
}

// nftBuild computes the sets and rules of a Ruleset.
func nftBuild(rs *policies.Ruleset, opts Options) (*nftData, error) {
	chain, table, err := linuxOptions(opts)
	if err != nil {
		return nil, err
	}
	dests, err := groupsDests(rs, chain)
	if err != nil {
		return nil, err
	}
	d := &nftData{Header: linuxHeader(rs, chain, dests), Table: table, Chain: chain, Policy: "accept"}
	b := &nftBuilder{d: d, names: map[string]string{}, sources: map[nftSourceKey]string{}, byElements: map[string]string{},
		portSets: map[policies.Proto]int{}}
	scoped := scopedDeny(rs, opts, chain)
	if opts.DefaultDeny && scoped && chain == chainInput {
		d.Header = append(d.Header, siteFileDenyNote...)
	}
	if opts.DefaultDeny {
		d.Rules = b.essentials(chain, dests, scoped)
		if !scoped {
			d.Policy = "drop"
		}
	}
	var drops []nftRule
	for i := range rs.Groups {
		g := &rs.Groups[i]
		if err := b.group(g, chain, dests[i]); err != nil {
			return nil, err
		}
		if opts.DefaultDeny && scoped && g.SharedWith == "" {
			drops = append(drops, b.drops(g, dests[i])...)
		}
	}
	d.Rules = append(d.Rules, drops...)
	return d, nil
}

// essentials are the rules --default-deny puts first, so that replies,
// loopback, ICMP errors and neighbour discovery keep working; where the
// drops are scoped, for the traffic to the servers only (see
// essentialScope).
func (b *nftBuilder) essentials(chain string, dests [][]netip.Prefix, scoped bool) []nftRule {
	scope := essentialScope(scoped, dests)
	var rules []nftRule
	add := func(f famRule, text string) {
		rules = append(rules, nftRule{Text: b.addrMatch(f.Family, "daddr", "servers", f.Dests) + text})
	}
	for _, f := range scope {
		add(f, `ct state established,related accept comment "essential: established, related"`)
	}
	for _, f := range scope {
		add(f, `ct state invalid drop comment "essential: invalid"`)
	}
	if chain == chainInput && !scoped {
		add(famRule{}, `iif "lo" accept comment "essential: loopback"`)
	}
	for _, f := range scope {
		if f.Family != 6 {
			add(f, fmt.Sprintf(`icmp type { %s } accept comment "essential: ICMP errors"`,
				icmpTypeList(policies.ICMPv4, essentialICMPv4)))
		}
		if f.Family != 4 {
			add(f, fmt.Sprintf(`icmpv6 type { %s } accept comment "essential: ICMPv6 errors, neighbour discovery"`,
				icmpTypeList(policies.ICMPv6, essentialICMPv6)))
		}
	}
	if len(rules) > 0 {
		rules[0].Notes = []string{essentialNote(chain, true)}
	}
	return rules
}

func icmpTypeList(p policies.Proto, types []int) string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = icmpName(p, t)
	}
	return strings.Join(s, ", ")
}

// nftBuilder collects the named sets and the rules of the groups.
type nftBuilder struct {
	d     *nftData
	names map[string]string // set name or group prefix → what it holds
	// sources holds the named set of each source set and family, so that
	// every rule that admits, say, the members of role dc refers to one
	// set, written once.
	sources    map[nftSourceKey]string
	byElements map[string]string // "type elements" → @name of a source or port set
	portSets   map[policies.Proto]int
}

type nftSourceKey struct {
	set *policies.SourceSet
	fam family
}

// group adds a group's rules: one per scope rule and address family, or
// one for both families when the rule names no address.
func (b *nftBuilder) group(g *policies.Group, chain string, groupDests []netip.Prefix) error {
	for _, r := range g.ByScope() {
		if err := linuxCheckPorts(g, r); err != nil {
			return err
		}
		var ports string
		if r.Proto.HasPorts() {
			ports = b.portSet(r.Proto, portElements(r.Ports))
		}
		dests := ruleDests(r, chain, groupDests)
		fams := ruleFamilies(r, dests)
		if len(fams) == 2 && r.Set == nil && len(dests) == 0 {
			fams = []famRule{{}} // no address to match: one rule serves both families
		}
		note := []string{linuxNote(r)}
		for _, f := range fams {
			text := b.sourceMatch(f) + inlineAddrMatch(f.Family, "daddr", f.Dests)
			if text == "" && r.Family != 0 && r.ICMPType == nil {
				text = map[int]string{4: "meta nfproto ipv4 ", 6: "meta nfproto ipv6 "}[r.Family]
			}
			b.d.Rules = append(b.d.Rules, nftRule{Notes: note,
				Text: text + nftProtoMatch(r, ports) + " accept comment " + nftString(linuxComment(r))})
			note = nil
		}
	}
	return nil
}

// sourceMatch matches the sources of f through the named set of its
// source set and family, shared by every rule of the file that admits
// them; "" for any address.
func (b *nftBuilder) sourceMatch(f famRule) string {
	if f.Set == nil || len(f.Sources) == 0 {
		return ""
	}
	k := nftSourceKey{f.Set, f.Family}
	if m, ok := b.sources[k]; ok {
		return m
	}
	name := slug(f.Set.Name, nftSetNameMax)
	if name == "" || name[0] < 'a' {
		name = "src-" + name
	}
	typ, proto := nftAddrType(f.Family)
	elements := nftElements(f.Sources)
	// Two source sets can hold the same addresses of a family (the
	// ICMPv4 rule's "clients (IPv4)" and the others' "clients"): one
	// named set serves both.
	ref, ok := b.byElements[typ+" "+elements]
	if !ok {
		ref = b.set(fmt.Sprintf("%s_v%d", name, f.Family), typ, elements)
		b.byElements[typ+" "+elements] = ref
	}
	m := fmt.Sprintf("%s saddr %s ", proto, ref)
	b.sources[k] = m
	return m
}

// nftAddrType is the set type and the expression of an address family.
func nftAddrType(f family) (typ, proto string) {
	if f == 6 {
		return "ipv6_addr", "ip6"
	}
	return "ipv4_addr", "ip"
}

// nftElements is a set's element list of prefixes.
func nftElements(ps []netip.Prefix) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(nftPrefix(p))
	}
	return b.String()
}

// nftSetNameMax is the longest source set name fwgen writes, before the
// family and any number: nft takes longer ones, but a reader does not.
const nftSetNameMax = 40

// linuxCheckPorts refuses a TCP or UDP rule without ports, which would print as
// a rule for port 0 or for every port.
func linuxCheckPorts(g *policies.Group, r policies.ScopeRule) error {
	if r.Proto.HasPorts() && (len(r.Ports) == 0 || r.Ports[0].From == 0) {
		return fmt.Errorf("host group %q: a %s rule for %s has no ports", g.Name, r.Proto, strings.Join(r.Services, ", "))
	}
	return nil
}

// drops are the last rules of a chain whose --default-deny is scoped (the
// forward chain, a site file's input chain): what no rule accepted is
// dropped on its way to the group's servers, and the rest is left to the
// other tables.
func (b *nftBuilder) drops(g *policies.Group, dests []netip.Prefix) []nftRule {
	var out []nftRule
	for _, f := range splitFamilies(0, nil, dests) {
		out = append(out, nftRule{Text: inlineAddrMatch(f.Family, "daddr", f.Dests) +
			"drop comment " + nftString("default deny: host group "+g.Name)})
	}
	if len(out) > 0 {
		out[0].Notes = []string{oneLine("--default-deny: the rest of the traffic to host group " + g.Name)}
	}
	return out
}

// addrMatch matches a family's addresses through the named set name_v4 or
// name_v6, or returns "" for any address.
func (b *nftBuilder) addrMatch(f family, field, name string, ps []netip.Prefix) string {
	if len(ps) == 0 {
		return ""
	}
	typ, proto := nftAddrType(f)
	set := b.set(fmt.Sprintf("%s_v%d", name, f), typ, nftElements(ps))
	return fmt.Sprintf("%s %s %s ", proto, field, set)
}

// portSet returns a rule's ports: a single port or range as it is, a list
// through a named set of those ports, shared by every group's rules that
// open the same ones ("tcp_2"), as the groups of a role mostly do.
func (b *nftBuilder) portSet(proto policies.Proto, elements string) string {
	if !strings.Contains(elements, ",") {
		return elements
	}
	key := "inet_service " + elements
	if ref, ok := b.byElements[key]; ok {
		return ref
	}
	b.portSets[proto]++
	ref := b.set(fmt.Sprintf("%s_%d", proto, b.portSets[proto]), "inet_service", elements)
	b.byElements[key] = ref
	return ref
}

// inlineAddrMatch matches a family's addresses written in the rule, as an
// anonymous set when there are several, or returns "" for any address.
// A group's servers are written in its rules: tens of thousands of named
// sets, which the kernel looks up by name one by one, would make loading
// a site's file take minutes.
func inlineAddrMatch(f family, field string, ps []netip.Prefix) string {
	if len(ps) == 0 {
		return ""
	}
	_, proto := nftAddrType(f)
	return fmt.Sprintf("%s %s %s ", proto, field, nftInline(nftElements(ps)))
}

// nftInline writes elements as a single value, or as an anonymous set.
func nftInline(elements string) string {
	if !strings.Contains(elements, ",") {
		return elements
	}
	return "{ " + elements + " }"
}

// set declares a named set and returns its reference, "@name". A set
// asked for again with the same elements is shared; a name taken by other
// elements gets a number, so that no rule ever matches another's set.
func (b *nftBuilder) set(name, typ, elements string) string {
	base := name
	for i := 2; b.names[name] != "" && b.names[name] != typ+" "+elements; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	if b.names[name] == "" {
		b.names[name] = typ + " " + elements
		b.d.Sets = append(b.d.Sets, nftSet{Name: name, Type: typ, Elements: elements})
	}
	return "@" + name
}

// nftProtoMatch matches the protocol, ports or ICMP type of a rule.
func nftProtoMatch(r policies.ScopeRule, ports string) string {
	switch {
	case r.Proto.HasPorts():
		return fmt.Sprintf("%s dport %s", r.Proto, ports)
	case r.Proto == policies.ICMPv4 && r.ICMPType != nil:
		return "icmp type " + icmpName(r.Proto, *r.ICMPType)
	case r.Proto == policies.ICMPv6 && r.ICMPType != nil:
		return "icmpv6 type " + icmpName(r.Proto, *r.ICMPType)
	case r.Proto == policies.ICMPv4:
		return "meta l4proto icmp"
	case r.Proto == policies.ICMPv6:
		return "meta l4proto ipv6-icmp"
	}
	return "meta l4proto " + string(r.Proto)
}

func portElements(rs []policies.PortRange) string {
	return strings.ReplaceAll(PortList(rs), ",", ", ")
}

// nftPrefix writes a host prefix as a bare address, as nft lists it.
func nftPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// nftString quotes s for nft: a quoted string cannot escape a double quote,
// so it becomes a single one; control characters (a newline would end the
// rule) become spaces; and the text is cut to the 128 bytes nft allows.
func nftString(s string) string {
	s = strings.ReplaceAll(oneLine(s), `"`, "'")
	return `"` + clipBytes(s, nftCommentMax) + `"`
}
