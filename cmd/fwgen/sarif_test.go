package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sarifMultitool is Microsoft's SARIF Multitool, installed by npm ci in
// .ci/sarif; it validates a log against the SARIF 2.1.0 schema and its
// own rules.
func sarifMultitool(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", ".ci", "sarif", "node_modules", ".bin", "sarif-multitool"))
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		msg := fmt.Sprintf("SARIF Multitool not available (%v); install Node.js, then: cd .ci/sarif && npm ci", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// validateSARIF runs the Multitool over a log and returns the problems it
// reports at level error.
func validateSARIF(t *testing.T, log []byte) []string {
	t.Helper()
	bin := sarifMultitool(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "fwgen.sarif"), filepath.Join(dir, "validation.sarif")
	if err := os.WriteFile(in, log, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "--output", out, in)
	// .NET needs ICU unless told to do without; validation needs no culture.
	cmd.Env = append(os.Environ(), "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sarif-multitool: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Runs []struct {
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					Arguments []string `json:"arguments"`
				} `json:"message"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &v); err != nil || len(v.Runs) != 1 {
		t.Fatalf("validation log: %v", err)
	}
	var problems []string
	for _, r := range v.Runs[0].Results {
		if r.Level == "error" {
			problems = append(problems, r.RuleID+": "+strings.Join(r.Message.Arguments, ", "))
		}
	}
	return problems
}

// TestLintSARIFValidates: fwgen lint --format sarif of a policy with
// findings of every severity is a valid SARIF 2.1.0 log; a log with a
// wrong version is not, which shows the check can fail.
func TestLintSARIFValidates(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "open.yaml")
	if err := os.WriteFile(policy, []byte(`fwgen: v1
name: open-site
os: ["2016"]
rpc:
  range: 6000-6500
networks:
  clients: [0.0.0.0/0]
hosts:
  - name: dcs
    roles: [dc, wins]
    addresses: [10.0.0.10]
    peers:
      clients: [clients]
    profile: [domain]
  - name: web
    roles: [web]
    addresses: [10.0.0.0/24]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"lint", "-f", policy, "--format", "sarif", "--fail-on", "error"}, &stdout, &stderr); code != exitFindings {
		t.Fatalf("lint: exit %d, want %d\n%s", code, exitFindings, stderr.String())
	}
	for _, level := range []string{`"level": "error"`, `"level": "warning"`, `"level": "note"`} {
		if !strings.Contains(stdout.String(), level) {
			t.Errorf("no finding with %s", level)
		}
	}
	if problems := validateSARIF(t, stdout.Bytes()); len(problems) > 0 {
		t.Errorf("fwgen's SARIF does not validate: %v", problems)
	}
	broken := strings.Replace(stdout.String(), `"version": "2.1.0"`, `"version": "2.0.0"`, 1)
	if problems := validateSARIF(t, []byte(broken)); len(problems) == 0 {
		t.Error("a SARIF log of version 2.0.0 validates: the check cannot fail")
	}
}

// TestFileURI: policy paths become URIs that SARIF readers resolve.
func TestFileURI(t *testing.T) {
	for in, want := range map[string]string{
		"site.yaml":              "site.yaml",
		"policies/site.yaml":     "policies/site.yaml",
		"my site #2 100%.yaml":   "my%20site%20%232%20100%25.yaml",
		"c:site.yaml":            "./c:site.yaml",
		"/srv/policies/hq.yaml":  "file:///srv/policies/hq.yaml",
		"/srv/a b/$(x);&|`.yaml": "file:///srv/a%20b/$%28x%29;&%7C%60.yaml",
	} {
		if got := fileURI(in); got != want {
			t.Errorf("fileURI(%q) = %q, want %q", in, got, want)
		}
	}
}
