package policies

import (
	"net/netip"
	"reflect"
	"testing"
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
