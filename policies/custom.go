package policies

import (
	"cmp"
	"fmt"

	"github.com/fwgen/fwgen/catalog"
)

// services checks the policy's own services and turns them into catalog
// services. A service that cites no document is left without a reference;
// the resolver cites the site policy for it.
func (l *loader) services(raw []rawService) []catalog.Service {
	var out []catalog.Service
	first := map[string]int{}
	for i, s := range raw {
		path := fmt.Sprintf("services[%d]", i)
		l.uniqueID(path, s.ID, first, i, "services")
		l.override(path, "service", s.ID, l.names.services[s.ID], s.Override)
		svc := catalog.Service{ID: s.ID, Name: cmp.Or(s.Name, s.ID), SystemService: s.SystemService, Notes: s.Notes}
		svc.Ref = l.citations(path+".ref", s.Ref)
		for j, e := range s.Entries {
			svc.Entries = append(svc.Entries, l.entry(fmt.Sprintf("%s.entries[%d]", path, j), s.ID, e))
		}
		out = append(out, svc)
	}
	return out
}

// uniqueID reports an id used by an earlier item of the same list.
func (l *loader) uniqueID(path, id string, first map[string]int, i int, list string) {
	if id == "" {
		return
	}
	if j, dup := first[id]; dup {
		l.errorf(path+".id", "%q is already the id of %s[%d]", id, list, j)
		return
	}
	first[id] = i
}

// override checks that an id shadows a catalog one exactly when the policy
// says so: replacing a catalog service or role by accident would change
// rules far from where the file is edited.
func (l *loader) override(path, kind, id string, inCatalog, override bool) {
	switch {
	case inCatalog && !override:
		l.errorf(path+".id", "%q is a catalog %s: set override: true to replace it, or choose another id", id, kind)
	case !inCatalog && override && id != "":
		l.errorf(path+".override", "there is no catalog %s %q to override", kind, id)
	}
}

func (l *loader) citations(path string, raw []rawRef) []catalog.Citation {
	var out []catalog.Citation
	for i, r := range raw {
		if r.Doc != "" && l.c.Document(r.Doc) == nil {
			l.errorf(fmt.Sprintf("%s[%d].doc", path, i), "unknown document %q%s", r.Doc, didYouMean(r.Doc, l.names.docList))
		}
		out = append(out, catalog.Citation{Doc: r.Doc, Section: r.Section})
	}
	return out
}

// entry checks one entry of a service as the catalog checks its own.
func (l *loader) entry(path, svcID string, e rawEntry) catalog.Entry {
	out := catalog.Entry{Protocol: catalog.Proto(e.Protocol), ICMPType: e.ICMPType, Label: e.Label,
		Peers: l.entryPeers(path+".peers", e.Peers), Scenario: e.Scenario, Why: e.Why}
	switch {
	case e.Protocol == "":
		// the validator said so
	case out.Protocol.HasPorts() && len(e.Ports) == 0:
		l.errorf(path+".ports", "%s needs ports", e.Protocol)
	case !out.Protocol.HasPorts() && len(e.Ports) > 0:
		l.errorf(path+".ports", "%s has no ports", e.Protocol)
	default:
		out.Ports = l.ports(path+".ports", e.Ports)
	}
	isICMP := out.Protocol == catalog.ICMPv4 || out.Protocol == catalog.ICMPv6
	switch {
	case isICMP && e.ICMPType == nil:
		l.errorf(path+".icmp_type", "missing: %s needs an icmp_type (8 is echo request for icmpv4, 128 for icmpv6)", e.Protocol)
	case !isICMP && e.ICMPType != nil && e.Protocol != "":
		l.errorf(path+".icmp_type", "only icmpv4 and icmpv6 entries have an icmp_type")
	}
	if out.Scenario == "" && e.Optional {
		// An optional entry of the policy's own is a scenario named after
		// its service: --scenario <service id> or --optional turns it on.
		out.Scenario = svcID
	}
	if out.Scenario != "" {
		l.ownScenarios.add(out.Scenario)
	}
	switch {
	case e.Optional && e.Why == "":
		l.errorf(path+".optional", "an optional entry says why it is optional (why: ...)")
	case e.Scenario != "" && e.Why == "":
		l.errorf(path+".scenario", "an entry of a scenario says why (why: ...)")
	}
	return out
}

// entryPeers checks the peers of an entry: clients, members, admins or
// role:<role id>.
func (l *loader) entryPeers(path string, in nameList) catalog.Peers {
	var out catalog.Peers
	for i, s := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		if l.vals[at] == nil {
			at = path // a single peer without brackets
		}
		p := catalog.Peer(s)
		switch id, isRole := p.Role(); {
		case s == "":
			// the validator said so
		case isRole && l.names.role(id) == nil && !l.ownRoles[id]:
			l.errorf(at, "unknown role %q%s", id, didYouMean(id, l.names.roleList))
		case isRole:
			if r := l.names.role(id); r != nil && !l.ownRoles[id] {
				p = catalog.RolePeer(r.ID)
			}
			out = append(out, p)
		case !p.IsClass():
			l.errorf(at, "unknown peer %q%s; peers are clients, members, admins or role:<role id>",
				s, didYouMean(s, peerClasses))
		default:
			out = append(out, p)
		}
	}
	return out
}

// ports checks the ports of an entry and writes them in the catalog's form
// ("445", "1025-5000", "rpc-dynamic").
func (l *loader) ports(path string, in portList) []string {
	var out []string
	for i, s := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		if l.vals[at] == nil {
			at = path // several ports in one scalar: "80,443"
		}
		if s == catalog.RPCDynamicSymbol {
			out = append(out, s)
			continue
		}
		r, err := catalog.ParsePortRange(s)
		if err != nil {
			l.errorf(at, "%v (or %s for the RPC dynamic range)", err, catalog.RPCDynamicSymbol)
			continue
		}
		out = append(out, r.String())
	}
	return out
}

// roles checks the policy's own roles and turns them into catalog roles.
func (l *loader) roles(raw []rawRole, services []rawService) []catalog.Role {
	own := set{}
	var valid []string
	for _, s := range services {
		own.add(s.ID)
		valid = append(valid, s.ID)
	}
	valid = append(valid, l.names.svcList...)
	var out []catalog.Role
	first := map[string]int{}
	for i, r := range raw {
		path := fmt.Sprintf("roles[%d]", i)
		l.uniqueID(path, r.ID, first, i, "roles")
		if cr := l.names.role(r.ID); cr != nil && cr.ID != r.ID {
			l.errorf(path+".id", "%q is another name of catalog role %q: choose another id", r.ID, cr.ID)
		} else {
			l.override(path, "role", r.ID, cr != nil, r.Override)
		}
		var services []catalog.RoleService
		for _, id := range l.roleServices(path+".services", r.Services, own, valid) {
			services = append(services, catalog.RoleService{ID: id})
		}
		out = append(out, catalog.Role{ID: r.ID, Name: cmp.Or(r.Name, r.ID), Notes: r.Notes,
			Members: catalog.MembersExtent(r.Members), Services: services})
	}
	return out
}

// roleServices checks that a role's services exist, in the policy or in
// the catalog. A catalog role's name stands for that role's services, so
// that a role can be "our ERP plus management".
func (l *loader) roleServices(path string, ids []string, own set, valid []string) []string {
	var out []string
	seen := set{}
	for i, id := range ids {
		at := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case id == "":
			// the validator said so
		case l.names.services[id] || own[id]:
			if !seen.add(id) {
				l.errorf(at, "%q is listed twice", id)
				continue
			}
			out = append(out, id)
		case l.names.role(id) != nil:
			for _, s := range l.names.role(id).ServiceIDs() {
				if seen.add(s) {
					out = append(out, s)
				}
			}
		default:
			l.errorf(at, "unknown service %q%s", id, didYouMean(id, valid))
		}
	}
	return out
}
