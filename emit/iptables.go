package emit

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

var (
	_ = register(Format{Name: "iptables", Ext: "rules", Netfilter: true, Emitter: iptEmitter(4),
		Description: "IPv4 rules for iptables-restore --noflush, in chain FWGEN-INPUT or FWGEN-FORWARD (named after the table)"})
	_ = register(Format{Name: "ip6tables", Ext: "rules6", Netfilter: true, Emitter: iptEmitter(6),
		Description: "IPv6 rules for ip6tables-restore --noflush, in chain FWGEN-INPUT or FWGEN-FORWARD (named after the table)"})
)

const (
	// iptCommentMax is the longest comment the comment match keeps, in bytes.
	iptCommentMax = 255
	// multiportSlots is how many ports one multiport match takes; a range
	// takes two.
	multiportSlots = 15
	// iptChainMax is the longest chain name iptables takes, in bytes
	// (XT_EXTENSION_MAXNAMELEN, less the terminating NUL).
	iptChainMax = 28
)

// iptData is what the iptables template lays out: fwgen's chain and its
// rules, then one chain per source set and the rules that accept its
// sources.
type iptData struct {
	Header  []string
	Apply   []string
	Chain   string
	Rules   []iptRule
	Sources []iptSourceChain
}

// iptSourceChain is the chain of a source set: a rule of fwgen's chain
// that matches the destination, protocol and ports jumps to it, and it
// accepts the set's sources, one rule each, so that a list of sources
// shared by many rules is written once. What it does not accept returns
// to fwgen's chain.
type iptSourceChain struct {
	Name  string
	Notes []string
	Lines []string
}

// iptRule is the lines of one scope rule, with the comment lines above them.
type iptRule struct {
	Notes []string
	Lines []string
}

// iptables names the command of a family.
type iptables struct {
	fam                  family
	cmd, restore, chain  string
	hook, icmp, icmpType string
}

// newIptables names the commands of family f and fwgen's chain: the table
// and the hook in upper case, FWGEN-INPUT for table fwgen, FWGEN-DCS-FORWARD
// for table fwgen-dcs. Each table gets a chain of its own, so that the
// files of several host groups do not flush each other's rules.
func newIptables(f family, table, chain string) (iptables, error) {
	t := iptables{fam: f, cmd: "iptables", restore: "iptables-restore",
		chain: strings.ToUpper(table + "-" + chain), hook: strings.ToUpper(chain),
		icmp: "-p icmp -m icmp --icmp-type", icmpType: "icmp"}
	if f == 6 {
		t.cmd, t.restore = "ip6tables", "ip6tables-restore"
		t.icmp, t.icmpType = "-p ipv6-icmp -m icmp6 --icmpv6-type", "icmpv6"
	}
	if len(t.chain) > iptChainMax {
		return t, fmt.Errorf("table %q: the iptables chain would be %s, %d characters, and iptables takes at most %d; pick a table name of at most %d characters",
			table, t.chain, len(t.chain), iptChainMax, iptChainMax-len(chain)-1)
	}
	return t, nil
}

// iptEmitter writes the rules of one address family.
func iptEmitter(f family) EmitFunc {
	return func(w io.Writer, rs *policies.Ruleset, opts Options) error {
		d, err := iptBuild(rs, opts, f)
		if err != nil {
			return err
		}
		return render(w, "iptables.tmpl", d)
	}
}

// iptBuild computes the lines of one family's file.
func iptBuild(rs *policies.Ruleset, opts Options, f family) (*iptData, error) {
	chain, table, err := linuxOptions(opts)
	if err != nil {
		return nil, err
	}
	t, err := newIptables(f, table, chain)
	if err != nil {
		return nil, err
	}
	dests, err := groupsDests(rs, chain)
	if err != nil {
		return nil, err
	}
	d := &iptData{Header: linuxHeader(rs, chain, dests), Apply: t.apply(f == 4 && scopedIPv6(rs, chain)), Chain: t.chain}
	scoped := scopedDeny(rs, opts, chain)
	if opts.DefaultDeny && scoped && chain == chainInput {
		d.Header = append(d.Header, siteFileDenyNote...)
	}
	if opts.DefaultDeny {
		d.Rules = t.essentials(chain, dests, scoped)
	}
	var drops []iptRule
	b := &iptBuilder{t: t, d: d, chains: map[*policies.SourceSet]string{}, byContent: map[string]string{}}
	for i := range rs.Groups {
		g := &rs.Groups[i]
		rules, err := b.group(g, chain, dests[i])
		if err != nil {
			return nil, err
		}
		d.Rules = append(d.Rules, rules...)
		if opts.DefaultDeny && scoped && g.SharedWith == "" {
			drops = append(drops, t.drops(g, dests[i])...)
		}
	}
	if opts.DefaultDeny && !scoped {
		drops = []iptRule{{Notes: []string{"--default-deny: drop the rest"},
			Lines: []string{t.line("", `-m comment --comment "default deny"`, "DROP")}}}
	}
	d.Rules = append(d.Rules, drops...)
	return d, nil
}

// apply says how to load the file. Declaring the chain flushes it, so a
// reload replaces its rules and leaves the rest of the table alone. The
// jump from the built-in chain is a separate, checked command: an -A or -I
// line in a --noflush file would add one more jump on every load.
func (t iptables) apply(ipv6 bool) []string {
	lines := []string{
		fmt.Sprintf("Load with: %s --noflush < FILE", t.restore),
		"then send the traffic through the chain (this adds the jump only when it is missing):",
		"  " + iptJumpCommand(t.cmd, t.hook, t.chain),
	}
	if t.fam == 4 {
		lines = append(lines, "This file is IPv4; --emit ip6tables gives the IPv6 rules for ip6tables-restore.")
		if ipv6 {
			lines = append(lines, "The policy has rules for IPv6 addresses: load the ip6tables rules too.")
		}
	}
	return lines
}

// scopedIPv6 reports whether a rule of the ip6tables output names an IPv6
// address: the policy then means IPv6 traffic, which the IPv4 file leaves
// out.
func scopedIPv6(rs *policies.Ruleset, chain string) bool {
	for i := range rs.Groups {
		g := &rs.Groups[i]
		dests, _ := groupDests(g, chain, len(rs.Groups))
		for _, r := range g.ByScope() {
			for _, f := range splitFamilies(ruleFamily(r), r.Sources, dests) {
				if f.Family == 6 && len(f.Sources)+len(f.Dests) > 0 {
					return true
				}
			}
		}
	}
	return false
}

// iptJumpCommand adds the jump from the built-in chain unless it is there.
func iptJumpCommand(cmd, hook, chain string) string {
	return fmt.Sprintf("%[1]s -C %[2]s -j %[3]s 2>/dev/null || %[1]s -I %[2]s 1 -j %[3]s", cmd, hook, chain)
}

// essentials are the rules --default-deny puts first, so that replies,
// loopback, ICMP errors and neighbour discovery keep working; on the
// forward chain, for the traffic to the servers only (see essentialScope),
// one line for each server prefix of this family.
func (t iptables) essentials(chain string, dests [][]netip.Prefix, scoped bool) []iptRule {
	var matches []string
	for _, f := range essentialScope(scoped, dests) {
		switch {
		case f.Family == 0:
			matches = append(matches, "")
		case f.Family == t.fam:
			for _, d := range f.Dests {
				matches = append(matches, "-d "+d.String()+" ")
			}
		}
	}
	var lines []string
	add := func(match, comment, target string) {
		for _, m := range matches {
			lines = append(lines, t.line(m+match, `-m comment --comment "essential: `+comment+`"`, target))
		}
	}
	add("-m conntrack --ctstate RELATED,ESTABLISHED", "established, related", "ACCEPT")
	add("-m conntrack --ctstate INVALID", "invalid", "DROP")
	if chain == chainInput && !scoped {
		add("-i lo", "loopback", "ACCEPT")
	}
	types, proto := essentialICMPv4, policies.ICMPv4
	if t.fam == 6 {
		types, proto = essentialICMPv6, policies.ICMPv6
	}
	for _, ty := range types {
		add(fmt.Sprintf("%s %d", t.icmp, ty), t.icmpType+" "+icmpName(proto, ty), "ACCEPT")
	}
	if len(lines) == 0 {
		return nil
	}
	return []iptRule{{Notes: []string{essentialNote(chain, t.fam == 6)}, Lines: lines}}
}

// iptBuilder collects the rules of fwgen's chain and the chains of the
// source sets they jump to.
type iptBuilder struct {
	t         iptables
	d         *iptData
	chains    map[*policies.SourceSet]string // the chain of each source set
	byContent map[string]string              // the chain of each list of sources
}

// group writes a group's rules of this family: for each scope rule, one
// line per server prefix and multiport chunk, which accepts when the rule
// admits any address or one, and otherwise jumps to the chain of the
// rule's source set.
func (b *iptBuilder) group(g *policies.Group, chain string, dests []netip.Prefix) ([]iptRule, error) {
	t := b.t
	var out []iptRule
	for _, r := range g.ByScope() {
		if err := linuxCheckPorts(g, r); err != nil {
			return nil, err
		}
		var lines []string
		for _, f := range ruleFamilies(r, ruleDests(r, chain, dests)) {
			if f.Family != t.fam {
				continue
			}
			comment := "-m comment --comment " + iptString(linuxComment(r))
			target, src := "ACCEPT", ""
			switch len(f.Sources) {
			case 0:
			case 1:
				src = "-s " + f.Sources[0].String() + " "
			default:
				var err error
				if target, err = b.sourceChain(f); err != nil {
					return nil, err
				}
			}
			for _, dst := range destMatches(f.Dests) {
				for _, m := range t.protoMatches(r) {
					lines = append(lines, t.line(src+dst+m, comment, target))
				}
			}
		}
		if len(lines) > 0 {
			out = append(out, iptRule{Notes: []string{linuxNote(r)}, Lines: lines})
		}
	}
	return out, nil
}

// sourceComment is the comment of the rules of a source set's chain:
// "source set: members of role dc".
func sourceComment(s *policies.SourceSet) string { return "source set: " + s.Name }

// destMatches gives the destination match of each prefix, or "" (any
// address) for none.
func destMatches(dests []netip.Prefix) []string {
	if len(dests) == 0 {
		return []string{""}
	}
	out := make([]string, len(dests))
	for i, p := range dests {
		out[i] = "-d " + p.String() + " "
	}
	return out
}

// sourceChain returns the chain that accepts the sources of f, declaring
// it when it is the first rule of the file to need it: the table's name,
// I or F for the input or forward chain, S and a number (FWGEN-IS1,
// FWGEN-DCS-FS2). Source sets of the same addresses share one.
func (b *iptBuilder) sourceChain(f famRule) (string, error) {
	if name, ok := b.chains[f.Set]; ok {
		return name, nil
	}
	content := policies.SourcesKey(f.Sources)
	if name, ok := b.byContent[content]; ok {
		b.chains[f.Set] = name
		return name, nil
	}
	base := strings.TrimSuffix(b.t.chain, "-"+b.t.hook)
	name := fmt.Sprintf("%s-%cS%d", base, b.t.hook[0], len(b.d.Sources)+1)
	if len(name) > iptChainMax {
		return "", fmt.Errorf("the iptables chain of source set %q would be %s, %d characters, and iptables takes at most %d; give a shorter --table",
			f.Set.Name, name, len(name), iptChainMax)
	}
	c := iptSourceChain{Name: name, Notes: []string{oneLine(fmt.Sprintf("%s: %s", name, f.Set.Label()))}}
	comment := iptString(sourceComment(f.Set))
	for _, p := range f.Sources {
		c.Lines = append(c.Lines, "-A "+name+" -s "+p.String()+" -m comment --comment "+comment+" -j ACCEPT")
	}
	b.d.Sources = append(b.d.Sources, c)
	b.chains[f.Set], b.byContent[content] = name, name
	return name, nil
}

// drops end a forward chain under --default-deny: what no rule accepted is
// dropped on its way to the group's servers, and the router keeps
// forwarding everything else. A group without servers of this family has
// none.
func (t iptables) drops(g *policies.Group, dests []netip.Prefix) []iptRule {
	r := iptRule{Notes: []string{oneLine("--default-deny: the rest of the traffic to host group " + g.Name)}}
	for _, f := range splitFamilies(0, nil, dests) {
		if f.Family != t.fam {
			continue
		}
		for _, d := range f.Dests {
			r.Lines = append(r.Lines, t.line("-d "+d.String(), "-m comment --comment "+iptString("default deny: host group "+g.Name), "DROP"))
		}
	}
	if len(r.Lines) == 0 {
		return nil
	}
	return []iptRule{r}
}

// line is one rule of the chain.
func (t iptables) line(match, comment, target string) string {
	return strings.Join(strings.Fields(fmt.Sprintf("-A %s %s %s -j %s", t.chain, match, comment, target)), " ")
}

// protoMatches matches a rule's protocol and ports, in as many multiport
// matches as its ports need.
func (t iptables) protoMatches(r policies.ScopeRule) []string {
	switch {
	case r.Proto.HasPorts():
		var out []string
		for _, c := range multiportChunks(r.Ports) {
			if len(c) == 1 && c[0].Single() {
				out = append(out, fmt.Sprintf("-p %[1]s -m %[1]s --dport %d", r.Proto, c[0].From))
				continue
			}
			out = append(out, fmt.Sprintf("-p %s -m multiport --dports %s", r.Proto, strings.ReplaceAll(PortList(c), "-", ":")))
		}
		return out
	case r.ICMPType != nil:
		return []string{fmt.Sprintf("%s %d", t.icmp, *r.ICMPType)}
	case r.Proto == policies.ICMPv6:
		return []string{"-p ipv6-icmp"}
	case r.Proto == policies.ICMPv4:
		return []string{"-p icmp"}
	case r.Proto == policies.AH && t.fam == 6:
		// ip6tables -p skips extension headers such as AH; the ah match
		// finds it.
		return []string{"-m ah"}
	}
	return []string{"-p " + string(r.Proto)}
}

// multiportChunks splits ports into groups of at most 15 slots, a range
// taking two, as the multiport match allows.
func multiportChunks(ports []policies.PortRange) [][]policies.PortRange {
	var out [][]policies.PortRange
	var cur []policies.PortRange
	used := 0
	for _, p := range ports {
		n := 2
		if p.Single() {
			n = 1
		}
		if used+n > multiportSlots {
			out, cur, used = append(out, cur), nil, 0
		}
		cur, used = append(cur, p), used+n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// iptString quotes s for iptables-restore: a double quote would end the
// string and a backslash escapes the next character, so they become ' and
// /; control characters become spaces; the text is cut to the 255 bytes
// the comment match keeps.
func iptString(s string) string {
	s = strings.NewReplacer(`"`, "'", `\`, "/").Replace(oneLine(s))
	return `"` + clipBytes(s, iptCommentMax) + `"`
}
