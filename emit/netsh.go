package emit

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"

	"github.com/fwgen/fwgen/policies"
)

// netshFormat is the batch file format; "netsh advfirewall" came with
// Windows Vista and Server 2008.
var netshFormat = Format{Name: "netsh", Ext: "cmd",
	Description: "batch file of 'netsh advfirewall firewall' commands for Windows Vista / Server 2008 and later; safe to run again, /remove",
	MinBuild:    6000, MinOS: "Windows Vista / Windows Server 2008"}

var _ = register(netshFormat.with(EmitFunc(emitNetsh)))

// maxNetshDescription bounds a rule's description, so that no command line
// comes near cmd's limit of 8191 characters.
const maxNetshDescription = 2000

// netshScript is what templates/netsh.tmpl lays out. Header lines are made
// by cmdComment, Names (quoted) by netshQuote; Add lines are whole netsh
// commands whose free text went through netshQuote. Prefix starts every
// rule name, and checkRulePrefix holds for it: it goes unquoted into a
// findstr expression and a comment.
type netshScript struct {
	Header []string
	Prefix string
	Names  []string
	Add    []string
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
	for _, r := range s.Rules {
		data.Names = append(data.Names, netshQuote(r.Name))
		data.Add = append(data.Add, netshAdd(r))
	}
	var buf bytes.Buffer
	if err := render(&buf, "netsh.tmpl", template.FuncMap{}, data); err != nil {
		return err
	}
	// cmd needs CRLF: with bare LF it can miss labels that goto looks for.
	_, err = io.WriteString(w, strings.ReplaceAll(buf.String(), "\n", "\r\n"))
	return err
}

// netshAdd is the "add rule" command of one rule, without the leading
// "netsh advfirewall firewall add rule".
func netshAdd(r winRule) string {
	args := []string{
		"name=" + netshQuote(r.Name),
		"dir=in",
		"action=allow",
		"protocol=" + netshProtocol(r.Proto, r.ICMPType),
	}
	switch {
	case r.Kind == portEPMap:
		args = append(args, "localport=RPC-EPMap")
	case r.Kind == portRPC:
		args = append(args, "localport=RPC")
	case r.Proto.HasPorts():
		args = append(args, "localport="+strings.Join(winPorts(r.Ports), ","))
	}
	if len(r.Locals) > 0 {
		args = append(args, "localip="+strings.Join(winAddresses(r.Locals), ","))
	}
	if len(r.Sources) > 0 {
		args = append(args, "remoteip="+strings.Join(winAddresses(r.Sources), ","))
	}
	profile := "any"
	if len(r.Profiles) > 0 {
		profile = strings.ToLower(strings.Join(r.Profiles, ","))
	}
	args = append(args, "profile="+profile)
	desc := r.Description
	if len(desc) > maxNetshDescription {
		desc = desc[:maxNetshDescription] + "..."
	}
	args = append(args, "description="+netshQuote(desc))
	return strings.Join(args, " ")
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
