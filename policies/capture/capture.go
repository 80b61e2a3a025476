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
	"slices"
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
	Port    uint16 // 1-65535: the readers leave out port 0, bound to no port yet
	Process string // "lsass.exe"; empty when the capture does not say
	PID     int    // 0 when the capture does not say
	Line    int    // the line of the capture it comes from, from 1
}

// Loopback reports whether the listener is reachable from the host only.
func (l Listener) Loopback() bool { return l.Addr.IsLoopback() }

// Error is a problem of a capture at a line and, where the reader knows
// it, a column.
type Error struct {
	Line   int // from 1; 0 for the capture as a whole
	Column int // from 1, in bytes; 0 when the reader does not know it
	Msg    string
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return e.Msg
	case e.Column == 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Capture is what a capture file holds.
type Capture struct {
	Format string // one of the format names below
	// Listeners are the TCP sockets in the listen state and the bound UDP
	// endpoints, in the order of the capture.
	Listeners []Listener
	// Protocols are the protocols the capture lists sockets of, listening
	// or not, or whose table or record type it names: "tcp", "udp" or
	// both, sorted. A protocol not among them was not captured, which
	// says nothing of what listens on it.
	Protocols []string
}

// add records a listener of the capture; one bound to port 0 (no port
// yet) counts for its protocol only.
func (c *Capture) add(l Listener) {
	c.saw(l.Proto)
	if l.Port != 0 {
		c.Listeners = append(c.Listeners, l)
	}
}

// Captured reports whether the capture lists sockets of proto.
func (c *Capture) Captured(proto string) bool { return slices.Contains(c.Protocols, proto) }

// saw adds proto to the protocols of the capture.
func (c *Capture) saw(proto string) {
	if !c.Captured(proto) {
		c.Protocols = append(c.Protocols, proto)
		slices.Sort(c.Protocols)
	}
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

// Parse reads a capture, finding its format. A capture saved as UTF-16
// with a byte order mark (PowerShell 5's ">") reads too. It returns an
// *Error with the line of the first problem: a line cut short, a header
// in another language, a table too narrow for its cells, records that do
// not say whether they are TCP or UDP, a format it does not know.
func Parse(data []byte) (*Capture, error) {
	if len(data) > maxCaptureLen {
		return nil, errorf(0, "%d bytes: a capture has at most %d MiB", len(data), maxCaptureLen>>20)
	}
	text, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	first := firstLine(lines)
	trimmed := strings.TrimSpace(text)
	c := &Capture{}
	var read func() error
	switch {
	case trimmed == "":
		return nil, errorf(0, "empty: nothing to read")
	case strings.HasPrefix(trimmed, "[") || strings.HasPrefix(trimmed, "{"):
		c.Format, read = PSJson, func() error { return parsePSJson(c, text) }
	case isPSCsv(lines[first]):
		c.Format, read = PSCsv, func() error { return parsePSCsv(c, lines) }
	case strings.Contains(lines[first], "Local Port Name"):
		c.Format, read = CurrPorts, func() error { return parseToolCsv(c, lines, currPortsColumns) }
	case strings.Contains(lines[first], "Process Name") && strings.Contains(lines[first], "Local Port"):
		c.Format, read = TCPView, func() error { return parseToolCsv(c, lines, tcpViewColumns) }
	case strings.HasPrefix(lines[first], "Netid") || strings.HasPrefix(strings.Fields(lines[first])[0], "State") &&
		strings.Contains(lines[first], "Local Address:Port"):
		c.Format, read = SS, func() error { return parseSS(c, lines) }
	case strings.HasPrefix(strings.TrimSpace(lines[first]), "LocalAddress"):
		c.Format, read = PSTable, func() error { return parsePSTable(c, lines) }
	case strings.Contains(lines[first], "requires elevation"):
		return nil, errorf(first+1, "%q: netstat -b needs an elevated prompt (Run as administrator); netstat -ano does not", strings.TrimSpace(lines[first]))
	case isNetstat(lines):
		c.Format, read = Netstat, func() error { return parseNetstat(c, lines) }
	default:
		return nil, errorf(first+1, "not a capture fwgen reads: want netstat -ano, Get-NetTCPConnection or Get-NetUDPEndpoint output (a table, Export-Csv or ConvertTo-Json), TCPView or CurrPorts CSV, or ss -ltnup")
	}
	if err := read(); err != nil {
		return nil, err
	}
	return c, nil
}

// isPSCsv reports whether the first line of a capture starts
// Export-Csv's output of Get-NetTCPConnection or Get-NetUDPEndpoint: its
// #TYPE line (Windows PowerShell), or a header with a LocalPort column,
// quoted or not (PowerShell 7 leaves out the #TYPE line, and quotes only
// where needed with -UseQuotes AsNeeded).
func isPSCsv(first string) bool {
	if strings.HasPrefix(first, "#TYPE") {
		return true
	}
	for _, f := range strings.Split(first, ",") {
		if strings.Trim(strings.TrimSpace(f), `"`) == "LocalPort" {
			return true
		}
	}
	return false
}

// decodeText returns data as text: UTF-8, with or without a byte order
// mark, or UTF-16 with one. UTF-16 without a byte order mark is an error
// that says so, as is other binary data.
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
	if bytes.IndexByte(data, 0) >= 0 {
		if looksUTF16(data) {
			return "", errorf(0, "UTF-16 without a byte order mark (a NUL byte beside each character): "+
				"save the capture as UTF-8 (Out-File -Encoding utf8) or as UTF-16 with its mark (Out-File -Encoding unicode)")
		}
		return "", errorf(0, "not text (NUL bytes): save the capture as UTF-8 or UTF-16")
	}
	if !utf8.Valid(data) {
		return "", errorf(0, "not text: save the capture as UTF-8 or UTF-16")
	}
	return string(data), nil
}

// looksUTF16 reports whether data reads as UTF-16 text of the ASCII
// range: in its first bytes, every second byte (the high one) is NUL.
func looksUTF16(data []byte) bool {
	n := min(len(data), 512) &^ 1
	if n < 4 {
		return false
	}
	even, odd := 0, 0
	for i := 0; i < n; i += 2 {
		if data[i] == 0 {
			even++
		}
		if data[i+1] == 0 {
			odd++
		}
	}
	return max(even, odd) >= n/2*9/10 && min(even, odd) == 0
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

// parsePort reads a port number from 0 to 65535. Port 0 is a socket
// bound to no port yet; the readers leave it out.
func parsePort(s string) (uint16, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return uint16(n), err == nil && n >= 0 && n <= 65535
}
