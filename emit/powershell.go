package emit

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

// psFormat is the PowerShell format; New-NetFirewallRule (the NetSecurity
// module) came with Windows 8 and Server 2012.
var psFormat = Format{Name: "powershell", Ext: "ps1",
	Description: "PowerShell script of New-NetFirewallRule commands in one rule group; safe to run again; -WhatIf, -PolicyStore (a GPO), -Remove",
	MinBuild:    9200, MinOS: "Windows 8 / Windows Server 2012", Instead: "netsh"}

var _ = register(psFormat.with(EmitFunc(emitPowerShell)))

// psScript is what templates/powershell.tmpl lays out. Every string in it
// is a PowerShell expression made by psQuote, or comment text made by
// psComment.
type psScript struct {
	Header []string
	Group  string
	Lists  []psAddressList
	Rules  []psRule
}

// psAddressList is a list of addresses that several rules name (a role's
// members as sources, a group's servers as local addresses), written once
// as a variable, $Name, that
// the rules' tables name: PowerShell has variables where Windows Firewall
// has no address objects, and a script of a site's groups would otherwise
// write a role's thousand members into each rule of each.
type psAddressList struct {
	Name    string // AddressList<N>
	Comment string
	Value   string // psList
}

// psSharedList is the fewest addresses a list has for a script to write
// it once as a variable, when more than one rule admits it.
const psSharedList = 8

// psRule is one New-NetFirewallRule command: the fields of its splatted
// parameter hashtable, "" when the parameter is left out.
type psRule struct {
	Comment       string
	Name          string
	DisplayName   string
	Description   string
	Protocol      string
	LocalPort     string
	IcmpType      string
	LocalAddress  string
	RemoteAddress string
	Profile       string
	Program       string
	Service       string
}

func emitPowerShell(w io.Writer, rs *policies.Ruleset, opts Options) error {
	s, err := windowsScript(psFormat, rs, opts)
	if err != nil {
		return err
	}
	data := psScript{Group: psQuote(s.Group)}
	for _, h := range s.Header {
		data.Header = append(data.Header, psComment(h))
	}
	// Each list once by its content (its array's address is the quick
	// way to it): how many rules admit it, and its text or variable.
	lists := psLists{}
	ids := map[string]int{}
	var texts []string
	var uses []int
	idOf := func(ps []netip.Prefix) int {
		k := addressKey{&ps[0], len(ps)}
		if id, ok := lists.ids[k]; ok {
			return id
		}
		text := psList(winAddresses(ps))
		id, ok := ids[text]
		if !ok {
			id = len(texts)
			ids[text], texts, uses = id, append(texts, text), append(uses, 0)
		}
		lists.ids[k] = id
		return id
	}
	lists.ids = map[addressKey]int{}
	for _, r := range s.Rules {
		for _, ps := range [][]netip.Prefix{r.Locals, r.Sources} {
			if len(ps) > 0 {
				uses[idOf(ps)]++
			}
		}
	}
	lists.values = texts
	for _, r := range s.Rules {
		for _, ps := range [][]netip.Prefix{r.Locals, r.Sources} {
			if len(ps) < psSharedList {
				continue
			}
			id := idOf(ps)
			if uses[id] < 2 || strings.HasPrefix(lists.values[id], "$") {
				continue
			}
			l := psAddressList{Name: "AddressList" + strconv.Itoa(len(data.Lists)+1), Value: lists.values[id],
				Comment: psComment(fmt.Sprintf("%d prefixes, in %d rules", len(ps), uses[id]))}
			data.Lists = append(data.Lists, l)
			lists.values[id] = "$" + l.Name
		}
	}
	for _, r := range s.Rules {
		data.Rules = append(data.Rules, psRuleOf(r, lists))
	}
	return render(w, "powershell.tmpl", data)
}

func psRuleOf(r winRule, lists psLists) psRule {
	p := psRule{
		Comment:     psComment(r.Comment),
		Name:        psQuote(r.Name),
		DisplayName: psQuote(r.DisplayName),
		Description: psQuote(r.Description),
		Protocol:    psQuote(psProtocol(r.Proto)),
		Profile:     psQuote("Any"),
	}
	switch {
	case r.Kind == portEPMap:
		p.LocalPort = psQuote("RPCEPMap")
	case r.Kind == portRPC:
		p.LocalPort = psQuote("RPC")
	case r.Proto.HasPorts():
		p.LocalPort = psList(winPorts(r.Ports))
	}
	if r.ICMPType != nil {
		p.IcmpType = psQuote(strconv.Itoa(*r.ICMPType))
	}
	if len(r.Locals) > 0 {
		p.LocalAddress = lists.get(r.Locals)
	}
	if len(r.Sources) > 0 {
		p.RemoteAddress = lists.get(r.Sources)
	}
	if len(r.Profiles) > 0 {
		p.Profile = psList(r.Profiles)
	}
	if r.Program != "" {
		p.Program = psQuote(r.Program)
	}
	if r.Service != "" {
		p.Service = psQuote(r.Service)
	}
	return p
}

// psProtocol spells a protocol as New-NetFirewallRule -Protocol takes it:
// by name where it has one, by IP protocol number otherwise (GRE 47, ESP
// 50, AH 51).
func psProtocol(p policies.Proto) string {
	switch p {
	case policies.TCP, policies.UDP:
		return strings.ToUpper(string(p))
	case policies.ICMPv4, policies.ICMPv6:
		return winProto(p)
	}
	return strconv.Itoa(p.Number())
}

// psListIndent is the column where the values of a rule's table start in
// templates/powershell.tmpl, and psListWidth the width psList keeps to.
const (
	psListIndent = len("    RemoteAddress = ")
	psListWidth  = 120
)

// psList is a PowerShell array of quoted strings: 'a', 'b'. A long array
// goes on over several lines, each ended by a comma, after which
// PowerShell reads on; the lines after the first are indented to
// psListIndent.
func psList(items []string) string {
	var b strings.Builder
	col := psListIndent
	for i, s := range items {
		q := psQuote(s)
		switch {
		case i == 0:
		case col+len(", ")+len(q) > psListWidth:
			b.WriteString(",\n" + strings.Repeat(" ", psListIndent))
			col = psListIndent
		default:
			b.WriteString(", ")
			col += len(", ")
		}
		b.WriteString(q)
		col += len(q)
	}
	return b.String()
}

// psLists keeps the PowerShell lists of a script's address lists, each
// worked out once however many rules use it (see addressCache): the
// variable of a psAddressList, or the list itself.
type psLists struct {
	ids    map[addressKey]int // a list's array → its id
	values []string           // by id
}

func (c psLists) get(ps []netip.Prefix) string {
	return c.values[c.ids[addressKey{&ps[0], len(ps)}]]
}
