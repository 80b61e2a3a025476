package emit

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

// portKind says how a Windows Firewall rule names its local ports.
type portKind int

// Possible portKind values.
const (
	portNumbers portKind = iota // numbers and ranges
	portEPMap                   // the RPC endpoint mapper keyword
	portRPC                     // the keyword for ports the endpoint mapper assigned
)

// winRule is one inbound allow rule as both Windows formats print it. Its
// strings are raw: each format passes them through its own quoting helper.
type winRule struct {
	Name        string // unique in the script; checkRuleName holds
	DisplayName string
	Description string
	Comment     string // one line of provenance above the rule
	Proto       policies.Proto
	Kind        portKind
	Ports       []policies.PortRange // for portNumbers on TCP and UDP
	ICMPType    *int
	Sources     []netip.Prefix // empty means any address
	Locals      []netip.Prefix // the host group's servers when the script has several groups; empty means any
	Profiles    []string       // Domain, Private, Public; empty means any
	// Program and Service bind the rule to the listening program and
	// Windows service short name; empty binds nothing.
	Program, Service string
}

// winScript is what a Windows script installs: the rule group, the start
// of its rule names, the lines of its header and its rules.
type winScript struct {
	Group  string
	Prefix string // every rule name starts with it; checkRulePrefix holds
	Header []string
	Rules  []winRule
	// Skipped are the rules left out because they cannot reach the
	// servers (ICMPv6 for servers with IPv4 addresses only).
	Skipped []string
	// Unbound are the rules that stay port-only although binding is on:
	// fwgen knows no program for them, or keeps them so on purpose.
	Unbound []string
}

// gpoText keeps '|' out of a rule's text: a GPO stores each rule as one
// string of fields that '|' separates, so a '|' in a group, name or
// description would start another field there. It becomes '/'.
func gpoText(s string) string { return strings.ReplaceAll(s, "|", "/") }

// bindingWord names a rule's binding in its name: the service short name,
// else the program's file name without .exe ("rpcss", "lsass", "system");
// "" when unbound.
func bindingWord(program, service string) string {
	if service != "" {
		return service
	}
	base := program[strings.LastIndexAny(program, `\/`)+1:]
	return strings.TrimSuffix(strings.ToLower(base), ".exe")
}

// unboundText names a rule that binds no program, and why.
func unboundText(group string, r policies.ServiceRule, p winPart) string {
	why := "fwgen's catalog (catalog/data/bindings.yaml) names no program for it"
	if len(r.BindNotes) > 0 {
		why = strings.Join(r.BindNotes, " ")
	}
	return fmt.Sprintf("host group %s, %s / %s %s %s: %s", group, r.Role, r.ServiceName, r.Proto, winPortText(p.kind, p.ports, nil), why)
}

// Unsupported lists the Windows versions of rs's servers (Group.Hosts) that cannot run
// f's output, because they are older than f.MinBuild: each once, oldest
// first.
func Unsupported(f Format, rs *policies.Ruleset) []policies.OSVersion {
	var out []policies.OSVersion
	for _, g := range rs.Groups {
		for _, v := range g.Hosts() {
			if f.MinBuild > 0 && v.Build < f.MinBuild &&
				!slices.ContainsFunc(out, func(o policies.OSVersion) bool { return o.ID == v.ID }) {
				out = append(out, v)
			}
		}
	}
	slices.SortFunc(out, func(a, b policies.OSVersion) int {
		return cmp.Or(cmp.Compare(a.Build, b.Build), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// with returns f with its emitter set. An emitter that reads its own
// Format cannot sit in the Format it reads (an initialization cycle), so
// the Windows formats register a copy.
func (f Format) with(e Emitter) Format {
	f.Emitter = e
	return f
}

// windowsScript lays out the Ruleset as Windows Firewall rules: one per
// rule of the by-service view, or up to three with opts.RPCKeywords (the
// other ports, the endpoint mapper, the RPC dynamic ports).
func windowsScript(f Format, rs *policies.Ruleset, opts Options) (*winScript, error) {
	s := &winScript{Group: gpoText(oneLine(GroupName(rs, opts)))}
	// Windows reads a group that starts with @ as a resource reference
	// ("@FirewallAPI.dll,-28502"), not as a name.
	if strings.HasPrefix(strings.TrimSpace(s.Group), "@") || strings.TrimSpace(s.Group) == "" {
		return nil, fmt.Errorf("rule group %q: want a name that does not start with @", s.Group)
	}
	names := newWinNamer(s.Group)
	s.Prefix = names.prefix
	if err := checkRulePrefix(s.Prefix); err != nil {
		return nil, err
	}
	unbound := map[string]bool{} // s.Unbound, each once
	for i := range rs.Groups {
		g := &rs.Groups[i]
		profiles, err := winProfiles(g.Profiles)
		if err != nil {
			return nil, fmt.Errorf("host group %q: %w", g.Name, err)
		}
		hostGroup, locals, err := winLocals(g, len(rs.Groups))
		if err != nil {
			return nil, err
		}
		rules := g.ByService()
		if opts.NoBind {
			rules = g.PortOnly()
		}
		scopes := map[string]int{}
		for _, r := range rules {
			scopes[winScopeKey(r)]++
		}
		for _, r := range rules {
			if !r.AnySource && !r.Meets(g.Addresses) {
				s.Skipped = append(s.Skipped, fmt.Sprintf("host group %s, %s / %s %s %s: the servers have no address of the rule's IP version",
					g.Name, r.Role, r.ServiceName, r.Proto, winPortText(portNumbers, r.Ports, r.ICMPType)))
				continue
			}
			several := scopes[winScopeKey(r)] > 1
			for _, p := range winSplitRPC(g, r, opts.RPCKeywords) {
				w := winRule{Proto: r.Proto, Kind: p.kind, Ports: p.ports, ICMPType: r.ICMPType,
					Sources: r.Sources, Locals: locals, Profiles: profiles, Program: r.Program, Service: r.WinService}
				if !opts.NoBind && r.Program == "" && r.Proto.HasPorts() {
					if u := unboundText(g.Name, r, p); !unbound[u] {
						unbound[u] = true
						s.Unbound = append(s.Unbound, u)
					}
				}
				if r.AnySource {
					// DHCP clients broadcast: the rule cannot name the
					// servers' own addresses.
					w.Locals = nil
				}
				w.Name, err = names.name(hostGroup, r, p.kind)
				if err != nil {
					return nil, err
				}
				w.DisplayName = gpoText(winDisplayName(hostGroup, r, several, p.kind))
				w.Description = gpoText(winDescription(g.Name, r, p))
				w.Comment = fmt.Sprintf("%s / %s: %s %s", r.Role, r.ServiceName, r.Proto, winPortText(p.kind, p.ports, r.ICMPType))
				if w.Program != "" {
					w.Comment += ", bound to " + w.Program
					if w.Service != "" {
						w.Comment += " (service " + w.Service + ")"
					}
				}
				s.Rules = append(s.Rules, w)
			}
		}
	}
	// netsh has no rule groups: its scripts find their rules by name.
	owner := "Rule group: " + s.Group
	if f.Name == netshFormat.Name {
		owner = "Rule names start with " + names.prefix + " (from the rule group " + s.Group + ")."
	}
	s.Header = winHeader(f, rs, opts, owner)
	for _, sk := range s.Skipped {
		s.Header = append(s.Header, "Left out: "+sk)
	}
	if len(s.Unbound) > 0 {
		s.Header = append(s.Header, "", "Port-only rules (they admit their ports whatever program listens):")
		for _, u := range s.Unbound {
			s.Header = append(s.Header, "  "+u)
		}
		s.Header = append(s.Header, "  A port-only rule for the RPC dynamic range admits every RPC server of the host there. A site whose servers",
			"  do without such a service can leave it out of the role (a policy's roles: with override: true).")
	}
	return s, nil
}

// winScopeKey is what a service's rules share when they differ only in
// their peers or scenario: the DisplayName then says which peers.
func winScopeKey(r policies.ServiceRule) string {
	return strings.Join([]string{r.Role, r.Service, string(r.Proto), winICMP(r.ICMPType)}, "|")
}

// winLocals returns what tells a group's rules from the other groups' in
// a script for several: its name, for the rules' names, and its servers'
// addresses, which each rule's local addresses must be, or the group's
// ports would open on every server that runs the script. A script for one
// group needs no name, and its rules' local addresses are the group's
// servers when it names them: a GPO that reaches more servers than the
// group's opens nothing on the others.
func winLocals(g *policies.Group, groups int) (hostGroup string, locals []netip.Prefix, err error) {
	switch {
	case groups == 1:
		return "", g.Addresses, nil
	case len(g.Addresses) == 0:
		return "", nil, fmt.Errorf("host group %q: with %d host groups in one script, each needs its servers' addresses (hosts[].addresses), or one group's ports would open on the others", g.Name, groups)
	}
	return g.Name, g.Addresses, nil
}

// winPart is one Windows rule's share of a by-service rule's ports.
type winPart struct {
	kind  portKind
	ports []policies.PortRange // the numbers, or what the keyword stands for
}

// winSplitRPC gives the rule's ports as one part, or with keywords as the
// other ports, the endpoint mapper and the dynamic ports, each when the rule
// has them (see policies.Group.RPCPorts).
func winSplitRPC(g *policies.Group, r policies.ServiceRule, keywords bool) []winPart {
	if !keywords {
		return []winPart{{portNumbers, r.Ports}}
	}
	sp := g.RPCPorts(r)
	if !sp.EPMap && len(sp.Dynamic) == 0 {
		return []winPart{{portNumbers, r.Ports}}
	}
	var parts []winPart
	if len(sp.Other) > 0 {
		parts = append(parts, winPart{portNumbers, sp.Other})
	}
	if sp.EPMap {
		parts = append(parts, winPart{portEPMap, []policies.PortRange{{From: 135, To: 135}}})
	}
	if len(sp.Dynamic) > 0 {
		parts = append(parts, winPart{portRPC, sp.Dynamic})
	}
	return parts
}

// winNamer hands out unique rule names: the group's prefix (see
// rulePrefix), then the host group (when the Ruleset has several), role,
// service, protocol, ICMP type, scope number and RPC keyword, each reduced
// to a slug.
type winNamer struct {
	prefix string
	seen   map[string]bool
}

func newWinNamer(group string) *winNamer {
	return &winNamer{prefix: rulePrefix(group), seen: map[string]bool{}}
}

// maxGroupSlug bounds the group's share of a rule name.
const maxGroupSlug = 48

// rulePrefix is the start of the rule names of a rule group: "fwgen-", the
// group's slug, the first 8 hex digits of the SHA-256 of the group's exact
// name, and "--" ("fwgen-dc-1a2b3c4d--" for the group "fwgen: dc"). A
// netsh script finds its rules by this prefix, so no group's prefix may
// start another group's names: slug never writes two dashes in a row, so
// the double dash ends the prefix where "fwgen-dc-" would also start
// "fwgen-dc-east-...", and the hash tells apart groups whose slugs meet
// ("fwgen: hq/east-dcs" and "fwgen: hq-east/dcs", "Contoso HQ" and
// "contoso-hq"). A slug too long for a name is cut.
func rulePrefix(group string) string {
	sum := sha256.Sum256([]byte(group))
	s := slug(group, len(group))
	if s == "fwgen" {
		s = ""
	}
	s = strings.TrimPrefix(s, "fwgen-")
	if len(s) > maxGroupSlug-9 {
		s = strings.TrimRight(s[:maxGroupSlug-9], "-")
	}
	parts := []string{"fwgen", s, hex.EncodeToString(sum[:4])}
	return strings.Join(slices.DeleteFunc(parts, func(p string) bool { return p == "" }), "-") + "--"
}

func (n *winNamer) name(hostGroup string, r policies.ServiceRule, kind portKind) (string, error) {
	parts := []string{slug(hostGroup, 32), slug(r.Role, 32), slug(r.Service, 40), string(r.Proto)}
	if r.ICMPType != nil {
		parts = append(parts, "t"+strconv.Itoa(*r.ICMPType))
	}
	for _, sc := range r.Scenarios {
		parts = append(parts, slug(sc, 32))
	}
	parts = append(parts, slug(peerWords(r.Peers, "-"), 64))
	parts = append(parts, slug(bindingWord(r.Program, r.WinService), 40))
	parts = append(parts, map[portKind]string{portEPMap: "epmap", portRPC: "rpc"}[kind])
	name := n.prefix + strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), "-")
	// Slugs of different ids can meet ("a.b" and "a-b"): number the later ones.
	for i, base := 2, name; n.seen[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	n.seen[name] = true
	return name, checkRuleName(name)
}

// peerWords names a rule's peers: "admins, clients" or, for the servers
// of a role, "role rd-connection-broker".
func peerWords(peers []policies.Peer, sep string) string {
	words := make([]string, len(peers))
	for i, p := range peers {
		words[i] = string(p)
		if id, ok := p.Role(); ok {
			words[i] = "role " + id
		}
	}
	return strings.Join(words, sep)
}

// displayName reads like Windows' own rules: "dc - DNS Server (UDP-In)",
// and says which peers when the service has several rules of a protocol.
func winDisplayName(hostGroup string, r policies.ServiceRule, several bool, kind portKind) string {
	var extra []string
	if r.ICMPType != nil {
		extra = append(extra, "type "+strconv.Itoa(*r.ICMPType))
	}
	switch kind {
	case portEPMap:
		extra = append(extra, "RPC-EPMap")
	case portRPC:
		extra = append(extra, "RPC")
	}
	if w := bindingWord(r.Program, r.WinService); w != "" {
		extra = append(extra, w)
	}
	if several {
		extra = append(extra, "from "+peerWords(r.Peers, ", "))
	}
	if len(r.Scenarios) > 0 {
		extra = append(extra, "scenario "+strings.Join(r.Scenarios, ", "))
	}
	s := fmt.Sprintf("%s - %s (%s)", r.Role, r.ServiceName, strings.Join(append([]string{winProto(r.Proto) + "-In"}, extra...), ", "))
	if hostGroup != "" {
		s = hostGroup + ": " + s
	}
	return s
}

// description is the rule's provenance, kept in the firewall with it.
func winDescription(hostGroup string, r policies.ServiceRule, p winPart) string {
	svc := r.ServiceName
	if r.SystemService != "" {
		svc += " (" + r.SystemService + ")"
	}
	peers := make([]string, len(r.Peers))
	for i, peer := range r.Peers {
		peers[i] = string(peer)
	}
	s := fmt.Sprintf("fwgen: %s, role %s, host group %s", svc, r.Role, hostGroup)
	if len(r.Labels) > 0 {
		s += ": " + strings.Join(r.Labels, ", ")
	}
	s += ". Peers: " + strings.Join(peers, ", ") + "."
	switch p.kind {
	case portEPMap:
		s += " Local port: the RPC endpoint mapper (135/tcp)."
	case portRPC:
		s += " Local ports: those the RPC endpoint mapper assigns (the dynamic range is " + PortList(p.ports) + ")."
	}
	if len(r.OSReasons) > 0 {
		s += " OS: " + strings.Join(r.OSReasons, "; ") + "."
	}
	if len(r.Scenarios) > 0 {
		s += " Scenario " + strings.Join(r.Scenarios, ", ") + ", included on request."
	}
	refs := make([]string, len(r.Refs))
	for i, ref := range r.Refs {
		refs[i] = ref.String()
	}
	if len(refs) > 0 {
		s += " See " + strings.Join(refs, "; ") + "."
	}
	return s
}

// winPortText describes a rule's ports for a comment.
func winPortText(kind portKind, ports []policies.PortRange, icmpType *int) string {
	switch {
	case kind == portEPMap:
		return "RPCEPMap (135, and 593 for RPC over HTTP)"
	case kind == portRPC:
		return "RPC (" + PortList(ports) + ")"
	case icmpType != nil:
		return "type " + strconv.Itoa(*icmpType)
	case len(ports) == 0:
		return "(no ports)"
	}
	return shortList(winPorts(ports), maxCommentList)
}

// maxCommentList bounds a list in a comment, which only names the rule:
// the rule itself has the whole list.
const maxCommentList = 80

// shortList joins items with commas, or as many as fit in n characters
// and how many there are in all.
func shortList(items []string, n int) string {
	s := strings.Join(items, ",")
	if len(s) <= n {
		return s
	}
	s = s[:strings.LastIndexByte(s[:n+1], ',')]
	return fmt.Sprintf("%s,... (%d in all)", s, len(items))
}

// winProto spells a protocol as Windows Firewall's rule names do.
func winProto(p policies.Proto) string {
	switch p {
	case policies.ICMPv4:
		return "ICMPv4"
	case policies.ICMPv6:
		return "ICMPv6"
	}
	return strings.ToUpper(string(p))
}

func winICMP(t *int) string {
	if t == nil {
		return ""
	}
	return strconv.Itoa(*t)
}

// winProfiles checks a group's Windows Firewall profiles and spells them
// as PowerShell does; none, or "any", means any profile.
func winProfiles(in []string) ([]string, error) {
	var out []string
	for _, p := range in {
		name, ok := map[string]string{"domain": "Domain", "private": "Private", "public": "Public", "any": ""}[strings.ToLower(p)]
		if !ok {
			return nil, fmt.Errorf("profile %q: want domain, private, public or any", p)
		}
		if name == "" {
			return nil, nil
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		order := []string{"Domain", "Private", "Public"}
		return slices.Index(order, a) - slices.Index(order, b)
	})
	return out, nil
}

// winHeader is the text above a Windows script's commands: where it comes
// from, which Windows it needs, the host groups with their OS mixes and
// RPC ranges, what was left out and why, and the documents cited.
func winHeader(f Format, rs *policies.Ruleset, opts Options, owner string) []string {
	h := []string{
		fmt.Sprintf("Generated by fwgen (--emit %s) from %s, policy %s. DO NOT EDIT: change the input and run fwgen again.", f.Name, rs.Source, rs.Policy),
		fmt.Sprintf("Runs on %s and later. %s", f.MinOS, owner),
	}
	if old := Unsupported(f, rs); len(old) > 0 {
		instead := "fwgen has no script format for them; configure them by hand"
		if f.Instead != "" {
			instead = "use --emit " + f.Instead + " for those hosts"
		}
		h = append(h, fmt.Sprintf("WARNING: %s cannot run this script; %s.", osNameList(old), instead))
	}
	if opts.RPCKeywords {
		h = append(h, "RPC: 135/tcp and the RPC dynamic range use Windows Firewall's RPCEPMap and RPC keywords (--rpc-keywords);",
			"  the keywords are TCP's, so UDP ports in the range stay numbers. RPCEPMap also opens 593/tcp, RPC over HTTP's",
			"  endpoint mapper, which RpcSs serves too (KB 832017, RPC; observed by windows-builtin-rules' authors).")
	}
	if opts.NoBind {
		h = append(h, "Binding: none (--bind none): each rule admits its ports whatever program listens.")
	} else {
		h = append(h, "Binding: each rule is bound to the program (and service) that listens, as Windows' predefined rules are,",
			"  so it admits only traffic to that program; --bind none writes port-only rules.")
	}
	for _, g := range rs.Groups {
		h = append(h, winGroupHeader(&g)...)
	}
	return append(h, referenceLines(rs, !opts.NoBind)...)
}

func winGroupHeader(g *policies.Group) []string {
	profiles := "any"
	if len(g.Profiles) > 0 {
		profiles = strings.Join(g.Profiles, ", ")
	}
	h := []string{"",
		fmt.Sprintf("Host group %s: roles %s; OS mix %s; profiles %s.", g.Name, strings.Join(g.Roles, ", "), osNameList(g.OS), profiles),
		fmt.Sprintf("  RPC dynamic range %s: %s.", PortList(g.RPC.Ranges), g.RPC.Reason)}
	for _, s := range g.RPC.Static {
		h = append(h, fmt.Sprintf("  Static RPC port: %s on %d.", s.Interface, s.Port))
	}
	for _, n := range g.Notes {
		h = append(h, "  Note: "+n)
	}
	for _, o := range g.Omitted {
		h = append(h, "  Left out: "+g.OmissionText(o))
	}
	for _, l := range scenarioLines(g) {
		h = append(h, "  "+l)
	}
	return h
}

// scenarioLines say which scenarios of a group's roles are on and which
// were left out, each once, with what it opens.
func scenarioLines(g *policies.Group) []string {
	var on, off []string
	for _, s := range g.Scenarios {
		ports := strings.Join(s.Ports, ", ")
		if ports == "" {
			ports = "nothing on these servers' versions"
		}
		item := fmt.Sprintf("%s (%s: %s)", s.ID, s.Name, ports)
		if s.On {
			on = append(on, item)
		} else {
			off = append(off, item)
		}
	}
	var out []string
	if len(on) > 0 {
		out = append(out, "Scenarios on: "+strings.Join(on, "; ")+".")
	}
	if len(off) > 0 {
		out = append(out, "Scenarios left out (turn one on with --scenario ID, or hosts[].scenarios): "+strings.Join(off, "; ")+".")
	}
	return out
}

// referenceLines lists every document the rules cite, once, for a header.
func referenceLines(rs *policies.Ruleset, bind bool) []string {
	seen := map[string]bool{}
	var h []string
	for _, g := range rs.Groups {
		for _, n := range g.Needs {
			refs := n.Refs
			if bind {
				refs = slices.Concat(n.Refs, n.BindRefs)
			}
			for _, ref := range refs {
				if seen[ref.Doc] {
					continue
				}
				seen[ref.Doc] = true
				h = append(h, strings.TrimRight(fmt.Sprintf("  %s: %s %s", policies.Ref{Doc: ref.Doc}, ref.Title, ref.URL), " "))
			}
		}
	}
	slices.Sort(h)
	if len(h) == 0 {
		return nil
	}
	return append([]string{"", "References:"}, h...)
}

// osNameList names OS versions, comma-separated.
func osNameList(vs []policies.OSVersion) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.Name
	}
	return strings.Join(s, ", ")
}

// winPorts spells port ranges as "445" and "49152-65535".
func winPorts(rs []policies.PortRange) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return s
}

// addressCache keeps winAddresses' answers for the lists of one script:
// its rules share a few lists (a role's members, a network), each written
// again in every rule. It knows a list by its first element's address and
// its length, so the lists must not change while it is in use.
type addressCache map[addressKey][]string

type addressKey struct {
	first *netip.Prefix
	n     int
}

// get returns winAddresses(ps), worked out once per list.
func (c addressCache) get(ps []netip.Prefix) []string {
	if len(ps) == 0 {
		return nil
	}
	k := addressKey{&ps[0], len(ps)}
	if s, ok := c[k]; ok {
		return s
	}
	s := winAddresses(ps)
	c[k] = s
	return s
}

// winAddresses spells prefixes as Windows Firewall shows them: a single
// address without its /32 or /128, a network in CIDR form.
func winAddresses(ps []netip.Prefix) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
		if p.IsSingleIP() {
			s[i] = p.Addr().String()
		}
	}
	return s
}
