package emit

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fwgen/fwgen/policies"
)

// longRuleset has rules whose lists are far too long for one line of cmd:
// 1200 IPv6 clients, 300 separate ports, and two host groups of 30 servers
// each, so that the ports, local and remote addresses must all be shared
// out; a second rule has a description of percent signs, which netshQuote
// doubles.
func longRuleset() *policies.Ruleset {
	var clients []netip.Prefix
	for i := range 1200 {
		clients = append(clients, netip.MustParsePrefix(fmt.Sprintf("2001:db8:aaaa:bbbb:cccc:dddd:%x:%x/128", 0xe000+i/256, i%256+0xf000)))
	}
	servers := func(n int) []netip.Prefix {
		var out []netip.Prefix
		for i := range 30 {
			out = append(out, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x:1111:2222:3333:4444:%x/128", n, i+0x5000)))
		}
		return out
	}
	group := func(name string, n int) policies.Group {
		g := policies.Group{Name: name, Roles: []string{"app"}, Addresses: servers(n),
			OS:  []policies.OSVersion{{ID: "2016", Name: "Windows Server 2016", Kind: "server", Build: 14393}},
			RPC: policies.RPCChoice{Ranges: []policies.PortRange{{From: 49152, To: 65535}}, Reason: "default"}}
		for p := uint16(20000); p < 20600; p += 2 {
			g.Needs = append(g.Needs, policies.Need{Role: "app", Service: "app", ServiceName: "App", Proto: policies.TCP,
				Ports: policies.PortRange{From: p, To: p}, Peer: policies.Clients, Sources: clients})
		}
		g.Needs = append(g.Needs, policies.Need{Role: "app", Service: "pct", ServiceName: strings.Repeat("%", 3000),
			Proto: policies.UDP, Ports: policies.PortRange{From: 9, To: 9}, Peer: policies.Clients, Sources: clients[:300]})
		return g
	}
	return &policies.Ruleset{Schema: policies.RulesetSchema, Policy: "long", Source: "long.yaml",
		Groups: []policies.Group{group("east", 1), group("west", 2)}}
}

// TestNetshLongLists checks that rules too long for a line of cmd are
// shared out over numbered rules with unique names, every line well under
// cmd's limit of 8191 characters, and that together they open exactly what
// the Ruleset needs.
func TestNetshLongLists(t *testing.T) {
	rs := longRuleset()
	script := string(emitString(t, "netsh", rs, Options{}))
	checkNetsh(t, script, func(rules []parsedRule) { // checks the lines' lengths too
		checkRules(t, rs, Options{}, rules)
		for _, r := range rules {
			if !partSuffix.MatchString(r.Name) {
				t.Errorf("rule %s: not a numbered part", r.Name)
			}
			if !strings.Contains(r.Description, " of one rule, split to keep each netsh command short.") {
				t.Errorf("rule %s: the description does not say it is a part", r.Name)
			}
		}
		if len(rules) < 40 {
			t.Errorf("%d rules; want the long ones shared out over many", len(rules))
		}
	})
}

// TestPowerShellLongLists checks that long lists of a PowerShell rule are
// wrapped over lines of reasonable length, and read back whole.
func TestPowerShellLongLists(t *testing.T) {
	rs := longRuleset()
	script := string(emitString(t, "powershell", rs, Options{}))
	// The lists, and the comments that name the rules, stay short; names
	// and descriptions are as long as the input makes them.
	lists := regexp.MustCompile(`^    (LocalPort|LocalAddress|RemoteAddress|Profile) +=|^ {20}'`)
	for i, line := range strings.Split(script, "\n") {
		switch {
		case lists.MatchString(line) && len(line) > psListWidth,
			strings.HasPrefix(line, "# app / App") && len(line) > 120:
			t.Errorf("line %d: %d characters: %.80s...", i+1, len(line), line)
		}
	}
	checkPowerShell(t, script, func(rules []parsedRule) {
		checkRules(t, rs, Options{}, rules)
	})
	// The clients (all 1,200, and the first 300) and each group's 30
	// servers are written once, as address lists the rules' tables name.
	if n := strings.Count(script, "\n$AddressList"); n != 4 {
		t.Errorf("%d address lists, want 4", n)
	}
	if n := regexp.MustCompile(`(?m)^ +(Remote|Local)Address += '`).FindAllStringIndex(script, -1); len(n) > 0 {
		t.Errorf("%d rules list addresses that other rules admit too", len(n))
	}
	// A list read back is the list: an address dropped from a list is
	// missing from every rule that names it, and only from those.
	before, err := psRules(script)
	if err != nil {
		t.Fatal(err)
	}
	def := regexp.MustCompile(`(?m)^\$AddressList1 = @\(('[^']+', )`).FindStringSubmatchIndex(script)
	if def == nil {
		t.Fatal("no $AddressList1")
	}
	after, err := psRules(script[:def[2]] + script[def[3]:])
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i := range before {
		lost += len(before[i].Sources) + len(before[i].Locals) - len(after[i].Sources) - len(after[i].Locals)
	}
	if want := len(regexp.MustCompile(`Address += \$AddressList1\n`).FindAllString(script, -1)); lost != want || want == 0 {
		t.Errorf("%d addresses lost, want one for each of the %d rules that name $AddressList1", lost, want)
	}
}

// TestNetshLineLength checks the length netshCommandsOf reckons a command
// at, without making it, against the command made: for the long lists,
// and every example.
func TestNetshLineLength(t *testing.T) {
	sets := map[string]*policies.Ruleset{"long": longRuleset()}
	for name, rs := range exampleRulesets(t) {
		sets[name] = rs
	}
	for name, rs := range sets {
		s, err := windowsScript(netshFormat, rs, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		taken, addrs := map[string]bool{}, addressCache{}
		for i := range s.Rules {
			cs, err := netshCommandsOf(s.Rules[i], taken, addrs)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, c := range cs {
				if got, want := c.len(), len(c.args()); got != want {
					t.Errorf("%s, %s: reckoned %d characters, made %d", name, c.name, got, want)
				}
			}
		}
	}
}

// TestChunk checks chunk's runs: in order they are the items, each joined
// is at most n long unless it is one item, and none is empty but for no
// items.
func TestChunk(t *testing.T) {
	items := []string{"10.0.0.1", "10.0.0.2", "2001:db8::1", strings.Repeat("x", 30), "a", "b", "c"}
	for n := range 40 {
		for k := range len(items) + 1 {
			runs := chunk(items[:k], n)
			var got []string
			for _, run := range runs {
				got = append(got, run...)
				if len(run) > 1 && joinedLen(run) > n {
					t.Errorf("n=%d: run %q is %d long", n, run, joinedLen(run))
				}
				if len(run) == 0 && k > 0 {
					t.Errorf("n=%d, %d items: an empty run", n, k)
				}
			}
			if !slices.Equal(got, items[:k]) || len(runs) == 0 {
				t.Errorf("n=%d: runs %q of %q", n, runs, items[:k])
			}
		}
	}
}
