package emit

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

var (
	_ = register(Format{Name: "csv", Ext: "csv", Emitter: EmitFunc(emitCSV),
		Description: "port matrix for a spreadsheet: one row per role, service, protocol and source scope"})
	_ = register(Format{Name: "json", Ext: "json", Emitter: EmitFunc(emitJSON),
		Description: `the Ruleset itself ("schema": "fwgen/ruleset/v2"): each source set once, and needs that name theirs`})
)

// csvHeader names the CSV columns.
var csvHeader = []string{"group", "role", "service", "service_name", "system_service", "protocol",
	"ports", "icmp_type", "sources", "destinations", "peers", "direction", "action", "scenario", "os_condition",
	"rpc", "labels", "notes", "reference", "program", "windows_service"}

// emitCSV writes straight to w: nothing but w can fail, and a site's
// matrix can run to gigabytes.
func emitCSV(w io.Writer, rs *policies.Ruleset, opts Options) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	for _, g := range rs.Groups {
		rules := g.ByService()
		if opts.NoBind {
			rules = g.PortOnly() // as the Windows scripts of the same run
		}
		for _, r := range rules {
			// A rule that cannot reach the servers (ICMPv6 for servers
			// with IPv4 addresses only) is no row of the matrix.
			if r.AnySource || r.Meets(g.Addresses) {
				_ = cw.Write(csvRow(g.Name, g.Addresses, r))
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvRow is a by-service rule as a row. Its destinations are the group's
// servers, those of the rule's IP version for ICMP; "any" when the group
// names none.
func csvRow(group string, servers []netip.Prefix, r policies.ServiceRule) []string {
	icmp := ""
	if r.ICMPType != nil {
		icmp = strconv.Itoa(*r.ICMPType)
	}
	sources := r.Set.String() // worked out once per set: a role's members are in many rows
	if r.Set == nil {
		sources = policies.SourcesKey(r.Sources) // a Ruleset built by hand
	}
	if sources == "" {
		sources = "any"
	}
	if fam := policies.ICMPFamily(r.Proto); fam != 0 {
		servers = policies.OfFamily(servers, fam)
	}
	dests := policies.SourcesKey(servers)
	if dests == "" {
		dests = "any"
	}
	peers := make([]string, len(r.Peers))
	for i, p := range r.Peers {
		peers[i] = string(p)
	}
	return csvCells(group, r.Role, r.Service, r.ServiceName, r.SystemService, string(r.Proto),
		PortList(r.Ports), icmp, sources, dests, strings.Join(peers, ","), "inbound", "allow",
		strings.Join(r.Scenarios, ","), strings.Join(r.OSReasons, "; "), strings.Join(r.RPC, ","),
		strings.Join(r.Labels, "; "), r.Notes, RefList(slices.Concat(r.Refs, r.BindRefs)), r.Program, r.WinService)
}

// csvCells makes each value safe to open in a spreadsheet: a cell that
// starts with = + - @ or a control character would be read as a formula
// (CSV injection), so it gets a leading apostrophe, which spreadsheets hide.
func csvCells(values ...string) []string {
	for i, v := range values {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			values[i] = "'" + v
		}
	}
	return values
}

// RefList formats citations as "KB 832017 (Net Logon) <url>; ...".
func RefList(refs []policies.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
		if r.URL != "" {
			s[i] += " " + r.URL
		}
	}
	return strings.Join(s, "; ")
}

func emitJSON(w io.Writer, rs *policies.Ruleset, _ Options) error {
	if len(rs.Groups) == 0 {
		b, err := json.MarshalIndent(rs, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	// The bytes of json.MarshalIndent(rs, "", "  "), made one host group
	// at a time: a site's Ruleset is gigabytes of JSON.
	head := *rs
	head.Groups = nil
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	const groups = ",\n  \"groups\": null\n}"
	if !bytes.HasSuffix(b, []byte(groups)) {
		return fmt.Errorf("ruleset JSON: want the host groups last, got %q", b[max(0, len(b)-40):])
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(b[:len(b)-len(groups)])
	bw.WriteString(",\n  \"groups\": [")
	for i := range rs.Groups {
		g, err := json.MarshalIndent(&rs.Groups[i], "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(g)
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}
