package emit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fwgen/fwgen/policies"
)

// Chains of the Linux formats: the host firewall of the servers themselves,
// or a router in front of them.
const (
	chainInput   = "input"
	chainForward = "forward"
)

// linuxChain returns the chain opts names, "input" when none.
func linuxChain(opts Options) (string, error) {
	switch opts.Chain {
	case "", chainInput:
		return chainInput, nil
	case chainForward:
		return chainForward, nil
	}
	return "", fmt.Errorf("chain %q: want input or forward", opts.Chain)
}

// linuxOptions checks the chain and table options that every Linux format
// takes.
func linuxOptions(opts Options) (chain, table string, err error) {
	if chain, err = linuxChain(opts); err != nil {
		return "", "", err
	}
	table, err = linuxTable(opts)
	return chain, table, err
}

// groupDests returns the destinations a group's rules match: its servers'
// addresses, or none (any address) on a host firewall. A router must know
// the servers, and one chain serving several groups must tell them apart,
// or one group's ports would open on every other group's servers.
func groupDests(g *policies.Group, chain string, groups int) ([]netip.Prefix, error) {
	switch {
	case len(g.Addresses) > 0:
		return g.Addresses, nil
	case chain == chainForward:
		return nil, fmt.Errorf("host group %q: the forward chain needs the servers' addresses (--to or hosts[].addresses)", g.Name)
	case groups > 1:
		return nil, fmt.Errorf("host group %q: with %d host groups in one chain, each needs its servers' addresses (hosts[].addresses), or one group's ports would open on the others", g.Name, groups)
	}
	return nil, nil
}

// ruleFamily is the IP version a scope rule is limited to: its own (DHCP,
// DHCPv6) or its protocol's (ICMPv4, ICMPv6); 0 for both.
func ruleFamily(r policies.ScopeRule) family {
	return family(cmp.Or(r.Family, policies.ICMPFamily(r.Proto)))
}

// ruleDests returns the destinations a scope rule matches: the group's,
// but any address on a host firewall for a rule of senders without an
// address (DHCP), which send to a broadcast or multicast address. A router
// forwards such traffic only from a relay agent, to the servers.
func ruleDests(r policies.ScopeRule, chain string, dests []netip.Prefix) []netip.Prefix {
	if r.AnySource && chain == chainInput {
		return nil
	}
	return dests
}

// groupsDests returns the destinations of every group, in order (see
// groupDests). It refuses a group none of whose rules can meet its
// servers: the chain would have nothing for it, and under --default-deny
// would drop all its traffic.
func groupsDests(rs *policies.Ruleset, chain string) ([][]netip.Prefix, error) {
	out := make([][]netip.Prefix, len(rs.Groups))
	for i := range rs.Groups {
		g := &rs.Groups[i]
		dests, err := groupDests(g, chain, len(rs.Groups))
		if err != nil {
			return nil, err
		}
		if gaps := familyGaps(g, dests); len(gaps) > 0 && len(gaps) == len(g.ByScope()) {
			var sources []netip.Prefix
			for _, r := range gaps {
				sources = append(sources, r.Sources...)
			}
			return nil, fmt.Errorf("host group %q: no rule left: the sources (%s) and the servers' addresses (%s) are of different address families",
				g.Name, prefixList(outerPrefixes(sources)), prefixList(dests))
		}
		out[i] = dests
	}
	return out, nil
}

// familyGaps returns the scope rules of a group that no rule can carry:
// their sources and the group's servers have no address family in common.
// (A rule for ICMPv4 or ICMPv6 without servers of that family is not one:
// the servers simply never see such traffic.)
func familyGaps(g *policies.Group, dests []netip.Prefix) []policies.ScopeRule {
	var gaps []policies.ScopeRule
	for _, r := range g.ByScope() {
		if len(setFamilies(0, r.Set, dests)) == 0 {
			gaps = append(gaps, r)
		}
	}
	return gaps
}

// gapNote tells the reader of the header about a rule familyGaps left out.
func gapNote(r policies.ScopeRule) string {
	return fmt.Sprintf("note: no rule for %s (%s): the sources and the servers' addresses are of different address families",
		ruleWhat(r), linuxComment(r))
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// essentialScope says which traffic the rules that --default-deny keeps
// open apply to: all of it on a host firewall (one rule, no address, for
// both families), and where the drops are scoped (a router, a site's
// per-group file) only the traffic to the servers, for each family they
// have addresses of. The other traffic is not this file's: accepting it
// would skip the later rules of other tables, and dropping it (invalid
// packets) would override them.
func essentialScope(scoped bool, dests [][]netip.Prefix) []famRule {
	if !scoped {
		return []famRule{{}}
	}
	return splitFamilies(0, nil, slices.Concat(dests...))
}

// family is an IP version, 4 or 6.
type family int

// famRule is the part of a scope rule that one address family can match.
// Empty Sources or Dests mean any address. Set is the source set the
// Sources come from, when they come from one.
type famRule struct {
	Family         family
	Set            *policies.SourceSet
	Sources, Dests []netip.Prefix
}

// setFamilies is splitFamilies for the sources of a source set (nil for
// any address), whose prefixes of each family are worked out once per set
// rather than once per rule.
func setFamilies(only family, set *policies.SourceSet, dests []netip.Prefix) []famRule {
	var out []famRule
	for _, f := range []family{4, 6} {
		if only != 0 && f != only {
			continue
		}
		var src []netip.Prefix
		if set != nil {
			if src = set.Outer(int(f)); len(src) == 0 {
				continue
			}
		}
		if dst, ok := ofFamily(dests, f); ok {
			out = append(out, famRule{Family: f, Set: set, Sources: src, Dests: dst})
		}
	}
	return out
}

// ruleFamilies splits a scope rule by address family: see splitFamilies.
func ruleFamilies(r policies.ScopeRule, dests []netip.Prefix) []famRule {
	return setFamilies(ruleFamily(r), r.Set, dests)
}

// splitFamilies splits a rule by address family, as iptables and the
// address matches of nftables need: an IPv4 source never meets an IPv6
// destination, and a rule of one family (ICMP, DHCP) has no other; only is
// that family, or 0. A family is left out when the
// rule names addresses, but none of that family, so nothing is widened.
func splitFamilies(only family, sources, dests []netip.Prefix) []famRule {
	var out []famRule
	for _, f := range []family{4, 6} {
		if only != 0 && f != only {
			continue
		}
		src, okSrc := ofFamily(sources, f)
		dst, okDst := ofFamily(dests, f)
		if okSrc && okDst {
			out = append(out, famRule{Family: f, Sources: src, Dests: dst})
		}
	}
	return out
}

// ofFamily returns the outerPrefixes prefixes of family f, and whether a rule of
// that family can match: ps is empty (any address) or has such a prefix.
func ofFamily(ps []netip.Prefix, f family) ([]netip.Prefix, bool) {
	if len(ps) == 0 {
		return nil, true
	}
	var out []netip.Prefix
	for _, p := range ps {
		if familyOf(p) == f {
			out = append(out, p.Masked())
		}
	}
	return outerPrefixes(out), len(out) > 0
}

func familyOf(p netip.Prefix) family {
	if p.Addr().Is4() {
		return 4
	}
	return 6
}

// outerPrefixes sorts prefixes and drops those inside another: nftables refuses
// overlapping elements in an interval set, and the union is the same.
func outerPrefixes(ps []netip.Prefix) []netip.Prefix {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Bits() <= p.Bits() && out[n-1].Contains(p.Addr()) {
			continue // sorted by address, so a container is the last kept prefix
		}
		out = append(out, p)
	}
	return out
}

// Essential ICMP types that --default-deny keeps open: errors that path MTU
// discovery and failing connections rely on, and IPv6 neighbour discovery,
// without which IPv6 stops working on the link.
var (
	essentialICMPv4 = []int{3, 11, 12}
	essentialICMPv6 = []int{1, 2, 3, 4, 133, 134, 135, 136}
)

// essentialNote heads the rules --default-deny keeps open.
func essentialNote(chain string, ipv6 bool) string {
	what := []string{"replies"}
	if chain == chainInput {
		what = append(what, "loopback")
	}
	what = append(what, "ICMP errors")
	if ipv6 {
		what = append(what, "IPv6 neighbour discovery")
	}
	if chain == chainForward {
		return "--default-deny keeps these open to the servers, and leaves other traffic to the router's own rules: " + strings.Join(what, ", ")
	}
	return "--default-deny keeps these open: " + strings.Join(what, ", ")
}

// icmpNames are the names nftables gives ICMP types.
var icmpNames = map[policies.Proto]map[int]string{
	policies.ICMPv4: {0: "echo-reply", 3: "destination-unreachable", 5: "redirect", 8: "echo-request",
		9: "router-advertisement", 10: "router-solicitation", 11: "time-exceeded",
		12: "parameter-problem", 13: "timestamp-request", 14: "timestamp-reply"},
	policies.ICMPv6: {1: "destination-unreachable", 2: "packet-too-big", 3: "time-exceeded",
		4: "parameter-problem", 128: "echo-request", 129: "echo-reply", 130: "mld-listener-query",
		131: "mld-listener-report", 132: "mld-listener-done", 133: "nd-router-solicit",
		134: "nd-router-advert", 135: "nd-neighbor-solicit", 136: "nd-neighbor-advert",
		137: "nd-redirect", 143: "mld2-listener-report"},
}

// icmpName names an ICMP type as nftables does, or gives its number.
func icmpName(p policies.Proto, t int) string {
	if n, ok := icmpNames[p][t]; ok {
		return n
	}
	return fmt.Sprint(t)
}

// linuxHeader describes the Ruleset in comment lines: where it came from,
// and for each group its servers, OS mix, RPC range, notes and the services
// its rules name, with their references.
func linuxHeader(rs *policies.Ruleset, chain string, dests [][]netip.Prefix) []string {
	h := []string{fmt.Sprintf("fwgen: policy %s (%s), inbound rules for the %s chain", rs.Policy, rs.Source, chain)}
	type needsKey struct {
		first *policies.Need
		n     int
	}
	services := map[needsKey][]string{} // groups of one shape share their needs
	for i := range rs.Groups {
		g := &rs.Groups[i]
		h = append(h, "", fmt.Sprintf("Host group %s: roles %s; %s", g.Name, strings.Join(g.Roles, ", "), osNameList(g.OS)))
		if g.SharedWith != "" {
			h = append(h, fmt.Sprintf("  shares these servers with host group %s: its rules for them are in this file too, so that "+
				"--default-deny here drops nothing that %s's own file accepts", g.SharedWith, g.Name))
		}
		servers := "any address of this host"
		if len(g.Addresses) > 0 {
			servers = policies.SourcesKey(g.Addresses)
		}
		h = append(h, "  servers: "+servers, "  RPC dynamic range: "+PortList(g.RPC.Ranges)+": "+g.RPC.Reason)
		for _, n := range g.Notes {
			h = append(h, "  note: "+n)
		}
		for _, l := range scenarioLines(g) {
			h = append(h, "  "+l)
		}
		for _, r := range familyGaps(g, dests[i]) {
			h = append(h, "  "+gapNote(r))
		}
		h = append(h, "  services:")
		var k needsKey
		if len(g.Needs) > 0 {
			k = needsKey{&g.Needs[0], len(g.Needs)}
		}
		lines, ok := services[k]
		if !ok || k.first == nil {
			lines = linuxServices(g)
			services[k] = lines
		}
		for _, s := range lines {
			h = append(h, "    "+s)
		}
	}
	h = append(h, referenceLines(rs, false)...)
	for i, l := range h {
		h[i] = oneLine(l)
	}
	return h
}

// linuxServices lists each service of a group once, with the documents
// that give its ports: "kdc: Kerberos Key Distribution Center (KB 832017)".
func linuxServices(g *policies.Group) []string {
	type service struct {
		name string
		docs []string
	}
	byID := map[string]*service{}
	for i := range g.Needs {
		n := &g.Needs[i]
		s := byID[n.Service]
		if s == nil {
			s = &service{name: n.ServiceName}
			byID[n.Service] = s
		}
		s.name = min(s.name, n.ServiceName) // a service has one name; hand-made rulesets may vary
		for _, ref := range n.Refs {
			if d := (policies.Ref{Doc: ref.Doc}).String(); !slices.Contains(s.docs, d) {
				s.docs = append(s.docs, d)
			}
		}
	}
	out := make([]string, 0, len(byID))
	for id, s := range byID {
		out = append(out, fmt.Sprintf("%s: %s (%s)", id, s.name, strings.Join(s.docs, ", ")))
	}
	slices.Sort(out)
	return out
}

// linuxNote is the full provenance of a scope rule, for a comment line above
// it: "tcp 53,88 from 10.0.0.0/8: roles dc; services ad, kdc".
func linuxNote(r policies.ScopeRule) string {
	return oneLine(ruleWhat(r) + ": " + linuxComment(r))
}

// ruleWhat names the traffic of a scope rule: "tcp 53,88 from 10.0.0.0/8".
func ruleWhat(r policies.ScopeRule) string {
	return ruleTraffic(r) + " from " + r.Set.Label()
}

// ruleTraffic names the protocol and ports or ICMP type of a scope rule:
// "tcp 53,88", "icmpv4 type 8".
func ruleTraffic(r policies.ScopeRule) string {
	what := string(r.Proto)
	switch {
	case r.Proto.HasPorts():
		what += " " + PortList(r.Ports)
	case r.ICMPType != nil:
		what += fmt.Sprintf(" type %d", *r.ICMPType)
	}
	return what
}

// linuxComment names the roles and services of a rule: "roles dc; services
// ad, kdc". The formats' quoting helpers shorten it to fit.
func linuxComment(r policies.ScopeRule) string {
	return fmt.Sprintf("roles %s; services %s", strings.Join(r.Roles, ", "), strings.Join(r.Services, ", "))
}

// clipBytes shortens s to at most n bytes, on a rune boundary, ending with "..."
// when it cut something.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// siteFileDenyNote heads a site's per-group file on the input chain under
// --default-deny, whose drops are scoped to its group's servers.
var siteFileDenyNote = []string{
	"--default-deny drops only the traffic to this host group's servers that no rule accepts, so that",
	"the site's per-group files, loaded together, accept what its one file does. Traffic to the host's",
	"other addresses is left to its other rules (the site's one file drops it).",
}
