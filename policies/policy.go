package policies

import (
	"net/netip"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// Policy is fwgen's input, after parsing and validation: the host groups of
// an estate, the roles and OS versions of each, and who may reach them.
// A site policy file and the quick-mode flags both become a Policy.
type Policy struct {
	Name string
	// Source names where the policy came from: a file name, or "command line".
	Source string
	// Quick marks the policy that quick mode's flags make: its peers of
	// another role, which no host group of the policy holds, are
	// the --from addresses (or any) rather than left out.
	Quick bool
	// OS is the default OS mix, as catalog ids, for groups that name none.
	OS []string
	// Networks are named address sets that peers refer to.
	Networks map[string][]netip.Prefix
	RPC      RPCOptions
	// Services and Roles are the estate's own, added to the catalog's.
	// A service whose id is a catalog id replaces it.
	Services []catalog.Service
	Roles    []catalog.Role
	Hosts    []Host
	// Scenarios are turned on for every host group (see catalog.Scenario).
	Scenarios []string
	// Optional turns every scenario on.
	Optional bool

	// pos finds the line and column of a value of the file the policy
	// was loaded from; nil for a policy made otherwise.
	pos func(path string) (line, col int)
}

// Pos returns the line and column (from 1) of the value at path in the
// file the policy was loaded from ("hosts[1].peers.clients"), or of its
// nearest parent that has one; 0, 0 when the policy was not read from a
// file.
func (p *Policy) Pos(path string) (line, col int) {
	if p.pos == nil {
		return 0, 0
	}
	return p.pos(path)
}

// RPCOptions describe an estate that narrowed or pinned its RPC ports.
type RPCOptions struct {
	// Range replaces the OS default dynamic range (KB 154596), when set.
	Range *PortRange
	// Static pins an RPC interface ("ntds", "netlogon", "frs", "dfsr") to one
	// port (KB 224196, dfsrdiag StaticRPC).
	Static map[string]uint16
}

// Host is a group of servers with the same roles, OS mix and peers.
type Host struct {
	Name  string
	Roles []string
	// OS overrides the policy's default OS mix when not empty.
	OS []string
	// Addresses of the servers; empty when unknown (host firewall scripts).
	Addresses []netip.Prefix
	// Peers maps a peer class (clients, members, admins) or the peer of a
	// role (catalog.RolePeer) to the names of networks of Policy.Networks
	// and of other host groups, whose addresses may connect. A class left
	// out may connect from any address; members left out are the role's
	// members (catalog.MembersExtent), and a role left out is the host
	// groups that hold it.
	Peers map[Peer][]string
	// Scenarios are turned on for this group, besides the policy's.
	Scenarios []string
	// Profiles are Windows Firewall profiles (domain, private, public);
	// empty means any.
	Profiles []string
}

// Quick holds what quick mode's flags say: one group of servers.
type Quick struct {
	Roles    []string // role ids
	OS       []string // OS ids
	From     []netip.Prefix
	To       []netip.Prefix
	Profiles []string
	RPC      RPCOptions
	// Scenarios to turn on; Optional turns on all of them.
	Scenarios []string
	Optional  bool
}

// Policy returns the one-group Policy that the flags describe, so that quick
// mode and site policies share every later step. From scopes every peer
// class; To are the servers' addresses.
func (q Quick) Policy() *Policy {
	name := QuickName(q.Roles)
	h := Host{Name: name, Roles: q.Roles, Addresses: q.To, Profiles: q.Profiles, Peers: map[Peer][]string{}}
	p := &Policy{Name: name, Source: "command line", Quick: true, OS: q.OS, RPC: q.RPC, Optional: q.Optional,
		Scenarios: q.Scenarios, Networks: map[string][]netip.Prefix{}}
	if len(q.From) > 0 {
		p.Networks[QuickFrom] = q.From
		for _, peer := range []Peer{Clients, Members, Admins} {
			h.Peers[peer] = []string{QuickFrom}
		}
	}
	p.Hosts = []Host{h}
	return p
}

// QuickFrom names the network of quick mode's --from addresses.
const QuickFrom = "from"

// QuickName names the policy and host group that quick mode makes of its
// roles: "dc", or "cluster-node-hyperv-host". It is a valid group name, so
// that a one-group site policy can name its group the same.
func QuickName(roleIDs []string) string { return strings.Join(roleIDs, "-") }
