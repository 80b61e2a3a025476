package policies

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fwgen/fwgen/catalog"
)

// wholeFileMessages start the messages of problems that have no position:
// they are about the file as a whole.
var wholeFileMessages = []string{
	"empty policy", "policy is too big", "policy is UTF-16", "too many values", "too many errors", "YAML syntax:",
}

// FuzzLoad feeds Load arbitrary bytes: it must never panic, every error
// must be one line with a position or a message about the whole file, the
// same input must give the same errors, and a policy it accepts must
// resolve. Run it with go test ./policies -run '^$' -fuzz FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"examples/*.yaml", filepath.Join(badDir, "*.yaml")} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			// The alias bomb takes a fifth of a second a run by design, which
			// would make minimizing its mutations eat the fuzzing time; it
			// has a test of its own, and a small bomb is seeded below.
			if len(data) < 4096 {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nfwgen: v1\n"))
	f.Add([]byte("fwgen: v1\nname: x\nos: [2016]\nhosts: [&h {name: a, roles: [&r dc, *r, *r]}, *h, *h, *h]\n"))
	f.Add([]byte("fwgen: v1\nname: x\nos: [2016]\nhosts: [{name: a, roles: [dc], peers: {members: []}}]\n"))
	c := catalog.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data, c)
		if err == nil {
			checkAccepted(t, p, c)
			return
		}
		checkErrors(t, err)
		if _, again := Load("fuzz.yaml", data, c); again == nil || again.Error() != err.Error() {
			t.Fatalf("second Load gave other errors:\n%v\nthen:\n%v", err, again)
		}
	})
}

func checkAccepted(t *testing.T, p *Policy, c *catalog.Catalog) {
	t.Helper()
	if p == nil || len(p.Hosts) == 0 {
		t.Fatalf("Load accepted a policy without host groups: %+v", p)
	}
	for _, h := range p.Hosts {
		if len(h.Roles) == 0 || groupNameProblem(h.Name) != "" {
			t.Fatalf("Load accepted host group %+v", h)
		}
	}
	if _, err := Resolve(p, c); err != nil {
		t.Fatalf("Load accepted a policy that does not resolve: %v", err)
	}
}

func checkErrors(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("Load returned %T %v, want a non-empty ErrorList", err, err)
	}
	// One line an error, but for the indented source lines under a YAML
	// syntax error.
	lines := 0
	for _, l := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(l, " ") {
			lines++
		}
	}
	if lines != len(list) {
		t.Fatalf("%d errors print as %d lines:\n%s", len(list), lines, err)
	}
	for _, e := range list {
		if e.File != "fuzz.yaml" || e.Msg == "" {
			t.Fatalf("error without file or message: %#v", e)
		}
		if e.Line == 0 && !hasAnyPrefix(e.Msg, wholeFileMessages) {
			t.Fatalf("error without a position: %s", e)
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
