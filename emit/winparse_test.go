package emit

// Readers of the Windows scripts, written from the rules of PowerShell and
// cmd rather than from the emitters, so that a test can read back what an
// administrator's shell would see.

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// psEval evaluates a PowerShell string expression of the forms psQuote
// writes: 'text' with each quote doubled, [char]0xNNNN, and a parenthesised
// sum of those. Anything else is an error.
func psEval(expr string) (string, error) {
	if strings.HasPrefix(expr, "(") && strings.HasSuffix(expr, ")") {
		var units []uint16
		for _, term := range psSplit(expr[1:len(expr)-1], " + ") {
			if code, ok := strings.CutPrefix(term, "[char]0x"); ok {
				n, err := strconv.ParseUint(code, 16, 16)
				if err != nil || len(code) != 4 {
					return "", fmt.Errorf("bad [char] term %q", term)
				}
				units = append(units, uint16(n))
				continue
			}
			s, err := psLiteral(term)
			if err != nil {
				return "", err
			}
			units = append(units, utf16.Encode([]rune(s))...)
		}
		return string(utf16.Decode(units)), nil
	}
	return psLiteral(expr)
}

// psLiteral reads one single-quoted string; a lone quote inside it ends it
// early, which is an error here.
func psLiteral(s string) (string, error) {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return "", fmt.Errorf("not a single-quoted string: %q", s)
	}
	body := s[1 : len(s)-1]
	if strings.Count(body, "'")%2 != 0 || strings.Contains(strings.ReplaceAll(body, "''", ""), "'") {
		return "", fmt.Errorf("stray quote in %q", s)
	}
	for _, q := range "\u2018\u2019\u201A\u201B" {
		if strings.ContainsRune(body, q) {
			return "", fmt.Errorf("typographic quote U+%04X in %q", q, s)
		}
	}
	return strings.ReplaceAll(body, "''", "'"), nil
}

// psSplit splits s at sep where sep is outside quotes and parentheses.
func psSplit(s, sep string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			quoted = !quoted // '' inside a string toggles twice
		case quoted:
		case s[i] == '(':
			depth++
		case s[i] == ')':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			out = append(out, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	return append(out, s[start:])
}

// psItems evaluates a comma-separated PowerShell array of strings.
func psItems(list string) ([]string, error) {
	var out []string
	for _, item := range psSplit(list, ", ") {
		s, err := psEval(item)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// parsedRule is a rule read back from a script.
type parsedRule struct {
	Name, DisplayName, Description string
	Proto                          policies.Proto
	ICMPType                       string
	Ports, Sources, Locals         []string
	Profiles                       []string
	Program, Service               string
}

// psAddressLine is the first line of the definition of a script's
// address list; the definition ends on the line that ends in ")".
var psAddressLine = regexp.MustCompile(`^\$(AddressList[1-9][0-9]*) = @\((.*)$`)

// psAddressLists reads the address lists a script defines ($AddressList<N>
// = @('a', 'b', ...), over lines that end in commas), by variable name
// with its $.
func psAddressLists(script string) (map[string][]string, error) {
	lists := map[string][]string{}
	name, value := "", ""
	for i, line := range strings.Split(script, "\n") {
		if name == "" {
			m := psAddressLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if _, dup := lists["$"+m[1]]; dup {
				return nil, fmt.Errorf("line %d: $%s defined again", i+1, m[1])
			}
			name, value, line = "$"+m[1], "", m[2]
		}
		line = strings.TrimLeft(line, " ")
		if v, done := strings.CutSuffix(line, ")"); done {
			items, err := psItems(value + v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %v", i+1, name, err)
			}
			lists[name], name = items, ""
			continue
		}
		if !strings.HasSuffix(line, ",") {
			return nil, fmt.Errorf("line %d: %s goes on without a comma", i+1, name)
		}
		value += line + " "
	}
	if name != "" {
		return nil, fmt.Errorf("%s has no end", name)
	}
	return lists, nil
}

// psValue evaluates the value of a rule table's key: a list of strings, or
// the name of an address list of the script.
func psValue(value string, lists map[string][]string) ([]string, error) {
	if strings.HasPrefix(value, "$") {
		items, ok := lists[value]
		if !ok {
			return nil, fmt.Errorf("%s: no such address list", value)
		}
		return items, nil
	}
	return psItems(value)
}

// psRules reads the "$rule = @{ ... }" tables of a script. A value whose
// line ends in a comma goes on on the next line, as in PowerShell; a
// value may name an address list of the script.
func psRules(script string) ([]parsedRule, error) {
	lists, err := psAddressLists(script)
	if err != nil {
		return nil, err
	}
	var rules []parsedRule
	var cur *parsedRule
	pending := ""
	for i, line := range strings.Split(script, "\n") {
		line = strings.TrimLeft(line, " ")
		switch {
		case line == "$rule = @{":
			rules = append(rules, parsedRule{})
			cur = &rules[len(rules)-1]
		case cur != nil && line == "}" && pending == "":
			cur = nil
		case cur != nil && strings.HasSuffix(line, ","):
			pending += strings.TrimLeft(line, " ") + " "
		case cur != nil:
			if err := cur.setPS(pending+strings.TrimLeft(line, " "), lists); err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			pending = ""
		}
	}
	return rules, nil
}

func (r *parsedRule) setPS(line string, lists map[string][]string) error {
	key, value, ok := strings.Cut(strings.TrimSpace(line), " = ")
	if !ok {
		return fmt.Errorf("not a key = value line: %q", line)
	}
	items, err := psValue(strings.TrimSpace(value), lists)
	if err != nil {
		return err
	}
	one := strings.Join(items, ",")
	switch strings.TrimSpace(key) {
	case "Name":
		r.Name = one
	case "DisplayName":
		r.DisplayName = one
	case "Description":
		r.Description = one
	case "Protocol":
		r.Proto = protoOf(one)
	case "LocalPort":
		r.Ports = items
	case "IcmpType":
		r.ICMPType = one
	case "RemoteAddress":
		r.Sources = items
	case "LocalAddress":
		r.Locals = items
	case "Profile":
		r.Profiles = items
	case "Program":
		r.Program = one
	case "Service":
		r.Service = one
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	return nil
}

// protoOf reads a protocol as New-NetFirewallRule or netsh names it.
func protoOf(s string) policies.Proto {
	for _, p := range []policies.Proto{policies.TCP, policies.UDP, policies.ICMPv4, policies.ICMPv6,
		policies.GRE, policies.ESP, policies.AH} {
		if strings.EqualFold(s, string(p)) || s == strconv.Itoa(p.Number()) {
			return p
		}
	}
	return policies.Proto("unknown:" + s)
}

// cmdArgs reads one line of a batch file as cmd and then a C program
// (netsh) would: cmd expands %% to % (a single % would expand a variable:
// error), ends the command at & | < > outside quotes, and takes ^ outside
// quotes as an escape; netsh then splits its command line by the C
// runtime's rules. It returns netsh's arguments and the rest of the line
// from the first operator.
func cmdArgs(line string) (args []string, rest string, err error) {
	expanded, err := cmdPercent(line)
	if err != nil {
		return nil, "", err
	}
	cmdline, rest, err := cmdSplit(expanded)
	if err != nil {
		return nil, "", err
	}
	return crtArgs(cmdline), rest, nil
}

// cmdPercent expands a batch file line's percent signs as cmd does first:
// %% becomes %; a single % would expand a variable, which the scripts never
// ask for, so it is an error.
func cmdPercent(line string) (string, error) {
	var expanded strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] != '%' {
			expanded.WriteByte(line[i])
			continue
		}
		if i+1 >= len(line) || line[i+1] != '%' {
			return "", fmt.Errorf("unescaped %% at column %d", i+1)
		}
		expanded.WriteByte('%')
		i++
	}
	return expanded.String(), nil
}

// cmdSplit finds where cmd ends the command and removes its escapes.
func cmdSplit(line string) (cmdline, rest string, err error) {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '^':
			if i+1 >= len(line) {
				return "", "", errors.New("^ at the end of the line continues it")
			}
			i++
			c = line[i]
		case strings.IndexByte("&|<>", c) >= 0:
			return b.String(), line[i:], nil
		}
		b.WriteByte(c)
	}
	if quoted {
		return "", "", errors.New("unbalanced double quote")
	}
	return b.String(), "", nil
}

// crtArgs splits a command line as the Microsoft C runtime does: 2n
// backslashes before a quote are n backslashes and a quote that toggles
// quoting, 2n+1 are n backslashes and a literal quote.
func crtArgs(s string) []string {
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					quoted = !quoted
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			quoted, inArg = !quoted, true
		case (c == ' ' || c == '\t') && !quoted:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

// openings is what a set of rules opens: for each protocol, ICMP type,
// source address and local address ("any" when unscoped), the merged port
// ranges.
type openings map[string][]policies.PortRange

func (o openings) add(proto policies.Proto, icmp string, sources, locals []string, ports []policies.PortRange) {
	for _, s := range orAny(sources) {
		for _, l := range orAny(locals) {
			k := fmt.Sprintf("%s|%s|%s|%s", proto, icmp, s, l)
			o[k] = append(o[k], ports...)
		}
	}
}

// merged merges the ranges of each key, once all are added, and drops
// what a rule for any source already opens on the same protocol, ICMP
// type and local address: the Ruleset's needs of several peers may name
// sources that another peer's "any" covers, where the scripts write one
// rule for any address.
func (o openings) merged() openings {
	for k, ports := range o {
		o[k] = catalog.MergeRanges(ports)
	}
	for k, ports := range o {
		parts := strings.Split(k, "|")
		if parts[2] == "any" {
			continue
		}
		anyKey := strings.Join([]string{parts[0], parts[1], "any", parts[3]}, "|")
		wide, ok := o[anyKey]
		if !ok {
			continue
		}
		if rest := subtractRanges(ports, wide); len(rest) > 0 {
			o[k] = rest
		} else {
			delete(o, k)
		}
	}
	return o
}

// subtractRanges returns the ports of a that b does not hold.
func subtractRanges(a, b []policies.PortRange) []policies.PortRange {
	var out []policies.PortRange
	for _, r := range a {
		parts := []policies.PortRange{r}
		for _, w := range b {
			var next []policies.PortRange
			for _, p := range parts {
				if w.To < p.From || w.From > p.To {
					next = append(next, p)
					continue
				}
				if p.From < w.From {
					next = append(next, policies.PortRange{From: p.From, To: w.From - 1})
				}
				if p.To > w.To {
					next = append(next, policies.PortRange{From: w.To + 1, To: p.To})
				}
			}
			parts = next
		}
		out = append(out, parts...)
	}
	return out
}

// orAny returns addrs, or "any" for none.
func orAny(addrs []string) []string {
	if len(addrs) == 0 {
		return []string{"any"}
	}
	return addrs
}

// rulesetOpenings is what the Ruleset's needs open: on the group's servers
// when it names them, on any local address otherwise, and for DHCP, whose
// clients broadcast, on any local address always.
func rulesetOpenings(rs *policies.Ruleset) openings {
	o := openings{}
	for _, g := range rs.Groups {
		// Needs with the same sources share them, so that a long list of
		// sources is spelled out once, not for each port.
		type key struct {
			proto         policies.Proto
			icmp, sources string
			anySource     bool
		}
		ports, sources := map[key][]policies.PortRange{}, map[key][]string{}
		for _, n := range g.Needs {
			if !n.AnySource && !needMeets(n, g.Addresses) {
				continue // no rule can carry it: no IP version of its sources is the servers'
			}
			k := key{n.Proto, icmpString(n.ICMPType), policies.SourcesKey(n.Sources), n.AnySource}
			sources[k] = winAddresses(n.Sources)
			if n.Proto.HasPorts() {
				ports[k] = append(ports[k], n.Ports)
			}
		}
		for k, s := range sources {
			locals := winAddresses(g.Addresses)
			if k.anySource {
				locals = nil
			}
			o.add(k.proto, k.icmp, s, locals, ports[k])
		}
	}
	return o.merged()
}

// needMeets reports whether some IP version is the need's (its family,
// its ICMP's), its sources' (any when none) and the servers' (any when
// none).
func needMeets(n policies.Need, servers []netip.Prefix) bool {
	for _, f := range []int{4, 6} {
		if n.Family != 0 && n.Family != f || policies.ICMPFamily(n.Proto) != 0 && policies.ICMPFamily(n.Proto) != f {
			continue
		}
		has := func(ps []netip.Prefix) bool {
			return len(ps) == 0 || slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Addr().Is4() == (f == 4) })
		}
		if has(n.Sources) && has(servers) {
			return true
		}
	}
	return false
}

// scriptOpenings is what parsed rules open, reading the RPC keywords as
// the endpoint mapper's port and the groups' RPC dynamic ranges.
func scriptOpenings(rs *policies.Ruleset, rules []parsedRule) (openings, error) {
	var dynamic []policies.PortRange
	for _, g := range rs.Groups {
		dynamic = append(dynamic, g.RPC.Ranges...)
	}
	o := openings{}
	for _, r := range rules {
		var ports []policies.PortRange
		for _, p := range r.Ports {
			switch p {
			case "RPCEPMap", "RPC-EPMap":
				ports = append(ports, policies.PortRange{From: 135, To: 135})
			case "RPC":
				ports = append(ports, dynamic...)
			default:
				pr, err := catalog.ParsePortRange(p)
				if err != nil {
					return nil, fmt.Errorf("rule %s: %v", r.Name, err)
				}
				ports = append(ports, pr)
			}
		}
		o.add(r.Proto, r.ICMPType, r.Sources, r.Locals, ports)
	}
	return o.merged(), nil
}

func icmpString(t *int) string {
	if t == nil {
		return ""
	}
	return strconv.Itoa(*t)
}

// prefixes parses CIDRs and addresses for test Rulesets.
func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if !strings.Contains(s, "/") {
			a := netip.MustParseAddr(s)
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}
