package emit

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// The Linux tests load the emitted rules into network namespaces of their
// own, read them back from the kernel and send traffic through them. They
// need root, nft, iptables and iproute2 (see fwtest.Require).

var linuxTools = []string{"ip", "nft", "iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save", "iptables", "ip6tables"}

// linuxCase is a role set and OS mix resolved with the embedded catalog.
type linuxCase struct {
	name      string
	roles, os []string
}

var linuxCases = []linuxCase{
	{"dc-2016", []string{"dc"}, []string{"2016"}},
	{"dc-2003-2016", []string{"dc"}, []string{"2003", "2016"}},
	{"cluster-node-2019", []string{"cluster-node"}, []string{"2019"}},
	{"hyperv-host-2022", []string{"hyperv-host"}, []string{"2022"}},
	{"dhcp-2016", []string{"dhcp"}, []string{"2016"}},
}

// ruleset resolves the case as quick mode does with --from and --to: every
// peer class limited to from, the servers at to.
func (c linuxCase) ruleset(t *testing.T, from, to []netip.Prefix) *policies.Ruleset {
	t.Helper()
	p := policies.Quick{Roles: c.roles, OS: c.os, From: from, To: to}.Policy()
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// linuxFormat is an output format as the tests load it: the families it
// covers and how to apply and read it back.
type linuxFormat struct {
	name string
	fam  family // 0 for both
}

var linuxFormats = []linuxFormat{{"nftables", 0}, {"iptables", 4}, {"ip6tables", 6}}

// apply loads rules into ns as the file's header says to: nft -f, or
// iptables-restore --noflush and then the jump command the header prints.
func (f linuxFormat) apply(ns *fwtest.Netns, rules []byte) error {
	if f.fam == 0 {
		_, err := ns.Exec(rules, "nft", "-f", "-")
		return err
	}
	jump, err := headerJump(rules)
	if err != nil {
		return err
	}
	restore := map[family]string{4: "iptables-restore", 6: "ip6tables-restore"}[f.fam]
	if _, err := ns.Exec(rules, restore, "--noflush"); err != nil {
		return err
	}
	_, err = ns.Exec(nil, "sh", "-c", jump)
	return err
}

// headerJump finds the command that the header of an iptables file says
// to run after loading it.
func headerJump(rules []byte) (string, error) {
	lines := strings.Split(string(rules), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "# then send the traffic through the chain") && i+1 < len(lines) {
			return strings.TrimPrefix(lines[i+1], "#   "), nil
		}
	}
	return "", fmt.Errorf("no jump command in the header:\n%s", rules)
}

// listing is the kernel's text form of what apply loaded, without the
// timestamps of iptables-save.
func (f linuxFormat) listing(t *testing.T, ns *fwtest.Netns) string {
	t.Helper()
	cmd := map[family]string{0: "nft", 4: "iptables-save", 6: "ip6tables-save"}[f.fam]
	args := map[family][]string{0: {"list", "ruleset"}}[f.fam]
	out := ns.Must(cmd, args...)
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// chains reads back the chains that hold the rules: fwgen's own and, for
// iptables, the built-in one that jumps to it.
func (f linuxFormat) chains(t *testing.T, ns *fwtest.Netns, table string) []fwtest.Chain {
	t.Helper()
	var chains []fwtest.Chain
	var err error
	switch f.fam {
	case 0:
		chains, err = fwtest.ParseNft(ns.Must("nft", "-j", "list", "ruleset"), "inet", table)
	case 4:
		chains, err = fwtest.ParseIptablesSave(ns.Must("iptables-save"))
	case 6:
		chains, err = fwtest.ParseIptablesSave(ns.Must("ip6tables-save"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return chains
}

// scope is a choice of sources and servers for a round trip.
type scope struct {
	name     string
	chain    string
	from, to []netip.Prefix
}

var (
	mixedFrom = []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16"), netip.MustParsePrefix("10.10.5.0/24"),
		netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd10::/48")}
	mixedTo = []netip.Prefix{netip.MustParsePrefix("10.20.0.0/24"), netip.MustParsePrefix("fd20::/64")}
	v4To    = []netip.Prefix{netip.MustParsePrefix("10.20.0.0/24")}
	scopes  = []scope{
		{"input-open", "input", nil, nil},
		{"input-scoped", "input", mixedFrom, mixedTo},
		{"forward-scoped", "forward", mixedFrom, mixedTo},
		{"forward-v4-servers", "forward", mixedFrom, v4To},
	}
)

// TestLinuxRoundTrip loads every case in every scope and format into a
// namespace, reads the rules back from the kernel, and checks that they
// accept exactly the Ruleset's needs: no flow more, none less.
func TestLinuxRoundTrip(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	for _, c := range linuxCases {
		for _, sc := range scopes {
			rs := c.ruleset(t, sc.from, sc.to)
			for _, deny := range []bool{false, true} {
				for _, f := range linuxFormats {
					name := fmt.Sprintf("%s/%s/deny=%v/%s", c.name, sc.name, deny, f.name)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						opts := Options{Chain: sc.chain, DefaultDeny: deny, Table: "fwgen_test"}
						roundTrip(t, f, rs, opts)
					})
				}
			}
		}
	}
}

// roundTrip loads rs in format f, checks what the kernel holds, and that
// loading again changes nothing.
func roundTrip(t *testing.T, f linuxFormat, rs *policies.Ruleset, opts Options) {
	rules := emitString(t, f.name, rs, opts)
	ns := fwtest.NewNetns(t)
	if err := f.apply(ns, rules); err != nil {
		t.Fatalf("%v\n%s", err, rules)
	}
	before := f.listing(t, ns)
	table := tableOf(opts)
	got, err := acceptedFlows(f, f.chains(t, ns, table), opts, rs)
	if err != nil {
		t.Fatalf("%v\n%s", err, rules)
	}
	want := expectedFlows(rs, f.fam, opts.Chain)
	if diff := cmp.Diff(want.Strings(), got.Strings()); diff != "" {
		t.Errorf("accepted flows (-want from the Ruleset +got from the kernel):\n%s", diff)
	}
	checkComments(t, f, rs, f.chains(t, ns, table))
	if err := f.apply(ns, rules); err != nil {
		t.Fatalf("second load: %v", err)
	}
	if diff := cmp.Diff(before, f.listing(t, ns)); diff != "" {
		t.Errorf("loading twice changed the ruleset (-first +second):\n%s", diff)
	}
}

// expectedFlows computes, from the needs alone, what the rules of a family
// (0 for both) must accept: every need from each of its sources to each
// server address, where the two can meet.
func expectedFlows(rs *policies.Ruleset, fam family, chain string) fwtest.Flows {
	fs := fwtest.Flows{}
	for _, g := range rs.Groups {
		for _, n := range g.Needs {
			icmp := -1
			if n.ICMPType != nil {
				icmp = *n.ICMPType
			}
			dests := g.Addresses
			if n.AnySource && chain != "forward" {
				dests = nil // a host firewall admits DHCP's broadcasts
			}
			for _, s := range orAnyPrefix(n.Sources) {
				for _, d := range orAnyPrefix(dests) {
					if !meets(n.Proto, fam, s, d) || !inFamily(n.Family, fam, s, d) {
						continue
					}
					src := prefixOrAny(s)
					if src == "" && n.Family != 0 && fam == 0 && policies.ICMPFamily(n.Proto) == 0 && !d.IsValid() {
						src = fwtest.AnyOf(n.Family) // nft's meta nfproto
					}
					fs.Add(fwtest.Flow{Proto: n.Proto, ICMPType: icmp, Src: src, Dst: prefixOrAny(d)},
						[]policies.PortRange{n.Ports})
				}
			}
		}
	}
	return fs.Normalize()
}

// inFamily reports whether a need of IP version need (0 for both) can flow
// from s to d in a file of family fam (0 for both).
func inFamily(need int, fam family, s, d netip.Prefix) bool {
	if need == 0 {
		return true
	}
	if fam != 0 && int(fam) != need {
		return false
	}
	for _, p := range []netip.Prefix{s, d} {
		if p.IsValid() && int(familyOf(p)) != need {
			return false
		}
	}
	return true
}

// orAnyPrefix gives the prefixes, or one invalid prefix standing for any.
func orAnyPrefix(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return []netip.Prefix{{}}
	}
	return ps
}

func prefixOrAny(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.Masked().String()
}

// meets reports whether a packet of proto from s to d can exist in family
// fam (0 for both).
func meets(proto policies.Proto, fam family, s, d netip.Prefix) bool {
	fams := []family{4, 6}
	if fam != 0 {
		fams = []family{fam}
	}
	return slices.ContainsFunc(fams, func(f family) bool {
		ok := func(p netip.Prefix) bool { return !p.IsValid() || (p.Addr().Is4() == (f == 4)) }
		return ok(s) && ok(d) && !(proto == policies.ICMPv4 && f == 6) && !(proto == policies.ICMPv6 && f == 4)
	})
}

// acceptedFlows checks the shape of the chains read back and returns what
// their accept rules let through. The shape: the hooked chain (and, for
// iptables, a single jump to fwgen's chain); under --default-deny the
// essential rules first and the drops last; in between only accept rules.
func acceptedFlows(f linuxFormat, chains []fwtest.Chain, opts Options, rs *policies.Ruleset) (fwtest.Flows, error) {
	rules, err := fwgenRules(f, chains, opts)
	if err != nil {
		return nil, err
	}
	var essentials, drops []string
	fs := fwtest.Flows{}
	for _, r := range rules {
		switch {
		case strings.HasPrefix(r.Comment, "essential:"):
			if len(fs) > 0 || len(drops) > 0 {
				return nil, fmt.Errorf("essential rule %q after other rules", r.Comment)
			}
			essentials = append(essentials, describe(r))
		case r.Verdict == "drop":
			drops = append(drops, describe(r))
		case len(drops) > 0:
			return nil, fmt.Errorf("rule %q after a drop", r.Comment)
		default:
			rf, err := r.Flows()
			if err != nil {
				return nil, err
			}
			fs.Merge(rf)
		}
	}
	if diff := cmp.Diff(wantEssentials(f, opts, rs), essentials); diff != "" {
		return nil, fmt.Errorf("essential rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDrops(f, opts, rs), drops); diff != "" {
		return nil, fmt.Errorf("drop rules (-want +got):\n%s", diff)
	}
	return fs.Normalize(), nil
}

// fwgenRules finds the rules of fwgen's chain and checks how it is hooked.
func fwgenRules(f linuxFormat, chains []fwtest.Chain, opts Options) ([]fwtest.Rule, error) {
	chain := chainOf(opts)
	if f.fam == 0 {
		policy := "accept"
		if opts.DefaultDeny && chain == "input" {
			policy = "drop"
		}
		if len(chains) != 1 || chains[0].Name != chain || chains[0].Hook != chain || chains[0].Policy != policy {
			return nil, fmt.Errorf("want one chain %s with hook %s and policy %s, got %+v", chain, chain, policy, chains)
		}
		return chains[0].Rules, nil
	}
	own := strings.ToUpper(tableOf(opts) + "-" + chain)
	var rules []fwtest.Rule
	jumps := 0
	sources := map[string]fwtest.Chain{}
	for _, c := range chains {
		switch c.Name {
		case own:
			rules = c.Rules
		case strings.ToUpper(chain):
			for _, r := range c.Rules {
				if r.Verdict == "jump "+own && r.Src == nil && r.Dst == nil && r.Proto == "" {
					jumps++
				}
			}
		default:
			if strings.HasPrefix(c.Name, strings.TrimSuffix(own, strings.ToUpper(chain))+strings.ToUpper(chain[:1])+"S") {
				sources[c.Name] = c
			}
		}
	}
	if jumps != 1 {
		return nil, fmt.Errorf("want one plain jump from %s to %s, got %d", strings.ToUpper(chain), own, jumps)
	}
	return inlineSourceChains(rules, sources)
}

// inlineSourceChains replaces each jump of fwgen's chain to the chain of a
// source set with what it accepts: the jump's matches from each source
// that chain accepts. A source chain must hold plain "-s PREFIX -j ACCEPT"
// rules only, and each must be jumped to.
func inlineSourceChains(rules []fwtest.Rule, sources map[string]fwtest.Chain) ([]fwtest.Rule, error) {
	used := map[string]bool{}
	var out []fwtest.Rule
	for _, r := range rules {
		name, isJump := strings.CutPrefix(r.Verdict, "jump ")
		if !isJump {
			out = append(out, r)
			continue
		}
		c, ok := sources[name]
		if !ok {
			return nil, fmt.Errorf("rule %q jumps to %s, which is no source chain", r.Comment, name)
		}
		if r.Src != nil {
			return nil, fmt.Errorf("rule %q matches sources and jumps to the source chain %s", r.Comment, name)
		}
		used[name] = true
		for _, q := range c.Rules {
			if q.Verdict != "accept" || len(q.Src) != 1 || q.Dst != nil || q.Proto != "" || q.Ports != nil ||
				q.ICMPTypes != nil || q.CtState != nil || q.InIface != "" {
				return nil, fmt.Errorf("source chain %s: want plain -s PREFIX -j ACCEPT rules, got %+v", name, q)
			}
			a := r
			a.Verdict, a.Src = "accept", q.Src
			out = append(out, a)
		}
	}
	for name := range sources {
		if !used[name] {
			return nil, fmt.Errorf("source chain %s: no rule jumps to it", name)
		}
	}
	return out, nil
}

// describe sums up a rule that is not a plain accept.
func describe(r fwtest.Rule) string {
	s := r.Verdict
	if r.CtState != nil {
		s += " ct " + strings.Join(r.CtState, ",")
	}
	if r.InIface != "" {
		s += " iif " + r.InIface
	}
	if r.Proto != "" {
		s += " " + string(r.Proto)
	}
	for _, ty := range r.ICMPTypes {
		s += fmt.Sprintf(" %d", ty)
	}
	for _, d := range r.Dst {
		s += " to " + d.String()
	}
	if r.Src != nil || r.Ports != nil {
		s += " (with sources or ports)"
	}
	return s
}

// wantEssentials are the rules --default-deny must put first, written out
// here rather than taken from the emitter. On the forward chain each
// matches the traffic to the servers only: one rule for each family the
// servers have addresses of (nftables), or for each server prefix
// (iptables).
func wantEssentials(f linuxFormat, opts Options, rs *policies.Ruleset) []string {
	if !opts.DefaultDeny {
		return nil
	}
	tos := []string{""} // the input chain: any address
	if chainOf(opts) == "forward" {
		tos = serverMatches(f, rs)
	}
	var out []string
	add := func(rule string, fam family) {
		for _, to := range tos {
			if fam == 0 || to == "" || strings.Contains(to, ":") == (fam == 6) {
				out = append(out, rule+to)
			}
		}
	}
	add("accept ct established,related", 0)
	add("drop ct invalid", 0)
	if chainOf(opts) == "input" {
		out = append(out, "accept iif lo")
	}
	switch f.fam {
	case 0:
		add("accept icmpv4 3 11 12", 4)
		add("accept icmpv6 1 2 3 4 133 134 135 136", 6)
	case 4:
		for _, ty := range []int{3, 11, 12} {
			add(fmt.Sprintf("accept icmpv4 %d", ty), 4)
		}
	case 6:
		for _, ty := range []int{1, 2, 3, 4, 133, 134, 135, 136} {
			add(fmt.Sprintf("accept icmpv6 %d", ty), 6)
		}
	}
	return out
}

// serverMatches are the destinations of the essential rules of a forward
// chain, as describe writes them: the servers of every group, for nftables
// one match for each family, for iptables one for each prefix of the
// file's family.
func serverMatches(f linuxFormat, rs *policies.Ruleset) []string {
	var all []netip.Prefix
	for _, g := range rs.Groups {
		all = append(all, g.Addresses...)
	}
	var out []string
	for _, fam := range []family{4, 6} {
		var to []string
		for _, p := range outerPrefixes(all) {
			if p.Addr().Is4() == (fam == 4) && (f.fam == 0 || f.fam == fam) {
				to = append(to, " to "+p.String())
			}
		}
		if f.fam == 0 && len(to) > 0 {
			out = append(out, strings.Join(to, ""))
		} else {
			out = append(out, to...)
		}
	}
	return out
}

// wantDrops are the drops that end the chain under --default-deny: one
// for everything on the input chain (nftables does it with the chain's
// policy instead), and on the forward chain one for the servers of each
// group and family (iptables: for each server prefix).
func wantDrops(f linuxFormat, opts Options, rs *policies.Ruleset) []string {
	chain := chainOf(opts)
	switch {
	case !opts.DefaultDeny || (chain == "input" && f.fam == 0):
		return nil
	case chain == "input":
		return []string{"drop"}
	}
	var out []string
	for _, g := range rs.Groups {
		for _, fam := range []family{4, 6} {
			var to []string
			for _, p := range g.Addresses {
				if p.Addr().Is4() == (fam == 4) && (f.fam == 0 || f.fam == fam) {
					to = append(to, " to "+p.String())
				}
			}
			if f.fam == 0 && len(to) > 0 {
				out = append(out, "drop"+strings.Join(to, ""))
			} else {
				for _, d := range to {
					out = append(out, "drop"+d)
				}
			}
		}
	}
	return out
}

// tableOf is the table opts name, "fwgen" when none. The iptables chains
// are named after it: FWGEN-INPUT, FWGEN-DCS-FORWARD.
func tableOf(opts Options) string {
	if opts.Table == "" {
		return "fwgen"
	}
	return opts.Table
}

// chainOf is the chain opts name, "input" when none.
func chainOf(opts Options) string {
	chain, _ := linuxChain(opts)
	return chain
}

// checkComments checks that the comment of every accept rule in the kernel
// is one the emitter wrote for a scope rule, as its quoting helper wrote it.
func checkComments(t *testing.T, f linuxFormat, rs *policies.Ruleset, chains []fwtest.Chain) {
	t.Helper()
	quote := nftString
	if f.fam != 0 {
		quote = iptString
	}
	want := map[string]bool{}
	for _, g := range rs.Groups {
		for _, r := range g.ByScope() {
			q := quote(linuxComment(r))
			want[q[1:len(q)-1]] = true
		}
	}
	for _, g := range rs.Groups {
		for _, r := range g.ByScope() {
			if r.Set != nil {
				q := quote(sourceComment(r.Set))
				want[q[1:len(q)-1]] = true
			}
		}
	}
	for _, c := range chains {
		for _, r := range c.Rules {
			if r.Verdict == "accept" && !strings.HasPrefix(r.Comment, "essential:") && !want[r.Comment] {
				t.Errorf("chain %s: accept rule with comment %q, which the emitter did not write", c.Name, r.Comment)
			}
		}
	}
}

// TestLinuxFamilyMismatch checks a group whose sources and servers have no
// address family in common: with no rule left, every Linux format refuses
// it (an empty chain would, with --default-deny, drop all traffic to the
// servers). When only some rules are left out, the header says which.
func TestLinuxFamilyMismatch(t *testing.T) {
	rs := linuxCases[0].ruleset(t, prefixes("fd00::/8"), prefixes("10.0.0.0/8"))
	want := `host group "dc": no rule left: the sources (fd00::/8) and the servers' addresses (10.0.0.0/8) are of different address families`
	for _, f := range []string{"nftables", "iptables", "ip6tables"} {
		for _, opts := range []Options{{}, {Chain: "forward", DefaultDeny: true}} {
			format, _ := Lookup(f)
			err := format.Emitter.Emit(&strings.Builder{}, rs, opts)
			if err == nil || err.Error() != want {
				t.Errorf("%s %+v: got %v, want %s", f, opts, err, want)
			}
		}
	}
	partial := linuxCases[0].ruleset(t, prefixes("10.10.0.0/16"), prefixes("10.20.0.0/24"))
	g := &partial.Groups[0]
	for i := range g.Needs {
		if g.Needs[i].Proto == policies.UDP {
			g.Needs[i].SetSources(prefixes("fd10::/48"))
		}
	}
	note := "#   note: no rule for udp 53,88,123,389,464 from fd10::/48 (roles dc; services ad, dfsn, dns-server, " +
		"kdc, netlogon, w32time): the sources and the servers' addresses are of different address families\n"
	for _, f := range []string{"nftables", "iptables", "ip6tables"} {
		if out := string(emitString(t, f, partial, Options{Chain: "forward"})); !strings.Contains(out, note) {
			t.Errorf("%s: no %q in\n%s", f, note, out)
		}
	}
}
