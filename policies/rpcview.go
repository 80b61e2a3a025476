package policies

import "github.com/fwgen/fwgen/catalog"

// epmPort is the RPC endpoint mapper's port (TCP 135).
const epmPort = 135

// RPCPorts is how the ports of a by-service rule serve RPC.
type RPCPorts struct {
	// EPMap is true when the rule has 135/tcp, the RPC endpoint mapper.
	EPMap bool
	// Dynamic are the ports the endpoint mapper hands out: the OS mix's
	// dynamic range or the restricted one. Empty unless EPMap is set.
	Dynamic []PortRange
	// Other are the rest of the rule's ports, merged.
	Other []PortRange
}

// RPCPorts splits the ports of r, a rule of g.ByService(), into the RPC
// endpoint mapper, the RPC dynamic range and the rest, for formats that can
// name RPC ports by keyword (Windows Firewall's RPCEPMap and RPC).
//
// Only a TCP rule that has the endpoint mapper is split: a dynamic range
// without it is not assigned by RPC (FTP's passive ports use the same range),
// and a static RPC port stays a number because the keyword would not match
// it any better.
func (g *Group) RPCPorts(r ServiceRule) RPCPorts {
	all := RPCPorts{Other: r.Ports}
	if r.Proto != TCP {
		return all
	}
	var split RPCPorts
	var other, dynamic []PortRange
	for _, n := range g.Needs {
		if !inServiceRule(n, r) {
			continue
		}
		switch {
		case n.Ports == PortRange{From: epmPort, To: epmPort}:
			split.EPMap = true
		case n.RPC == "dynamic" || n.RPC == "restricted":
			dynamic = append(dynamic, n.Ports)
		default:
			other = append(other, n.Ports)
		}
	}
	if !split.EPMap {
		return all
	}
	split.Dynamic = catalog.MergeRanges(dynamic)
	split.Other = catalog.MergeRanges(other)
	return split
}

// inServiceRule reports whether ByService puts need n into rule r: the key
// is the same as ByService's.
func inServiceRule(n Need, r ServiceRule) bool {
	return n.Role == r.Role && n.Service == r.Service && n.Proto == r.Proto &&
		icmpKey(n.ICMPType) == icmpKey(r.ICMPType) && SourcesKey(n.Sources) == SourcesKey(r.Sources)
}
