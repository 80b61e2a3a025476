package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSiteDirRollsBack: when a file cannot take its place half-way
// through (a directory appeared at its path after the checks), every file
// already swapped in is put back, the stale ones too, and nothing new
// stays.
func TestSiteDirRollsBack(t *testing.T) {
	dir := t.TempDir()
	first := memFiles{"a.csv": []byte("a1"), "b.csv": []byte("b1"), "gone.csv": []byte("g1")}
	d, err := planSiteDir(dir, "p", []string{"csv"}, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.commit(); err != nil {
		t.Fatal(err)
	}
	second := memFiles{"a.csv": []byte("a2"), "c.csv": []byte("c2"), "z.csv": []byte("z2")}
	d, err = planSiteDir(dir, "p", []string{"csv"}, second)
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
// directory, or fwgen's own files, removes nothing of them; a manifest of
// an earlier fwgen, a name a line, still reads.
func TestManifestStaysInside(t *testing.T) {
	dir := t.TempDir()
	manifest := manifestHeader + "../escape.csv\n/etc/passwd\n.fwgen-manifest\nok.csv\n\n" +
		strings.Repeat("a", 64) + "  ../x.csv\n"
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := readManifest(dir)
	if err != nil || len(m.files) != 1 || m.files["ok.csv"] != "" {
		t.Errorf("readManifest = %v, %v; want ok.csv only", m.files, err)
	}
}

// TestSiteDirTidiesItsOwn: a run removes the stale files of the formats
// it writes, leaves those of other formats (listed still), leaves a stale
// file changed since it was written (and lists it no more), and refuses a
// directory of another policy.
func TestSiteDirTidiesItsOwn(t *testing.T) {
	dir := t.TempDir()
	all := memFiles{"a.csv": []byte("a"), "a.nft": []byte("a"), "b.csv": []byte("b"), "b.nft": []byte("b"),
		"c.csv": []byte("c"), "site.csv": []byte("s")}
	d, err := planSiteDir(dir, "hq", []string{"csv", "nft"}, all)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.commit(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.csv"), []byte("changed by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Groups b and c are gone; this run writes CSV only.
	d, err = planSiteDir(dir, "hq", []string{"csv"}, memFiles{"a.csv": []byte("a2"), "site.csv": []byte("s2")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.stale, ",") + " | " + strings.Join(d.changed, ","); got != "b.csv | c.csv" {
		t.Errorf("stale | changed = %s, want b.csv | c.csv", got)
	}
	if _, err := d.commit(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a.csv": true, "a.nft": true, "b.csv": false, "b.nft": true, "c.csv": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
	m, err := readManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(slices.Sorted(maps.Keys(m.files)), ","); m.policy != "hq" || got != "a.csv,a.nft,b.nft,c.csv,site.csv" {
		t.Errorf("manifest of %s: %s, want hq: a.csv,a.nft,b.nft,c.csv,site.csv", m.policy, got)
	}
	// The nftables run then removes b.nft.
	d, err = planSiteDir(dir, "hq", []string{"nft"}, memFiles{"a.nft": []byte("a"), "site.csv": []byte("s2")})
	if err != nil || strings.Join(d.stale, ",") != "b.nft" {
		t.Errorf("stale %v (%v), want b.nft", d.stale, err)
	}
	_, err = planSiteDir(dir, "branch", []string{"csv"}, memFiles{"site.csv": []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "holds the files of policy hq") {
		t.Errorf("another policy's directory: %v", err)
	}
}

// TestSiteDirRefuses: a file fwgen did not write, a staging directory of
// a killed run, and another run holding the directory each stop the run
// before it writes anything.
func TestSiteDirRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.ps1"), []byte("my own script"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := memFiles{"a.ps1": []byte("fwgen's"), "site.csv": []byte("s")}
	if _, err := planSiteDir(dir, "p", []string{"ps1"}, files); err == nil || !strings.Contains(err.Error(), "a.ps1 already there and not written by fwgen") {
		t.Errorf("a file of the user's: %v", err)
	}
	// The same bytes are no loss.
	if _, err := planSiteDir(dir, "p", []string{"ps1"}, memFiles{"a.ps1": []byte("my own script")}); err != nil {
		t.Errorf("a file with the bytes fwgen would write: %v", err)
	}
	os.Remove(filepath.Join(dir, "a.ps1"))
	if err := os.Mkdir(filepath.Join(dir, ".fwgen-staging-123"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := planSiteDir(dir, "p", []string{"ps1"}, files); err == nil || !strings.Contains(err.Error(), "killed half-way") {
		t.Errorf("a staging directory left behind: %v", err)
	}
	os.Remove(filepath.Join(dir, ".fwgen-staging-123"))
	d, err := planSiteDir(dir, "p", []string{"ps1"}, files)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.commit(); err == nil || !strings.Contains(err.Error(), "another fwgen generate is writing") {
		t.Errorf("a directory another run holds: %v", err)
	}
	unlock()
	if _, err := os.Stat(filepath.Join(dir, "a.ps1")); err == nil {
		t.Error("a file was written while another run held the directory")
	}
}
