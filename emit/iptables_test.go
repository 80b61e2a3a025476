package emit

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fwgen/fwgen/policies"
)

func TestIptablesGolden(t *testing.T) {
	for _, c := range linuxGoldens() {
		rs := c.rs(t)
		for _, f := range []struct{ name, ext string }{{"iptables", ".rules"}, {"ip6tables", ".rules6"}} {
			t.Run(c.name+"/"+f.name, func(t *testing.T) {
				checkGolden(t, filepath.Join("..", "testdata", "iptables", c.name+f.ext),
					emitString(t, f.name, rs, c.opts))
			})
		}
	}
}

// TestIptString checks the quoting helper on every hostile string: one
// double-quoted word for iptables-restore, with no quote or backslash
// inside, on one line, at most 255 bytes of valid UTF-8.
func TestIptString(t *testing.T) {
	for _, s := range append(hostile, strings.Repeat("é", 200), "\x00\xff\xfe", strings.Repeat(`\"`, 200)) {
		q := iptString(s)
		inner := q[1 : len(q)-1]
		if q[0] != '"' || q[len(q)-1] != '"' || strings.ContainsAny(inner, "\"\\\r\n\x00") ||
			len(inner) > iptCommentMax || !utf8.ValidString(inner) {
			t.Errorf("iptString(%q) = %q", s, q)
		}
	}
}

// TestMultiportChunks checks that chunks keep every port in order, take at
// most 15 slots (a range takes two), and are as few as the greedy split
// allows: each chunk but the last is full up to its next entry.
func TestMultiportChunks(t *testing.T) {
	var many []policies.PortRange
	for p := uint16(1); p <= 40; p++ {
		r := policies.PortRange{From: p * 10, To: p * 10}
		if p%3 == 0 {
			r.To += 5
		}
		many = append(many, r)
	}
	slots := func(rs []policies.PortRange) int {
		n := 0
		for _, r := range rs {
			n += 2
			if r.Single() {
				n--
			}
		}
		return n
	}
	for _, in := range [][]policies.PortRange{nil, many[:1], many[:15], many[:16], many} {
		chunks := multiportChunks(in)
		if got := slices.Concat(chunks...); !slices.Equal(got, in) {
			t.Errorf("chunks of %d ranges lose or reorder ports: %v", len(in), chunks)
		}
		for i, c := range chunks {
			if slots(c) > multiportSlots {
				t.Errorf("chunk %d takes %d slots: %v", i, slots(c), c)
			}
			if i < len(chunks)-1 && slots(c)+slots(chunks[i+1][:1]) <= multiportSlots {
				t.Errorf("chunk %d could take one more entry: %v", i, c)
			}
		}
	}
}

// TestIptablesLines checks the lines of scoped rules: one per server and
// chunk, with single ports as --dport, which accepts a rule of any address
// or of one source, and otherwise jumps to the chain of its source set;
// that chain accepts each source once, however many rules jump to it.
func TestIptablesLines(t *testing.T) {
	two := prefixes("10.1.0.0/16", "10.2.0.0/16", "fd01::/64")
	rs := &policies.Ruleset{Groups: []policies.Group{{Name: "g", Addresses: prefixes("10.0.0.1", "fd00::1"),
		Needs: []policies.Need{
			{Role: "r", Service: "s", Proto: policies.TCP, Ports: policies.PortRange{From: 445, To: 445}, Sources: two},
			{Role: "r", Service: "s", Proto: policies.UDP, Ports: policies.PortRange{From: 137, To: 138}, Sources: two},
			{Role: "r", Service: "t", Proto: policies.UDP, Ports: policies.PortRange{From: 1000, To: 2000}},
			{Role: "r", Service: "u", Proto: policies.TCP, Ports: policies.PortRange{From: 80, To: 80}, Sources: prefixes("10.3.0.0/16")},
		}}}}
	d, err := iptBuild(rs, Options{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range d.Rules {
		got = append(got, r.Lines...)
	}
	for _, c := range d.Sources {
		got = append(got, c.Lines...)
	}
	want := []string{
		`-A FWGEN-INPUT -d 10.0.0.1/32 -p udp -m multiport --dports 1000:2000 -m comment --comment "roles r; services t" -j ACCEPT`,
		`-A FWGEN-INPUT -d 10.0.0.1/32 -p tcp -m tcp --dport 445 -m comment --comment "roles r; services s" -j FWGEN-IS1`,
		`-A FWGEN-INPUT -d 10.0.0.1/32 -p udp -m multiport --dports 137:138 -m comment --comment "roles r; services s" -j FWGEN-IS1`,
		`-A FWGEN-INPUT -s 10.3.0.0/16 -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -m comment --comment "roles r; services u" -j ACCEPT`,
		`-A FWGEN-IS1 -s 10.1.0.0/16 -m comment --comment "source set: 10.1.0.0/16,10.2.0.0/16,fd01::/64" -j ACCEPT`,
		`-A FWGEN-IS1 -s 10.2.0.0/16 -m comment --comment "source set: 10.1.0.0/16,10.2.0.0/16,fd01::/64" -j ACCEPT`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestIptablesApply checks that the file says how to load it, and that its
// chain, and the jump to it that the header prints, are named after the
// table.
func TestIptablesApply(t *testing.T) {
	for _, f := range []struct {
		name, cmd string
		fam       family
	}{{"iptables", "iptables", 4}, {"ip6tables", "ip6tables", 6}} {
		for _, c := range []struct{ table, chain, own string }{
			{"", "input", "FWGEN-INPUT"},
			{"", "forward", "FWGEN-FORWARD"},
			{"fwgen", "forward", "FWGEN-FORWARD"},
			{"fwgen-dcs", "forward", "FWGEN-DCS-FORWARD"},
			{"Fw_1", "input", "FW_1-INPUT"},
		} {
			out := string(emitString(t, f.name, linuxHostile(), Options{Chain: c.chain, Table: c.table}))
			hook := strings.ToUpper(c.chain)
			for _, want := range []string{
				fmt.Sprintf("# Load with: %s-restore --noflush < FILE", f.cmd),
				fmt.Sprintf("#   %[1]s -C %[2]s -j %[3]s 2>/dev/null || %[1]s -I %[2]s 1 -j %[3]s\n", f.cmd, hook, c.own),
				fmt.Sprintf("*filter\n:%s - [0:0]\n", c.own),
			} {
				if !strings.Contains(out, want) {
					t.Errorf("%s, table %q, %s: no %q in\n%s", f.name, c.table, c.chain, want, out)
				}
			}
		}
	}
}

// TestIptablesChainLength checks that a table whose chain name iptables
// would refuse is refused with the name and the limit, on the chain the
// file uses: FWGEN-SITE-DCS-012345-INPUT fits, the FORWARD one does not.
func TestIptablesChainLength(t *testing.T) {
	table := "fwgen-site-dcs-012345"
	for _, f := range []string{"iptables", "ip6tables"} {
		format, _ := Lookup(f)
		if err := format.Emitter.Emit(&strings.Builder{}, linuxHostile(), Options{Table: table}); err != nil {
			t.Errorf("%s, input: %v", f, err)
		}
		err := format.Emitter.Emit(&strings.Builder{}, linuxHostile(), Options{Table: table, Chain: "forward"})
		want := `table "fwgen-site-dcs-012345": the iptables chain would be FWGEN-SITE-DCS-012345-FORWARD, 29 characters, and iptables takes at most 28; pick a table name of at most 20 characters`
		if err == nil || err.Error() != want {
			t.Errorf("%s, forward: got %v, want %s", f, err, want)
		}
	}
}
