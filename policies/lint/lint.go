// Package lint flags what is risky in a site policy and its rules: RPC or
// SMB open to any address, host groups reachable from the internet, peers
// left unscoped, legacy and clear-text services, RPC settings the KBs warn
// about. Each finding names its rule, its place in the policy file and the
// document behind it.
package lint

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// Severity orders findings; --fail-on picks the lowest that fails a run.
type Severity int

// Possible Severity values.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string { return [...]string{"info", "warning", "error"}[s] }

// ParseSeverity reads "info", "warning" or "error".
func ParseSeverity(s string) (Severity, error) {
	for sv := Info; sv <= Error; sv++ {
		if sv.String() == s {
			return sv, nil
		}
	}
	return 0, fmt.Errorf("severity %q: want info, warning or error", s)
}

// Rule is a check of the linter.
type Rule struct {
	ID       string // FWG001
	Name     string // rpc-open-to-any
	Severity Severity
	Summary  string
	// Doc is the document behind the rule, a catalog document id.
	Doc catalog.Citation
}

// Rules lists every rule, by id.
var Rules = []Rule{
	{"FWG001", "rpc-open-to-any", Error, "The RPC dynamic range is open to any address.",
		catalog.Citation{Doc: "kb154596"}},
	{"FWG002", "smb-open-to-any", Error, "SMB (445/tcp) is open to any address.",
		catalog.Citation{Doc: "kb832017", Section: "Server"}},
	{"FWG003", "reachable-from-anywhere", Warning, "A host group is reachable from 0.0.0.0/0 or ::/0.",
		catalog.Citation{Doc: "kb832017"}},
	{"FWG004", "peer-unscoped", Warning, "A peer of a host group may connect from any address: the policy names no networks for it.",
		catalog.Citation{Doc: "kb832017"}},
	{"FWG005", "legacy-service", Warning, "A legacy or clear-text service is open (Telnet, FTP, WINS, NetBIOS, SMB over NetBIOS, SMTP).",
		catalog.Citation{Doc: "kb832017"}},
	{"FWG006", "dc-domain-profile-only", Warning, "Domain controllers get rules for the domain profile only; at boot, network location detection can put a DC in another profile.",
		catalog.Citation{Doc: "ms-nla-domain-profile"}},
	{"FWG007", "overlapping-groups", Warning, "Host groups with different roles share addresses.",
		catalog.Citation{Doc: "kb832017"}},
	{"FWG008", "rpc-range-small", Warning, "The restricted RPC range is small or starts below 5000.",
		catalog.Citation{Doc: "kb154596"}},
	{"FWG009", "rpc-range-to-clients", Info, "The RPC dynamic range is open to the clients of domain controllers; a firewall that filters RPC by interface UUID admits less.",
		catalog.Citation{Doc: "kb154596"}},
}

// RuleByID returns the rule with that id.
func RuleByID(id string) Rule {
	i := slices.IndexFunc(Rules, func(r Rule) bool { return r.ID == id })
	return Rules[i]
}

// Finding is one problem of a policy, at a place of its file.
type Finding struct {
	Rule     string   `json:"rule"`
	Name     string   `json:"name"`
	Severity Severity `json:"-"`
	Level    string   `json:"severity"`
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Col      int      `json:"column,omitempty"`
	Path     string   `json:"path,omitempty"` // hosts[1].peers.clients
	Group    string   `json:"group,omitempty"`
	Message  string   `json:"message"`
	Ref      string   `json:"reference"`
	URL      string   `json:"url,omitempty"`
}

// String is "site.yaml:12:9: warning FWG004 peer-unscoped: hosts[1]: message (reference)".
func (f Finding) String() string {
	pos := f.File
	if f.Line > 0 {
		pos += fmt.Sprintf(":%d:%d", f.Line, f.Col)
	}
	where := ""
	if f.Path != "" {
		where = f.Path + ": "
	}
	return fmt.Sprintf("%s: %s %s %s: %s%s (%s)", pos, f.Level, f.Rule, f.Name, where, f.Message, f.Ref)
}

// checker collects the findings of one policy.
type checker struct {
	p        *policies.Policy
	rs       *policies.Ruleset
	c        *catalog.Catalog
	findings []Finding
}

// Check lints a site policy p and its resolved rules rs, reading the
// documents from catalog c. The findings are sorted by position and rule.
func Check(p *policies.Policy, rs *policies.Ruleset, c *catalog.Catalog) []Finding {
	k := &checker{p: p, rs: rs, c: c}
	hosts := map[string]int{}
	for i, h := range p.Hosts {
		hosts[h.Name] = i
	}
	for gi := range rs.Groups {
		g := &rs.Groups[gi]
		if g.SharedWith != "" {
			continue
		}
		path := fmt.Sprintf("hosts[%d]", hosts[g.Name])
		h := &p.Hosts[hosts[g.Name]]
		k.openPorts(g, h, path)
		k.unscoped(g, h, path)
		k.legacy(g, path)
		k.domainProfile(g, h, path)
		k.rpcToClients(g, h, path)
	}
	k.worldNetworks()
	k.overlaps()
	k.rpcRange()
	slices.SortFunc(k.findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col), cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message))
	})
	return slices.CompactFunc(k.findings, func(a, b Finding) bool { return a == b })
}

// add records a finding of rule id at path.
func (k *checker) add(id, path, group, format string, args ...any) {
	r := RuleByID(id)
	line, col := k.p.Pos(path)
	ref := policies.Ref{Doc: r.Doc.Doc, Section: r.Doc.Section}
	url := ""
	if d := k.c.Document(r.Doc.Doc); d != nil {
		ref.Title, url = d.Title, d.URL
	}
	k.findings = append(k.findings, Finding{Rule: r.ID, Name: r.Name, Severity: r.Severity, Level: r.Severity.String(),
		File: k.p.Source, Line: line, Col: col, Path: path, Group: group, Message: fmt.Sprintf(format, args...),
		Ref: ref.String(), URL: url})
}

// anyAddress reports whether sources admit every address of an IP
// version: none given, 0.0.0.0/0 or ::/0, or prefixes that add up to it
// (0.0.0.0/1 and 128.0.0.0/1).
func anyAddress(sources []netip.Prefix) bool {
	return len(sources) == 0 || policies.CoversFamily(sources, 4) || policies.CoversFamily(sources, 6)
}

// worldFamily is the IP version (4 or 6) whose every address the prefixes
// hold, or 0.
func worldFamily(ps []netip.Prefix) int {
	for _, fam := range []int{4, 6} {
		if policies.CoversFamily(ps, fam) {
			return fam
		}
	}
	return 0
}

// openPath is where a group's peer is opened to any address: the
// 0.0.0.0/0 or ::/0 of a network the peer names, or the network whose
// prefixes add up to every address, else where the group names the peer,
// else the group itself.
func (k *checker) openPath(h *policies.Host, path string, peer policies.Peer) string {
	names, ok := h.Peers[peer]
	if !ok && peer == policies.Admins {
		names = h.Peers[policies.Clients] // admins default to the clients' networks
	}
	for _, name := range names {
		for i, p := range k.p.Networks[name] {
			if p.Bits() == 0 {
				return fmt.Sprintf("networks.%s[%d]", name, i)
			}
		}
		if worldFamily(k.p.Networks[name]) != 0 {
			return "networks." + name
		}
	}
	return peerPath(h, path, peer)
}

// peerPath is where a group's peer is named, or the group itself.
func peerPath(h *policies.Host, path string, peer policies.Peer) string {
	if _, ok := h.Peers[peer]; ok {
		key := string(peer)
		if id, isRole := peer.Role(); isRole {
			key = id
		}
		return path + ".peers." + key
	}
	return path
}

// openPorts flags the RPC dynamic range and SMB open to any address, once
// for each peer, with the services that open them.
func (k *checker) openPorts(g *policies.Group, h *policies.Host, path string) {
	type hit struct {
		ports    string
		services []string
	}
	rpc, smb := map[policies.Peer]*hit{}, map[policies.Peer]*hit{}
	var peers []policies.Peer
	for _, n := range g.Needs {
		if !anyAddress(n.Sources) || n.AnySource {
			continue
		}
		var m map[policies.Peer]*hit
		switch {
		case n.RPC == "dynamic" || n.RPC == "restricted":
			m = rpc
		case n.Proto == policies.TCP && n.Ports.Contains(445):
			m = smb
		default:
			continue
		}
		if m[n.Peer] == nil {
			m[n.Peer] = &hit{}
		}
		if !slices.Contains(peers, n.Peer) {
			peers = append(peers, n.Peer)
		}
		if m[n.Peer].ports != "" && !strings.Contains(m[n.Peer].ports, n.Ports.String()) {
			m[n.Peer].ports += ", "
		}
		if !strings.Contains(m[n.Peer].ports, n.Ports.String()) {
			m[n.Peer].ports += n.Ports.String()
		}
		if !slices.Contains(m[n.Peer].services, n.Service) {
			m[n.Peer].services = append(m[n.Peer].services, n.Service)
		}
	}
	slices.Sort(peers)
	// One finding per rule and place: peers opened by the same network
	// (admins default to the clients' networks) share it.
	type finding struct {
		peers, ports, services []string
	}
	var order []string
	found := map[string]*finding{}
	for _, peer := range peers {
		for id, x := range map[string]*hit{"FWG001": rpc[peer], "FWG002": smb[peer]} {
			if x == nil {
				continue
			}
			key := id + " " + k.openPath(h, path, peer)
			f := found[key]
			if f == nil {
				f = &finding{}
				found[key] = f
				order = append(order, key)
			}
			f.peers = append(f.peers, string(peer))
			for _, p := range strings.Split(x.ports, ", ") {
				if !slices.Contains(f.ports, p) {
					f.ports = append(f.ports, p)
				}
			}
			for _, sv := range x.services {
				if !slices.Contains(f.services, sv) {
					f.services = append(f.services, sv)
				}
			}
		}
	}
	slices.Sort(order)
	for _, key := range order {
		id, at, _ := strings.Cut(key, " ")
		f := found[key]
		slices.Sort(f.services)
		who := strings.Join(f.peers, ", ")
		if id == "FWG001" {
			k.add(id, at, g.Name, "host group %s: the RPC range %s/tcp is open to %s from any address (%s)",
				g.Name, strings.Join(f.ports, ", "), who, strings.Join(f.services, ", "))
		} else {
			k.add(id, at, g.Name, "host group %s: SMB 445/tcp is open to %s from any address (%s)",
				g.Name, who, strings.Join(f.services, ", "))
		}
	}
}

// unscoped flags each peer of a group that may connect from any address
// because the policy names nothing for it.
func (k *checker) unscoped(g *policies.Group, h *policies.Host, path string) {
	var peers []policies.Peer
	for _, n := range g.Needs {
		if len(n.Sources) == 0 && !n.AnySource && !slices.Contains(peers, n.Peer) {
			peers = append(peers, n.Peer)
		}
	}
	slices.Sort(peers)
	for _, peer := range peers {
		if _, named := h.Peers[peer]; named {
			continue
		}
		k.add("FWG004", path, g.Name, "host group %s: %s may connect from any address: name their networks under peers.%s",
			g.Name, peer, strings.TrimPrefix(string(peer), "role:"))
	}
}

// legacyServices are the services of the catalog that are legacy or
// clear text, and the ports that are NetBIOS's.
var legacyServices = map[string]string{"telnet": "Telnet", "ftp": "FTP", "wins": "WINS", "smtp": "SMTP",
	"browser": "the Computer Browser (NetBIOS)"}

// legacy flags legacy and clear-text services, and NetBIOS ports that a
// scenario turned on (NetBIOS that a role requires, such as the Cluster
// Administrator's 137/udp, is no choice to flag).
func (k *checker) legacy(g *policies.Group, path string) {
	var seen []string
	for _, n := range g.Needs {
		what := legacyServices[n.Service]
		netbios := n.Proto == policies.TCP && n.Ports.Contains(139) || n.Proto == policies.UDP && (n.Ports.Contains(137) || n.Ports.Contains(138))
		if what == "" && netbios && len(n.Scenarios) > 0 {
			what = "NetBIOS (SMB over NetBIOS, 137-139)"
		}
		if what == "" || slices.Contains(seen, what) {
			continue
		}
		seen = append(seen, what)
		k.add("FWG005", path+".roles", g.Name, "host group %s opens %s (%s %s of %s); %s", g.Name, what, n.Proto, n.Ports, n.Service,
			"Windows 2000 and newer clients use SMB over 445 and DNS; keep legacy services only while something needs them")
	}
}

// domainProfile flags a DC whose rules apply to the domain profile only.
func (k *checker) domainProfile(g *policies.Group, h *policies.Host, path string) {
	if slices.Contains(g.Roles, "dc") && slices.Equal(h.Profiles, []string{"domain"}) {
		k.add("FWG006", path+".profile", g.Name, "host group %s: domain controllers with rules for the domain profile only; "+
			"when network location detection puts a DC in the private or public profile at boot, its clients are cut off", g.Name)
	}
}

// rpcToClients notes DC groups whose clients reach the RPC dynamic range,
// naming the services that need it there. Pinning NTDS and Netlogon (KB
// 224196) does not close it while other services of the role use it.
func (k *checker) rpcToClients(g *policies.Group, h *policies.Host, path string) {
	if !slices.Contains(g.Roles, "dc") {
		return
	}
	var services []string
	for _, n := range g.Needs {
		if n.Peer == policies.Clients && n.RPC == "dynamic" && !slices.Contains(services, n.Service) {
			services = append(services, n.Service)
		}
	}
	if len(services) > 0 {
		slices.Sort(services)
		k.add("FWG009", peerPath(h, path, policies.Clients), g.Name, "host group %s: clients reach the whole RPC dynamic range (%s); "+
			"pinning NTDS and Netlogon to static ports (KB 224196) does not close it while these services use it; "+
			"a network firewall that filters RPC by interface UUID, learnt from the endpoint mapper (KB 154596), admits less",
			g.Name, strings.Join(services, ", "))
	}
}

// worldNetworks flags networks that hold every IPv4 or IPv6 address
// (0.0.0.0/0, ::/0, or prefixes that add up to it) and that a group's
// peers name.
func (k *checker) worldNetworks() {
	for _, name := range slices.Sorted(maps.Keys(k.p.Networks)) {
		ps := k.p.Networks[name]
		fam := worldFamily(ps)
		if fam == 0 {
			continue
		}
		path, what := "networks."+name, fmt.Sprintf("prefixes that add up to every IPv%d address", fam)
		for i, p := range ps {
			if p.Bits() == 0 && (p.Addr().Is4() == (fam == 4)) {
				path, what = fmt.Sprintf("networks.%s[%d]", name, i), p.String()
				break
			}
		}
		for _, h := range k.p.Hosts {
			for _, peer := range slices.Sorted(maps.Keys(h.Peers)) {
				if slices.Contains(h.Peers[peer], name) {
					k.add("FWG003", path, h.Name, "host group %s is reachable from every IPv%d address: network %s (%s) holds %s",
						h.Name, fam, name, peer, what)
				}
			}
		}
	}
}

// overlaps flags host groups of different roles whose addresses overlap.
func (k *checker) overlaps() {
	for i, a := range k.p.Hosts {
		for j := i + 1; j < len(k.p.Hosts); j++ {
			b := k.p.Hosts[j]
			if slices.Equal(a.Roles, b.Roles) {
				continue
			}
			var shared []string
			for _, p := range a.Addresses {
				if slices.ContainsFunc(b.Addresses, p.Overlaps) {
					shared = append(shared, p.String())
				}
			}
			if len(shared) > 0 {
				k.add("FWG007", fmt.Sprintf("hosts[%d].addresses", j), b.Name,
					"host groups %s (%s) and %s (%s) share addresses (%s of %s's): the servers there accept the ports of both",
					a.Name, strings.Join(a.Roles, ", "), b.Name, strings.Join(b.Roles, ", "), strings.Join(shared, ", "), a.Name)
			}
		}
	}
}

// rpcRange flags a restricted RPC range under 1,000 ports or below 5000.
func (k *checker) rpcRange() {
	r := k.p.RPC.Range
	if r == nil {
		return
	}
	if n := int(r.To) - int(r.From) + 1; n < 1000 {
		k.add("FWG008", "rpc.range", "", "the restricted RPC range %s has %d ports: busy servers can run out of RPC ports", r, n)
	}
	if r.From < 5000 {
		k.add("FWG008", "rpc.range", "", "the restricted RPC range %s starts below 5000, where other programs' ports may be: KB 154596 says to open a range above 5000", r)
	}
}

// Fails reports whether any finding is at least severity min.
func Fails(fs []Finding, min Severity) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity >= min })
}
