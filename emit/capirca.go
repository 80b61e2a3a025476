package emit

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

var (
	_ = register(Format{Name: "capirca", Ext: "pol", Bundler: capBundler(capircaPolicy),
		Description: "Capirca policy (pol/<policy>.pol, def/NETWORKS.net, def/SERVICES.svc) for aclgen and the network firewalls it generates for; needs -o DIR"})
	_ = register(Format{Name: "aerleon", Ext: "yaml", Bundler: capBundler(aerleonPolicy),
		Description: "Aerleon YAML policy (pol/<policy>.yaml, def/NETWORKS.net, def/SERVICES.svc) for Aerleon's aclgen; needs -o DIR"})
)

// The export to Capirca and Aerleon (its maintained fork) writes the
// site's rules as a policy of terms for their aclgen, which generates for
// network firewalls (Palo Alto, Fortinet, Juniper, Cisco, ...) in front of
// the servers. Address and port lists are definitions (def/NETWORKS.net,
// def/SERVICES.svc), each written once and named after fwgen's source sets
// and host groups; every term accepts one protocol of one rule of one host
// group, so that no term admits more than the rule: ports of one protocol
// never open for another, and an address family's sources never meet the
// other family's servers.

// capPolicy is the policy of a site in Capirca's terms.
type capPolicy struct {
	Name     string   // file name of the policy, without the extension
	Comment  []string // header comment lines
	Filters  []capFilter
	Networks []capToken // def/NETWORKS.net, sorted by name
	Services []capToken // def/SERVICES.svc, sorted by name
}

// capFilter is one header and its terms: one per address family, because
// Capirca's iptables and Windows generators write one family a filter.
type capFilter struct {
	Family  int
	Hook    string // the chain of the iptables target: INPUT or FORWARD
	Action  string // what the iptables target does with the rest: ACCEPT
	Targets []capTarget
	Terms   []capTerm
}

// capTarget is a header's target: a platform and its options
// ("iptables", "INPUT ACCEPT inet").
type capTarget struct {
	Platform, Options string
}

// capTerm is one term: one protocol of a rule of a host group, from its
// sources (a network token, or any) to its servers (a token, or any).
type capTerm struct {
	from     string // the sources, for the comment
	Name     string
	Comment  []string
	Src, Dst string // network tokens; "" for any address
	Port     string // service token; "" for a protocol without ports
	Proto    string // tcp, udp, icmp, icmpv6
	ICMPType string // Capirca's name of the ICMP type, or ""
}

// fields are the keys and values of a term after its name and comments,
// in the order both languages write them, with icmp as its ICMP types.
func (t capTerm) fields(icmp string) [][2]string {
	var out [][2]string
	for _, kv := range [][2]string{{"source-address", t.Src}, {"destination-address", t.Dst},
		{"destination-port", t.Port}, {"protocol", t.Proto}, {"icmp-type", icmp}, {"action", "accept"}} {
		if kv[1] != "" {
			out = append(out, kv)
		}
	}
	return out
}

// capToken is a named list of a definitions file: prefixes, or ports with
// their protocol ("88/tcp", "49152-65535/tcp").
type capToken struct {
	Name    string
	Comment string
	Values  []string
}

// capICMPTypes are Capirca's names of the ICMP types fwgen's rules use
// (capirca/lib/policy.py, Term.ICMP_TYPE).
var capICMPTypes = map[int]map[int]string{
	4: {0: "echo-reply", 3: "unreachable", 8: "echo-request", 11: "time-exceeded", 12: "parameter-problem"},
	6: {1: "destination-unreachable", 2: "packet-too-big", 3: "time-exceeded", 4: "parameter-problem",
		128: "echo-request", 129: "echo-reply", 133: "router-solicit", 134: "router-advertisement",
		135: "neighbor-solicit", 136: "neighbor-advertisement"},
}

// capBundler adapts a writer of one policy file to a Bundler that writes it
// with the definitions.
func capBundler(write func(*capPolicy) ([]byte, string)) Bundler {
	return BundleFunc(func(rs *policies.Ruleset, opts Options) ([]File, error) {
		p, err := capBuild(rs, opts)
		if err != nil {
			return nil, err
		}
		pol, ext := write(p)
		files := []File{
			{Path: "def/NETWORKS.net", Data: capDefinitions(p, p.Networks, "networks: the source sets and host groups of its terms")},
			{Path: "def/SERVICES.svc", Data: capDefinitions(p, p.Services, "services: the ports of its terms")},
			{Path: "pol/" + p.Name + "." + ext, Data: pol},
		}
		return files, checkPaths(files)
	})
}

// capBuild works out the terms and definitions of a Ruleset.
func capBuild(rs *policies.Ruleset, opts Options) (*capPolicy, error) {
	chain, _, err := linuxOptions(opts)
	if err != nil {
		return nil, err
	}
	dests, err := groupsDests(rs, chain)
	if err != nil {
		return nil, err
	}
	p := &capPolicy{Name: capFileName(rs.Policy)}
	p.Comment = []string{fmt.Sprintf("fwgen: policy %s (%s), %s chain", rs.Policy, rs.Source, chain),
		fmt.Sprintf("Inbound rules of %s; one term a protocol of a rule, each citing the documents behind its ports.", plural(len(rs.Groups), "host group")),
		"Targets are examples: replace them with the platforms of your firewalls."}
	// The terms accept; what they do not is the firewall's own default
	// policy, with its handling of replies, ICMP errors and neighbour
	// discovery, which a platform's target sets. --default-deny is not
	// the export's: the example targets accept the rest.
	hook, action := strings.ToUpper(chain), "ACCEPT"
	b := &capBuilder{tokens: map[string]string{}, byValues: map[string]string{}, services: map[string]string{}, serviceValues: map[string]string{}}
	termNames := map[string]string{}
	for _, fam := range []int{4, 6} {
		af := map[int]string{4: "inet", 6: "inet6"}[fam]
		f := capFilter{Family: fam, Hook: hook, Action: action, Targets: []capTarget{
			{"iptables", fmt.Sprintf("%s %s %s", hook, action, af)},
			{"windows_advfirewall", "in " + af},
		}}
		for i := range rs.Groups {
			g := &rs.Groups[i]
			base, err := capTermBase(g.Name, termNames)
			if err != nil {
				return nil, err
			}
			docs := capServiceDocs(g)
			for n, r := range g.ByScope() {
				if rf := int(ruleFamily(r)); rf != 0 && rf != fam {
					continue
				}
				t, ok, err := b.term(g, r, fam, ruleDests(r, chain, dests[i]))
				if err != nil {
					return nil, fmt.Errorf("host group %q: %w", g.Name, err)
				}
				if !ok {
					continue
				}
				t.Name = fmt.Sprintf("%s-%d", base, n+1)
				if fam == 6 {
					t.Name += "-6"
				}
				t.Comment = capComment(g, r, t.from, docs)
				f.Terms = append(f.Terms, t)
			}
		}
		if len(f.Terms) > 0 { // Capirca refuses a filter without terms
			p.Filters = append(p.Filters, f)
		}
	}
	if len(p.Filters) == 0 {
		return nil, fmt.Errorf("no rules to export: Capirca and Aerleon refuse a policy without terms")
	}
	p.Networks, p.Services = b.list(b.tokens), b.list(b.services)
	return p, nil
}

// capBuilder names the definitions: one token per distinct list.
type capBuilder struct {
	tokens        map[string]string // token name → values joined, for networks
	byValues      map[string]string // values joined → token name
	services      map[string]string // token name → values joined
	serviceValues map[string]string // values joined → token name
	comments      map[string]string // token name → what it is
	// lists holds what term works out for a list of sources or of a
	// group's servers and an IP version, once: a role's members are in
	// the terms of every group of the role.
	lists map[capListKey]*capList
}

// capListKey is a list of prefixes (a source set, or a group's servers:
// its first element and length) and an IP version.
type capListKey struct {
	set   *policies.SourceSet
	first *netip.Prefix
	n     int
	fam   int
}

// capList is a list's prefixes of one IP version, the token's name and
// label, and the token once made.
type capList struct {
	ps          []netip.Prefix
	name, label string
	token       string
}

// listOf returns what term works out for the list all (k names it): its
// prefixes of IP version k.fam, and the name and label of their token,
// made from setName (the label's) and tokenName (the token's).
func (b *capBuilder) listOf(k capListKey, all []netip.Prefix, setName, tokenName string) *capList {
	if l, ok := b.lists[k]; ok {
		return l
	}
	l := &capList{ps: policies.OfFamily(all, k.fam)}
	if len(l.ps) > 0 {
		split := len(l.ps) != len(all)
		l.name, l.label = capTokenName(tokenName, k.fam, split), capSetLabel(setName, k.fam, split, l.ps)
	}
	if b.lists == nil {
		b.lists = map[capListKey]*capList{}
	}
	b.lists[k] = l
	return l
}

// networkOf returns the token of l, made the first time.
func (b *capBuilder) networkOf(l *capList) string {
	if l.token == "" {
		l.token = b.network(l.name, l.label, l.ps)
	}
	return l.token
}

// term makes the term of rule r of group g for address family fam, with
// the group's servers dests; false when the rule has nothing of fam. It
// returns an error for an ICMP type that Capirca has no name for.
func (b *capBuilder) term(g *policies.Group, r policies.ScopeRule, fam int, dests []netip.Prefix) (capTerm, bool, error) {
	t := capTerm{Proto: capProto(r.Proto)}
	var srcs, ds *capList
	if r.Set != nil && !r.AnySource {
		if srcs = b.listOf(capListKey{set: r.Set, fam: fam}, r.Set.Prefixes, r.Set.Name, r.Set.Name); len(srcs.ps) == 0 {
			return t, false, nil
		}
	}
	if len(dests) > 0 {
		k := capListKey{first: &dests[0], n: len(dests), fam: fam}
		if ds = b.listOf(k, dests, "servers of host group "+g.Name, "servers of "+g.Name); len(ds.ps) == 0 {
			return t, false, nil
		}
	}
	// Tokens only once the term is sure: no definition without a term.
	t.from = "any"
	if srcs != nil {
		t.Src, t.from = b.networkOf(srcs), srcs.label
	}
	if ds != nil {
		t.Dst = b.networkOf(ds)
	}
	switch {
	case r.Proto.HasPorts():
		vals := make([]string, len(r.Ports))
		for i, pr := range r.Ports {
			vals[i] = pr.String() + "/" + t.Proto
		}
		t.Port = b.service(strings.Join(r.Services, " "), vals)
	case r.ICMPType != nil:
		name, ok := capICMPTypes[fam][*r.ICMPType]
		if !ok {
			return t, false, fmt.Errorf("%s type %d: Capirca has no name for this ICMP type", r.Proto, *r.ICMPType)
		}
		t.ICMPType = name
	}
	return t, true, nil
}

// network returns the token of a list of prefixes: the one already made
// for the same list, else a new one named name (made unique).
func (b *capBuilder) network(name, what string, ps []netip.Prefix) string {
	vals := make([]string, len(ps))
	for i, p := range ps {
		vals[i] = p.String()
	}
	key := strings.Join(vals, " ")
	if tok, ok := b.byValues[key]; ok {
		return tok
	}
	tok := uniqueToken(name, key, b.tokens)
	b.tokens[tok], b.byValues[key] = key, tok
	if b.comments == nil {
		b.comments = map[string]string{}
	}
	b.comments[tok] = what
	return tok
}

// service returns the token of a list of ports, named after the services
// that need them.
func (b *capBuilder) service(services string, vals []string) string {
	key := strings.Join(vals, " ")
	if tok, ok := b.serviceValues[key]; ok {
		return tok
	}
	tok := uniqueToken(capTokenName(services, 0, false), key, b.services)
	b.services[tok], b.serviceValues[key] = key, tok
	return tok
}

// list returns the tokens, sorted by name.
func (b *capBuilder) list(tokens map[string]string) []capToken {
	out := make([]capToken, 0, len(tokens))
	for name, key := range tokens {
		out = append(out, capToken{Name: name, Comment: b.comments[name], Values: strings.Fields(key)})
	}
	slices.SortFunc(out, func(a, b capToken) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// maxToken bounds a token's length: Palo Alto's object names, among the
// shortest of the platforms, take 63 characters.
const maxToken = 48

// capTokenName makes a token of a name: upper case letters, digits and
// '_', starting with a letter, with _V4 or _V6 when split is set (the
// list is one family's part of a list of both).
func capTokenName(name string, fam int, split bool) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToUpper(name) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
			continue
		}
		under = true
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "N_" + s
	}
	if split {
		s += fmt.Sprintf("_V%d", fam)
	}
	return s
}

// uniqueToken returns name, cut to maxToken, or, when that is taken by
// another list or had to be cut, name cut shorter and 8 hex digits of the
// SHA-256 of the list: the same list gets the same name in any run.
func uniqueToken(name, key string, taken map[string]string) string {
	if _, used := taken[name]; !used && len(name) <= maxToken {
		return name
	}
	sum := sha256.Sum256([]byte(key))
	h := strings.ToUpper(hex.EncodeToString(sum[:4]))
	return strings.TrimRight(name[:min(len(name), maxToken-len(h)-1)], "_") + "_" + h
}

// capTermBase names a host group's terms: its slug in lower case letters,
// digits and '-', cut so that "<base>-<n>-6" stays within the 24
// characters of Capirca's iptables chains; a cut or changed slug gets 6
// hex digits of the SHA-256 of the group's name. It returns an error
// should two groups still meet.
func capTermBase(group string, owners map[string]string) (string, error) {
	slug := strings.ToLower(policies.GroupSlug(group))
	var b strings.Builder
	for _, r := range slug {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	base := strings.Trim(b.String(), "-")
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "hg-" + base
	}
	const maxBase = 24 - len("-999-6")
	if base != slug || len(base) > maxBase {
		sum := sha256.Sum256([]byte(group))
		base = strings.TrimRight(base[:min(len(base), maxBase-7)], "-") + "-" + hex.EncodeToString(sum[:3])
	}
	if other, dup := owners[base]; dup && other != group {
		return "", fmt.Errorf("host groups %q and %q would share the term names %s-*; rename one", other, group, base)
	}
	owners[base] = group
	return base, nil
}

// capSetLabel names the part of a set that a term of one address family
// carries, each of its parts marked when the set has others: "clients
// (IPv4) (10.1.0.0/16)", "admins (IPv4) + members of role dc (IPv4) (1,001
// prefixes)".
func capSetLabel(name string, fam int, split bool, ps []netip.Prefix) string {
	if split {
		// Each part is of that version: "admins (IPv4) + clients (IPv4)".
		parts := strings.Split(name, " + ")
		for i := range parts {
			parts[i] += fmt.Sprintf(" (IPv%d)", fam)
		}
		name = strings.Join(parts, " + ")
	}
	return policies.NewSourceSet(name, ps).Label()
}

// capProto is Capirca's name of a protocol.
func capProto(p policies.Proto) string {
	switch p {
	case "icmpv4":
		return "icmp"
	}
	return string(p)
}

// capComment says what a term is for: the group, roles and services, each
// service with the documents that give its ports.
func capComment(g *policies.Group, r policies.ScopeRule, from string, docs map[string]string) []string {
	c := []string{fmt.Sprintf("host group %s: %s from %s", g.Name, ruleTraffic(r), from), "roles " + strings.Join(r.Roles, ", ")}
	for _, s := range r.Services {
		c = append(c, s+": "+docs[s])
	}
	return c
}

// capServiceDocs names each service of a group and the documents behind
// its ports: "Kerberos Key Distribution Center (KB 832017)".
func capServiceDocs(g *policies.Group) map[string]string {
	out := map[string]string{}
	for _, line := range linuxServices(g) {
		id, rest, _ := strings.Cut(line, ": ")
		out[id] = rest
	}
	return out
}

// capFileName is the policy's file name: its name in letters, digits, '-'
// and '_', at most 64 characters ("site" when nothing is left).
func capFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name = strings.Trim(multiUnderscore.ReplaceAllString(b.String(), "_"), "_-")
	if len(name) > 64 {
		name = strings.TrimRight(name[:64], "_-")
	}
	return cmp.Or(name, "site")
}

var multiUnderscore = regexp.MustCompile(`_{2,}`)

// capQuote makes s a Capirca string, inside double quotes: one line of
// printable ASCII without '"', which no Capirca string can hold.
// A backslash is Capirca's escape of '"' only, so it stays, but never at the
// end, where it would escape the closing quote.
func capQuote(s string) string {
	s = strings.ReplaceAll(cutComment(capCommentLine(s)), `"`, "'")
	if strings.HasSuffix(s, `\`) {
		s += " "
	}
	return `"` + s + `"`
}

// maxComment bounds a comment line of a term: the generators copy each
// into a rule, and nftables takes 128 characters a comment.
const maxComment = 120

// cutComment cuts s to maxComment characters, marking the cut with "...".
func cutComment(s string) string {
	r := []rune(s)
	if len(r) <= maxComment {
		return s
	}
	return string(r[:maxComment-3]) + "..."
}

// capDefinitions writes a definitions file: a header comment, then each
// token, its first value on its line and the others below.
func capDefinitions(p *capPolicy, toks []capToken, what string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s; %s\n", capCommentLine(p.Comment[0]), what)
	for _, t := range toks {
		b.WriteByte('\n')
		if t.Comment != "" {
			fmt.Fprintf(&b, "# %s\n", capCommentLine(t.Comment))
		}
		pad := strings.Repeat(" ", len(t.Name)+3)
		for i, v := range t.Values {
			if i == 0 {
				fmt.Fprintf(&b, "%s = %s\n", t.Name, v)
			} else {
				fmt.Fprintf(&b, "%s%s\n", pad, v)
			}
		}
	}
	return b.Bytes()
}

// capCommentLine makes s one line of printable ASCII for a comment. A '%'
// becomes "(percent)": the windows_advfirewall generators copy comments
// into a batch file, where cmd expands %...% even in a comment line.
func capCommentLine(s string) string {
	return strings.ReplaceAll(asciiOnly(oneLine(s)), "%", "(percent)")
}

// capircaPolicy writes the policy in Capirca's .pol language.
func capircaPolicy(p *capPolicy) ([]byte, string) {
	var b bytes.Buffer
	for i, f := range p.Filters {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("header {\n")
		for _, c := range p.Comment {
			fmt.Fprintf(&b, "  comment:: %s\n", capQuote(c))
		}
		fmt.Fprintf(&b, "  comment:: %s\n", capQuote(fmt.Sprintf("IPv%d", f.Family)))
		for _, t := range f.Targets {
			fmt.Fprintf(&b, "  target:: %s %s\n", t.Platform, t.Options)
		}
		b.WriteString("}\n")
		for _, t := range f.Terms {
			fmt.Fprintf(&b, "\nterm %s {\n", t.Name)
			for _, c := range t.Comment {
				fmt.Fprintf(&b, "  comment:: %s\n", capQuote(c))
			}
			for _, kv := range t.fields(t.ICMPType) {
				fmt.Fprintf(&b, "  %s:: %s\n", kv[0], kv[1])
			}
			b.WriteString("}\n")
		}
	}
	return b.Bytes(), "pol"
}

// aerleonPolicy writes the policy in Aerleon's YAML language. Every string
// is a JSON string, which YAML reads as a double-quoted scalar.
func aerleonPolicy(p *capPolicy) ([]byte, string) {
	var b bytes.Buffer
	q := func(s string) string {
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(oneLine(s))
		return strings.TrimSuffix(out.String(), "\n")
	}
	b.WriteString("filters:\n")
	for _, f := range p.Filters {
		for _, c := range p.Comment[1:] {
			fmt.Fprintf(&b, "  # %s\n", capCommentLine(c))
		}
		b.WriteString("  - header:\n      comment: " + q(cutComment(capCommentLine(fmt.Sprintf("%s, IPv%d", p.Comment[0], f.Family)))) + "\n")
		b.WriteString("      targets:\n")
		for _, t := range f.Targets {
			fmt.Fprintf(&b, "        %s: %s\n", t.Platform, q(t.Options))
		}
		// Capirca 2.0.6's nftables generator drops the destination ports
		// of a term; Aerleon's writes them, so only Aerleon gets the target.
		// Its rest is dropped unless the header says ACCEPT.
		nft := fmt.Sprintf("inet%s %s", map[int]string{4: "", 6: "6"}[f.Family], strings.ToLower(f.Hook))
		if f.Action == "ACCEPT" {
			nft += " ACCEPT"
		}
		fmt.Fprintf(&b, "        nftables: %s\n", q(nft))
		b.WriteString("    terms:\n")
		for _, t := range f.Terms {
			// The generators copy the comment into rules whose comments
			// are short (nftables: 128 characters): the first line goes
			// there, the rest stays in the policy, as YAML comments.
			for _, c := range t.Comment[1:] {
				fmt.Fprintf(&b, "      # %s\n", capCommentLine(c))
			}
			fmt.Fprintf(&b, "      - name: %s\n", t.Name)
			fmt.Fprintf(&b, "        comment: %s\n", q(cutComment(capCommentLine(t.Comment[0]))))
			// Aerleon 1.18's nftables generator fails on a term of one
			// ICMP type; the type twice matches the same packets.
			icmp := strings.TrimSpace(t.ICMPType + " " + t.ICMPType)
			for _, kv := range t.fields(icmp) {
				fmt.Fprintf(&b, "        %s: %s\n", kv[0], kv[1])
			}
		}
	}
	return b.Bytes(), "yaml"
}

// plural is "1 host group" or "n host groups".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
