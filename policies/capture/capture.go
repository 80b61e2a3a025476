// Package capture reads what a server reports as listening: Windows
// netstat -ano and -anob, Get-NetTCPConnection and Get-NetUDPEndpoint (as
// a table, Export-Csv or ConvertTo-Json), Sysinternals TCPView's and
// NirSoft CurrPorts' saved CSV, and Linux ss -ltnup. It detects the format
// itself, and compares the listening ports with a host group's rules.
package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Listener is one socket a server listens on: a TCP socket in the listen
// state, or a bound UDP endpoint.
type Listener struct {
	Proto string // "tcp" or "udp"
	// Addr is the local address; the unspecified address (0.0.0.0, ::)
	// listens on every address of the host.
	Addr    netip.Addr
	Port    uint16 // 1-65535
	Process string // "lsass.exe"; empty when the capture does not say
	PID     int    // 0 when the capture does not say
	Line    int    // the line of the capture it comes from, from 1
}

// Loopback reports whether the listener is reachable from the host only.
func (l Listener) Loopback() bool { return l.Addr.IsLoopback() }

// Error is a problem of a capture at a line.
type Error struct {
	Line int // from 1; 0 for the capture as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

func errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Format names of the captures Parse reads.
const (
	Netstat       = "netstat -ano"
	PSTable       = "Get-NetTCPConnection / Get-NetUDPEndpoint (table)"
	PSCsv         = "Get-NetTCPConnection / Get-NetUDPEndpoint | Export-Csv"
	PSJson        = "Get-NetTCPConnection / Get-NetUDPEndpoint | ConvertTo-Json"
	TCPView       = "TCPView CSV"
	CurrPorts     = "CurrPorts CSV"
	SS            = "ss -ltnup"
	maxCaptureLen = 64 << 20
)

// Parse reads a capture, finding its format, and returns the format and
// the listeners: TCP sockets in the listen state and UDP endpoints, in the
// order of the capture. A capture saved as UTF-16 (PowerShell 5's ">")
// reads too. It returns an *Error with the line of the first problem: a
// line cut short, a header in another language, a format it does not know.
func Parse(data []byte) (format string, ls []Listener, err error) {
	if len(data) > maxCaptureLen {
		return "", nil, errorf(0, "%d bytes: a capture has at most %d MiB", len(data), maxCaptureLen>>20)
	}
	text, err := decodeText(data)
	if err != nil {
		return "", nil, err
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	first := firstLine(lines)
	trimmed := strings.TrimSpace(text)
	switch {
	case trimmed == "":
		return "", nil, errorf(0, "empty: nothing to read")
	case strings.HasPrefix(trimmed, "[") || strings.HasPrefix(trimmed, "{"):
		ls, err = parsePSJson(trimmed)
		return PSJson, ls, err
	case first >= 0 && (strings.HasPrefix(lines[first], "#TYPE") || strings.Contains(lines[first], `"LocalPort"`) ||
		strings.HasPrefix(lines[first], "LocalAddress,") || strings.Contains(lines[first], `"LocalAddress"`)):
		ls, err = parsePSCsv(lines)
		return PSCsv, ls, err
	case first >= 0 && strings.Contains(lines[first], "Local Port Name"):
		ls, err = parseToolCsv(lines, currPortsColumns)
		return CurrPorts, ls, err
	case first >= 0 && strings.Contains(lines[first], "Process Name") && strings.Contains(lines[first], "Local Port"):
		ls, err = parseToolCsv(lines, tcpViewColumns)
		return TCPView, ls, err
	case first >= 0 && (strings.HasPrefix(lines[first], "Netid") || strings.HasPrefix(strings.Fields(lines[first])[0], "State") &&
		strings.Contains(lines[first], "Local Address:Port")):
		ls, err = parseSS(lines)
		return SS, ls, err
	case first >= 0 && strings.HasPrefix(strings.TrimSpace(lines[first]), "LocalAddress"):
		ls, err = parsePSTable(lines)
		return PSTable, ls, err
	}
	if hasNetstatRows(lines) {
		ls, err = parseNetstat(lines)
		return Netstat, ls, err
	}
	return "", nil, errorf(first+1, "not a capture fwgen reads: want netstat -ano, Get-NetTCPConnection or Get-NetUDPEndpoint output (a table, Export-Csv or ConvertTo-Json), TCPView or CurrPorts CSV, or ss -ltnup")
}

// decodeText returns data as text: UTF-8, with or without a byte order
// mark, or UTF-16 with one.
func decodeText(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}), bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		order := binary.ByteOrder(binary.LittleEndian)
		if data[0] == 0xfe {
			order = binary.BigEndian
		}
		data = data[2:]
		u := make([]uint16, len(data)/2)
		for i := range u {
			u[i] = order.Uint16(data[2*i:])
		}
		return string(utf16.Decode(u)), nil
	}
	if !utf8.Valid(data) {
		return "", errorf(0, "not text: save the capture as UTF-8 or UTF-16")
	}
	return string(data), nil
}

// firstLine is the index of the first line that is not empty, or -1.
func firstLine(lines []string) int {
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			return i
		}
	}
	return -1
}

// hostPort splits "0.0.0.0:135", "[::]:135", "*:123", "[fe80::1%4]:546"
// and "127.0.0.53%lo:53" into the address and the port. "*" and an
// address with a zone lose the zone; "*" is the unspecified address of
// IPv4.
func hostPort(s string) (netip.Addr, uint16, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.Addr{}, 0, false
	}
	host, portText := s[:i], s[i+1:]
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return netip.Addr{}, 0, false
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "*" || host == "" {
		return netip.IPv4Unspecified(), uint16(port), true
	}
	if z := strings.IndexByte(host, '%'); z >= 0 {
		host = host[:z]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return a.Unmap(), uint16(port), true
}

// parseAddr reads an address that may carry a zone ("fe80::1%4").
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if z := strings.IndexByte(s, '%'); z >= 0 {
		s = s[:z]
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

func parsePort(s string) (uint16, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return uint16(n), err == nil && n > 0 && n <= 65535
}
