package capture

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
)

// errNoProtocol says that PowerShell records leave out what tells TCP
// from UDP, and how to capture them so that they keep it.
const errNoProtocol = "records without State or RemotePort could be Get-NetTCPConnection's or Get-NetUDPEndpoint's " +
	"(a Select-Object left those out): keep State (Get-NetTCPConnection -State Listen | Select-Object " +
	"LocalAddress,LocalPort,State,OwningProcess), or capture the whole records (Get-NetTCPConnection -State Listen " +
	"| Export-Csv tcp.csv; Get-NetUDPEndpoint | Export-Csv udp.csv)"

// psProto tells a PowerShell capture's protocol from its column names:
// TCP's records have State and RemotePort, UDP's do not; the whole
// records have CimClass, which names the class of each (perRecord).
// Without either, it is an error: a Select-Object can leave any record
// with LocalAddress and LocalPort only.
func psProto(names []string) (proto string, perRecord bool, ok bool) {
	switch {
	case slices.Contains(names, "State") || slices.Contains(names, "RemotePort"):
		return "tcp", false, true
	case slices.Contains(names, "CimClass"):
		return "", true, true
	}
	return "", false, false
}

// psClassProto is the protocol of a record's CIM class, as its CimClass
// ("ROOT/StandardCimv2:MSFT_NetUDPEndpoint") or CimSystemProperties name
// it; "" for another class.
func psClassProto(class string) string {
	switch {
	case strings.Contains(class, "MSFT_NetTCPConnection"):
		return "tcp"
	case strings.Contains(class, "MSFT_NetUDPEndpoint"):
		return "udp"
	}
	return ""
}

// parsePSTable reads the default table output of Get-NetTCPConnection
// -State Listen and Get-NetUDPEndpoint, one or both:
//
//	LocalAddress                        LocalPort RemoteAddress  RemotePort State  AppliedSetting OwningProcess
//	------------                        --------- -------------  ---------- -----  -------------- -------------
//	0.0.0.0                             389       0.0.0.0        0          Listen                644
//
// Columns are found by the dashes under their names, as the table lays
// them out, since a cell may be empty (AppliedSetting). A table with
// RemotePort or State is TCP's; one of LocalAddress and LocalPort alone
// is Get-NetUDPEndpoint's default view; any other is an error, since a
// Select-Object leaves TCP's and UDP's records alike. A cell the table
// cut short ("fe80::1c2a:...") is an error that says how to capture it
// whole.
func parsePSTable(c *Capture, lines []string) error {
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
				return errorf(n+1, "no line of dashes under the table's header")
			}
			cols = psColumns(l, lines[i+1])
			var names []string
			for _, c := range cols {
				names = append(names, c.name)
			}
			if col(cols, "LocalPort") < 0 {
				return errorf(n, "the table has no LocalPort column")
			}
			p, _, ok := psProto(names)
			switch {
			case ok && p != "":
				proto = p
			case slices.Equal(names, []string{"LocalAddress", "LocalPort"}):
				proto = "udp"
			default:
				return errorf(n, "a table of %s: %s", strings.Join(names, ", "), errNoProtocol)
			}
			c.saw(proto)
			i++
			continue
		}
		if cols == nil {
			return errorf(n, "%q before a table's header (LocalAddress LocalPort ...)", strings.TrimSpace(l))
		}
		cell := func(name string) string {
			j := col(cols, name)
			if j < 0 || cols[j].start >= len(l) {
				return ""
			}
			end := min(cols[j].end, len(l))
			if j == len(cols)-1 {
				end = len(l)
			}
			return strings.TrimSpace(l[cols[j].start:end])
		}
		for _, name := range []string{"LocalAddress", "LocalPort", "State", "OwningProcess"} {
			if v := cell(name); strings.HasSuffix(v, "...") || strings.HasSuffix(v, "…") {
				return &Error{Line: n, Column: cols[col(cols, name)].start + 1, Msg: "the table cut " + name + " " + strconv.Quote(v) +
					" short: capture with Format-Table -AutoSize | Out-String -Width 4096, or with Export-Csv"}
			}
		}
		l2, ok, err := psRecord(proto, cell("LocalAddress"), cell("LocalPort"), cell("State"), cell("OwningProcess"), n)
		if err != nil {
			return err
		}
		if ok {
			c.add(l2)
		}
	}
	return nil
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
// listen (a State other than Listen, or 2 in Windows PowerShell's enum
// numbers).
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
		return Listener{}, false, errorf(n, "LocalPort %q: want a port number, 0 to 65535 (a line cut short?)", portText)
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
// Export-Csv: Windows PowerShell's "#TYPE ...MSFT_NetTCPConnection" line
// (or "#TYPE Selected...." after a Select-Object), a header of column
// names, quoted or not, a record per line. The #TYPE line tells TCP from
// UDP, or else the columns (see psProto).
func parsePSCsv(c *Capture, lines []string) error {
	start := firstLine(lines)
	proto := ""
	if strings.HasPrefix(lines[start], "#TYPE") {
		proto = psClassProto(lines[start])
		if proto == "" && !strings.Contains(lines[start], "Selected.") {
			return errorf(start+1, "%q: want Get-NetTCPConnection's or Get-NetUDPEndpoint's records", lines[start])
		}
		start++
	}
	r := csv.NewReader(strings.NewReader(strings.Join(lines[start:], "\n")))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return csvError(err, start)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[h] = i
	}
	for _, need := range []string{"LocalAddress", "LocalPort"} {
		if _, ok := idx[need]; !ok {
			return errorf(start+1, "the CSV has no %s column", need)
		}
	}
	perRecord := false
	if proto == "" {
		p, per, ok := psProto(header)
		if !ok {
			return errorf(start+1, "a CSV of %s: %s", strings.Join(header, ", "), errNoProtocol)
		}
		proto, perRecord = p, per
	}
	if !perRecord {
		c.saw(proto)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(err, start)
		}
		line, _ := r.FieldPos(0)
		n := start + line
		if len(rec) != len(header) {
			return errorf(n, "%d fields, want %d as the header has (a line cut short?)", len(rec), len(header))
		}
		get := func(name string) string {
			if i, ok := idx[name]; ok {
				return rec[i]
			}
			return ""
		}
		p := proto
		if perRecord {
			if p = psClassProto(get("CimClass")); p == "" {
				return errorf(n, "CimClass %q: want MSFT_NetTCPConnection or MSFT_NetUDPEndpoint", get("CimClass"))
			}
			c.saw(p)
		}
		l, ok, err := psRecord(p, get("LocalAddress"), get("LocalPort"), get("State"), get("OwningProcess"), n)
		if err != nil {
			return err
		}
		if ok {
			c.add(l)
		}
	}
}

// parsePSJson reads Get-NetTCPConnection or Get-NetUDPEndpoint piped to
// ConvertTo-Json: an array of records, one record, or Windows PowerShell's
// {"value": [...], "Count": n} around an array, with LocalAddress,
// LocalPort and, for TCP, State ("Listen", or 2 in Windows PowerShell's
// enum numbers) and RemotePort. A record without State or RemotePort is
// UDP's when its CIM class says so (the whole record), and an error
// otherwise (see psProto). Errors carry the line a record starts on.
func parsePSJson(c *Capture, text string) error {
	recs, lines, err := jsonRecords(text)
	if err != nil {
		return err
	}
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
		fail := func(msg string) error {
			return errorf(lines[i], "record %d: %s", i+1, msg)
		}
		var keys []string
		for k := range rec {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		proto, perRecord, ok := psProto(keys)
		if !ok && !slices.Contains(keys, "CimSystemProperties") {
			return fail("a record of " + strings.Join(keys, ", ") + ": " + errNoProtocol)
		}
		if perRecord || !ok {
			if proto = psClassProto(classText(rec["CimClass"]) + classText(rec["CimSystemProperties"])); proto == "" {
				return fail("its CimClass names neither MSFT_NetTCPConnection nor MSFT_NetUDPEndpoint")
			}
		}
		c.saw(proto)
		l, ok, err := psRecord(proto, str("LocalAddress"), str("LocalPort"), str("State"), str("OwningProcess"), lines[i])
		if e, isErr := err.(*Error); isErr {
			return fail(e.Msg)
		}
		if ok {
			c.add(l)
		}
	}
	return nil
}

// classText is the text of a CimClass or CimSystemProperties value as
// ConvertTo-Json writes it: a string ("ROOT/StandardCimv2:MSFT_NetUDPEndpoint"),
// or an object whose strings name the class.
func classText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		var b strings.Builder
		for _, x := range v {
			b.WriteString(classText(x) + " ")
		}
		return b.String()
	}
	return ""
}

// jsonRecords decodes a JSON array of objects, one object, or an object
// {"value": [...], "Count": n}, and returns the records and the line each
// starts on.
func jsonRecords(text string) ([]map[string]any, []int, error) {
	lineAt := func(off int64) int {
		o := int(off)
		for o < len(text) && strings.ContainsRune(" \t\r\n,", rune(text[o])) {
			o++
		}
		return 1 + strings.Count(text[:min(o, len(text))], "\n")
	}
	if strings.HasPrefix(strings.TrimSpace(text), "{") {
		var one map[string]any
		if err := json.Unmarshal([]byte(text), &one); err != nil {
			return nil, nil, jsonError(text, err)
		}
		if _, ok := one["value"].([]any); !ok || len(one) != 2 || one["Count"] == nil {
			return []map[string]any{one}, []int{lineAt(0)}, nil
		}
		// Windows PowerShell's wrapper: decode the array where it starts.
		i := strings.Index(text, `"value"`)
		j := i + strings.IndexByte(text[i:], '[')
		recs, lines, err := jsonArray(text[j:], func(off int64) int { return lineAt(int64(j) + off) })
		if err != nil {
			return nil, nil, err
		}
		return recs, lines, nil
	}
	return jsonArray(text, lineAt)
}

// jsonArray decodes a JSON array of objects, and the line each starts on.
func jsonArray(text string, lineAt func(int64) int) ([]map[string]any, []int, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	if _, err := dec.Token(); err != nil {
		return nil, nil, jsonError(text, err)
	}
	var recs []map[string]any
	var lines []int
	for dec.More() {
		off := dec.InputOffset()
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			if _, ok := err.(*json.UnmarshalTypeError); ok {
				return nil, nil, errorf(lineAt(off), "record %d: want a Get-NetTCPConnection or Get-NetUDPEndpoint record (a JSON object)", len(recs)+1)
			}
			return nil, nil, jsonError(text, err)
		}
		recs = append(recs, rec)
		lines = append(lines, lineAt(off))
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, jsonError(text, err)
	}
	return recs, lines, nil
}

// jsonError places a JSON syntax error at its line.
func jsonError(text string, err error) error {
	if se, ok := err.(*json.SyntaxError); ok {
		return errorf(1+strings.Count(text[:min(int(se.Offset), len(text))], "\n"), "JSON: %v", err)
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return errorf(1+strings.Count(text, "\n"), "JSON: the text ends inside a record (cut short?)")
	}
	return errorf(0, "JSON: %v (want Get-NetTCPConnection or Get-NetUDPEndpoint records)", err)
}
