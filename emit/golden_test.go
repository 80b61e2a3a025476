package emit

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// update rewrites golden files: go test ./emit -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCase is a quick-mode input whose output in every format is kept
// under testdata/golden/<name>/.
type goldenCase struct {
	name  string
	roles []string
	os    []string
	rpc   policies.RPCOptions
	opts  Options
}

var goldenCases = []goldenCase{
	{name: "dc-2016", roles: []string{"dc"}, os: []string{"2016"}},
	{name: "dc-2003-2016", roles: []string{"dc"}, os: []string{"2003", "2016"}},
	{name: "dc-2008r2-static", roles: []string{"dc"}, os: []string{"2008r2"},
		rpc: policies.RPCOptions{Static: map[string]uint16{"ntds": 38901, "netlogon": 38902, "frs": 38903, "dfsr": 5722}}},
	{name: "cluster-node-2019", roles: []string{"cluster-node"}, os: []string{"2019"}},
	{name: "cluster-node-2012r2-restricted", roles: []string{"cluster-node"}, os: []string{"2012r2"},
		rpc: policies.RPCOptions{Range: &policies.PortRange{From: 5000, To: 5100}}},
	{name: "hyperv-host-2022", roles: []string{"hyperv-host"}, os: []string{"2022"}},
	{name: "hyperv-host-2008r2-2016", roles: []string{"hyperv-host"}, os: []string{"2008r2", "2016"}},
}

// ruleset resolves the case with the embedded catalog, named as quick mode
// names it, so that the goldens are also what the command prints.
func (c goldenCase) ruleset(t testing.TB) *policies.Ruleset {
	t.Helper()
	p := policies.Quick{Roles: c.roles, OS: c.os, RPC: c.rpc}.Policy()
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return rs
}

// checkGolden compares got with the golden file at path, or rewrites it
// with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./emit -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// emitString renders rs in the named format; the files of a format that
// writes a tree of them, each after a line "==> PATH <==".
func emitString(t *testing.T, format string, rs *policies.Ruleset, opts Options) []byte {
	t.Helper()
	f, err := Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if f.Bundler != nil {
		for _, file := range bundle(t, format, rs, opts) {
			fmt.Fprintf(&buf, "==> %s <==\n%s", file.Path, file.Data)
		}
		return buf.Bytes()
	}
	if err := f.Emitter.Emit(&buf, rs, opts); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return buf.Bytes()
}

// TestGolden checks the CSV and JSON of every case (the other formats keep
// their goldens beside their own tests, with the options they exercise).
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		rs := c.ruleset(t)
		for _, f := range Formats() {
			path := filepath.Join("..", "testdata", "golden", c.name, "rules."+f.Ext)
			if f.Name != "csv" && f.Name != "json" {
				continue
			}
			t.Run(c.name+"/"+f.Name, func(t *testing.T) {
				checkGolden(t, path, emitString(t, f.Name, rs, c.opts))
			})
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range Formats() {
		rs := goldenCases[1].ruleset(t)
		a := emitString(t, f.Name, rs, Options{})
		b := emitString(t, f.Name, goldenCases[1].ruleset(t), Options{})
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs gave different bytes", f.Name)
		}
	}
}

// TestJSONRoundTrip: a Ruleset read back from its JSON (as fwgen diff
// reads one) writes the same JSON and CSV again, so that nothing of it is
// lost on the way.
func TestJSONRoundTrip(t *testing.T) {
	for _, c := range goldenCases {
		rs := c.ruleset(t)
		data := emitString(t, "json", rs, Options{})
		var back policies.Ruleset
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, f := range []string{"json", "csv"} {
			if diff := cmp.Diff(string(emitString(t, f, rs, Options{})), string(emitString(t, f, &back, Options{}))); diff != "" {
				t.Errorf("%s: %s of the Ruleset read back (-want +got):\n%s", c.name, f, diff)
			}
		}
	}
}
