package policies

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
)

var update = flag.Bool("update", false, "rewrite golden files (expected errors, schema.json)")

const badDir = "../testdata/bad"

// TestBadPolicies loads every broken policy of testdata/bad and compares
// the errors with the .err file beside it (go test ./policies -update
// rewrites them).
func TestBadPolicies(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(badDir, "*.yaml"))
	if err != nil || len(files) < 30 {
		t.Fatalf("want at least 30 broken policies in %s, found %d (%v)", badDir, len(files), err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Load(name, data, catalog.Default())
			if err == nil {
				t.Fatalf("Load accepted a broken policy: %+v", p)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./policies -update writes it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors of %s (-want +got):\n%s", name, diff)
			}
		})
	}
}

// TestThreeMistakes is the promise of the error format: a policy with three
// mistakes on three lines gives three file:line:col errors, in line order.
func TestThreeMistakes(t *testing.T) {
	src := `fwgen: v1
name: contoso-hq
os: ["2016"]
networks:
  admins: [10.99.0.0/24]
hosts:
  - name: dcs
    roles: [dcc]
    addresses: [10.20.0.300]
    peers: {admins: [admin]}
`
	_, err := Load("site.yaml", []byte(src), catalog.Default())
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load returned %T (%v), want an ErrorList", err, err)
	}
	want := `site.yaml:8:13: hosts[0].roles[0]: unknown role "dcc" (did you mean "dc"?)
site.yaml:9:17: hosts[0].addresses[0]: "10.20.0.300" is not an IP address or prefix such as 10.0.0.0/24
site.yaml:10:22: hosts[0].peers.admins[0]: unknown network "admin" (did you mean "admins"?)`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	for i, e := range list {
		if e.File != "site.yaml" || e.Line != 8+i || e.Col == 0 {
			t.Errorf("error %d at %s:%d:%d, want site.yaml:%d:col", i, e.File, e.Line, e.Col, 8+i)
		}
	}
}

// TestLoadHugeFile checks that a 20 MB file is turned down at once, by
// size, with one error.
func TestLoadHugeFile(t *testing.T) {
	data := []byte("fwgen: v1\nname: big\nhosts:\n" + strings.Repeat("  - {name: dcs, roles: [dc]}\n", 20<<20/28))
	start := time.Now()
	_, err := Load("big.yaml", data, catalog.Default())
	want := fmt.Sprintf("big.yaml: policy is too big: %d bytes or more; the limit is 1048576 bytes (1 MiB)", len(data))
	if err == nil || err.Error() != want {
		t.Errorf("Load(20 MB) = %v, want %s", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Load(20 MB) took %v", d)
	}
}

// TestAliasBombIsFast checks that the alias bomb of testdata/bad fails in
// well under a second rather than expanding.
func TestAliasBombIsFast(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(badDir, "alias-bomb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Load("alias-bomb.yaml", data, catalog.Default()); err == nil {
		t.Fatal("Load accepted an alias bomb")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Load(alias bomb) took %v", d)
	}
}

// TestTooManyErrors checks that a file with hundreds of problems reports
// the first ones and says how many more there are.
func TestTooManyErrors(t *testing.T) {
	src := "fwgen: v1\nname: x\nos: [\"2016\"]\nhosts:\n" + strings.Repeat("  - {name: x, roles: [nope]}\n", 100)
	_, err := Load("many.yaml", []byte(src), catalog.Default())
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load = %v, want an ErrorList", err)
	}
	if len(list) != maxErrors+1 || !strings.HasPrefix(list[maxErrors].Msg, "too many errors (") {
		t.Errorf("got %d errors, the last %q; want %d and a count of the rest", len(list), list[len(list)-1], maxErrors+1)
	}
}
