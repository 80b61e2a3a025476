package capture

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// toolColumns name the columns of a network tool's CSV that a listener is
// read from.
type toolColumns struct {
	tool                                   string
	process, pid, proto, state, addr, port string
	listen                                 string // the TCP state that listens
}

// tcpViewColumns are the columns of Sysinternals TCPView's saved CSV:
// Process Name, Process ID, Protocol (TCP, TCPv6, UDP, UDPv6), State,
// Local Address, Local Port, Remote Address, Remote Port, ...
var tcpViewColumns = toolColumns{tool: "TCPView", process: "Process Name", pid: "Process ID", proto: "Protocol",
	state: "State", addr: "Local Address", port: "Local Port", listen: "Listen"}

// currPortsColumns are the columns of NirSoft CurrPorts' saved CSV:
// Process Name, Process ID, Protocol, Local Port, Local Port Name, Local
// Address, Remote Port, ..., State, ...
var currPortsColumns = toolColumns{tool: "CurrPorts", process: "Process Name", pid: "Process ID", proto: "Protocol",
	state: "State", addr: "Local Address", port: "Local Port", listen: "Listening"}

// parseToolCsv reads a TCPView or CurrPorts CSV by its column names.
func parseToolCsv(lines []string, c toolColumns) ([]Listener, error) {
	start := firstLine(lines)
	r := csv.NewReader(strings.NewReader(strings.Join(lines[start:], "\n")))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, errorf(start+1, "no CSV header: %v", err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{c.proto, c.addr, c.port} {
		if _, ok := idx[need]; !ok {
			return nil, errorf(start+1, "the %s CSV has no %q column", c.tool, need)
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
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		proto := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(get(c.proto), "v6"), "V6"))
		if proto != "tcp" && proto != "udp" {
			return nil, errorf(n, "protocol %q: want TCP, TCPv6, UDP or UDPv6", get(c.proto))
		}
		if proto == "tcp" && get(c.state) != c.listen {
			continue
		}
		addrText := get(c.addr)
		addr, ok := parseAddr(addrText)
		if addrText == "" || addrText == "*" || addrText == "0.0.0.0" {
			addr, ok = parseAddr("0.0.0.0")
		}
		if addrText == "::" || addrText == "[::]" {
			addr, ok = parseAddr("::")
		}
		if !ok {
			return nil, errorf(n, "local address %q: want an IP address", addrText)
		}
		port, ok := parsePort(get(c.port))
		if !ok {
			return nil, errorf(n, "local port %q: want a port from 1 to 65535", get(c.port))
		}
		pid, _ := strconv.Atoi(get(c.pid))
		out = append(out, Listener{Proto: proto, Addr: addr, Port: port, Process: get(c.process), PID: pid, Line: n})
	}
	return out, nil
}
