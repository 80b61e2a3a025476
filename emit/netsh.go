package emit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"iter"
	"strconv"

	"github.com/fwgen/fwgen/policies"
)

// netshFormat is the batch file format; "netsh advfirewall" came with
// Windows Vista and Server 2008.
var netshFormat = Format{Name: "netsh", Ext: "cmd",
	Description: "batch file of 'netsh advfirewall firewall' commands for Windows Vista / Server 2008 and later; safe to run again, /remove",
	MinBuild:    6000, MinOS: "Windows Vista / Windows Server 2008"}

var _ = register(netshFormat.with(EmitFunc(emitNetsh)))

// netshScript is what templates/netsh.tmpl lays out. Header lines are made
// by cmdComment, Names (quoted) by netshQuote; Add lines are whole netsh
// commands whose free text went through netshQuote. Prefix starts every
// rule name, and checkRulePrefix holds for it: it goes unquoted into a
// findstr expression and a comment.
type netshScript struct {
	Header []string
	Prefix string
	Names  []string
	Add    iter.Seq[string] // made as they are written
	Count  int              // the Add lines
}

func emitNetsh(w io.Writer, rs *policies.Ruleset, opts Options) error {
	s, err := windowsScript(netshFormat, rs, opts)
	if err != nil {
		return err
	}
	data := netshScript{Prefix: s.Prefix}
	for _, h := range s.Header {
		data.Header = append(data.Header, cmdComment(h))
	}
	taken := map[string]bool{}
	for _, r := range s.Rules {
		taken[r.Name] = true
	}
	addrs := addressCache{}
	var commands []netshCommand
	for i := range s.Rules {
		cs, err := netshCommandsOf(s.Rules[i], taken, addrs)
		if err != nil {
			return err
		}
		for _, c := range cs {
			data.Names = append(data.Names, c.name)
		}
		commands = append(commands, cs...)
	}
	data.Count = len(commands)
	data.Add = func(yield func(string) bool) {
		for _, c := range commands {
			if !yield(c.args()) {
				return
			}
		}
	}
	// cmd needs CRLF: with bare LF it can miss labels that goto looks for.
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := render(crlfWriter{bw}, "netsh.tmpl", data); err != nil {
		return err
	}
	return bw.Flush()
}

// crlfWriter writes what it is given with each "\n" as "\r\n".
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			m, err := c.w.Write(p)
			return n + m, err
		}
		if _, err := c.w.Write(p[:i]); err != nil {
			return n, err
		}
		if _, err := io.WriteString(c.w, "\r\n"); err != nil {
			return n, err
		}
		n += i + 1
		p = p[i+1:]
	}
	return n, nil
}

// netshProtocol spells a protocol as netsh's protocol= takes it: tcp, udp,
// icmpv4:type,code, or the IP protocol number (GRE 47, ESP 50, AH 51).
func netshProtocol(p policies.Proto, icmpType *int) string {
	switch p {
	case policies.TCP, policies.UDP:
		return string(p)
	case policies.ICMPv4, policies.ICMPv6:
		if icmpType != nil {
			return fmt.Sprintf("%s:%d,any", p, *icmpType)
		}
		return string(p)
	}
	return strconv.Itoa(p.Number())
}
