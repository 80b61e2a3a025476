package emit

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// linuxGolden is a Ruleset and options whose nftables, iptables and
// ip6tables output are kept under testdata/nftables and testdata/iptables.
type linuxGolden struct {
	name string
	rs   func(t *testing.T) *policies.Ruleset
	opts Options
}

func linuxGoldens() []linuxGolden {
	quick := func(roles, oses []string, from, to []netip.Prefix) func(t *testing.T) *policies.Ruleset {
		c := linuxCase{name: policies.QuickName(roles), roles: roles, os: oses}
		return func(t *testing.T) *policies.Ruleset { return c.ruleset(t, from, to) }
	}
	site := func(t *testing.T) *policies.Ruleset { return winCase{policy: sitePolicy()}.ruleset(t) }
	from, to := prefixes("10.10.0.0/16", "fd10::/48"), prefixes("10.20.0.0/24", "fd20::/64")
	return []linuxGolden{
		{"dc-2016", quick([]string{"dc"}, []string{"2016"}, nil, nil), Options{}},
		{"dc-2016-deny", quick([]string{"dc"}, []string{"2016"}, nil, nil), Options{DefaultDeny: true}},
		{"dc-2003-2016-forward-deny", quick([]string{"dc"}, []string{"2003", "2016"}, from, to),
			Options{Chain: "forward", DefaultDeny: true}},
		{"cluster-node-hyperv-host-2019", quick([]string{"cluster-node", "hyperv-host"}, []string{"2019"}, nil, nil),
			Options{Table: "fwgen_cluster"}},
		{"site-scoped", site, Options{}},
		{"site-scoped-forward-deny", site, Options{Chain: "forward", DefaultDeny: true}},
		{"hostile-forward-deny", func(*testing.T) *policies.Ruleset { return linuxHostile() }, Options{Chain: "forward", DefaultDeny: true}},
	}
}

// linuxHostile is the hostile Ruleset with server addresses, which the
// forward chain and a chain of several groups need.
func linuxHostile() *policies.Ruleset {
	rs := hostileRuleset()
	addrs := [][]netip.Prefix{prefixes("10.0.1.0/24", "2001:db8:1::/64"), prefixes("10.0.2.0/24"),
		prefixes("10.0.3.5", "2001:db8:3::5")}
	for i := range rs.Groups {
		rs.Groups[i].Addresses = addrs[i]
	}
	return rs
}

func TestNftablesGolden(t *testing.T) {
	for _, c := range linuxGoldens() {
		t.Run(c.name, func(t *testing.T) {
			checkGolden(t, filepath.Join("..", "testdata", "nftables", c.name+".nft"),
				emitString(t, "nftables", c.rs(t), c.opts))
		})
	}
}

// TestLinuxCheck has the real tools check every golden case and the
// hostile one, in a namespace of its own.
func TestLinuxCheck(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	ns := fwtest.NewNetns(t)
	check := map[string][]string{
		"nftables":  {"nft", "-c", "-f", "-"},
		"iptables":  {"iptables-restore", "--test", "--noflush"},
		"ip6tables": {"ip6tables-restore", "--test", "--noflush"},
	}
	for _, c := range linuxGoldens() {
		rs := c.rs(t)
		for format, cmd := range check {
			t.Run(c.name+"/"+format, func(t *testing.T) {
				out := emitString(t, format, rs, c.opts)
				if _, err := ns.Exec(out, cmd[0], cmd[1:]...); err != nil {
					t.Errorf("%v\n%s", err, out)
				}
			})
		}
	}
}

// TestLinuxCheckFails shows that the tools' checks can fail, on the limits
// the emitters keep to: nft's 128-byte comments, its quoted strings (no
// escaped quote), overlapping elements of a named interval set; iptables'
// 15 multiport slots and 28-character chain names.
func TestLinuxCheckFails(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	ns := fwtest.NewNetns(t)
	rule := func(r string) []byte {
		return []byte("table inet fwgen {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\t" + r + "\n\t}\n}\n")
	}
	for name, file := range map[string][]byte{
		"long comment":  rule(`tcp dport 1 accept comment "` + strings.Repeat("x", nftCommentMax+1) + `"`),
		"escaped quote": rule(`tcp dport 1 accept comment "a\"b"`),
		"overlapping": []byte("table inet fwgen {\n\tset s {\n\t\ttype ipv4_addr\n\t\tflags interval\n" +
			"\t\telements = { 10.0.0.0/8, 10.1.0.0/16 }\n\t}\n}\n"),
		"control passes": rule(`tcp dport 1 accept comment ` + nftString(strings.Repeat("x", 200)+"\"\n")),
	} {
		_, err := ns.Exec(file, "nft", "-c", "-f", "-")
		if (err == nil) != (name == "control passes") {
			t.Errorf("%s: nft -c gave %v", name, err)
		}
	}
	ports := strings.Repeat("1:2,", multiportSlots/2) + "3:4"
	file := "*filter\n:FWGEN-INPUT - [0:0]\n-A FWGEN-INPUT -p tcp -m multiport --dports " + ports + " -j ACCEPT\nCOMMIT\n"
	if _, err := ns.Exec([]byte(file), "iptables-restore", "--test", "--noflush"); err == nil {
		t.Errorf("iptables-restore took 16 multiport slots")
	}
	for n := iptChainMax; n <= iptChainMax+1; n++ {
		name := strings.Repeat("X", n)
		_, err := ns.Exec([]byte("*filter\n:"+name+" - [0:0]\nCOMMIT\n"), "iptables-restore", "--test", "--noflush")
		if (err == nil) != (n <= iptChainMax) {
			t.Errorf("iptables-restore on a chain name of %d characters gave %v", n, err)
		}
	}
}

// TestNftString checks the quoting helper on every hostile string: one
// quoted string, nothing inside that ends it or the line, at most 128 bytes
// of valid UTF-8.
func TestNftString(t *testing.T) {
	for _, s := range append(hostile, strings.Repeat("é", 100), "\x00\xff\xfe", strings.Repeat(`"`, 200)) {
		q := nftString(s)
		inner := q[1 : len(q)-1]
		if q[0] != '"' || q[len(q)-1] != '"' || strings.ContainsAny(inner, "\"\r\n\x00") ||
			len(inner) > nftCommentMax || !utf8.ValidString(inner) {
			t.Errorf("nftString(%q) = %q", s, q)
		}
	}
	if got := nftString(`it's "x"`); got != `"it's 'x'"` {
		t.Errorf("got %s", got)
	}
}

// TestNftSetNames checks that groups of the same name still match their
// own servers, and that no set is declared twice.
func TestNftSetNames(t *testing.T) {
	rs := linuxHostile()
	rs.Groups = append(rs.Groups, rs.Groups[0])
	rs.Groups[3].Name = rs.Groups[0].Name // the very same name
	rs.Groups[3].Addresses = prefixes("10.9.9.9")
	d, err := nftBuild(rs, Options{Chain: "forward"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, s := range d.Sets {
		if prev, ok := seen[s.Name]; ok {
			t.Errorf("set %s declared twice: %s and %s", s.Name, prev, s.Elements)
		}
		seen[s.Name] = s.Elements
	}
	if !strings.Contains(renderNft(t, d), "ip daddr 10.9.9.9 ") {
		t.Errorf("the fourth group does not match its own servers:\n%s", renderNft(t, d))
	}
}

func renderNft(t *testing.T, d *nftData) string {
	var b strings.Builder
	if err := render(&b, "nftables.tmpl", d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestLinuxOptionErrors checks the inputs the Linux formats refuse.
func TestLinuxOptionErrors(t *testing.T) {
	two := linuxHostile()
	two.Groups[1].Addresses = nil
	for _, c := range []struct {
		name string
		rs   *policies.Ruleset
		opts Options
		want string
	}{
		{"chain", linuxHostile(), Options{Chain: "output"}, `chain "output": want input or forward`},
		{"forward without servers", hostileRuleset(), Options{Chain: "forward"}, "the forward chain needs the servers' addresses"},
		{"groups without servers", two, Options{}, "each needs its servers' addresses"},
		{"no ports", noPorts(), Options{}, "has no ports"},
	} {
		for _, f := range []string{"nftables", "iptables", "ip6tables"} {
			format, _ := Lookup(f)
			err := format.Emitter.Emit(&strings.Builder{}, c.rs, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: got %v, want %q", c.name, f, err, c.want)
			}
		}
	}
	for _, table := range []string{"", "fwgen", "Fw-1_x"} {
		if _, err := nftBuild(linuxHostile(), Options{Chain: "forward", Table: table}); err != nil {
			t.Errorf("table %q: %v", table, err)
		}
	}
	for _, table := range []string{"1x", "a b", `a"`, "a;b", "a\nb", strings.Repeat("a", 65), "@x"} {
		if _, err := nftBuild(linuxHostile(), Options{Chain: "forward", Table: table}); err == nil {
			t.Errorf("table %q: no error", table)
		}
	}
}

func noPorts() *policies.Ruleset {
	return &policies.Ruleset{Groups: []policies.Group{{Name: "g", Needs: []policies.Need{
		{Role: "r", Service: "s", Proto: policies.TCP}}}}}
}

func TestOuterPrefixes(t *testing.T) {
	got := outerPrefixes(prefixes("10.1.0.0/16", "10.0.0.0/8", "10.0.0.0/8", "192.0.2.1", "192.0.2.0/24", "10.0.0.0/9", "11.0.0.0/8"))
	if want := "10.0.0.0/8,11.0.0.0/8,192.0.2.0/24"; policies.SourcesKey(got) != want {
		t.Errorf("got %s, want %s", policies.SourcesKey(got), want)
	}
}

func TestSplitFamilies(t *testing.T) {
	v4, v6, both := prefixes("10.0.0.0/8"), prefixes("fd00::/8"), prefixes("10.0.0.0/8", "fd00::/8")
	for _, c := range []struct {
		proto    policies.Proto
		src, dst []netip.Prefix
		want     []family
	}{
		{policies.TCP, nil, nil, []family{4, 6}},
		{policies.TCP, v4, nil, []family{4}},
		{policies.TCP, v4, v6, nil}, // an IPv4 source never reaches an IPv6 server
		{policies.TCP, both, v6, []family{6}},
		{policies.ICMPv4, nil, both, []family{4}},
		{policies.ICMPv6, nil, both, []family{6}},
		{policies.ICMPv6, v4, nil, nil},
		{policies.GRE, both, both, []family{4, 6}},
	} {
		var got []family
		for _, f := range splitFamilies(family(policies.ICMPFamily(c.proto)), c.src, c.dst) {
			got = append(got, f.Family)
		}
		if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) || (len(got) > 1 && got[1] != c.want[1]) {
			t.Errorf("%s %v -> %v: got families %v, want %v", c.proto, c.src, c.dst, got, c.want)
		}
	}
}

// TestLinuxGoldenRoundTrip loads every golden case, the hostile one and
// the site policy of several groups among them, and checks that the kernel
// holds exactly their flows, each rule with its comment as nftString or
// iptString wrote it.
func TestLinuxGoldenRoundTrip(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	for _, c := range linuxGoldens() {
		rs := c.rs(t)
		for _, f := range linuxFormats {
			t.Run(c.name+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				roundTrip(t, f, rs, c.opts)
			})
		}
	}
}

// TestLinuxTableNames checks that a table name nft cannot parse, or one
// that Linux systems commonly have already (loading the file would delete
// it), is refused in every Linux format with a message that says why.
func TestLinuxTableNames(t *testing.T) {
	for _, c := range []struct {
		tables []string
		want   string
	}{
		{[]string{"ip", "inet", "counter", "accept", "drop", "table", "set", "chain", "flags", "type", "meta", "ct",
			"priority", "log", "delete", "comment", "tcp", "udp", "icmpv6"}, "is an nft keyword"},
		{[]string{"filter", "nat", "mangle", "raw", "security", "firewalld", "fw4"}, "is a common table name"},
	} {
		for _, table := range c.tables {
			for _, f := range []string{"nftables", "iptables", "ip6tables"} {
				format, _ := Lookup(f)
				err := format.Emitter.Emit(&strings.Builder{}, linuxHostile(), Options{Chain: "forward", Table: table})
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "pick another name") {
					t.Errorf("%s, table %q: got %v, want %q and a hint", f, table, err, c.want)
				}
			}
		}
	}
	for _, table := range []string{"fwgen", "fwgen-dcs", "dcs", "fwgen_cluster", "Filter", "IP"} {
		if _, err := linuxTable(Options{Table: table}); err != nil {
			t.Errorf("table %q: %v", table, err)
		}
	}
}

// TestNftTableKeywords has nft parse a table of each candidate name: the
// words of nft's manual page when it is installed, and a few names. Every
// name nft refuses must be one fwgen refuses, and the names fwgen is meant
// to take must load.
func TestNftTableKeywords(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	ns := fwtest.NewNetns(t)
	candidates := append(manPageWords(t), "fwgen", "fwgen-dcs", "dcs", "gre", "state", "ip", "counter")
	refused, err := nftRefusedTables(ns, candidates)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(refused, "ip") {
		t.Fatalf("nft took a table named ip; the check cannot fail (refused: %v)", refused)
	}
	for _, w := range refused {
		if _, err := linuxTable(Options{Table: w}); err == nil {
			t.Errorf("nft refuses a table named %q, and fwgen takes the name", w)
		}
	}
	for _, w := range []string{"fwgen", "fwgen-dcs", "dcs"} {
		if slices.Contains(refused, w) {
			t.Errorf("nft refuses a table named %q", w)
		}
	}
}

// manPageWords lists the words of nft's manual page, or none when it is not
// installed (minimal systems leave manual pages out).
func manPageWords(t *testing.T) []string {
	f, err := os.Open("/usr/share/man/man8/nft.8.gz")
	if err != nil {
		t.Logf("no manual page of nft (%v): checking fwgen's own list only", err)
		return nil
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	words := regexp.MustCompile(`[a-z][a-z0-9_-]*`).FindAllString(string(text), -1)
	slices.Sort(words)
	return slices.Compact(words)
}

// nftRefusedTables has nft check a file that declares a table of each
// name, a batch at a time, and returns the names it refuses.
func nftRefusedTables(ns *fwtest.Netns, names []string) ([]string, error) {
	var refused []string
	for batch := range slices.Chunk(names, 100) {
		r, err := nftRefusedBatch(ns, batch)
		if err != nil {
			return nil, err
		}
		refused = append(refused, r...)
	}
	slices.Sort(refused)
	return slices.Compact(refused), nil
}

// nftErrorLine finds the line number of each error nft reports.
var nftErrorLine = regexp.MustCompile(`:(\d+):\d+(-\d+)?: Error`)

// nftRefusedBatch checks one file of tables. nft reports every line it
// cannot parse, but stops at 10 errors: a batch that reaches 10 is checked
// again in halves.
func nftRefusedBatch(ns *fwtest.Netns, batch []string) ([]string, error) {
	var file strings.Builder
	for _, n := range batch {
		fmt.Fprintf(&file, "table inet %s {}\n", n)
	}
	_, err := ns.Exec([]byte(file.String()), "nft", "-c", "-f", "-")
	if err == nil {
		return nil, nil
	}
	errs := nftErrorLine.FindAllStringSubmatch(err.Error(), -1)
	switch {
	case len(errs) == 0:
		return nil, err
	case len(errs) >= 10 && len(batch) > 1:
		a, err := nftRefusedBatch(ns, batch[:len(batch)/2])
		if err != nil {
			return nil, err
		}
		b, err := nftRefusedBatch(ns, batch[len(batch)/2:])
		return append(a, b...), err
	}
	var refused []string
	for _, e := range errs {
		n, _ := strconv.Atoi(e[1])
		refused = append(refused, batch[n-1])
	}
	return refused, nil
}
