package policies

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
)

// truthMixes are the OS mixes of the truth tables.
var truthMixes = [][]string{{"2016"}, {"2003", "2016"}, {"2008r2"}, {"2022"}}

// TestTruthTables compares the resolver's output for every role and OS
// mix with testdata/truth/<role>.txt: every protocol, port and peer a
// role's servers accept by default, with the documents that say so, and
// the scenarios left closed. The tables are for review against those
// documents: -update rewrites them, and the diff is what to check.
func TestTruthTables(t *testing.T) {
	c := catalog.Default()
	for _, role := range c.Roles {
		t.Run(role.ID, func(t *testing.T) {
			got := truthTable(t, c, &role)
			path := filepath.Join("..", "testdata", "truth", role.ID+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./policies -update writes it; review it against the documents)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs from the resolver (-want +got); review the change against the documents it cites, then -update:\n%s", path, diff)
			}
		})
	}
}

func truthTable(t *testing.T, c *catalog.Catalog, role *catalog.Role) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Truth table of role %s (%s): what its servers accept by default, per OS mix, as\n", role.ID, role.Name)
	fmt.Fprintf(&b, "# fwgen --role %s --os MIX gives it: protocol, port, peer, and each service that\n", role.ID)
	b.WriteString("# needs it with the documents that say so; then the scenarios left closed.\n")
	b.WriteString("# Reviewed against those documents: a change here is a change of what fwgen opens.\n")
	for _, mix := range truthMixes {
		g := resolve(t, quick([]string{role.ID}, mix))
		fmt.Fprintf(&b, "\n## --os %s (RPC dynamic range %s)\n", strings.Join(mix, ","), portRanges(g.RPC.Ranges))
		for _, line := range truthLines(g) {
			b.WriteString(line + "\n")
		}
		for _, s := range g.Scenarios {
			if !s.On {
				ports := strings.Join(s.Ports, ", ")
				if ports == "" {
					ports = "nothing on this OS mix"
				}
				fmt.Fprintf(&b, "closed: scenario %s: %s\n", s.ID, ports)
			}
		}
		for _, o := range g.Omitted {
			what := string(o.Proto)
			if o.Ports != "" {
				what = o.Ports + "/" + what
			}
			fmt.Fprintf(&b, "left out: %s %s: %s\n", o.Service, what, o.Reason)
		}
	}
	return b.String()
}

// truthLines are "tcp 389 clients  ad: KB 832017 (...); kdc: ..." lines,
// one per protocol, port and peer, sorted.
func truthLines(g *Group) []string {
	type key struct {
		proto Proto
		what  string
		from  uint16
		peer  Peer
	}
	why := map[key][]string{}
	for _, n := range g.Needs {
		what := n.Ports.String()
		if n.ICMPType != nil {
			what = fmt.Sprintf("type %d", *n.ICMPType)
		} else if !n.Proto.HasPorts() {
			what = "-"
		}
		var docs []string
		for _, r := range n.Refs {
			docs = addUnique(docs, r.String())
		}
		k := key{n.Proto, what, n.Ports.From, n.Peer}
		why[k] = addUnique(why[k], n.Service+": "+strings.Join(docs, "; "))
	}
	keys := make([]key, 0, len(why))
	for k := range why {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.proto != b.proto {
			return strings.Compare(string(a.proto), string(b.proto))
		}
		if a.from != b.from {
			return int(a.from) - int(b.from)
		}
		if a.what != b.what {
			return strings.Compare(a.what, b.what)
		}
		return strings.Compare(string(a.peer), string(b.peer))
	})
	var out []string
	for _, k := range keys {
		slices.Sort(why[k])
		out = append(out, fmt.Sprintf("%-6s %-11s %-24s %s", k.proto, k.what, k.peer, strings.Join(why[k], " | ")))
	}
	return out
}

func portRanges(rs []PortRange) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
