package emit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// psChecker is the PowerShell parser check: tree-sitter-powershell, run by
// Node. It is installed with npm ci in its folder (.ci/psparse/run.sh does).
var psChecker = filepath.Join("..", ".ci", "psparse", "check.mjs")

// needPSChecker returns the path of node, or skips the test when Node or
// the checker's modules are missing; with CI=true it fails instead.
func needPSChecker(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(filepath.Dir(psChecker), "node_modules", "tree-sitter-powershell"))
	}
	if err != nil {
		msg := "PowerShell parser not available (" + err.Error() + "); install Node.js and run .ci/psparse/run.sh, or: cd .ci/psparse && npm ci"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// psReport is check.mjs's --json output.
type psReport struct {
	Files []struct {
		Path     string         `json:"path"`
		Errors   []string       `json:"errors"`
		Commands map[string]int `json:"commands"`
	} `json:"files"`
}

// runPSChecker runs check.mjs over paths and returns its exit status, its
// standard output and its standard error.
func runPSChecker(t *testing.T, node string, args ...string) (int, []byte, string) {
	t.Helper()
	cmd := exec.Command(node, append([]string{psChecker}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.Bytes(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.Bytes(), stderr.String()
	}
	t.Fatalf("running %s: %v", psChecker, err)
	return 0, nil, ""
}

// TestPowerShellParses parses every script the tests emit, the golden files
// and the hostile cases, with a real PowerShell grammar, and checks that
// the only commands in each are the script's own: one New-NetFirewallRule
// per rule and nothing a name could have smuggled in.
func TestPowerShellParses(t *testing.T) {
	scripts := psScripts(t)
	node := needPSChecker(t)
	dir := t.TempDir()
	want := map[string]map[string]int{}
	for name, b := range scripts {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		want[path] = psCommands(strings.Count(string(b), "\n        $rule = @{\n"))
	}
	goldens, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*.ps1"))
	more, _ := filepath.Glob(filepath.Join("..", "testdata", "*", "*", "*.ps1"))
	code, out, stderr := runPSChecker(t, node, append(append([]string{"--json", dir}, goldens...), more...)...)
	if code != 0 {
		t.Errorf("check.mjs exit status %d:\n%s", code, stderr)
	}
	var report psReport
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("check.mjs output: %v", err)
	}
	if got, min := len(report.Files), len(scripts)+len(goldens)+len(more); got != min {
		t.Errorf("check.mjs read %d scripts, want %d", got, min)
	}
	for _, f := range report.Files {
		for _, e := range f.Errors {
			t.Errorf("%s", e)
		}
		if w, ok := want[f.Path]; ok {
			if diff := cmp.Diff(w, f.Commands); diff != "" {
				t.Errorf("%s: commands (-want +got):\n%s", filepath.Base(f.Path), diff)
			}
		}
	}
}

// psCommands are the commands a script with n rules runs.
func psCommands(n int) map[string]int {
	c := map[string]int{"Set-StrictMode": 1, "Get-Command": 1, "New-Object": 2, "Open-NetGPO": 1,
		"Remove-FwgenGroupRules": 1, "Remove-NetFirewallRule": 1, "Save-NetGPO": 1, "Write-Host": 3}
	if n > 0 {
		c["New-NetFirewallRule"] = n
	}
	return c
}

// TestPSCheckerFails shows that the check can fail: a syntax error, a
// missing brace, a typographic quote that ends a string early in
// PowerShell, and a folder without scripts.
func TestPSCheckerFails(t *testing.T) {
	node := needPSChecker(t)
	dir := t.TempDir()
	bad := map[string]string{
		"syntax.ps1": "$rule = @{\n    Name = 'a'\n    Profile = 'Any'\n}\nif ($x { 'a' }\n",
		"brace.ps1":  "if ($x) {\n    New-NetFirewallRule -Name 'a'\n",
		"quote.ps1":  "$rule = @{ Name = 'a\u2019; Remove-Item C:\\; \u2019' }\n",
	}
	for name, text := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name := range bad {
		code, _, stderr := runPSChecker(t, node, filepath.Join(dir, name))
		if code != 1 || !strings.Contains(stderr, name+":") {
			t.Errorf("%s: exit status %d, stderr %q; want 1 and file:line:col", name, code, stderr)
		}
	}
	if code, _, _ := runPSChecker(t, node, t.TempDir()); code != 2 {
		t.Errorf("empty folder: exit status %d, want 2", code)
	}
}
