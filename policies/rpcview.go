package policies

import (
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// epmPort is the RPC endpoint mapper's port (TCP 135).
const epmPort = 135

// RPCPorts is how the ports of a by-service rule serve RPC.
type RPCPorts struct {
	// EPMap is true when the rule has 135/tcp, the RPC endpoint mapper.
	EPMap bool
	// Dynamic are the ports the endpoint mapper hands out: the OS mix's
	// dynamic range or the restricted one. A rule can have them without
	// 135/tcp, when its peers reach the endpoint mapper through another
	// rule (Group Policy's DCOM ports for administrators).
	Dynamic []PortRange
	// Other are the rest of the rule's ports, merged.
	Other []PortRange
}

// RPCPorts splits the ports of r, a rule of g.ByService(), into the RPC
// endpoint mapper, the RPC dynamic range and the rest, for formats that can
// name RPC ports by keyword (Windows Firewall's RPCEPMap and RPC).
//
// Only TCP rules are split, as Windows Firewall's RPC keywords are TCP's:
// a UDP rule keeps its numbers. The dynamic range is RPC's only in a service
// that has the endpoint mapper (135/tcp) in some rule of the group: FTP's
// passive ports come from the same range but are not assigned by RPC. The
// endpoint mapper need not be in the same rule: Group Policy opens 135/tcp
// to the clients and its DCOM ports to the administrators, and both are
// split, so that no rule keeps the numeric range open beside the keyword.
// A static RPC port stays a number, as the keyword would not match it any
// better.
func (g *Group) RPCPorts(r ServiceRule) RPCPorts {
	all := RPCPorts{Other: r.Ports}
	if r.Proto != TCP || !g.usesEPMap(r.Role, r.Service) {
		return all
	}
	var split RPCPorts
	var other, dynamic []PortRange
	kind := kindService
	if r.bound {
		kind = kindBound
	}
	for _, a := range g.atoms(kind) {
		n := a.needs[0]
		if !inServiceRule(a, r) {
			continue
		}
		switch {
		case n.Ports == PortRange{From: epmPort, To: epmPort}:
			split.EPMap = true
		case slices.ContainsFunc(a.needs, func(n *Need) bool { return n.RPC == "dynamic" || n.RPC == "restricted" }):
			dynamic = append(dynamic, n.Ports)
		default:
			other = append(other, n.Ports)
		}
	}
	if !split.EPMap && len(dynamic) == 0 {
		return all
	}
	split.Dynamic = catalog.MergeRanges(dynamic)
	split.Other = catalog.MergeRanges(other)
	return split
}

// inServiceRule reports whether ByService puts the port of atom a into
// rule r: the key is the same as ByService's.
func inServiceRule(a *portAtom, r ServiceRule) bool {
	n := a.needs[0]
	return n.Role == r.Role && n.Service == r.Service && n.Proto == r.Proto &&
		icmpKey(n.ICMPType) == icmpKey(r.ICMPType) && slices.Equal(n.Scenarios, r.Scenarios) &&
		sameSet(a.set, r.Set) && a.peers == peersKey(r.Peers) && a.any == r.AnySource && a.family == r.Family &&
		(!r.bound || n.Program == r.Program && n.WinService == r.WinService)
}

// sameSet reports whether two source sets are one: the same set of a
// Ruleset, or of groups made by hand, the same name and prefixes.
func sameSet(a, b *SourceSet) bool {
	return a == b || a != nil && b != nil && a.Name == b.Name && a.String() == b.String()
}

func peersKey(ps []Peer) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ",")
}

// usesEPMap reports whether a service of a role has the RPC endpoint
// mapper, 135/tcp, in any rule of g.
func (g *Group) usesEPMap(role, service string) bool {
	for _, n := range g.Needs {
		if n.Role == role && n.Service == service && n.Proto == TCP &&
			n.Ports == (PortRange{From: epmPort, To: epmPort}) {
			return true
		}
	}
	return false
}
