package capture

import (
	"regexp"
	"strconv"
	"strings"
)

// ssUsers reads the first process of ss -p: users:(("sshd",pid=801,fd=3)).
var ssUsers = regexp.MustCompile(`users:\(\("([^"]*)",pid=([0-9]+)`)

// ssProtoByState is the protocol of a row of ss without a Netid column
// (ss -lt or ss -lu: one protocol, which ss then does not name), by its
// state: a listening TCP socket is LISTEN, a bound UDP socket UNCONN.
var ssProtoByState = map[string]string{"LISTEN": "tcp", "UNCONN": "udp"}

// parseSS reads Linux ss -ltnup (or -ltnu, -lntup ...):
//
//	Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
//	tcp   LISTEN 0      4096         0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=801,fd=3))
//
// TCP counts in the LISTEN state, UDP in UNCONN. Without the Netid
// column (ss -lt, ss -lu), the state tells the protocol: LISTEN is TCP's,
// UNCONN UDP's; a capture with both is ss -at, whose UNCONN sockets are
// TCP's too, and an error. Ports must be numbers (ss -n).
func parseSS(c *Capture, lines []string) error {
	header := firstLine(lines)
	netid := strings.HasPrefix(lines[header], "Netid")
	if !netid {
		if err := ssOneProtocol(lines[header+1:], header+1); err != nil {
			return err
		}
	}
	for i := header + 1; i < len(lines); i++ {
		n := i + 1
		f := strings.Fields(lines[i])
		if len(f) == 0 {
			continue
		}
		if !netid {
			proto, ok := ssProtoByState[f[0]]
			if !ok {
				continue // a connection of ss -a
			}
			f = append([]string{proto}, f...)
		}
		if len(f) < 6 {
			return errorf(n, "ss row cut short: %d fields, want netid, state, recv-q, send-q, local and peer address", len(f))
		}
		proto := f[0]
		if proto != "tcp" && proto != "udp" {
			return errorf(n, "netid %q: want tcp or udp (ss -ltnup)", proto)
		}
		c.saw(proto)
		if proto == "tcp" && f[1] != "LISTEN" || proto == "udp" && f[1] != "UNCONN" {
			continue
		}
		addr, port, ok := hostPort(f[4])
		if !ok {
			if i := strings.LastIndexByte(f[4], ':'); i >= 0 && strings.Trim(f[4][i+1:], "abcdefghijklmnopqrstuvwxyz-") == "" {
				return errorf(n, "local address %q names the service, not the port: capture with ss -n (ss -ltnup)", f[4])
			}
			return errorf(n, "local address %q: want ADDRESS:PORT", f[4])
		}
		l := Listener{Proto: proto, Addr: addr, Port: port, Line: n}
		if m := ssUsers.FindStringSubmatch(lines[i]); m != nil {
			l.Process = m[1]
			l.PID, _ = strconv.Atoi(m[2])
		}
		c.add(l)
	}
	return nil
}

// ssOneProtocol checks that rows without a Netid column are of one
// protocol: LISTEN and UNCONN rows together are no listening capture of
// one protocol, and which is UDP's cannot be told.
func ssOneProtocol(rows []string, offset int) error {
	listen, unconn := 0, 0
	for i, r := range rows {
		f := strings.Fields(r)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "LISTEN":
			listen = i + offset + 1
		case "UNCONN":
			unconn = i + offset + 1
		}
		if listen > 0 && unconn > 0 {
			return errorf(max(listen, unconn), "LISTEN and UNCONN rows without a Netid column: "+
				"TCP's and UDP's cannot be told apart; capture with ss -ltnup, which names each row's protocol")
		}
	}
	return nil
}
