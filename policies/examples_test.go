package policies_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
)

// TestExamplesResolve loads every example, resolves it, and writes it in
// every format: an example that stops working is a broken promise of the
// documentation.
func TestExamplesResolve(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("want at least five examples, found %d (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := policies.Load(filepath.Base(file), data, catalog.Default())
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			rs, err := policies.Resolve(p, catalog.Default())
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if len(rs.Groups) != len(p.Hosts) {
				t.Fatalf("Resolve gave %d groups for %d host groups", len(rs.Groups), len(p.Hosts))
			}
			for _, g := range rs.Groups {
				if len(g.Needs) == 0 {
					t.Errorf("group %s needs nothing", g.Name)
				}
			}
			for _, f := range emit.Formats() {
				var buf bytes.Buffer
				if f.Bundler != nil {
					files, err := f.Bundler.Bundle(rs, emit.Options{})
					if err != nil || len(files) == 0 {
						t.Errorf("%s: %d files, %v", f.Name, len(files), err)
					}
					continue
				}
				if err := f.Emitter.Emit(&buf, rs, emit.Options{}); err != nil {
					t.Errorf("%s: %v", f.Name, err)
				} else if buf.Len() == 0 {
					t.Errorf("%s: no output", f.Name)
				}
			}
		})
	}
}
