package catalog

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Peer names who connects to a port: one of the classes below, or the
// servers of a role, written "role:<role id>" (the RD Connection Broker
// connects to session hosts on SMB and RPC: role:rd-connection-broker).
type Peer string

// Possible Peer classes.
const (
	// Clients are the computers and users the server serves.
	Clients Peer = "clients"
	// Members are the other servers of the same role that the server
	// works with: other domain controllers, the other nodes of a
	// cluster. How far they reach is the role's MembersExtent.
	Members Peer = "members"
	// Admins are administrators' workstations and the management tools
	// on them.
	Admins Peer = "admins"
)

// rolePeerPrefix starts a Peer that names a role.
const rolePeerPrefix = "role:"

// RolePeer is the Peer of the servers holding role id.
func RolePeer(id string) Peer { return Peer(rolePeerPrefix + id) }

// Role returns the role id of a role peer, and whether p is one.
func (p Peer) Role() (string, bool) {
	id, ok := strings.CutPrefix(string(p), rolePeerPrefix)
	return id, ok && id != ""
}

// IsClass reports whether p is one of the classes clients, members and
// admins.
func (p Peer) IsClass() bool { return p == Clients || p == Members || p == Admins }

// Peers is the list of peers of an entry; in YAML a single peer may stand
// without brackets ("peers: clients").
type Peers []Peer

// UnmarshalYAML reads a peer or a list of peers.
func (ps *Peers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*ps = Peers{Peer(n.Value)}
		return nil
	}
	var list []Peer
	if err := n.Decode(&list); err != nil {
		return fmt.Errorf("peers: want a peer or a list of peers: %w", err)
	}
	*ps = list
	return nil
}

// Has reports whether the list holds p.
func (ps Peers) Has(p Peer) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// UnmarshalYAML reads a role's service: a service id, or a mapping with
// the fields of RoleService. Unknown keys are errors, as everywhere else
// in the catalog.
func (rs *RoleService) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*rs = RoleService{ID: n.Value}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a role's service is an id or a mapping", n.Line)
	}
	known := map[string]bool{"id": true, "scenario": true, "when": true, "why": true, "ref": true}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !known[k] {
			return fmt.Errorf("line %d: field %s not found in a role's service", n.Content[i].Line, k)
		}
	}
	type plain RoleService // without this method, so Decode does not recurse
	return n.Decode((*plain)(rs))
}
