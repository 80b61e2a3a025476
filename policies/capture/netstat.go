package capture

import (
	"slices"
	"strconv"
	"strings"
)

// isNetstat reports whether lines are netstat's: its connection rows, or
// its English header alone (a netstat that lists no socket, which reads
// as a capture without listeners rather than an unknown format).
func isNetstat(lines []string) bool {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 3 && (f[0] == "TCP" || f[0] == "UDP") && strings.Contains(f[1], ":") ||
			len(f) >= 6 && slices.Equal(f[:6], netstatHeader) {
			return true
		}
	}
	return false
}

// netstatHeader is the English header of netstat's table; -t adds an
// "Offload State" column after PID.
var netstatHeader = []string{"Proto", "Local", "Address", "Foreign", "Address", "State"}

// netstatStates are netstat's English TCP states other than LISTENING:
// the connection states, and BOUND (-q: a socket bound to a port that does
// not listen).
var netstatStates = []string{"ESTABLISHED", "TIME_WAIT", "CLOSE_WAIT", "SYN_SENT", "SYN_RECEIVED", "FIN_WAIT_1",
	"FIN_WAIT_2", "LAST_ACK", "CLOSING", "CLOSED", "BOUND"}

// parseNetstat reads Windows netstat -ano, -anob, -anoq or -anot: a row
// per socket,
//
//	TCP    0.0.0.0:88             0.0.0.0:0              LISTENING       640
//	UDP    0.0.0.0:123            *:*                                    1204
//
// and with -b the owning process on a line after it (" [lsass.exe]", maybe
// after a service name such as " RpcSs"); with -t an offload state after
// the PID. TCP counts when LISTENING, UDP always. The header and the state
// must be English: other languages name them otherwise ("ABHÖREN", "À
// L'ÉCOUTE"), and fwgen says so.
func parseNetstat(c *Capture, lines []string) error {
	header, offload := false, false
	last := -1 // the listener the next [process] line belongs to, or -1
	for i, l := range lines {
		n := i + 1
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
			continue
		case len(f) >= 6 && slices.Equal(f[:6], netstatHeader):
			header = true
			offload = strings.Contains(l, "Offload State")
			continue
		case f[0] == "TCP" || f[0] == "UDP":
			if !header {
				return errorf(n, "a netstat row before netstat's English header (\"Proto  Local Address  Foreign Address  State  PID\"): "+
					"this netstat speaks another language; capture with Get-NetTCPConnection -State Listen and Get-NetUDPEndpoint instead")
			}
			l, ok, err := netstatRow(f, n, offload)
			if err != nil {
				return err
			}
			c.saw(l.Proto)
			last = -1
			if ok && l.Port != 0 {
				c.add(l)
				last = len(c.Listeners) - 1
			}
		case strings.HasPrefix(strings.TrimSpace(l), "[") && strings.HasSuffix(strings.TrimSpace(l), "]"):
			if last >= 0 && c.Listeners[last].Process == "" {
				c.Listeners[last].Process = strings.Trim(strings.TrimSpace(l), "[]")
			}
		case header:
			// -b's service names ("RpcSs") and "Can not obtain ownership
			// information" belong to the row above; other text is none of
			// netstat's rows.
			if strings.HasPrefix(l, " ") && len(f) <= 6 {
				continue
			}
			return errorf(n, "%q is no row of netstat -ano", strings.TrimSpace(l))
		case len(f) >= 2 && !header:
			// The lines before the header: "Active Connections", or a
			// title in another language.
			if strings.TrimSpace(l) == "Active Connections" {
				continue
			}
			return errorf(n, "%q: netstat's title and header are not English; capture with Get-NetTCPConnection -State Listen and Get-NetUDPEndpoint instead", strings.TrimSpace(l))
		}
	}
	if !header {
		return errorf(0, "no netstat header (\"Proto  Local Address  Foreign Address  State  PID\")")
	}
	return nil
}

// netstatRow reads one TCP row (proto, local address, foreign address,
// state, PID) or UDP row (the same without the state), and with offload
// (-t) one more field; ok is false for a TCP socket that is not
// listening.
func netstatRow(f []string, n int, offload bool) (Listener, bool, error) {
	proto := strings.ToLower(f[0])
	want := 5
	if proto == "udp" {
		want = 4
	}
	if len(f) < want {
		return Listener{}, false, errorf(n, "%s row cut short: %d fields, want %d (proto, local address, foreign address, %sPID)",
			f[0], len(f), want, map[string]string{"tcp": "state, ", "udp": ""}[proto])
	}
	if len(f) > want && !(offload && len(f) == want+1) {
		return Listener{}, false, errorf(n, "%s row with %d fields, want %d (proto, local address, foreign address, %sPID)",
			f[0], len(f), want, map[string]string{"tcp": "state, ", "udp": ""}[proto])
	}
	addr, port, ok := hostPort(f[1])
	if !ok {
		return Listener{}, false, errorf(n, "local address %q: want ADDRESS:PORT", f[1])
	}
	pidText := f[want-1]
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return Listener{}, false, errorf(n, "PID %q: want a number (netstat -ano, -anob)", pidText)
	}
	l := Listener{Proto: proto, Addr: addr, Port: port, PID: pid, Line: n}
	if proto == "tcp" {
		switch {
		case f[3] == "LISTENING":
		case slices.Contains(netstatStates, f[3]):
			return l, false, nil
		default:
			return l, false, errorf(n, "state %q is none of netstat's English states (LISTENING, ESTABLISHED, BOUND, ...)", f[3])
		}
	}
	return l, true, nil
}
