package capture

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

// parsePSTable reads the default table output of Get-NetTCPConnection
// -State Listen and Get-NetUDPEndpoint, one or both:
//
//	LocalAddress                        LocalPort RemoteAddress  RemotePort State  AppliedSetting OwningProcess
//	------------                        --------- -------------  ---------- -----  -------------- -------------
//	0.0.0.0                             389       0.0.0.0        0          Listen                644
//
// Columns are found by the dashes under their names, as the table lays
// them out, since a cell may be empty (AppliedSetting). A table with
// RemotePort or State is TCP's, one without is UDP's.
func parsePSTable(lines []string) ([]Listener, error) {
	var out []Listener
	var cols []psColumn
	proto := ""
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		n := i + 1
		if strings.TrimSpace(l) == "" {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), "LocalAddress") {
			if i+1 >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "---") {
				return nil, errorf(n+1, "no line of dashes under the table's header")
			}
			cols = psColumns(l, lines[i+1])
			proto = "udp"
			for _, c := range cols {
				if c.name == "RemotePort" || c.name == "State" {
					proto = "tcp"
				}
			}
			if col(cols, "LocalPort") < 0 {
				return nil, errorf(n, "the table has no LocalPort column")
			}
			i++
			continue
		}
		if cols == nil {
			return nil, errorf(n, "%q before a table's header (LocalAddress LocalPort ...)", strings.TrimSpace(l))
		}
		cell := func(name string) string {
			j := col(cols, name)
			if j < 0 {
				return ""
			}
			c := cols[j]
			if c.start >= len(l) {
				return ""
			}
			end := min(c.end, len(l))
			if j == len(cols)-1 {
				end = len(l)
			}
			return strings.TrimSpace(l[c.start:end])
		}
		l2, ok, err := psRecord(proto, cell("LocalAddress"), cell("LocalPort"), cell("State"), cell("OwningProcess"), n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, l2)
		}
	}
	return out, nil
}

type psColumn struct {
	name       string
	start, end int
}

// psColumns finds a table's columns by the runs of dashes under the
// header: a column spans its dashes and the spaces up to the next.
func psColumns(header, dashes string) []psColumn {
	var cols []psColumn
	for i := 0; i < len(dashes); {
		if dashes[i] != '-' {
			i++
			continue
		}
		j := i
		for j < len(dashes) && dashes[j] == '-' {
			j++
		}
		name := ""
		if i < len(header) {
			name = strings.TrimSpace(header[i:min(j, len(header))])
		}
		cols = append(cols, psColumn{name: name, start: i, end: j})
		i = j
	}
	for k := range cols {
		if k+1 < len(cols) {
			cols[k].end = cols[k+1].start
		}
	}
	// A right-aligned number can start left of its dashes: widen each
	// column to the end of the one before.
	for k := 1; k < len(cols); k++ {
		cols[k].start = cols[k-1].end
	}
	if len(cols) > 0 {
		cols[0].start = 0
	}
	return cols
}

func col(cols []psColumn, name string) int {
	for i, c := range cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// psRecord makes a listener of one Get-NetTCPConnection or
// Get-NetUDPEndpoint record; ok is false for a TCP connection that does not
// listen.
func psRecord(proto, addrText, portText, state, pidText string, n int) (Listener, bool, error) {
	if proto == "tcp" && state != "" && state != "Listen" && state != "2" {
		return Listener{}, false, nil
	}
	addr, ok := parseAddr(addrText)
	if !ok {
		return Listener{}, false, errorf(n, "LocalAddress %q: want an IP address", addrText)
	}
	port, ok := parsePort(portText)
	if !ok {
		return Listener{}, false, errorf(n, "LocalPort %q: want a port from 1 to 65535 (a line cut short?)", portText)
	}
	pid := 0
	if pidText != "" {
		p, err := strconv.Atoi(pidText)
		if err != nil {
			return Listener{}, false, errorf(n, "OwningProcess %q: want a number", pidText)
		}
		pid = p
	}
	return Listener{Proto: proto, Addr: addr, Port: port, PID: pid, Line: n}, true, nil
}

// parsePSCsv reads Get-NetTCPConnection or Get-NetUDPEndpoint piped to
// Export-Csv: an optional "#TYPE ...MSFT_NetTCPConnection" line, a header
// of quoted column names, a record per line. The #TYPE line, or else the
// RemotePort or State column, tells TCP from UDP.
func parsePSCsv(lines []string) ([]Listener, error) {
	start := firstLine(lines)
	proto := ""
	if strings.HasPrefix(lines[start], "#TYPE") {
		switch {
		case strings.Contains(lines[start], "MSFT_NetTCPConnection"):
			proto = "tcp"
		case strings.Contains(lines[start], "MSFT_NetUDPEndpoint"):
			proto = "udp"
		default:
			return nil, errorf(start+1, "%q: want Get-NetTCPConnection's or Get-NetUDPEndpoint's records", lines[start])
		}
		start++
	}
	r := csv.NewReader(strings.NewReader(strings.Join(lines[start:], "\n")))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, errorf(start+1, "no CSV header: %v", err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[h] = i
	}
	for _, need := range []string{"LocalAddress", "LocalPort"} {
		if _, ok := idx[need]; !ok {
			return nil, errorf(start+1, "the CSV has no %s column", need)
		}
	}
	if proto == "" {
		proto = "udp"
		if _, ok := idx["RemotePort"]; ok {
			proto = "tcp"
		}
		if _, ok := idx["State"]; ok {
			proto = "tcp"
		}
	}
	var out []Listener
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		n := start + line
		if err != nil {
			return nil, errorf(n, "%v", err)
		}
		if len(rec) != len(header) {
			return nil, errorf(n, "%d fields, want %d as the header has (a line cut short?)", len(rec), len(header))
		}
		get := func(name string) string {
			if i, ok := idx[name]; ok {
				return rec[i]
			}
			return ""
		}
		l, ok, err := psRecord(proto, get("LocalAddress"), get("LocalPort"), get("State"), get("OwningProcess"), n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, l)
		}
	}
	return out, nil
}

// parsePSJson reads Get-NetTCPConnection or Get-NetUDPEndpoint piped to
// ConvertTo-Json: an array of records (or one record) with LocalAddress,
// LocalPort and, for TCP, State ("Listen", or 2 in Windows PowerShell's
// enum numbers) and RemotePort.
func parsePSJson(text string) ([]Listener, error) {
	var recs []map[string]any
	if strings.HasPrefix(text, "{") {
		var one map[string]any
		if err := json.Unmarshal([]byte(text), &one); err != nil {
			return nil, jsonError(text, err)
		}
		recs = append(recs, one)
	} else if err := json.Unmarshal([]byte(text), &recs); err != nil {
		return nil, jsonError(text, err)
	}
	var out []Listener
	for i, rec := range recs {
		str := func(k string) string {
			switch v := rec[k].(type) {
			case string:
				return v
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
			return ""
		}
		proto := "udp"
		_, hasState := rec["State"]
		if _, ok := rec["RemotePort"]; ok || hasState {
			proto = "tcp"
		}
		l, ok, err := psRecord(proto, str("LocalAddress"), str("LocalPort"), str("State"), str("OwningProcess"), 0)
		if err != nil {
			return nil, errorf(0, "record %d: %s", i+1, strings.TrimPrefix(err.Error(), "line 0: "))
		}
		if ok {
			out = append(out, l)
		}
	}
	return out, nil
}

// jsonError places a JSON syntax error at its line.
func jsonError(text string, err error) error {
	if se, ok := err.(*json.SyntaxError); ok {
		return errorf(1+strings.Count(text[:min(int(se.Offset), len(text))], "\n"), "JSON: %v", err)
	}
	return errorf(0, "JSON: %v (want Get-NetTCPConnection or Get-NetUDPEndpoint records)", err)
}
