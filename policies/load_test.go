package policies

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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
site.yaml:10:22: hosts[0].peers.admins[0]: unknown network or host group "admin" (did you mean "admins"?)`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	for i, e := range list {
		if e.File != "site.yaml" || e.Line != 8+i || e.Col == 0 {
			t.Errorf("error %d at %s:%d:%d, want site.yaml:%d:col", i, e.File, e.Line, e.Col, 8+i)
		}
	}
}

// TestLoadHugeFile checks that a file over MaxSize is turned down by its
// size, with one error that says what to do, before it is parsed.
func TestLoadHugeFile(t *testing.T) {
	line := "  - {name: dcs, roles: [dc]}\n"
	data := []byte("fwgen: v1\nname: big\nhosts:\n" + strings.Repeat(line, MaxSize/len(line)+1))
	_, err := Load("big.yaml", data, catalog.Default())
	want := fmt.Sprintf("big.yaml: policy is too big: %d bytes or more; the limit is %d bytes (64 MiB): split the estate into several site policies", len(data), MaxSize)
	if err == nil || err.Error() != want {
		t.Errorf("Load(%d bytes) = %v, want %s", len(data), err, want)
	}
	l := newLoader("big.yaml", catalog.Default())
	if l.checkText(data) || l.nodes != 0 {
		t.Errorf("checkText(%d bytes) let the file through to the parser", len(data))
	}
}

// TestAliasBombIsBounded checks that the alias bomb of testdata/bad is
// turned down after a bounded walk, the loader's budget of values, rather
// than by expanding its billion values.
func TestAliasBombIsBounded(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(badDir, "alias-bomb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader("alias-bomb.yaml", catalog.Default())
	l.budget = nodeBudget(len(data))
	var raw rawPolicy
	l.decode(l.parse(data), reflect.ValueOf(&raw).Elem(), "")
	// The walk stops at the first list that would go over the budget,
	// which it counts but does not decode.
	if l.nodes <= l.budget || l.nodes > 2*l.budget {
		t.Errorf("decoding the alias bomb counted %d values; want the walk stopped just past the budget of %d", l.nodes, l.budget)
	}
	if _, err := Load("alias-bomb.yaml", data, catalog.Default()); err == nil || !strings.Contains(err.Error(), "alias bomb") {
		t.Errorf("Load(alias bomb) = %v, want the alias bomb turned down", err)
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

// TestLoadPolicy loads the policy of the format's documentation and checks
// every field of the result: canonical ids, parsed prefixes, the policy's
// own services and roles.
func TestLoadPolicy(t *testing.T) {
	src := `fwgen: v1
name: contoso-hq
os: [2016, ws2019, "Windows Server 2003"]
networks:
  clients: [10.10.0.0/16, "fd00:10::/48"]
  admins: [10.99.0.0/24]
rpc:
  range: 5000-5100
  static: {ntds: 38901, netlogon: 38902, frs: 38903, dfsr: 5722}
optional: true
services:
  - id: contoso-erp
    name: Contoso ERP
    entries:
      - {protocol: tcp, ports: "8443, 9000-9010", peers: clients}
      - {protocol: udp, ports: [8443, rpc-dynamic], peers: admins, optional: true, why: Legacy console.}
      - {protocol: icmpv4, icmp_type: 8, peers: admins}
roles:
  - id: erp-app
    services: [contoso-erp, management]
hosts:
  - name: dcs
    roles: [domain-controller, DNS]
    addresses: [10.20.0.10, 10.20.0.11, "fd00:20::/64"]
    os: [2016]
    peers: {clients: [clients], admins: [admins]}
  - name: erp
    roles: [erp-app]
    profile: [public, domain]
`
	got, err := Load("site.yaml", []byte(src), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	icmp := 8
	want := &Policy{
		Name: "contoso-hq", Source: "site.yaml", OS: []string{"2016", "2019", "2003"}, Optional: true,
		Networks: map[string][]netip.Prefix{
			"clients": {netip.MustParsePrefix("10.10.0.0/16"), netip.MustParsePrefix("fd00:10::/48")},
			"admins":  {netip.MustParsePrefix("10.99.0.0/24")},
		},
		RPC: RPCOptions{Range: &PortRange{From: 5000, To: 5100},
			Static: map[string]uint16{"ntds": 38901, "netlogon": 38902, "frs": 38903, "dfsr": 5722}},
		Services: []catalog.Service{{ID: "contoso-erp", Name: "Contoso ERP", Entries: []catalog.Entry{
			{Protocol: TCP, Ports: []string{"8443", "9000-9010"}, Peers: catalog.Peers{Clients}},
			{Protocol: UDP, Ports: []string{"8443", "rpc-dynamic"}, Peers: catalog.Peers{Admins}, Scenario: "contoso-erp", Why: "Legacy console."},
			{Protocol: ICMPv4, ICMPType: &icmp, Peers: catalog.Peers{Admins}},
		}}},
		Roles: []catalog.Role{{ID: "erp-app", Name: "erp-app", Services: []catalog.RoleService{{ID: "contoso-erp"}, {ID: "winrm"}}}},
		Hosts: []Host{
			{Name: "dcs", Roles: []string{"dc", "dns"}, OS: []string{"2016"},
				Addresses: []netip.Prefix{netip.MustParsePrefix("10.20.0.10/32"), netip.MustParsePrefix("10.20.0.11/32"),
					netip.MustParsePrefix("fd00:20::/64")},
				Peers: map[Peer][]string{Clients: {"clients"}, Admins: {"admins"}}},
			{Name: "erp", Roles: []string{"erp-app"}, Profiles: []string{"domain", "public"}},
		},
	}
	prefixes := cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
	if diff := cmp.Diff(want, got, prefixes, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Policy{})); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// TestDocExample loads the policy that the package documentation shows,
// so that the documentation cannot drift from the format.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var block strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			block.WriteString(code + "\n")
		} else if block.Len() > 0 {
			break // the first code block ends
		}
	}
	if !strings.HasPrefix(block.String(), "fwgen: v1\n") {
		t.Fatalf("the first code block of doc.go is not a policy:\n%s", block.String())
	}
	p, err := Load("doc.go", []byte(block.String()), catalog.Default())
	if err != nil {
		t.Fatalf("the policy of doc.go does not load:\n%v", err)
	}
	if _, err := Resolve(p, catalog.Default()); err != nil {
		t.Fatalf("the policy of doc.go does not resolve: %v", err)
	}
}

// TestOneGroupPolicyMatchesQuickMode checks that a one-group policy file
// resolves to the same rules as the Policy that the quick-mode flags build
// (--role dc,dns --os 2003,2016 --static-rpc ntds=38901): the two share
// every step after loading.
func TestOneGroupPolicyMatchesQuickMode(t *testing.T) {
	src := `fwgen: v1
name: site
os: ["2003", ws2016]
rpc: {static: {ntds: 38901}}
hosts:
  - name: dcs
    roles: [domain-controller, dns]
`
	p, err := Load("site.yaml", []byte(src), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	quick := Quick{Roles: []string{"dc", "dns"}, OS: []string{"2003", "2016"},
		RPC: RPCOptions{Static: map[string]uint16{"ntds": 38901}}}.Policy()
	fromFile, err := Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	fromFlags, err := Resolve(quick, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	names := cmp.Options{cmpopts.IgnoreFields(Group{}, "Name"), cmpopts.IgnoreUnexported(Group{}, Need{})}
	if diff := cmp.Diff(fromFlags.Groups, fromFile.Groups, names, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("rules (-quick mode +policy file):\n%s", diff)
	}
}

// TestLoadDeepNesting checks that brackets nested deeper than a policy
// needs are refused before the parsers see them (100,000 levels took them
// 15 GB), at the bracket, and that brackets in quotes and comments do not
// count.
func TestLoadDeepNesting(t *testing.T) {
	deep := "fwgen: v1\nname: d\nx: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n"
	_, err := Load("deep.yaml", []byte(deep), nil)
	if err == nil || !strings.Contains(err.Error(), "deep.yaml:3:68: brackets nested more than 64 deep") {
		t.Fatalf("got %v", err)
	}
	for _, ok := range []string{
		`x: "` + strings.Repeat("[", 100) + `"`,
		`x: '` + strings.Repeat("{", 100) + `''s'`,
		"# " + strings.Repeat("[", 100),
		"x: " + strings.Repeat("[", 64) + strings.Repeat("]", 64),
	} {
		if off := tooDeep([]byte(ok), maxFlowDepth); off >= 0 {
			t.Errorf("%.20q...: refused at %d", ok, off)
		}
	}
}
