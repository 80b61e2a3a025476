package policies

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies/synth"
)

// TestNeedEqualSeesEveryField changes each field of a need in turn, by
// reflection, and checks that needEqual tells the two apart: a field added
// to Need and left out of needEqual would let two groups share needs that
// differ.
func TestNeedEqualSeesEveryField(t *testing.T) {
	icmp := 8
	base := Need{Role: "r", Service: "s", Proto: "tcp", Ports: PortRange{From: 1, To: 2}, ICMPType: &icmp,
		Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Refs: []Ref{{Doc: "d"}}}
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		other := base
		o := reflect.NewAt(v.Type(), reflect.ValueOf(&other).UnsafePointer()).Elem().Field(i)
		o = reflect.NewAt(o.Type(), o.Addr().UnsafePointer()).Elem() // settable, exported or not
		switch o.Kind() {
		case reflect.String:
			o.SetString(o.String() + "x")
		case reflect.Bool:
			o.SetBool(!o.Bool())
		case reflect.Int:
			o.SetInt(o.Int() + 1)
		case reflect.Struct: // PortRange
			o.Field(0).SetUint(o.Field(0).Uint() + 1)
		case reflect.Pointer:
			o.Set(reflect.New(o.Type().Elem()))
		case reflect.Slice:
			o.Set(reflect.Append(reflect.MakeSlice(o.Type(), 0, 1), reflect.New(o.Type().Elem()).Elem()))
		default:
			t.Fatalf("field %s: kind %s not covered by this test", f.Name, o.Kind())
		}
		if needEqual(base, other) {
			t.Errorf("needEqual misses field %s", f.Name)
		}
	}
	if !needEqual(base, base) {
		t.Error("a need differs from itself")
	}
}

// TestGroupsShareNeeds checks that groups of the same shape share their
// needs and views, and that a group whose needs differ keeps its own.
func TestGroupsShareNeeds(t *testing.T) {
	rs := resolveSite(t, "share.yaml", []byte(`fwgen: v1
name: share
os: [2016]
networks:
  clients: [10.1.0.0/16]
hosts:
  - {name: dc1, roles: [dc], addresses: [10.0.0.1], peers: {clients: [clients]}}
  - {name: dc2, roles: [dc], addresses: [10.0.0.2], peers: {clients: [clients]}}
  - {name: web, roles: [web-server], addresses: [10.0.0.3], peers: {clients: [clients]}}
`))
	g := rs.Groups
	if &g[0].Needs[0] != &g[1].Needs[0] || g[0].views != g[1].views {
		t.Error("two DC groups of one shape do not share their needs and views")
	}
	if &g[0].Needs[0] == &g[2].Needs[0] {
		t.Error("a web server shares a DC's needs")
	}
}

// TestShapesResolveAsGroups resolves sites with and without resolving a
// shape's groups once (shapeKey), and checks that the Rulesets are the
// same: the examples, a synthetic site, and groups that differ in each
// part of a shape or depend on themselves (members of the group only, a role's only holder, a group
// without addresses).
func TestShapesResolveAsGroups(t *testing.T) {
	sites := map[string][]byte{"synthetic": synth.Site(200), "shapes": []byte(`fwgen: v1
name: shapes
os: [2016]
networks:
  clients: [10.1.0.0/16]
  admins: [10.2.0.0/24]
hosts:
  - {name: dc1, roles: [dc], addresses: [10.0.0.1]}
  - {name: dc2, roles: [dc], addresses: [10.0.0.2]}
  - {name: dc3, roles: [dc], addresses: [10.0.0.3], os: [2003, 2016]}
  - {name: dc4, roles: [dc], addresses: [10.0.0.4], scenarios: [netbios]}
  - {name: dc5, roles: [dc], addresses: [10.0.0.5], peers: {clients: [clients], admins: [admins]}}
  - {name: dc6, roles: [dc], addresses: [10.0.0.6], peers: {clients: [clients], admins: [dc1]}}
  - {name: dc7, roles: [dc]}
  - {name: c1, roles: [cluster-node, hyperv-host], addresses: [10.0.1.1, 10.0.1.2]}
  - {name: c2, roles: [cluster-node, hyperv-host], addresses: [10.0.2.1, 10.0.2.2]}
  - {name: c3, roles: [hyperv-host, cluster-node], addresses: [10.0.3.1]}
  - {name: f1, roles: [file-server], addresses: [10.0.4.1], profile: [domain]}
  - {name: f2, roles: [file-server], addresses: ["fd00::1"]}
  - {name: w1, roles: [web-server]}
`)}
	files, _ := filepath.Glob(filepath.Join("examples", "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sites[f] = data
	}
	resolved := 0
	for name, data := range sites {
		p, err := Load(name, data, catalog.Default())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		each := func(shapes bool) []byte {
			resolveShapes = shapes
			defer func() { resolveShapes = true }()
			rs, err := Resolve(p, catalog.Default())
			if err != nil {
				return []byte(err.Error())
			}
			b, err := json.Marshal(rs)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if once, every := each(true), each(false); !bytes.Equal(once, every) {
			t.Errorf("%s: resolving a shape once gives another Ruleset:\n%s", name, cmp.Diff(string(every), string(once)))
		}
		resolved++
	}
	if resolved < 7 {
		t.Errorf("%d sites resolved; want the examples, the synthetic site and the shapes", resolved)
	}
}
