package capture

import (
	"regexp"
	"strconv"
	"strings"
)

// ssUsers reads the first process of ss -p: users:(("sshd",pid=801,fd=3)).
var ssUsers = regexp.MustCompile(`users:\(\("([^"]*)",pid=([0-9]+)`)

// parseSS reads Linux ss -ltnup (or -ltnu, -lntup ...):
//
//	Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
//	tcp   LISTEN 0      4096         0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=801,fd=3))
//
// TCP counts in the LISTEN state, UDP in UNCONN.
func parseSS(lines []string) ([]Listener, error) {
	var out []Listener
	header := firstLine(lines)
	netid := strings.HasPrefix(lines[header], "Netid")
	for i := header + 1; i < len(lines); i++ {
		n := i + 1
		f := strings.Fields(lines[i])
		if len(f) == 0 {
			continue
		}
		if !netid {
			// ss -lt without -u names no protocol: it lists TCP only.
			f = append([]string{"tcp"}, f...)
		}
		if len(f) < 6 {
			return nil, errorf(n, "ss row cut short: %d fields, want netid, state, recv-q, send-q, local and peer address", len(f))
		}
		proto := f[0]
		switch {
		case proto != "tcp" && proto != "udp":
			return nil, errorf(n, "netid %q: want tcp or udp (ss -ltnup)", proto)
		case proto == "tcp" && f[1] != "LISTEN", proto == "udp" && f[1] != "UNCONN":
			continue
		}
		addr, port, ok := hostPort(f[4])
		if !ok || port == 0 {
			return nil, errorf(n, "local address %q: want ADDRESS:PORT", f[4])
		}
		l := Listener{Proto: proto, Addr: addr, Port: port, Line: n}
		if m := ssUsers.FindStringSubmatch(lines[i]); m != nil {
			l.Process = m[1]
			l.PID, _ = strconv.Atoi(m[2])
		}
		out = append(out, l)
	}
	return out, nil
}
