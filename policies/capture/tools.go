package capture

import (
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// toolColumns name the columns of a network tool's CSV that a listener is
// read from.
type toolColumns struct {
	tool                                   string
	process, pid, proto, state, addr, port string
}

// tcpViewColumns are the columns of Sysinternals TCPView's saved CSV:
// Process Name, Process ID, Protocol (TCP, TCPv6, UDP, UDPv6), State,
// Local Address, Local Port, Remote Address, Remote Port, ...
var tcpViewColumns = toolColumns{tool: "TCPView", process: "Process Name", pid: "Process ID", proto: "Protocol",
	state: "State", addr: "Local Address", port: "Local Port"}

// currPortsColumns are the columns of NirSoft CurrPorts' saved CSV:
// Process Name, Process ID, Protocol, Local Port, Local Port Name, Local
// Address, Remote Port, ..., State, ...
var currPortsColumns = toolColumns{tool: "CurrPorts", process: "Process Name", pid: "Process ID", proto: "Protocol",
	state: "State", addr: "Local Address", port: "Local Port"}

// toolListening and toolStates are the TCP states of TCPView and
// CurrPorts, and of older TCPView versions that print netstat's, as
// toolState writes them: lower case, without spaces, dashes and
// underscores ("Time Wait", "TIME_WAIT", "Syn-Sent").
var (
	toolListening = []string{"listen", "listening"}
	toolStates    = []string{"established", "timewait", "closewait", "synsent", "synreceived", "synrcvd", "finwait1",
		"finwait2", "lastack", "closing", "closed", "deletetcb", "bound"}
)

// toolState is a TCP state as toolListening and toolStates spell it.
func toolState(s string) string {
	return strings.NewReplacer(" ", "", "-", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// parseToolCsv reads a TCPView or CurrPorts CSV by its column names.
func parseToolCsv(c *Capture, lines []string, cols toolColumns) error {
	start := firstLine(lines)
	r := csv.NewReader(strings.NewReader(strings.Join(lines[start:], "\n")))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return csvError(err, start)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{cols.proto, cols.state, cols.addr, cols.port} {
		if _, ok := idx[need]; !ok {
			return errorf(start+1, "the %s CSV has no %q column", cols.tool, need)
		}
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
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		at := func(name string) *Error {
			line, col := r.FieldPos(idx[name])
			return &Error{Line: start + line, Column: col}
		}
		proto := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(get(cols.proto), "v6"), "V6"))
		if proto != "tcp" && proto != "udp" {
			e := at(cols.proto)
			e.Msg = "protocol " + strconv.Quote(get(cols.proto)) + ": want TCP, TCPv6, UDP or UDPv6"
			return e
		}
		c.saw(proto)
		if proto == "tcp" {
			state := toolState(get(cols.state))
			if slices.Contains(toolStates, state) {
				continue
			}
			if !slices.Contains(toolListening, state) {
				e := at(cols.state)
				e.Msg = "state " + strconv.Quote(get(cols.state)) + " is none of " + cols.tool +
					"'s English TCP states (Listen, Listening, Established, Time Wait, ...): save the CSV from an English " + cols.tool
				return e
			}
		}
		addrText := get(cols.addr)
		addr, ok := parseAddr(addrText)
		switch addrText {
		case "", "*", "0.0.0.0":
			addr, ok = parseAddr("0.0.0.0")
		case "::", "[::]":
			addr, ok = parseAddr("::")
		}
		if !ok {
			e := at(cols.addr)
			e.Msg = "local address " + strconv.Quote(addrText) + ": want an IP address"
			return e
		}
		port, ok := parsePort(get(cols.port))
		if !ok || get(cols.port) == "" {
			e := at(cols.port)
			e.Msg = "local port " + strconv.Quote(get(cols.port)) + ": want a port number, 0 to 65535"
			return e
		}
		pid, _ := strconv.Atoi(get(cols.pid))
		c.add(Listener{Proto: proto, Addr: addr, Port: port, Process: get(cols.process), PID: pid, Line: n})
	}
}

// csvError places an error of encoding/csv at the capture's line and
// column; start is the index of the capture's line the CSV text starts
// at.
func csvError(err error, start int) *Error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{Line: start + pe.Line, Column: pe.Column, Msg: pe.Err.Error()}
	}
	return errorf(start+1, "%v", err)
}
