package emit

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// psOut keeps every PowerShell script the tests emit, for the parser check
// of .ci/psparse/run.sh: go test ./emit -run PowerShell -psout DIR
var psOut = flag.String("psout", "", "also write every emitted PowerShell script to this directory")

// psScripts emits every PowerShell script the tests know: the golden cases,
// the hostile ones and one with lists long enough to wrap, by file name.
func psScripts(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, c := range winCases() {
		out[c.name+".ps1"] = emitString(t, "powershell", c.ruleset(t), c.opts)
	}
	for name, opts := range hostileOptions() {
		out[name+".ps1"] = emitString(t, "powershell", winHostile(), opts)
	}
	out["long-lists.ps1"] = emitString(t, "powershell", longRuleset(), Options{})
	if *psOut != "" {
		for name, b := range out {
			if err := os.WriteFile(filepath.Join(*psOut, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func TestPowerShellGolden(t *testing.T) {
	for _, c := range winCases() {
		t.Run(c.name, func(t *testing.T) {
			checkGolden(t, filepath.Join("..", "testdata", "powershell", c.name+".ps1"),
				emitString(t, "powershell", c.ruleset(t), c.opts))
		})
	}
}

// TestPowerShellRules reads every script back and checks that it adds
// exactly the Ruleset's rules.
func TestPowerShellRules(t *testing.T) {
	for _, c := range winCases() {
		t.Run(c.name, func(t *testing.T) {
			rs := c.ruleset(t)
			checkPowerShell(t, string(emitString(t, "powershell", rs, c.opts)), func(rules []parsedRule) {
				checkRules(t, rs, c.opts, rules)
			})
		})
	}
}

// TestPowerShellHostile feeds crafted names to every string of a script and
// checks that they stay strings: the script is ASCII, each rule is one
// command, and the text of each description reads back unchanged but for
// its line breaks.
func TestPowerShellHostile(t *testing.T) {
	for name, opts := range hostileOptions() {
		t.Run(name, func(t *testing.T) {
			rs := winHostile()
			script := string(emitString(t, "powershell", rs, opts))
			checkPowerShell(t, script, func(rules []parsedRule) {
				checkRules(t, rs, opts, rules)
				s, err := windowsScript(psFormat, rs, opts)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range rules {
					if want := oneLine(s.Rules[i].Description); r.Description != want {
						t.Errorf("rule %d description:\n got %q\nwant %q", i, r.Description, want)
					}
				}
			})
			group := GroupName(rs, opts)
			// The group comes back whole but for line breaks, and '|' (see gpoText).
			if got, err := psEval(strings.TrimPrefix(lineWith(script, "$Group = "), "$Group = ")); err != nil || got != gpoText(oneLine(group)) {
				t.Errorf("$Group = %q (%v), want %q", got, err, gpoText(oneLine(group)))
			}
		})
	}
}

// checkPowerShell checks the layout of a script and hands its rules to
// check: printable ASCII (see psQuote), one New-NetFirewallRule per rule
// table, each guarded by ShouldProcess.
func checkPowerShell(t *testing.T, script string, check func([]parsedRule)) {
	t.Helper()
	checkASCII(t, script, "\n")
	rules, err := psRules(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#Requires -RunAsAdministrator\n", "[CmdletBinding(SupportsShouldProcess)]\n",
		"    [string]$PolicyStore = 'PersistentStore',\n    [string]$DomainController,\n    [switch]$Remove\n", "DO NOT EDIT"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	news := strings.Count(script, "New-NetFirewallRule @rule ")
	guards := strings.Count(script, "if ($PSCmdlet.ShouldProcess($rule.Name, 'New-NetFirewallRule')) {\n            $null = New-NetFirewallRule @rule ")
	if news != len(rules) || guards != len(rules) {
		t.Errorf("%d New-NetFirewallRule commands, %d guarded, for %d rule tables", news, guards, len(rules))
	}
	// A GPO is opened and saved once, and only when nothing failed: the
	// one Save-NetGPO is the last step of the try block.
	for cmd, want := range map[string]int{"= Open-NetGPO -": 1, "Save-NetGPO -GPOSession": 1, "Remove-FwgenGroupRules\n": 1} {
		if got := strings.Count(script, cmd); got != want {
			t.Errorf("%q appears %d times, want %d", cmd, got, want)
		}
	}
	try, catch := strings.Index(script, "\ntry {\n"), strings.Index(script, "\n} catch {\n")
	save := strings.Index(script, "Save-NetGPO -GPOSession")
	if try < 0 || catch < 0 || !(try < save && save < catch) || strings.Contains(script[save:catch], "New-NetFirewallRule") {
		t.Errorf("Save-NetGPO is not the last step inside the try block")
	}
	check(rules)
}

// lineWith returns the first line of s that starts with prefix.
func lineWith(s, prefix string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

func TestPowerShellRPCKeywords(t *testing.T) {
	rs := winCases()[1].ruleset(t)
	rules, err := psRules(string(emitString(t, "powershell", rs, Options{RPCKeywords: true})))
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string][]string{}
	for _, r := range rules {
		ports[r.Name] = r.Ports
	}
	want := map[string][]string{
		"fwgen-dc-89eb09b0--dc-ad-tcp-admins-clients-members-lsass":       {"88", "389", "464", "636", "3268-3269"},
		"fwgen-dc-89eb09b0--dc-ad-tcp-admins-adws":                        {"9389"},
		"fwgen-dc-89eb09b0--dc-ad-tcp-admins-clients-members-rpcss-epmap": {"RPCEPMap"},
		"fwgen-dc-89eb09b0--dc-ad-tcp-admins-clients-members-lsass-rpc":   {"RPC"},
		"fwgen-dc-89eb09b0--dc-ad-tcp-admins-clients-members-system":      {"445"},
		"fwgen-dc-89eb09b0--dc-ad-tcp-admins-clients-members-dns":         {"53"},
		"fwgen-dc-89eb09b0--dc-ad-udp-admins-clients-members-lsass":       {"88", "389", "464"},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, ports[name]); diff != "" {
			t.Errorf("%s LocalPort (-want +got):\n%s", name, diff)
		}
	}
}
