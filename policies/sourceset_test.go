package policies

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies/synth"
)

// resolveSite loads and resolves a policy given as YAML.
func resolveSite(t testing.TB, name string, data []byte) *Ruleset {
	t.Helper()
	p, err := Load(name, data, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestSourceSetsShared checks that needs whose peers have the same
// addresses share one source set, so that a site's Ruleset holds each
// list of sources once: on a synthetic site of 100 groups, every domain
// controller's members are one set of the ten domain controllers'
// addresses (each has IPv4 and IPv6), and the Ruleset lists far fewer sets than it has needs.
func TestSourceSetsShared(t *testing.T) {
	rs := resolveSite(t, "synthetic.yaml", synth.Site(100))
	var members *SourceSet
	needs := 0
	for _, g := range rs.Groups {
		for i := range g.Needs {
			n := &g.Needs[i]
			needs++
			if len(n.Sources) > 0 && (n.Set() == nil || n.SourceSet != n.Set().Name || &n.Sources[0] != &n.Set().Prefixes[0]) {
				t.Fatalf("%s: need %s/%s %s is not linked to its source set %q", g.Name, n.Role, n.Service, n.Peer, n.SourceSet)
			}
			if n.Role != "dc" || n.Peer != Members || n.Family != 0 {
				continue
			}
			if members == nil {
				members = n.Set()
			}
			if n.Set() != members {
				t.Fatalf("%s: the members of dc are set %q, another group's %q", g.Name, n.SourceSet, members.Name)
			}
		}
	}
	if members == nil || members.Name != "members of role dc" || members.Len() != 10+10 {
		t.Fatalf("members of dc: %v, want the 10 groups' IPv4 and IPv6 prefixes", members)
	}
	if len(rs.SourceSets) == 0 || len(rs.SourceSets) > needs/10 {
		t.Errorf("%d source sets for %d needs", len(rs.SourceSets), needs)
	}
	if !slices.IsSortedFunc(rs.SourceSets, func(a, b *SourceSet) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("source sets are not sorted by name")
	}
}

// TestSourceSetUnions checks the sets the views make: a port that two
// peers need admits the union of their sources, named after both, one set
// whichever group asks for it first.
func TestSourceSetUnions(t *testing.T) {
	rs := resolveSite(t, "synthetic.yaml", synth.Site(30))
	seen := map[string]*SourceSet{}
	for i := range rs.Groups {
		for _, r := range rs.Groups[i].ByScope() {
			if r.Set == nil {
				continue
			}
			if prev, ok := seen[r.Set.Name]; ok && prev != r.Set {
				t.Fatalf("two sets named %q", r.Set.Name)
			}
			seen[r.Set.Name] = r.Set
			if !slices.Equal(r.Sources, r.Set.Prefixes) {
				t.Fatalf("rule sources %v, set %v", r.Sources, r.Set.Prefixes)
			}
		}
	}
	u, ok := seen["admins + clients-00 + clients-01 + members of role dc"]
	if !ok {
		t.Fatalf("no union of the dc group's peers among %v", slices.Sorted(func(yield func(string) bool) {
			for k := range seen {
				if !yield(k) {
					return
				}
			}
		}))
	}
	for _, part := range []string{"admins", "clients-00 + clients-01", "members of role dc"} {
		s := rs.sources.byName[part]
		if s == nil {
			t.Fatalf("no set %q", part)
		}
		for _, p := range s.Prefixes {
			if !slices.Contains(u.Prefixes, p) {
				t.Errorf("union lacks %s of %s", p, part)
			}
		}
	}
}

// TestRulesetJSONRoundTrip checks that a Ruleset read back from its JSON
// links every need to its source set and writes the same bytes again, and
// that a Ruleset of schema v1, whose needs list their sources, reads to
// the same sources.
func TestRulesetJSONRoundTrip(t *testing.T) {
	data, err := os.ReadFile("examples/ad-mixed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs := resolveSite(t, "ad-mixed.yaml", data)
	first, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(first, []byte(`"sources"`)) || !bytes.Contains(first, []byte(`"source_sets"`)) {
		t.Fatal("the JSON lists sources per need, not once per set")
	}
	var back Ruleset
	if err := json.Unmarshal(first, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.MarshalIndent(&back, "", "  ")
	if !bytes.Equal(first, again) {
		t.Error("the Ruleset read back writes other JSON")
	}
	want := needSources(rs)
	if got := needSources(&back); !slices.Equal(got, want) {
		t.Errorf("sources read back:\n%v\nwant\n%v", got, want)
	}

	// The same Ruleset as v1 wrote it.
	var doc map[string]any
	if err := json.Unmarshal(first, &doc); err != nil {
		t.Fatal(err)
	}
	sets := map[string]any{}
	for _, s := range doc["source_sets"].([]any) {
		s := s.(map[string]any)
		sets[s["name"].(string)] = s["prefixes"]
	}
	delete(doc, "source_sets")
	doc["schema"] = RulesetSchemaV1
	for _, g := range doc["groups"].([]any) {
		for _, n := range g.(map[string]any)["needs"].([]any) {
			n := n.(map[string]any)
			if name, ok := n["source_set"].(string); ok {
				n["sources"] = sets[name]
				delete(n, "source_set")
			}
		}
	}
	v1, _ := json.Marshal(doc)
	var old Ruleset
	if err := json.Unmarshal(v1, &old); err != nil {
		t.Fatal(err)
	}
	if got := needSources(&old); !slices.Equal(got, want) {
		t.Errorf("sources read from v1:\n%v\nwant\n%v", got, want)
	}

	bad := bytes.Replace(first, []byte(`"source_set": "admins"`), []byte(`"source_set": "nobody"`), 1)
	if bytes.Equal(bad, first) {
		t.Fatal("the example has no need of the admins set")
	}
	if err := json.Unmarshal(bad, &back); err == nil || !strings.Contains(err.Error(), `names the source set "nobody", which source_sets does not list`) {
		t.Errorf("a need of an unknown set: %v", err)
	}
}

// needSources lists each need's group, service, peer and sources.
func needSources(rs *Ruleset) []string {
	var out []string
	for _, g := range rs.Groups {
		for i := range g.Needs {
			n := &g.Needs[i]
			if len(n.Sources) > 0 && n.Set() == nil {
				out = append(out, "unlinked")
			}
			out = append(out, g.Name+" "+n.Service+" "+string(n.Peer)+" "+SourcesKey(n.Sources))
		}
	}
	return out
}

// TestSourceSetLabel checks how comments name a set.
func TestSourceSetLabel(t *testing.T) {
	many := make([]netip.Prefix, 1234)
	for i := range many {
		many[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
	}
	for _, c := range []struct {
		set  *SourceSet
		want string
	}{
		{nil, "any"},
		{NewSourceSet("clients", []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16"), netip.MustParsePrefix("10.1.0.0/16")}), "clients (10.1.0.0/16, 10.2.0.0/16)"},
		{NewSourceSet("members of role dc", many), "members of role dc (1,234 prefixes)"},
		{NewSourceSet("10.1.0.0/16", []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}), "10.1.0.0/16"},
	} {
		if got := c.set.Label(); got != c.want {
			t.Errorf("Label() = %q, want %q", got, c.want)
		}
	}
}

// TestRulesetJSONBothSources checks that a need naming its sources twice,
// a source set and a v1 list, is refused rather than read as one of them.
func TestRulesetJSONBothSources(t *testing.T) {
	data := `{"schema": "fwgen/ruleset/v2", "policy": "p", "source_sets": [{"name": "clients", "prefixes": ["10.0.0.0/8"]}],
	"groups": [{"name": "g", "needs": [{"role": "dc", "service": "kdc", "protocol": "tcp", "ports": "88",
	"source_set": "clients", "sources": ["1.2.3.4/32"], "refs": []}]}]}`
	var rs Ruleset
	err := json.Unmarshal([]byte(data), &rs)
	if err == nil || !strings.Contains(err.Error(), "both source_set") {
		t.Fatalf("got %v", err)
	}
}
