package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// workflow is the GitHub Actions workflow of the README's "Rule reviews in
// CI".
var workflow = filepath.Join("..", "..", "docs", "ci", "fwgen-review.yml")

// actionlint runs actionlint, which go install puts in GOBIN (.ci/test.sh
// does), over a workflow file.
func actionlint(t *testing.T, path string) error {
	t.Helper()
	bin, err := exec.LookPath("actionlint")
	if err == nil {
		_, err = exec.LookPath("shellcheck") // actionlint checks run: scripts with it, when it is there
	}
	if err != nil {
		msg := "actionlint or shellcheck not available; go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12, apt-get install shellcheck"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if out, err := exec.Command(bin, "-no-color", path).CombinedOutput(); err != nil {
		return &exec.ExitError{Stderr: out}
	}
	return nil
}

// TestWorkflowLints: actionlint finds nothing wrong with the workflow, and
// finds a broken copy wrong (an unknown key, a pull-request title expanded
// into a shell script, an unquoted variable that shellcheck flags).
func TestWorkflowLints(t *testing.T) {
	if err := actionlint(t, workflow); err != nil {
		t.Fatalf("actionlint: %s", err.(*exec.ExitError).Stderr)
	}
	data, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	for _, broken := range []string{
		strings.Replace(string(data), "runs-on:", "run-on:", 1),
		strings.Replace(string(data), `--format markdown > flows.md`, `--format markdown > "${{ github.event.pull_request.title }}.md"`, 1),
		strings.Replace(string(data), `cat flows.md >> "$GITHUB_STEP_SUMMARY"`, `cat flows.md >> $GITHUB_STEP_SUMMARY`, 1),
	} {
		if broken == string(data) {
			t.Fatal("a broken copy is the same as the workflow: the test no longer breaks it")
		}
		path := filepath.Join(t.TempDir(), "broken.yml")
		if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if actionlint(t, path) == nil {
			t.Error("actionlint passed a broken workflow: the check cannot fail")
		}
	}
}

// TestWorkflowCommands: every fwgen command of the workflow is one that
// fwgen knows, with flags it knows (each is run with --help added, which
// cobra parses the flags for).
func TestWorkflowCommands(t *testing.T) {
	data, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	cmds := regexp.MustCompile(`(?m)^[^#\n]*\bfwgen ((?:generate|lint|diff)[^|>\n]*)`).FindAllStringSubmatch(string(data), -1)
	if len(cmds) < 3 {
		t.Fatalf("found %d fwgen commands in the workflow, want generate, lint and diff", len(cmds))
	}
	for _, m := range cmds {
		var args []string
		for _, f := range strings.Fields(m[1]) {
			args = append(args, strings.Trim(f, `"`))
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append(args, "--help"), &stdout, &stderr); code != 0 {
			t.Errorf("fwgen %s: exit %d: %s", m[1], code, stderr.String())
		}
	}
}
