package emit

import (
	"fmt"
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
			rs := winHostile()
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
		if len(line) > maxNetshLine {
			t.Errorf("line %d: %d characters, more than %d", i+1, len(line), maxNetshLine)
		}
	}
	read, err := netshRules(script)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range read.Adds {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, read.Deletes) {
		t.Errorf("deleted names differ from added ones (-want +got):\n%s", cmp.Diff(names, read.Deletes))
	}
	if lastDelete, firstAdd := strings.LastIndex(script, " delete rule "), strings.Index(script, " add rule "); firstAdd >= 0 && lastDelete > firstAdd {
		t.Errorf("a delete comes after an add")
	}
	checkSweep(t, read)
	check(read.Adds)
}

// listLabels are the labels of a rule's name in netsh's list of rules in a
// few languages of Windows.
var listLabels = []string{"Rule Name:", "Regelname:", "Nom de la regle :", "Nome regola:"}

// checkSweep runs the script's loops over netsh's list of rules, as
// Windows in several languages prints it, and checks that they delete the
// script's rules, and those of its former runs, but no other rule: not
// those of a group whose name starts the same, nor one named in a
// description.
func checkSweep(t *testing.T, read *netshRead) {
	t.Helper()
	if err := sweepProblem(read); err != nil {
		t.Error(err)
	}
}

// sweepProblem is what checkSweep finds wrong, or nil.
func sweepProblem(read *netshRead) error {
	if len(read.Sweeps) != 1 || len(read.Adds) == 0 {
		return fmt.Errorf("%d loops that delete the script's rules, %d rules; want 1 loop", len(read.Sweeps), len(read.Adds))
	}
	first := read.Adds[0].Name
	prefix := first[:strings.Index(first, "--")+2]
	want := []string{prefix + "gone-role-svc-tcp", prefix + "dc-ad-tcp-s9-rpc"}
	for _, r := range read.Adds {
		if !strings.HasPrefix(r.Name, prefix) {
			return fmt.Errorf("rule %s does not start with %s", r.Name, prefix)
		}
		want = append(want, r.Name)
	}
	others := []string{strings.TrimSuffix(prefix, "--") + "-east--dc-ad-tcp", "fwgen-zz--dc-ad-tcp",
		strings.ToUpper(prefix) + "dc-ad-tcp", prefix + "dc-ad-tcp old", "Core Networking - DNS (UDP-Out)"}
	for _, label := range listLabels {
		got, err := read.sweep(netshList(label, want, others))
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("with %q: deleted names (-want +got):\n%s", label, diff)
		}
	}
	return nil
}

// TestNetshSweepCatches shows that the loop that deletes a script's rules
// is read as cmd would run it: a loop changed to delete more, to delete
// something else or to be parsed differently by cmd fails the check.
func TestNetshSweepCatches(t *testing.T) {
	good := string(emitString(t, "netsh", winCases()[0].ruleset(t), Options{}))
	read, err := netshRules(good)
	if err != nil || sweepProblem(read) != nil {
		t.Fatalf("the unchanged script: %v, %v", err, sweepProblem(read))
	}
	changes := []struct{ from, to string }{
		{"fwgen-dc-89eb09b0--[", "fwgen-dc-89eb09b0-["},            // another group's rules too
		{"[0123456789abcdefghijklmnopqrstuvwxyz-]*", "[a-z0-9-]*"}, // findstr's ranges
		{" *$\"", "\""},                                                                // a name that only starts so
		{"name^=all ^|", "name^=all |"},                                                // the pipe ends the loop
		{`"tokens=1" %%n`, `"tokens=*" %%n`},                                           // trailing spaces kept
		{`delete rule name="%%n"`, `delete rule name="%%n" dir=in`},                    // deletes by more than the name
		{`do netsh advfirewall firewall delete`, `do netsh advfirewall firewall show`}, // another command
		{"findstr /r", "findstr /i /r"},                                                // upper case matches
	}
	for _, c := range changes {
		if !strings.Contains(good, c.from) {
			t.Fatalf("the script has no %q", c.from)
		}
		read, err := netshRules(strings.Replace(good, c.from, c.to, 1))
		if err == nil {
			err = sweepProblem(read)
		}
		if err == nil {
			t.Errorf("%q changed to %q: no error", c.from, c.to)
		}
	}
}

// netshList is what "netsh advfirewall firewall show rule name=all" prints
// for rules with these names, with the given label for a rule's name.
func netshList(label string, names, others []string) []string {
	list := []string{""}
	for i, name := range append(slices.Clone(names), others...) {
		pad := strings.Repeat(" ", max(1, 38-len(label)))
		list = append(list, label+pad+name+strings.Repeat(" ", i%2),
			strings.Repeat("-", 70),
			"Enabled:                              Yes",
			"Direction:                            In",
			"Description:                          "+names[0]+" and more",
			"Grouping:                             ",
			"LocalIP:                              Any",
			"RemoteIP:                             10.0.0.0/8",
			"Protocol:                             TCP",
			"LocalPort:                            445",
			"Action:                               Allow",
			"")
	}
	return append(list, "Ok.", "")
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
	if _, err := netshRules(good); err != nil {
		t.Fatalf("the unchanged script: %v", err)
	}
	lines := strings.Split(good, "\r\n")
	injected := []string{"echo injected", `del /q C:\Windows\x`, "netsh advfirewall set allprofiles state off",
		"rem & calc", "calc", "exit /b 0", ""}
	for _, at := range []int{2, 4, len(lines) / 2, len(lines) - 8, len(lines) - 3} {
		for _, bad := range injected {
			script := strings.Join(slices.Insert(slices.Clone(lines), at, bad), "\r\n")
			if _, err := netshRules(script); err == nil {
				t.Errorf("line %q inserted at %d (before %q): no error", bad, at+1, lines[at])
			}
		}
	}
}
