package emit

import (
	"fmt"
	"io"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// winCase is an input whose PowerShell and netsh scripts are kept as
// testdata/powershell/<name>.ps1 and testdata/netsh/<name>.cmd.
type winCase struct {
	name   string
	policy *policies.Policy
	opts   Options
}

// quickPolicy is what quick mode builds from --role, --os and --profile.
func quickPolicy(roles, oses, profiles []string) *policies.Policy {
	return policies.Quick{Roles: roles, OS: oses, Profiles: profiles}.Policy()
}

func winCases() []winCase {
	restricted := quickPolicy([]string{"dc"}, []string{"2012r2"}, nil)
	restricted.RPC.Range = &policies.PortRange{From: 5000, To: 5100}
	return []winCase{
		{"dc-2016", quickPolicy([]string{"dc"}, []string{"2016"}, nil), Options{}},
		{"dc-2016-rpc-keywords", quickPolicy([]string{"dc"}, []string{"2016"}, nil), Options{RPCKeywords: true}},
		{"dc-2008r2-2016", quickPolicy([]string{"dc"}, []string{"2008r2", "2016"}, nil), Options{}},
		{"dc-2012r2-restricted-rpc-keywords", restricted, Options{RPCKeywords: true}},
		{"cluster-node-hyperv-host-2019-domain", quickPolicy([]string{"cluster-node", "hyperv-host"}, []string{"2019"},
			[]string{"domain"}), Options{}},
		{"site-scoped", sitePolicy(), Options{Group: "Contoso Server Firewall"}},
		{"site-scoped-rpc-keywords", sitePolicy(), Options{Group: "Contoso Server Firewall", RPCKeywords: true}},
		{"dc-2019-bind-none", quickPolicy([]string{"dc"}, []string{"2019"}, nil), Options{NoBind: true}},
	}
}

// sitePolicy has two host groups with address scopes, IPv6, profiles, a
// role of the site's own with GRE, ESP and AH, and the optional entries.
func sitePolicy() *policies.Policy {
	return &policies.Policy{Name: "contoso", Source: "contoso.yaml", OS: []string{"2016", "2019"}, Optional: true,
		Networks: map[string][]netip.Prefix{
			"clients": prefixes("10.0.0.0/8", "2001:db8:100::/48"),
			"admins":  prefixes("192.0.2.10", "192.0.2.11"),
		},
		Roles: []catalog.Role{{ID: "vpn", Name: "VPN gateway", Services: []catalog.RoleService{{ID: "rras"}}}},
		Hosts: []policies.Host{
			{Name: "dcs", Roles: []string{"dc"}, Addresses: prefixes("10.1.0.10", "10.1.0.11"),
				Peers:    map[policies.Peer][]string{policies.Clients: {"clients"}, policies.Admins: {"admins"}},
				Profiles: []string{"domain"}},
			{Name: "vpn", Roles: []string{"vpn", "management"}, Addresses: prefixes("10.2.0.1"),
				Peers: map[policies.Peer][]string{policies.Admins: {"admins"}}, Profiles: []string{"public", "domain"}},
		},
	}
}

func (c winCase) ruleset(t *testing.T) *policies.Ruleset {
	t.Helper()
	rs, err := policies.Resolve(c.policy, catalog.Default())
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return rs
}

// hostile holds what a crafted name could use against PowerShell, cmd and
// netsh: quotes of every kind (PowerShell takes ‘ ’ ‚ ‛ for ' and “ ” „ for
// "), backticks, subexpressions, separators, pipes, variables in both
// shells, carets, delayed expansion, comment markers, backslashes before a
// quote, line breaks, NUL, a line separator and a character outside the BMP.
var hostile = []string{
	`it's "quoted" ` + "`backtick`" + ` $(Remove-Item C:\ -Recurse) ${env:PATH} @(1) ; exit 1`,
	"a & b | c < d > e ^ f %PATH% %%x !x! %~1 \\\" g\\",
	"line one\r\nWrite-Host injected\nline three\rNUL\x00here\u2028sep\u0085nel",
	"‘single’ ‚low‛ “double” „low” \u00e9t\u00e9 \U0001F525 #> <# #Requires -Version 2",
	`@"` + "\n" + `here-string "@ ` + "'@\n'",
	`\`,
	`trailing caret ^`,
}

// hostileRuleset builds a Ruleset whose every free-text field holds a
// hostile string: two host groups whose names slug alike, roles, services,
// labels, notes, OS names, references and omissions.
func hostileRuleset() *policies.Ruleset {
	h := func(i int) string { return hostile[i%len(hostile)] }
	refs := []policies.Ref{{Doc: "kb1", Title: h(0), URL: "https://example.com/" + h(1), Section: h(2)},
		{Doc: h(3), Title: h(4)}}
	need := func(role, service string, i int, proto policies.Proto, from, to uint16) policies.Need {
		n := policies.Need{Role: role, Service: service, ServiceName: h(i), SystemService: h(i + 1), Label: h(i + 2),
			Proto: proto, Peer: policies.Clients, Notes: h(i + 3), OSReason: h(i + 4), Refs: refs}
		if proto.HasPorts() {
			n.Ports = policies.PortRange{From: from, To: to}
		}
		return n
	}
	icmp := need("r'; exit", "ping", 5, policies.ICMPv4, 0, 0)
	eight := 8
	icmp.ICMPType = &eight
	dyn := need("r'; exit", "s\"vc", 1, policies.TCP, 49152, 65535)
	dyn.RPC = "dynamic"
	scoped := need("r'; exit", "s\"vc", 2, policies.TCP, 445, 445)
	scoped.Sources = prefixes("10.0.0.0/8", "2001:db8::/32", "192.0.2.1")
	group := func(name string) policies.Group {
		return policies.Group{Name: name, Roles: []string{h(0), h(1)},
			OS:       []policies.OSVersion{{ID: "2008r2", Name: h(2), Build: 7600}, {ID: "2016", Name: h(3), Build: 14393}},
			Profiles: []string{"Domain", "private"},
			RPC:      policies.RPCChoice{Ranges: []policies.PortRange{{From: 49152, To: 65535}}, Reason: h(4)},
			Needs: []policies.Need{
				need("r'; exit", "s\"vc", 0, policies.TCP, 135, 135), dyn, need("r'; exit", "s\"vc", 3, policies.TCP, 389, 389),
				scoped, need("r'; exit", "s\"vc", 4, policies.UDP, 389, 389), icmp,
				need("$(role)", "`svc`", 6, policies.GRE, 0, 0), need("$(role)", "svc", 0, policies.ESP, 0, 0),
				need("$(role)", "svc", 1, policies.AH, 0, 0),
			},
			Omitted: []policies.Omission{{Role: h(0), Service: h(1), Proto: policies.UDP, Ports: h(2), Label: h(3), Reason: h(4)}},
			Notes:   []string{h(5), h(6)},
		}
	}
	return &policies.Ruleset{Schema: policies.RulesetSchema, Policy: h(0), Source: h(1),
		Groups: []policies.Group{group(h(2)), group(h(3)), group(strings.ReplaceAll(h(3), " ", "_"))}}
}

// winHostile is the hostile Ruleset with server addresses, which a script
// for several groups needs.
func winHostile() *policies.Ruleset {
	rs := hostileRuleset()
	for i, a := range []string{"10.9.0.1", "2001:db8:9::/64", "192.0.2.9"} {
		rs.Groups[i].Addresses = prefixes(a)
	}
	return rs
}

// hostileOptions are the options the hostile cases run with: the default
// group (from the hostile policy name), a hostile --group, and RPC keywords.
func hostileOptions() map[string]Options {
	return map[string]Options{
		"hostile":              {},
		"hostile-group":        {Group: hostile[1] + hostile[3]},
		"hostile-rpc-keywords": {Group: hostile[0], RPCKeywords: true},
	}
}

// wantRules is how many rules a script of rs must add: one per by-service
// rule, and with RPC keywords one for each of the other ports, the endpoint
// mapper and the dynamic ports that a rule has.
func wantRules(rs *policies.Ruleset, keywords, noBind bool) int {
	n := 0
	for _, g := range rs.Groups {
		rules := g.ByService()
		if noBind {
			rules = g.PortOnly()
		}
		for _, r := range rules {
			if !r.AnySource && !r.Meets(g.Addresses) {
				continue
			}
			sp := g.RPCPorts(r)
			switch {
			case !keywords || !sp.EPMap && len(sp.Dynamic) == 0:
				n++
			default:
				n += min(len(sp.Other), 1) + min(len(sp.Dynamic), 1)
				if sp.EPMap {
					n++
				}
			}
		}
	}
	return n
}

// partSuffix ends the name of a part of a rule.
var partSuffix = regexp.MustCompile(`-part[0-9]+$`)

// checkRules checks rules read back from a script of rs: valid unique
// names, the group's profiles, descriptions that say where the rule comes
// from, and exactly the ports, protocols and sources of the Ruleset.
func checkRules(t *testing.T, rs *policies.Ruleset, opts Options, rules []parsedRule) {
	t.Helper()
	// A netsh rule too long for one line is shared out over numbered parts.
	bases := map[string]bool{}
	for _, r := range rules {
		bases[partSuffix.ReplaceAllString(r.Name, "")] = true
	}
	if got, want := len(bases), wantRules(rs, opts.RPCKeywords, opts.NoBind); got != want {
		t.Errorf("got %d rules, want %d", got, want)
	}
	names := map[string]bool{}
	for _, r := range rules {
		if err := checkRuleName(r.Name); err != nil || names[r.Name] {
			t.Errorf("rule name %q: invalid (%v) or repeated", r.Name, err)
		}
		names[r.Name] = true
		if !strings.HasPrefix(r.Description, "fwgen: ") {
			t.Errorf("%s: description %q does not say where it comes from", r.Name, r.Description)
		}
	}
	checkBindings(t, rs, opts, rules)
	got, err := scriptOpenings(rs, rules)
	if err != nil {
		t.Fatal(err)
	}
	// cmp.Diff is slow on the many openings of long lists: it only tells
	// what differs.
	if want := rulesetOpenings(rs); !maps.EqualFunc(want, got, slices.Equal) {
		t.Errorf("the script does not open what the Ruleset needs (-want +got):\n%s", cmp.Diff(want, got))
	}
	profiles := map[string]bool{}
	for _, r := range rules {
		profiles[strings.ToLower(strings.Join(r.Profiles, ","))] = true
	}
	var want []string
	for _, g := range rs.Groups {
		p, _ := winProfiles(g.Profiles)
		want = append(want, strings.ToLower(strings.Join(p, ",")))
	}
	for p := range profiles {
		if !slices.Contains(want, p) && !(p == "any" && slices.Contains(want, "")) {
			t.Errorf("profile %q is none of the groups' %q", p, want)
		}
	}
}

// checkASCII fails unless every line of script is printable ASCII, ended
// by eol.
func checkASCII(t *testing.T, script, eol string) {
	t.Helper()
	if !strings.HasSuffix(script, eol) {
		t.Errorf("script does not end with %q", eol)
	}
	for i, line := range strings.Split(strings.TrimSuffix(script, eol), eol) {
		for j, c := range []byte(line) {
			if c < ' ' && c != '\t' || c > '~' {
				t.Errorf("line %d col %d: byte %#x", i+1, j+1, c)
				break
			}
		}
	}
}

func TestRuleNamesUnique(t *testing.T) {
	rs := winHostile()
	s, err := windowsScript(psFormat, rs, Options{RPCKeywords: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range s.Rules {
		if seen[r.Name] {
			t.Errorf("name %s repeated", r.Name)
		}
		seen[r.Name] = true
	}
	// The last two host groups differ only by "_" and " ", so their names
	// meet and the later ones are numbered.
	if !slices.ContainsFunc(s.Rules, func(r winRule) bool { return strings.HasSuffix(r.Name, "-2") }) {
		t.Errorf("no numbered name among %d rules", len(s.Rules))
	}
}

func TestWindowsRejects(t *testing.T) {
	rs := winHostile()
	for _, opts := range []Options{{Group: "@FirewallAPI.dll,-28502"}, {Group: " \r\n"}} {
		if _, err := windowsScript(psFormat, rs, opts); err == nil {
			t.Errorf("group %q: no error", opts.Group)
		}
	}
	bad := winHostile()
	bad.Groups[0].Profiles = []string{"domain", "work"}
	if _, err := windowsScript(netshFormat, bad, Options{}); err == nil || !strings.Contains(err.Error(), `"work"`) {
		t.Errorf("unknown profile: err = %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	rs := &policies.Ruleset{Groups: []policies.Group{
		{OS: []policies.OSVersion{{ID: "2016", Build: 14393}, {ID: "2008r2", Build: 7600}}},
		{OS: []policies.OSVersion{{ID: "2003", Build: 3790}, {ID: "2008r2", Build: 7600}}},
	}}
	ids := func(vs []policies.OSVersion) string {
		s := make([]string, len(vs))
		for i, v := range vs {
			s[i] = v.ID
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		f    Format
		want string
	}{{psFormat, "2003 2008r2"}, {netshFormat, "2003"}, {Format{}, ""}} {
		if got := ids(Unsupported(tc.f, rs)); got != tc.want {
			t.Errorf("%s: Unsupported = %q, want %q", tc.f.Name, got, tc.want)
		}
	}
	f, err := Lookup("powershell")
	if err != nil || f.MinBuild != 9200 || f.Instead != "netsh" {
		t.Errorf("powershell format = %+v, %v", f, err)
	}
}

// TestHeaderTooOld checks what the header says about hosts too old for the
// format: the format that fits them, or that there is none.
func TestHeaderTooOld(t *testing.T) {
	rs := winCase{"dc-2003", quickPolicy([]string{"dc"}, []string{"2003"}, nil), Options{}}.ruleset(t)
	for _, tc := range []struct{ format, want string }{
		{"powershell", "cannot run this script; use --emit netsh for those hosts."},
		{"netsh", "cannot run this script; fwgen has no script format for them; configure them by hand."},
	} {
		out := string(emitString(t, tc.format, rs, Options{}))
		if !strings.Contains(out, tc.want) || strings.Contains(out, "--emit  ") {
			t.Errorf("%s header lacks %q:\n%s", tc.format, tc.want, out[:min(len(out), 600)])
		}
	}
}

// TestRPCKeywordsLeaveNoRange checks that with --rpc-keywords no TCP rule
// opens an RPC dynamic range by number, even where the endpoint mapper is
// in another rule (Group Policy's DCOM ports for administrators), and that
// no UDP rule names a keyword.
func TestRPCKeywordsLeaveNoRange(t *testing.T) {
	for _, c := range winCases() {
		if !c.opts.RPCKeywords {
			continue
		}
		rs := c.ruleset(t)
		for _, format := range []string{"powershell", "netsh"} {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				rules := readRules(t, format, string(emitString(t, format, rs, c.opts)))
				for _, r := range rules {
					checkRPCKeywords(t, rs, r)
				}
			})
		}
	}
}

// checkRPCKeywords checks one rule read back from a script with RPC
// keywords: only TCP names them, and TCP names no RPC dynamic range.
func checkRPCKeywords(t *testing.T, rs *policies.Ruleset, r parsedRule) {
	t.Helper()
	for _, p := range r.Ports {
		switch {
		case p == "RPC" || p == "RPCEPMap" || p == "RPC-EPMap":
			if r.Proto != policies.TCP {
				t.Errorf("%s: %s rule with keyword %s", r.Name, r.Proto, p)
			}
		case r.Proto == policies.TCP && slices.ContainsFunc(rs.Groups, func(g policies.Group) bool {
			return slices.ContainsFunc(g.RPC.Ranges, func(pr policies.PortRange) bool { return pr.String() == p })
		}):
			t.Errorf("%s: TCP rule opens the RPC range %s by number", r.Name, p)
		}
	}
}

// readRules reads the rules of a script in the named format.
func readRules(t *testing.T, format, script string) []parsedRule {
	t.Helper()
	var rules []parsedRule
	var err error
	switch format {
	case "powershell":
		rules, err = psRules(script)
	case "netsh":
		var read *netshRead
		if read, err = netshRules(script); err == nil {
			rules = read.Adds
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestWindowsGroupsNeedAddresses checks that a script for several host
// groups opens each group's ports only on that group's servers, and that
// a group without addresses is refused, as it would open its ports on the
// other groups' servers; one group alone needs no addresses.
func TestWindowsGroupsNeedAddresses(t *testing.T) {
	rs := winCases()[5].ruleset(t) // site-scoped: dcs and vpn, with addresses
	for _, format := range []string{"powershell", "netsh"} {
		for _, r := range readRules(t, format, string(emitString(t, format, rs, Options{}))) {
			want := map[string][]string{"dcs": {"10.1.0.10", "10.1.0.11"}, "vpn": {"10.2.0.1"}}[strings.Split(strings.SplitN(r.Name, "--", 2)[1], "-")[0]]
			if !slices.Equal(r.Locals, want) {
				t.Errorf("%s %s: local addresses %q, want %q", format, r.Name, r.Locals, want)
			}
		}
		one := *rs
		one.Groups = slices.Clone(rs.Groups[:1])
		one.Groups[0].Addresses = nil
		for _, r := range readRules(t, format, string(emitString(t, format, &one, Options{}))) {
			if r.Locals != nil {
				t.Errorf("%s %s: local addresses %q in a script for one group", format, r.Name, r.Locals)
			}
		}
		two := *rs
		two.Groups = slices.Clone(rs.Groups)
		two.Groups[1].Addresses = nil
		f, _ := Lookup(format)
		err := f.Emitter.Emit(io.Discard, &two, Options{})
		if err == nil || !strings.Contains(err.Error(), `host group "vpn": with 2 host groups in one script, each needs its servers' addresses`) {
			t.Errorf("%s, a group without addresses: err = %v", format, err)
		}
	}
}

// TestWindowsGroupFilesNameTheirServers: the script of one host group of a
// site, as generate -o writes it, names the group's servers as the local
// address of every rule, so that a GPO reaching other servers opens
// nothing on them; DHCP's rules alone name none, as its clients
// broadcast.
func TestWindowsGroupFilesNameTheirServers(t *testing.T) {
	p := &policies.Policy{Name: "contoso", Source: "site.yaml", OS: []string{"2016"},
		Hosts: []policies.Host{
			{Name: "gw", Roles: []string{"rd-gateway"}, Addresses: prefixes("10.50.0.10", "fd50::10")},
			{Name: "infra", Roles: []string{"dc", "dhcp"}, Addresses: prefixes("10.20.0.10")},
		}}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rs.Groups {
		one := rs.ForGroup(g.Name, false)
		for _, format := range []string{"powershell", "netsh"} {
			script := string(emitString(t, format, one, Options{Group: "fwgen: contoso/" + g.Name}))
			var rules []parsedRule
			if format == "powershell" {
				rules, err = psRules(script)
			} else {
				var read *netshRead
				read, err = netshRules(script)
				if read != nil {
					rules = read.Adds
				}
			}
			if err != nil {
				t.Fatalf("%s %s: %v", g.Name, format, err)
			}
			checkRules(t, one, Options{}, rules)
			for _, r := range rules {
				dhcp := strings.Contains(r.Name, "dhcp-server") && r.Proto == policies.UDP &&
					slices.ContainsFunc(r.Ports, func(p string) bool { return p == "67" || p == "547" })
				want := winAddresses(g.Addresses)
				if dhcp {
					want = nil
				}
				if !slices.Equal(r.Locals, want) {
					t.Errorf("%s %s rule %s: local addresses %v, want %v", g.Name, format, r.Name, r.Locals, want)
				}
			}
		}
	}
}

// checkBindings checks the programs and services the rules are bound to
// against the Ruleset's needs: each bound rule's ports are needs bound so,
// and each bound need has a rule bound so for its port; with NoBind no
// rule is bound.
func checkBindings(t *testing.T, rs *policies.Ruleset, opts Options, rules []parsedRule) {
	t.Helper()
	for _, p := range bindingProblems(rs, opts, rules) {
		t.Error(p)
	}
}

func bindingProblems(rs *policies.Ruleset, opts Options, rules []parsedRule) []string {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	type binding struct{ program, service string }
	// meet: the rule's port and the need's share a port; covers: the
	// rule's port holds all of the need's.
	match := func(n policies.Need, port string, whole bool) bool {
		switch port {
		case "RPCEPMap", "RPC-EPMap":
			return n.Ports == policies.PortRange{From: 135, To: 135}
		case "RPC":
			return n.RPC == "dynamic" || n.RPC == "restricted"
		}
		pr, err := catalog.ParsePortRange(port)
		if err != nil {
			return false
		}
		if whole {
			return pr.From <= n.Ports.From && n.Ports.To <= pr.To
		}
		return pr.From <= n.Ports.To && n.Ports.From <= pr.To
	}
	meet := func(n policies.Need, port string) bool { return match(n, port, false) }
	covers := func(n policies.Need, port string) bool { return match(n, port, true) }
	ruleHas := map[binding][]parsedRule{}
	for _, r := range rules {
		b := binding{r.Program, r.Service}
		if opts.NoBind && b != (binding{}) {
			errorf("%s: bound to %v with --bind none", r.Name, b)
		}
		ruleHas[b] = append(ruleHas[b], r)
		if b == (binding{}) && opts.NoBind {
			continue
		}
		for _, port := range r.Ports {
			if !slices.ContainsFunc(rsNeeds(rs), func(n policies.Need) bool {
				return n.Proto == r.Proto && meet(n, port) && n.Program == b.program && n.WinService == b.service
			}) {
				errorf("%s: %s %s bound to %v, which no need of the port is", r.Name, r.Proto, port, b)
			}
		}
	}
	if opts.NoBind {
		return problems
	}
	for _, n := range rsNeeds(rs) {
		b := binding{n.Program, n.WinService}
		if b == (binding{}) {
			continue
		}
		if !slices.ContainsFunc(ruleHas[b], func(r parsedRule) bool {
			return r.Proto == n.Proto && slices.ContainsFunc(r.Ports, func(p string) bool { return covers(n, p) })
		}) {
			errorf("%s/%s %s %s: bound to %v in the Ruleset, but no rule of the script is", n.Role, n.Service, n.Proto, n.Ports, b)
		}
	}
	return problems
}

// rsNeeds are the needs of every group whose rules the scripts write.
func rsNeeds(rs *policies.Ruleset) []policies.Need {
	var out []policies.Need
	for _, g := range rs.Groups {
		for _, n := range g.Needs {
			if n.AnySource || needMeets(n, g.Addresses) {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestBindingCheckCatches shows that the binding check can fail: a rule
// bound to another program, a rule whose binding was dropped, a bound rule
// under --bind none.
func TestBindingCheckCatches(t *testing.T) {
	rs := winCases()[0].ruleset(t)
	rules, err := psRules(string(emitString(t, "powershell", rs, Options{})))
	if err != nil {
		t.Fatal(err)
	}
	if p := bindingProblems(rs, Options{}, rules); len(p) > 0 {
		t.Fatalf("the unchanged script: %v", p)
	}
	for name, change := range map[string]func([]parsedRule) ([]parsedRule, Options){
		"another program": func(rs []parsedRule) ([]parsedRule, Options) {
			i := slices.IndexFunc(rs, func(r parsedRule) bool { return strings.Contains(r.Program, "lsass") })
			rs[i].Program = `%SystemRoot%\system32\services.exe`
			return rs, Options{}
		},
		"binding dropped": func(rs []parsedRule) ([]parsedRule, Options) {
			i := slices.IndexFunc(rs, func(r parsedRule) bool { return r.Service == "RpcSs" })
			rs[i].Program, rs[i].Service = "", ""
			return rs, Options{}
		},
		"bound under --bind none": func(rs []parsedRule) ([]parsedRule, Options) { return rs, Options{NoBind: true} },
	} {
		changed, opts := change(slices.Clone(rules))
		if p := bindingProblems(rs, opts, changed); len(p) == 0 {
			t.Errorf("%s: no problem found", name)
		}
	}
}

// TestNoPipeInRuleText: a GPO separates a rule's fields with '|', so no
// group, display name or description carries one, hostile names included.
func TestNoPipeInRuleText(t *testing.T) {
	for name, opts := range map[string]Options{"hostile": {}, "hostile-group": {Group: hostile[1] + " | x"}} {
		rs := winHostile()
		s, err := windowsScript(psFormat, rs, opts)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s.Group, "|") {
			t.Errorf("%s: group %q", name, s.Group)
		}
		for _, r := range s.Rules {
			if strings.ContainsAny(r.DisplayName+r.Description+r.Name, "|") {
				t.Errorf("%s: rule %s has a '|' in its text", name, r.Name)
			}
		}
	}
	if !strings.Contains(hostile[1], "|") {
		t.Fatal("the hostile strings have no '|' to test with")
	}
}
