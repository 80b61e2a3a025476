package emit

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/fwgen/fwgen/policies"
)

func TestCSVHostileStrings(t *testing.T) {
	hostile := "=HYPERLINK(\"http://x\";\"y\"), 'q' `b` $(rm -rf /); a & b | c % d ^ e\nsecond line"
	rs := &policies.Ruleset{Schema: policies.SchemaV1, Policy: hostile, Groups: []policies.Group{{
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
