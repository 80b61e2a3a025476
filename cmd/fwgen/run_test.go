package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func TestGroupTable(t *testing.T) {
	long1 := groupTable("fwgen", "datacenter-east-domain-controllers")
	long2 := groupTable("fwgen", "datacenter-east-domain-controllers-2")
	if got := groupTable("fwgen", "dcs"); got != "fwgen-dcs" {
		t.Errorf("groupTable(dcs) = %q", got)
	}
	if got := groupTable("fwgen", "site.a"); got != "fwgen-site_a" {
		t.Errorf("groupTable(site.a) = %q", got)
	}
	for _, g := range []string{long1, long2} {
		if len(g) > maxGroupTable {
			t.Errorf("%q is longer than %d", g, maxGroupTable)
		}
	}
	if long1 == long2 {
		t.Errorf("two long names give one table %q", long1)
	}
}
