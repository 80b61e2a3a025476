package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSiteDirRollsBack: when a file cannot take its place half-way
// through (a directory appeared at its path after the checks), every file
// already swapped in is put back, the stale ones too, and nothing new
// stays.
func TestSiteDirRollsBack(t *testing.T) {
	dir := t.TempDir()
	first := map[string][]byte{"a.csv": []byte("a1"), "b.csv": []byte("b1"), "gone.csv": []byte("g1")}
	d, err := planSiteDir(dir, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.commit(); err != nil {
		t.Fatal(err)
	}
	second := map[string][]byte{"a.csv": []byte("a2"), "c.csv": []byte("c2"), "z.csv": []byte("z2")}
	d, err = planSiteDir(dir, second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.stale, ",") != "b.csv,gone.csv" {
		t.Fatalf("stale %v, want b.csv and gone.csv", d.stale)
	}
	if err := os.MkdirAll(filepath.Join(dir, "z.csv", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.commit(); err == nil || !strings.Contains(err.Error(), "nothing in") {
		t.Fatalf("commit: %v, want an error saying nothing changed", err)
	}
	for name, want := range map[string]string{"a.csv": "a1", "b.csv": "b1", "gone.csv": "g1"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q (%v), want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "c.csv")); err == nil {
		t.Error("c.csv stayed after the rollback")
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, manifestName))
	if !strings.Contains(string(manifest), "gone.csv") || strings.Contains(string(manifest), "c.csv") {
		t.Errorf("the manifest was not put back:\n%s", manifest)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".fwgen-staging") {
			t.Errorf("staging directory left behind: %s", e.Name())
		}
	}
}

// TestManifestStaysInside: a manifest that names paths outside its
// directory, or fwgen's own files, removes nothing of them.
func TestManifestStaysInside(t *testing.T) {
	dir := t.TempDir()
	manifest := manifestHeader + "../escape.csv\n/etc/passwd\n.fwgen-manifest\nok.csv\n\n"
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := readManifest(dir)
	if err != nil || strings.Join(names, ",") != "ok.csv" {
		t.Errorf("readManifest = %v, %v; want ok.csv only", names, err)
	}
}
