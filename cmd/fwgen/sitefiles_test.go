package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
	"github.com/fwgen/fwgen/policies/synth"
)

// TestSiteOutputSameOnEveryCore: generate -o renders host groups on every
// core (run this test with -race too), and writes the same bytes as the
// files of the site rendered one after the other.
func TestSiteOutputSameOnEveryCore(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, synth.Site(40), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"generate", "-f", site, "--emit", "all", "-q", "-o", out, "--default-deny"}
	if code := run(context.Background(), args, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("fwgen %v: exit %d", args, code)
	}
	o := &genOptions{stdout: io.Discard, stderr: io.Discard, chain: "input", table: "fwgen", bind: "program", defaultDeny: true}
	o.emit = "all"
	formats, err := o.formats()
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadPolicy(site)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	files, err := o.siteFiles(formats, rs)
	if err != nil {
		t.Fatal(err)
	}
	names := files.names()
	perGroup := 0
	for _, f := range formats {
		if f.Bundler == nil {
			perGroup++
		}
	}
	// One file a group and format, site.csv, and the Capirca and Aerleon
	// exports: def/NETWORKS.net, def/SERVICES.svc and a policy each.
	if want := 40*perGroup + 1 + 4; len(names) != want {
		t.Fatalf("%d files, want %d", len(names), want)
	}
	for _, n := range names {
		want, err := files.render(n)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(out, n)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the file rendered alone (%v)", n, err)
		}
	}
	args = append(args, "--check")
	if code := run(context.Background(), args, io.Discard, io.Discard); code != exitOK {
		t.Errorf("fwgen %v: exit %d", args, code)
	}
}

// failingFiles is a fileSet whose units fail where fail says, after a
// random pause.
type failingFiles struct{ fail map[int]bool }

func (f failingFiles) names() []string { return nil }
func (f failingFiles) units() int      { return 200 }
func (f failingFiles) render(string) ([]byte, error) {
	return nil, nil
}

func (f failingFiles) renderUnit(i int, put putFunc) error {
	time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	if f.fail[i] {
		return fmt.Errorf("unit %d", i)
	}
	return put(fmt.Sprint(i), writeBytes(nil))
}

// TestRenderFilesFirstError: whatever the timing, the error is that of
// the first unit that fails, and every unit before it ran.
func TestRenderFilesFirstError(t *testing.T) {
	for range 20 {
		var ran [200]bool
		err := renderFiles(failingFiles{map[int]bool{37: true, 38: true, 150: true}}, func(n string, _ func(io.Writer) error) error {
			var i int
			fmt.Sscan(n, &i)
			ran[i] = true
			return nil
		})
		if err == nil || err.Error() != "unit 37" {
			t.Fatalf("error %v, want unit 37", err)
		}
		for i := range 37 {
			if !ran[i] {
				t.Fatalf("unit %d did not run", i)
			}
		}
	}
}

// TestSiteDirFailedRunLeavesNothing: a run that fails while it renders,
// into a directory that did not exist, leaves no directory behind.
func TestSiteDirFailedRunLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.yaml")
	policy := "fwgen: v1\nname: p\nos: [2016]\nhosts:\n  - name: a\n    roles: [dc]\n    addresses: [10.0.0.10]\n" +
		"  - name: b\n    roles: [dc]\n"
	if err := os.WriteFile(site, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "new", "out")
	var stderr strings.Builder
	args := []string{"generate", "-f", site, "--emit", "nftables", "--chain", "forward", "-o", out}
	if code := run(context.Background(), args, io.Discard, &stderr); code == exitOK {
		t.Fatalf("fwgen %v: exit 0, want an error", args)
	}
	if !strings.Contains(stderr.String(), `host group "b"`) {
		t.Errorf("stderr %q, want the error of group b", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("%s left behind", filepath.Join(dir, "new"))
	}
}

// TestSameAs: --check's comparison finds a file equal, shorter, longer,
// different or missing, and hashes what is generated in every case.
func TestSameAs(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("0123456789abcdef\n"), 10000)
	for name, tc := range map[string]struct {
		data []byte
		same bool
	}{
		"equal":   {want, true},
		"shorter": {want[:len(want)-1], false},
		"longer":  {append(bytes.Clone(want), 'x'), false},
		"changed": {append([]byte("X"), want[1:]...), false},
		"missing": {nil, false},
	} {
		path := filepath.Join(dir, name)
		if tc.data != nil {
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var h bytes.Buffer
		same, err := sameAs(path, &h, func(w io.Writer) error {
			for chunk := range slices.Chunk(want, 4096) {
				if _, err := w.Write(chunk); err != nil {
					return err
				}
			}
			return nil
		})
		if same != tc.same || (err != nil) != (tc.data == nil) || !bytes.Equal(h.Bytes(), want) {
			t.Errorf("%s: same %v (%v), want %v; all written to the hash: %v", name, same, err, tc.same, bytes.Equal(h.Bytes(), want))
		}
	}
}

// memFiles is a fileSet of files already in memory, a file a unit.
type memFiles map[string][]byte

func (m memFiles) names() []string { return slices.Collect(maps.Keys(m)) }

func (m memFiles) units() int { return len(m) }

func (m memFiles) renderUnit(i int, put putFunc) error {
	name := slices.Sorted(maps.Keys(m))[i]
	return put(name, writeBytes(m[name]))
}

func (m memFiles) render(name string) ([]byte, error) { return m[name], nil }
