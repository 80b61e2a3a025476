package emit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

func TestCSVHostileStrings(t *testing.T) {
	hostile := "=HYPERLINK(\"http://x\";\"y\"), 'q' `b` $(rm -rf /); a & b | c % d ^ e\nsecond line"
	rs := &policies.Ruleset{Schema: policies.RulesetSchema, Policy: hostile, Groups: []policies.Group{{
		Name: "g", Needs: []policies.Need{{Role: "r", Service: "s", ServiceName: hostile, Label: "@SUM(1)",
			Proto: policies.TCP, Ports: policies.PortRange{From: 1, To: 1}, Peer: policies.Clients, Notes: "+cmd"}},
	}}}
	out := emitString(t, "csv", rs, Options{})
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse back: %v", err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want header and one rule", len(rows))
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	if row["service_name"] != "'"+hostile {
		t.Errorf("service_name = %q, want the hostile string behind an apostrophe", row["service_name"])
	}
	for _, col := range []string{"labels", "notes"} {
		if !strings.HasPrefix(row[col], "'") {
			t.Errorf("%s = %q is not defused", col, row[col])
		}
	}
}

func TestCSVColumns(t *testing.T) {
	want := []string{"role", "service", "system_service", "protocol", "ports", "peers", "direction",
		"scenario", "os_condition", "notes", "reference"}
	for _, w := range want {
		if !strings.Contains(","+strings.Join(csvHeader, ",")+",", ","+w+",") {
			t.Errorf("CSV header lacks %q", w)
		}
	}
}

// TestRulesThatCannotMatch: an ICMPv6 rule for servers with IPv4
// addresses only is no row of the CSV and no Windows rule (the script's
// header says it was left out), while the ICMPv4 one stays.
func TestRulesThatCannotMatch(t *testing.T) {
	p := policies.Quick{Roles: []string{"dc"}, OS: []string{"2016"}, From: prefixes("10.0.0.0/8", "fd00::/8"),
		To: prefixes("10.1.1.1/32")}.Policy()
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	csvOut := string(emitString(t, "csv", rs, Options{}))
	if strings.Contains(csvOut, ",icmpv6,") || !strings.Contains(csvOut, ",icmpv4,") {
		t.Errorf("CSV: want the icmpv4 row and no icmpv6 row:\n%s", csvOut)
	}
	for _, f := range []string{"powershell", "netsh"} {
		out := string(emitString(t, f, rs, Options{}))
		if strings.Contains(out, "icmpv6:128") || strings.Contains(out, "IcmpType      = '128'") {
			t.Errorf("%s: an ICMPv6 rule for IPv4 servers", f)
		}
		if !strings.Contains(out, "Left out: host group dc, dc / Active Directory (local security authority) icmpv6 type 128") {
			t.Errorf("%s: the header does not say the ICMPv6 rule was left out", f)
		}
	}
}

// TestJSONStreamed checks that the JSON output, written one host group at
// a time, is what json.MarshalIndent makes of the whole Ruleset: for every
// example, the hostile Ruleset and one without groups.
func TestJSONStreamed(t *testing.T) {
	sets := map[string]*policies.Ruleset{"hostile": hostileRuleset(), "empty": {Schema: policies.RulesetSchema, Policy: "empty"}}
	for name, rs := range exampleRulesets(t) {
		sets[name] = rs
	}
	for name, rs := range sets {
		want, err := json.MarshalIndent(rs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := emitString(t, "json", rs, Options{}); !bytes.Equal(got, append(want, '\n')) {
			t.Errorf("%s: the streamed JSON differs from json.MarshalIndent's:\n%s", name, cmp.Diff(string(want)+"\n", string(got)))
		}
	}
}
