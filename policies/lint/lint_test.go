package lint

import (
	"strings"
	"testing"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// TestRulesCiteDocuments: every rule has a unique id and name and cites a
// document of the catalog, which findings name.
func TestRulesCiteDocuments(t *testing.T) {
	ids, names := map[string]bool{}, map[string]bool{}
	for _, r := range Rules {
		if ids[r.ID] || names[r.Name] {
			t.Errorf("rule %s %s: id or name used twice", r.ID, r.Name)
		}
		ids[r.ID], names[r.Name] = true, true
		if d := catalog.Default().Document(r.Doc.Doc); d == nil || d.URL == "" {
			t.Errorf("rule %s cites %q, which the catalog does not have with an address", r.ID, r.Doc.Doc)
		}
	}
}

func check(t *testing.T, policy string) []Finding {
	t.Helper()
	p, err := policies.Load("site.yaml", []byte(policy), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return Check(p, rs, catalog.Default())
}

// TestWorldNetwork: a network of ::/0 is flagged at its own line and
// column, as reachable from anywhere and as RPC and SMB open to any
// address; the findings are sorted by position.
func TestWorldNetwork(t *testing.T) {
	fs := check(t, `fwgen: v1
name: v6
os: ["2019"]
networks:
  staff: ["fd00::/48", "::/0"]
hosts:
  - name: files
    roles: [file-server]
    addresses: ["fd00:1::10"]
    peers:
      clients: [staff]
`)
	var got []string
	for _, f := range fs {
		got = append(got, f.String())
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"site.yaml:5:24: error FWG002 smb-open-to-any: networks.staff[1]: host group files: SMB 445/tcp is open to admins, clients from any address",
		"site.yaml:5:24: warning FWG003 reachable-from-anywhere: networks.staff[1]: host group files is reachable from every IPv6 address: network staff (clients) holds ::/0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no finding %q in:\n%s", want, text)
		}
	}
	if !Fails(fs, Error) || Fails(nil, Info) {
		t.Error("Fails does not follow the severities")
	}
}

// TestHalves: two halves of the IPv4 space are every address too.
func TestHalves(t *testing.T) {
	fs := check(t, `fwgen: v1
name: halves
os: ["2019"]
networks:
  office: [0.0.0.0/1, 128.0.0.0/1]
hosts:
  - name: files
    roles: [file-server]
    addresses: [10.0.0.10]
    peers:
      clients: [office]
`)
	var got []string
	for _, f := range fs {
		got = append(got, f.Rule+" "+f.Path)
	}
	if text := strings.Join(got, "; "); text != "FWG002 networks.office; FWG003 networks.office" {
		t.Errorf("findings: %s", text)
	}
}
