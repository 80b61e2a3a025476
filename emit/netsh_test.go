package emit

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNetshGolden(t *testing.T) {
	for _, c := range winCases() {
		t.Run(c.name, func(t *testing.T) {
			checkGolden(t, filepath.Join("..", "testdata", "netsh", c.name+".cmd"),
				emitString(t, "netsh", c.ruleset(t), c.opts))
		})
	}
}

// TestNetshRules reads every add rule line back with cmd's and netsh's
// quoting rules and checks that the script adds exactly the Ruleset's rules
// and first deletes each of them.
func TestNetshRules(t *testing.T) {
	for _, c := range winCases() {
		t.Run(c.name, func(t *testing.T) {
			rs := c.ruleset(t)
			checkNetsh(t, string(emitString(t, "netsh", rs, c.opts)), func(rules []parsedRule) {
				checkRules(t, rs, c.opts, rules)
			})
		})
	}
}

// TestNetshHostile feeds crafted names to every string of a script and
// checks that each stays one argument of its own command.
func TestNetshHostile(t *testing.T) {
	for name, opts := range hostileOptions() {
		t.Run(name, func(t *testing.T) {
			rs := hostileRuleset()
			checkNetsh(t, string(emitString(t, "netsh", rs, opts)), func(rules []parsedRule) {
				checkRules(t, rs, opts, rules)
				s, err := windowsScript(netshFormat, rs, opts)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range rules {
					want := strings.ReplaceAll(asciiOnly(oneLine(s.Rules[i].Description)), `"`, "'")
					if r.Description != want {
						t.Errorf("rule %d description:\n got %q\nwant %q", i, r.Description, want)
					}
				}
			})
		})
	}
}

// checkNetsh checks the layout of a batch file and hands its add rules to
// check: CRLF lines of printable ASCII, every line a comment cmd cannot
// run, a netsh command or the template's own (see netshRules), a delete for
// every rule before the adds, and each add stopping the script when it
// fails.
func checkNetsh(t *testing.T, script string, check func([]parsedRule)) {
	t.Helper()
	if strings.Contains(strings.ReplaceAll(script, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(script, "\r\n", ""), "\r") {
		t.Errorf("a line does not end in CRLF")
	}
	checkASCII(t, script, "\r\n")
	if !strings.HasPrefix(script, "@echo off\r\nsetlocal EnableExtensions DisableDelayedExpansion\r\n") {
		t.Errorf("script does not start with @echo off and setlocal")
	}
	for i, line := range strings.Split(script, "\r\n") {
		if len(line) > 8000 {
			t.Errorf("line %d: %d characters, near cmd's limit", i+1, len(line))
		}
	}
	rules, deletes, err := netshRules(script)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, deletes) {
		t.Errorf("deleted names differ from added ones (-want +got):\n%s", cmp.Diff(names, deletes))
	}
	if lastDelete, firstAdd := strings.LastIndex(script, " delete rule "), strings.Index(script, " add rule "); firstAdd >= 0 && lastDelete > firstAdd {
		t.Errorf("a delete comes after an add")
	}
	check(rules)
}

func TestCmdArgs(t *testing.T) {
	tests := []struct {
		line string
		args []string
		rest string
		err  bool
	}{
		{line: `netsh a name="x y" d="50%% & b | c ^ d" || goto :fail`, args: []string{"netsh", "a", "name=x y", "d=50% & b | c ^ d"}, rest: "|| goto :fail"},
		{line: `netsh a d="ends in \\" e=1`, args: []string{"netsh", "a", `d=ends in \`, "e=1"}},
		// cmd does not know \": to it the quote ends there and the line ends
		// inside a new one, which is why netshQuote lets no " through.
		{line: `netsh a d="quote \" inside" e=1`, err: true},
		{line: `netsh a ^& b`, args: []string{"netsh", "a", "&", "b"}},
		{line: `netsh a d="%PATH%"`, err: true},
		{line: `netsh a d="open`, err: true},
		{line: `netsh a ^`, err: true},
	}
	for _, tc := range tests {
		args, rest, err := cmdArgs(tc.line)
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v", tc.line, err)
			continue
		}
		if diff := cmp.Diff(tc.args, args); diff != "" || rest != tc.rest {
			t.Errorf("%s: rest %q, args (-want +got):\n%s", tc.line, rest, diff)
		}
	}
}

// TestNetshReaderRejects shows that the reader fails on a script with one
// line more than the template has, wherever it is: a command of its own, a
// netsh command that is neither add nor delete, a comment that runs a
// command, an early exit.
func TestNetshReaderRejects(t *testing.T) {
	good := string(emitString(t, "netsh", winCases()[0].ruleset(t), Options{}))
	if _, _, err := netshRules(good); err != nil {
		t.Fatalf("the unchanged script: %v", err)
	}
	lines := strings.Split(good, "\r\n")
	injected := []string{"echo injected", `del /q C:\Windows\x`, "netsh advfirewall set allprofiles state off",
		"rem & calc", "calc", "exit /b 0", ""}
	for _, at := range []int{2, 4, len(lines) / 2, len(lines) - 8, len(lines) - 3} {
		for _, bad := range injected {
			script := strings.Join(slices.Insert(slices.Clone(lines), at, bad), "\r\n")
			if _, _, err := netshRules(script); err == nil {
				t.Errorf("line %q inserted at %d (before %q): no error", bad, at+1, lines[at])
			}
		}
	}
}
