package emit

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// paramTable is testdata/windows/parameter-sets.tsv: the documented
// parameter sets of the cmdlets the scripts call, the accepted values of
// the parameters they set, and netsh's add-rule keys.
type paramTable struct {
	sets      map[string][]paramSet          // by cmdlet
	values    map[string]map[string][]string // cmdlet, parameter: accepted values
	netshKeys []string
}

type paramSet struct {
	name      string
	params    []string
	mandatory []string
}

func readParamTable(t *testing.T) paramTable {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "windows", "parameter-sets.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pt := paramTable{sets: map[string][]paramSet{}, values: map[string]map[string][]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if !strings.HasPrefix(cols[len(cols)-1], "https://learn.microsoft.com/") {
			t.Fatalf("row %q cites no Microsoft reference page", line)
		}
		switch {
		case cols[0] == "set" && len(cols) == 5:
			s := paramSet{name: cols[2]}
			for _, p := range strings.Fields(cols[3]) {
				if name, ok := strings.CutPrefix(p, "*"); ok {
					s.mandatory = append(s.mandatory, name)
					p = name
				}
				s.params = append(s.params, p)
			}
			pt.sets[cols[1]] = append(pt.sets[cols[1]], s)
		case cols[0] == "values" && len(cols) == 5:
			if pt.values[cols[1]] == nil {
				pt.values[cols[1]] = map[string][]string{}
			}
			pt.values[cols[1]][cols[2]] = strings.Fields(cols[3])
		case cols[0] == "netsh" && len(cols) == 4:
			pt.netshKeys = strings.Fields(cols[2])
		default:
			t.Fatalf("bad row %q", line)
		}
	}
	return pt
}

// commonParams are PowerShell's common parameters, which every cmdlet
// with [CmdletBinding] takes.
var commonParams = []string{"Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ErrorVariable",
	"WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable"}

// psCall is one call of a NetSecurity cmdlet in a script, its splats
// resolved: each variant is one way the call can run (@target is a GPO
// session or a policy store).
type psCall struct {
	line     int
	cmdlet   string
	variants []map[string][]string // parameter: values
}

var (
	psCmdletLine = regexp.MustCompile(`^(?:\$\w+ = )?((?:New|Remove|Get|Set|Open|Save)-Net\w+) (.*)$`)
	psTargetLine = regexp.MustCompile(`^\$target = @\{ (\w+) = \$\w+ \}$`)
)

// psCalls reads the calls of NetSecurity cmdlets in a script of fwgen's:
// the parameters written out, the keys of the $rule table before the call
// for @rule, and each $target table for @target.
func psCalls(script string) ([]psCall, error) {
	var targets [][]string
	for _, line := range strings.Split(script, "\n") {
		if m := psTargetLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			targets = append(targets, []string{m[1]})
		}
	}
	lists, err := psAddressLists(script)
	if err != nil {
		return nil, err
	}
	var calls []psCall
	rule := map[string][]string{}
	inRule := false
	pending := ""
	for i, raw := range strings.Split(script, "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case line == "$rule = @{":
			rule, inRule = map[string][]string{}, true
			continue
		case inRule && line == "}" && pending == "":
			inRule = false
			continue
		case inRule && strings.HasSuffix(line, ","):
			pending += line + " "
			continue
		case inRule:
			line, pending = pending+line, ""
			k, v, ok := strings.Cut(line, " = ")
			if !ok {
				return nil, fmt.Errorf("line %d: %q in a rule table", i+1, line)
			}
			items, err := psValue(strings.TrimSpace(v), lists)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			rule[strings.TrimSpace(k)] = items
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		m := psCmdletLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c := psCall{line: i + 1, cmdlet: m[1]}
		base := map[string][]string{}
		splats := []string{}
		last := "" // the parameter a bare token is the value of
		for _, tok := range strings.Fields(m[2]) {
			switch {
			case strings.HasPrefix(tok, "-"):
				name, value, _ := strings.Cut(tok[1:], ":")
				base[name] = []string{value}
				last = name
			case strings.HasPrefix(tok, "@"):
				splats = append(splats, tok[1:])
				last = ""
			case last != "":
				base[last] = []string{tok}
				last = ""
			default:
				return nil, fmt.Errorf("line %d: %q is no parameter's value", i+1, tok)
			}
		}
		variants := []map[string][]string{base}
		for _, s := range splats {
			switch s {
			case "rule":
				for _, v := range variants {
					for k, vals := range rule {
						v[k] = vals
					}
				}
			case "target":
				var next []map[string][]string
				for _, v := range variants {
					for _, keys := range targets {
						n := map[string][]string{}
						for k, vals := range v {
							n[k] = vals
						}
						for _, k := range keys {
							n[k] = []string{"$" + strings.ToLower(k)}
						}
						next = append(next, n)
					}
				}
				variants = next
			default:
				return nil, fmt.Errorf("line %d: unknown splat @%s", i+1, s)
			}
		}
		c.variants = variants
		calls = append(calls, c)
	}
	return calls, nil
}

// checkCall reports what of a call no documented parameter set of its
// cmdlet takes, or a value the parameter does not accept.
func (pt paramTable) checkCall(c psCall) []string {
	sets, ok := pt.sets[c.cmdlet]
	if !ok {
		return []string{fmt.Sprintf("line %d: %s is not in the table of documented cmdlets", c.line, c.cmdlet)}
	}
	var problems []string
	for _, v := range c.variants {
		fits := slices.ContainsFunc(sets, func(s paramSet) bool {
			for p := range v {
				if !slices.Contains(s.params, p) && !(slices.Contains(s.params, "WhatIf") && slices.Contains(commonParams, p)) {
					return false
				}
			}
			for _, m := range s.mandatory {
				if _, ok := v[m]; !ok {
					return false
				}
			}
			return true
		})
		if !fits {
			names := slices.Sorted(func(yield func(string) bool) {
				for k := range v {
					if !yield(k) {
						return
					}
				}
			})
			problems = append(problems, fmt.Sprintf("line %d: %s -%s fits no documented parameter set", c.line, c.cmdlet, strings.Join(names, " -")))
		}
		for p, vals := range v {
			accepted, ok := pt.values[c.cmdlet][p]
			if !ok {
				continue
			}
			for _, val := range vals {
				if !acceptedValue(accepted, val) {
					problems = append(problems, fmt.Sprintf("line %d: %s -%s %q is none of %v", c.line, c.cmdlet, p, val, accepted))
				}
			}
		}
	}
	return problems
}

var (
	winServiceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	winProgramPath = regexp.MustCompile(`^%SystemRoot%(\\[A-Za-z0-9._]+)+\.exe$`)
)

// acceptedValue reports whether val is one of accepted, where <port>,
// <range>, <number>, <address>, <path> and <service> stand for the free
// forms.
func acceptedValue(accepted []string, val string) bool {
	for _, a := range accepted {
		switch a {
		case "<port>", "<number>":
			if n, err := strconv.Atoi(val); err == nil && n >= 0 && n <= 65535 && (a == "<port>" && n > 0 || a == "<number>" && n <= 255) {
				return true
			}
		case "<icmp>":
			// "0 through 255", or a type:code pair such as 3:4.
			typ, code, pair := strings.Cut(val, ":")
			t1, err1 := strconv.Atoi(typ)
			c1, err2 := strconv.Atoi(code)
			if err1 == nil && t1 >= 0 && t1 <= 255 && (!pair || err2 == nil && c1 >= 0 && c1 <= 255) {
				return true
			}
		case "<range>":
			lo, hi, ok := strings.Cut(val, "-")
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if ok && err1 == nil && err2 == nil && 0 < l && l <= h && h <= 65535 {
				return true
			}
		case "<address>":
			if _, err := netip.ParsePrefix(val); err == nil {
				return true
			}
			if _, err := netip.ParseAddr(val); err == nil {
				return true
			}
		case "<path>":
			if winProgramPath.MatchString(val) {
				return true
			}
		case "<service>":
			if winServiceName.MatchString(val) {
				return true
			}
		default:
			if strings.EqualFold(a, val) {
				return true
			}
		}
	}
	return false
}

// TestScriptsUseDocumentedParameterSets reads every call of a NetSecurity
// cmdlet in every emitted PowerShell script, and every netsh add rule,
// and checks them against the documented parameter sets and keys.
func TestScriptsUseDocumentedParameterSets(t *testing.T) {
	pt := readParamTable(t)
	for name, script := range psScripts(t) {
		calls, err := psCalls(string(script))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seen := map[string]int{}
		for _, c := range calls {
			seen[c.cmdlet]++
			for _, p := range pt.checkCall(c) {
				t.Errorf("%s: %s", name, p)
			}
		}
		for _, cmdlet := range []string{"New-NetFirewallRule", "Remove-NetFirewallRule", "Open-NetGPO", "Save-NetGPO"} {
			if seen[cmdlet] == 0 && !(cmdlet == "New-NetFirewallRule" && !strings.Contains(string(script), "$rule = @{")) {
				t.Errorf("%s: no call of %s read: the reader missed it", name, cmdlet)
			}
		}
	}
	// The netsh reader refuses every key but its own (netshKeys), and
	// reads every emitted netsh script (TestNetshRules); its keys must be
	// netsh's documented ones.
	for _, k := range netshKeys {
		if !slices.Contains(pt.netshKeys, k) {
			t.Errorf("the netsh reader takes %q, which is not in netsh's add rule reference", k)
		}
	}
}

// TestParameterSetCheckCatches shows that the check can fail: a parameter
// no set has, two sets mixed, a mandatory one missing, a value the
// parameter does not take.
func TestParameterSetCheckCatches(t *testing.T) {
	pt := readParamTable(t)
	good := string(emitString(t, "powershell", winCases()[0].ruleset(t), Options{}))
	for _, change := range []struct{ from, to string }{
		{"-Direction Inbound", "-Direction Inbound -Tag x"},                                                                    // no such parameter
		{"Remove-NetFirewallRule -Group $GroupPattern @target", "Remove-NetFirewallRule -Group $GroupPattern -Name x @target"}, // ByQuery and ByName mixed
		{"Open-NetGPO -PolicyStore $PolicyStore", "Open-NetGPO"},                                                               // mandatory one missing
		{"-Action Allow", "-Action Permit"},                                                                                    // a value not accepted
		{"Profile       = 'Any'", "Profile       = 'Everywhere'"},                                                              // in the rule table
	} {
		if !strings.Contains(good, change.from) {
			t.Fatalf("the script has no %q", change.from)
		}
		calls, err := psCalls(strings.Replace(good, change.from, change.to, 1))
		if err != nil {
			t.Fatal(err)
		}
		var problems []string
		for _, c := range calls {
			problems = append(problems, pt.checkCall(c)...)
		}
		if len(problems) == 0 {
			t.Errorf("%q changed to %q: no problem found", change.from, change.to)
		}
	}
}
