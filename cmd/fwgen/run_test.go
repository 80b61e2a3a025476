package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/policies"
)

// TestExitCodes checks the codes that scripts and CI depend on: 0 done, 1
// findings in the input, 2 usage. testscript's "! exec" accepts any
// non-zero code, so the codes are checked here.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("fwgen: v1\nname: x\nos: [2016]\nhosts: [{name: a, roles: [dcc]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join("..", "..", "policies", "examples", "single-dc.yaml")
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"--role", "dc", "--os", "2016"}, exitOK},
		{[]string{"generate", "-f", good, "--emit", "csv"}, exitOK},
		{[]string{"generate", "-f", bad}, exitFindings},
		{[]string{"generate", "-f", filepath.Join(dir, "missing.yaml")}, exitIO},
		{[]string{"--role", "dc", "--os", "2016", "-o", filepath.Join(dir, "no", "such", "dir", "x.csv")}, exitIO},
		{[]string{"--role", "dcc", "--os", "2016"}, exitUsage},
		{[]string{"--role", "dc", "--os", "2061"}, exitUsage},
		{[]string{"--role", "dc", "--os", "2016", "--emit", "cvs"}, exitUsage},
		{[]string{"--rolle", "dc"}, exitUsage},
		{[]string{"servces"}, exitUsage},
		{[]string{"--role", "dc", "--os", "2016", "--emit", "nftables", "--chain", "forward"}, exitUsage},
	} {
		var stdout, stderr bytes.Buffer
		got := run(context.Background(), tt.args, &stdout, &stderr)
		if got != tt.want {
			t.Errorf("fwgen %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), got, tt.want, stderr.String())
		}
		if strings.Contains(stderr.String(), "goroutine ") {
			t.Errorf("fwgen %s: a stack trace:\n%s", strings.Join(tt.args, " "), stderr.String())
		}
	}
}

// TestGroupTables: each host group gets a table of its own, short enough
// for iptables' chain names; a cut name never meets a whole one, and two
// groups that would still meet are an error naming both.
func TestGroupTables(t *testing.T) {
	groups := func(names ...string) []policies.Group {
		var gs []policies.Group
		for _, n := range names {
			gs = append(gs, policies.Group{Name: n})
		}
		return gs
	}
	// "fwgen-datac_" and the hash of the name: printf %s NAME | sha256sum.
	tables, err := groupTables("fwgen", groups("dcs", "site.a", "datacenter-east-domain-controllers",
		"datacenter-east-domain-controllers-2", "datac-984d6d3a"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"dcs":                                  "fwgen-dcs",
		"site.a":                               "fwgen-site-a",
		"datacenter-east-domain-controllers":   "fwgen-datac_984d6d3a",
		"datacenter-east-domain-controllers-2": "fwgen-datac_24262d71",
		"datac-984d6d3a":                       "fwgen-datac-984d6d3a",
	}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("groupTables (-want +got):\n%s", diff)
	}
	for _, tb := range tables {
		if len(tb) > maxGroupTable {
			t.Errorf("%q is longer than %d", tb, maxGroupTable)
		}
	}
	// A --table so long that nothing of the group's name is left.
	_, err = groupTables("a-very-long-table-name", groups("branch-one", "branch-one"))
	if err == nil || !strings.Contains(err.Error(), `"branch-one" and "branch-one" would share the table`) {
		t.Errorf("two groups of one table: %v", err)
	}
}

// TestSummaryOfALargeSite: a site of 500 host groups, many open to any
// address and with scenarios left out, gets a few lines on stderr, not one
// a group; --verbose names every group; --quiet keeps the warnings only.
func TestSummaryOfALargeSite(t *testing.T) {
	var b strings.Builder
	b.WriteString("fwgen: v1\nname: big\nos: [2003, 2016]\nnetworks:\n  clients: [10.0.0.0/8]\nhosts:\n")
	roles := []string{"dc", "file-server", "web", "hyperv-host", "sql-server", "rd-gateway"}
	for i := range 500 {
		fmt.Fprintf(&b, "  - name: g%03d\n    roles: [%s]\n    addresses: [10.%d.%d.0/24]\n", i, roles[i%len(roles)], 100+i/250, i%250)
		if i%2 == 0 {
			b.WriteString("    peers: {clients: [clients]}\n")
		}
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		flag     string
		min, max int
	}{{"", 3, 10}, {"--quiet", 1, 7}, {"--verbose", 3, 40}} {
		args := []string{"generate", "-f", path, "--emit", "powershell"}
		if tt.flag != "" {
			args = append(args, tt.flag)
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d:\n%s", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(lines) < tt.min || len(lines) > tt.max {
			t.Errorf("%s: %d lines on stderr, want %d to %d:\n%s", cmpOr(tt.flag, "default"), len(lines), tt.min, tt.max, stderr.String())
		}
		text := stderr.String()
		switch tt.flag {
		case "--verbose":
			if !strings.Contains(text, "g499") || !strings.Contains(text, "g001") {
				t.Errorf("--verbose does not name every group:\n%s", text)
			}
		case "--quiet":
			if strings.Contains(text, "scenarios left out") || !strings.Contains(text, "open to any address") {
				t.Errorf("--quiet should keep only the warnings:\n%s", text)
			}
		default:
			if !strings.Contains(text, "and 165 more") || !strings.Contains(text, "scenarios left out") {
				t.Errorf("the summary should count groups and name the scenarios:\n%s", text)
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
