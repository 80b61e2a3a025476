package diff

import (
	"strings"
	"testing"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

func resolve(t *testing.T, policy string) *policies.Ruleset {
	t.Helper()
	p, err := policies.Load("site.yaml", []byte(policy), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

const base = `fwgen: v1
name: hq
os: ["2016"]
networks:
  staff: [10.10.0.0/16]
hosts:
  - name: web
    roles: [web]
    addresses: [10.0.0.30]
    peers:
      clients: [staff]
`

// TestCompare: a renamed network with the same addresses changes no flow;
// new addresses change the flows' sources; a new role adds flows; a
// removed one removes them.
func TestCompare(t *testing.T) {
	old := resolve(t, base)
	if res := Compare(old, resolve(t, strings.ReplaceAll(base, "staff", "people")), "a", "b"); !res.Empty() {
		t.Errorf("a renamed network changed flows: %+v", res.Changes)
	}
	wider := resolve(t, strings.Replace(base, "10.10.0.0/16", "10.0.0.0/8", 1))
	res := Compare(old, wider, "a", "b")
	if res.Empty() || res.Changes[0].Kind != "changed" || res.Changes[0].What[0] != "sources: now staff (10.0.0.0/8), were staff (10.10.0.0/16)" {
		t.Errorf("wider sources: %+v", res.Changes)
	}
	split := resolve(t, strings.Replace(base, "10.10.0.0/16", "10.10.0.0/17, 10.10.128.0/17", 1))
	if res := Compare(old, split, "a", "b"); !res.Empty() {
		t.Errorf("the same addresses written otherwise changed flows: %+v", res.Changes)
	}
	one := resolve(t, strings.Replace(base, "10.10.0.0/16", "10.10.0.0/16, 10.12.0.0/16", 1))
	if res := Compare(old, one, "a", "b"); res.Empty() || res.Changes[0].What[0] != "sources: +10.12.0.0/16 (now staff)" {
		t.Errorf("one more network: %+v", res.Changes)
	}
	more := resolve(t, strings.Replace(base, "roles: [web]", "roles: [web, print-server]", 1))
	res = Compare(old, more, "a", "b")
	var kinds []string
	for _, c := range res.Changes {
		kinds = append(kinds, c.Kind+" "+c.Flow().What()+" "+string(c.Flow().Peer))
	}
	if got := strings.Join(kinds, "; "); got != "added tcp 135 admins; added tcp 135 clients; added tcp 445 admins; added tcp 445 clients; "+
		"added tcp 49152-65535 admins; added tcp 49152-65535 clients" {
		t.Errorf("adding print-server: %s", got)
	}
	back := Compare(more, old, "b", "a")
	if len(back.Changes) != 6 || back.Changes[0].Kind != "removed" {
		t.Errorf("removing print-server: %+v", back.Changes)
	}
}

// TestCompareGroups: a host group's servers and profiles are changes of
// the group, which no flow shows.
func TestCompareGroups(t *testing.T) {
	old := resolve(t, base)
	for _, tc := range []struct{ from, to, want string }{
		{"addresses: [10.0.0.30]", "addresses: [10.0.0.31]", "changed servers: +10.0.0.31/32 -10.0.0.30/32 (now 10.0.0.31/32)"},
		{"addresses: [10.0.0.30]", "addresses: [0.0.0.0/0]", "changed servers: now 0.0.0.0/0, were 10.0.0.30/32"},
		{"    peers:", "    profile: [domain, public]\n    peers:", "changed profiles: domain, public, were any"},
	} {
		res := Compare(old, resolve(t, strings.Replace(base, tc.from, tc.to, 1)), "a", "b")
		if len(res.Groups) != 1 || res.Groups[0].Kind+" "+strings.Join(res.Groups[0].What, "; ") != tc.want {
			t.Errorf("%s -> %s: %+v, want %s", tc.from, tc.to, res.Groups, tc.want)
		}
		if res.Empty() {
			t.Errorf("%s -> %s: Empty", tc.from, tc.to)
		}
	}
}
