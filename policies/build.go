package policies

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// build cross-checks the raw policy against itself and the catalog, and
// turns it into a Policy with canonical ids and parsed addresses.
func (l *loader) build(raw *rawPolicy) *Policy {
	if raw.Fwgen != "" && raw.Fwgen != Version {
		l.errorf("fwgen", "unsupported format %q: this fwgen reads %s", raw.Fwgen, Version)
	}
	p := &Policy{Name: raw.Name, Optional: raw.Optional}
	l.ownRoles, l.ownScenarios = set{}, set{}
	for _, r := range raw.Roles {
		l.ownRoles.add(r.ID)
	}
	p.OS = l.osList("os", raw.OS)
	p.Networks = l.networks(raw.Networks)
	p.RPC = l.rpc(raw.RPC)
	p.Services = l.services(raw.Services)
	p.Roles = l.roles(raw.Roles, raw.Services)
	p.Hosts = l.hosts(raw, p)
	p.Scenarios = l.policyScenarios(raw.Scenarios, p)
	l.checkRPC(p)
	return p
}

// checkRPC reports the RPC settings that the KBs call broken (CheckRPC),
// at the setting's position.
func (l *loader) checkRPC(p *Policy) {
	var roles []string
	for _, h := range p.Hosts {
		for _, r := range h.Roles {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	c := l.withPolicy(p)
	if c == nil {
		return // the policy's services have problems of their own, reported where they are
	}
	for _, pr := range CheckRPC(p.RPC, roles, c) {
		field, path := pr.Field, "rpc.range"
		if iface, ok := strings.CutPrefix(field, "static."); ok {
			path = joinKey("rpc.static", iface)
		}
		l.errorf(path, "%s", pr.Msg)
	}
}

// osList resolves OS names to catalog ids, in the order given.
func (l *loader) osList(path string, names []string) []string {
	var ids []string
	seen := set{}
	for i, name := range names {
		at := fmt.Sprintf("%s[%d]", path, i)
		if name == "" {
			continue // the validator said so
		}
		o := l.names.os(l.c, name)
		switch {
		case o.err != nil:
			l.errorf(at, "%v", o.err)
		case !seen.add(o.id):
			l.errorf(at, "%q is %s again", name, o.name)
		default:
			ids = append(ids, o.id)
		}
	}
	return ids
}

func (l *loader) networks(raw map[string][]string) map[string][]netip.Prefix {
	out := map[string][]netip.Prefix{}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		path := joinKey("networks", name)
		if !namePattern.MatchString(name) || len(name) > maxNameLen {
			l.keyErrorf(path, "%q is not a valid network name: use lower-case letters, digits, '.', '_' and '-', "+
				"starting and ending with a letter or digit", name)
		}
		if len(raw[name]) == 0 {
			l.errorf(path, "a network needs at least one address")
			continue
		}
		out[name] = l.prefixes(path, raw[name])
	}
	return out
}

// prefixes parses a list of addresses and prefixes.
func (l *loader) prefixes(path string, in []string) []netip.Prefix {
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for i, s := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		if s == "" {
			continue // the validator said so
		}
		p, err := ParsePrefix(s)
		switch {
		case err != nil:
			l.errorf(at, "%v", err)
		case seen[p]:
			l.errorf(at, "%s is listed twice", p)
		default:
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// ParsePrefix reads "10.0.0.0/24", "fd00::/48", or a bare address, which
// stands for itself (/32 or /128). A prefix with host bits set
// (10.0.0.5/24) is an error rather than silently widened or narrowed:
// the writer may have meant the network or the one host.
func ParsePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, fmt.Errorf("%q is not an IP address or prefix such as 10.0.0.0/24", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil && strings.Contains(s, "-"):
			return p, fmt.Errorf("%q: address ranges are not supported; write prefixes such as 10.0.0.0/24", s)
		case err != nil:
			return p, fmt.Errorf("%q is not an IP address or prefix such as 10.0.0.0/24", s)
		case a.Zone() != "":
			return p, fmt.Errorf("%q has an IPv6 zone; write the address without %%%s", s, a.Zone())
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return p, fmt.Errorf("%q is an IPv4-mapped IPv6 address; write the IPv4 address %s", s, p.Addr().Unmap())
	}
	if p != p.Masked() {
		return p, fmt.Errorf("%s has host bits set: write %s for the network or %s for the host",
			s, p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	return p, nil
}

func (l *loader) rpc(raw *rawRPC) RPCOptions {
	var o RPCOptions
	if raw == nil {
		return o
	}
	if _, set := l.vals["rpc.range"]; set {
		r, err := catalog.ParsePortRange(raw.Range)
		if err != nil {
			l.errorf("rpc.range", "%v", err)
		} else {
			o.Range = &r
		}
	}
	known := l.c.RPCInterfaces()
	for _, iface := range slices.Sorted(maps.Keys(raw.Static)) {
		path, port := joinKey("rpc.static", iface), raw.Static[iface]
		switch {
		case !slices.Contains(known, iface):
			l.keyErrorf(path, "unknown RPC interface %q%s; known: %s", iface, didYouMean(iface, known), strings.Join(known, ", "))
		case port < 1 || port > 65535:
			l.errorf(path, "port %d: want a number from 1 to 65535", port)
		default:
			if o.Static == nil {
				o.Static = map[string]uint16{}
			}
			o.Static[iface] = uint16(port)
		}
	}
	return o
}

// hosts checks the host groups against the catalog, the policy's own roles
// and its networks.
func (l *loader) hosts(raw *rawPolicy, p *Policy) []Host {
	var out []Host
	first := map[string]int{}
	own := set{}
	for _, r := range p.Roles {
		own.add(r.ID)
	}
	roleNames := append(slices.Sorted(maps.Keys(own)), l.names.roleList...)
	groups, bare := set{}, set{}
	for _, rh := range raw.Hosts {
		groups.add(rh.Name)
		if len(rh.Addresses) == 0 {
			bare.add(rh.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Networks)) {
		if groups[name] {
			l.keyErrorf(joinKey("networks", name), "%q is also the name of a host group, and peers name both: rename one", name)
		}
	}
	targets := append(slices.Sorted(maps.Keys(raw.Networks)), slices.Sorted(maps.Keys(groups))...)
	slugs := map[string]int{}
	for i, rh := range raw.Hosts {
		path := fmt.Sprintf("hosts[%d]", i)
		if j, dup := first[rh.Name]; dup && rh.Name != "" {
			l.errorf(path+".name", "%q is already the name of hosts[%d] (line %d)", rh.Name, j, l.line(fmt.Sprintf("hosts[%d].name", j)))
		} else {
			first[rh.Name] = i
			if j, dup := slugs[GroupSlug(rh.Name)]; dup && rh.Name != "" {
				l.errorf(path+".name", "%q and hosts[%d]'s %q (line %d) would name the same firewall objects (%s: nftables table, "+
					"iptables chains, Windows rule names): rename one", rh.Name, j, raw.Hosts[j].Name, l.line(fmt.Sprintf("hosts[%d].name", j)), GroupSlug(rh.Name))
			} else {
				slugs[GroupSlug(rh.Name)] = i
			}
		}
		h := Host{Name: rh.Name, Roles: l.hostRoles(path+".roles", rh.Roles, own, roleNames)}
		h.OS = l.osList(path+".os", rh.OS)
		if len(rh.OS) == 0 && len(raw.OS) == 0 {
			l.errorf(path, "no OS versions: give the group an os list, or the policy a default one")
		}
		h.Addresses = l.prefixes(path+".addresses", rh.Addresses)
		h.Peers = l.peers(path+".peers", rh.Peers, raw.Networks, groups, bare, targets, own)
		l.usedRolePeers(path+".peers", h, p)
		h.Profiles = l.profiles(path+".profile", rh.Profile)
		h.Scenarios = l.hostScenarios(path+".scenarios", rh.Scenarios, h.Roles, p)
		out = append(out, h)
	}
	return out
}

// hostRoles resolves role names, the policy's own first, to role ids.
func (l *loader) hostRoles(path string, names []string, own set, valid []string) []string {
	var ids []string
	seen := set{}
	for i, name := range names {
		at := fmt.Sprintf("%s[%d]", path, i)
		if name == "" {
			continue // the validator said so
		}
		id := name
		if r := l.names.role(name); !own[name] && r != nil {
			id = r.ID
		}
		switch {
		case !own[id] && l.names.role(name) == nil:
			l.errorf(at, "unknown role %q%s", name, didYouMean(name, valid))
		case !seen.add(id):
			l.errorf(at, "%q is role %q again", name, id)
		default:
			ids = append(ids, id)
		}
	}
	return ids
}

var peerClasses = []string{string(Clients), string(Members), string(Admins)}

// peers checks a host group's peers, each a peer class (clients, members,
// admins) or a role whose servers connect (rd-connection-broker), and the
// networks and host groups they name.
func (l *loader) peers(path string, raw, networks map[string][]string, groups, bare set, targets []string, own set) map[Peer][]string {
	if raw == nil {
		return nil
	}
	out := map[Peer][]string{}
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		at := joinKey(path, key)
		peer := Peer(key)
		if !peer.IsClass() {
			r := l.names.role(key)
			switch {
			case own[key]:
				peer = catalog.RolePeer(key)
			case r != nil:
				peer = catalog.RolePeer(r.ID)
			default:
				l.keyErrorf(at, "unknown peer %q%s; name a peer class (clients, members, admins) or the role whose servers connect",
					key, didYouMean(key, append(slices.Clone(peerClasses), l.names.roleList...)))
				continue
			}
		}
		if _, dup := out[peer]; dup {
			l.keyErrorf(at, "%q is %s again", key, peer)
			continue
		}
		if len(raw[key]) == 0 {
			l.errorf(at, "empty: name networks or host groups, or leave %s out", key)
			continue
		}
		out[peer] = l.peerNames(at, raw[key], networks, groups, bare, targets)
	}
	return out
}

func (l *loader) peerNames(path string, in []string, networks map[string][]string, groups, bare set, targets []string) []string {
	var out []string
	seen := set{}
	for i, name := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		_, known := networks[name]
		known = known || groups[name]
		_, addrErr := ParsePrefix(name)
		switch {
		case name == "":
			l.errorf(at, "empty")
		case !known && addrErr == nil:
			l.errorf(at, "%q is an address; peers name networks or host groups: add it under networks and use that name", name)
		case !known:
			l.errorf(at, "unknown network or host group %q%s", name, didYouMean(name, targets))
		case !seen.add(name):
			l.errorf(at, "%q is listed twice", name)
		case bare[name]:
			l.errorf(at, "host group %q has no addresses, so it cannot scope a peer: give it addresses, or name a network", name)
		default:
			out = append(out, name)
		}
	}
	return out
}

// usedRolePeers refuses a peer key naming a role whose servers connect to
// none of the group's entries: the networks named there would open nothing.
func (l *loader) usedRolePeers(path string, h Host, p *Policy) {
	c := l.withPolicy(p)
	if c == nil {
		return
	}
	var used []string
	for _, id := range h.Roles {
		r, err := c.Role(id)
		if err != nil {
			continue
		}
		for _, rs := range r.Services {
			svc, err := c.Service(rs.ID)
			if err != nil {
				continue
			}
			for _, e := range svc.Entries {
				for _, peer := range e.Peers {
					if id, ok := peer.Role(); ok && !slices.Contains(used, id) {
						used = append(used, id)
					}
				}
			}
		}
	}
	slices.Sort(used)
	for peer := range h.Peers {
		id, ok := peer.Role()
		if !ok || slices.Contains(used, id) {
			continue
		}
		which := "none"
		if len(used) > 0 {
			which = strings.Join(used, ", ")
		}
		l.keyErrorf(joinKey(path, l.peerKey(path, id)), "the servers of role %s connect to none of the group's ports; "+
			"the roles whose servers do: %s", id, which)
	}
}

// peerKey finds the key of the policy that names role id under path: the
// id itself or one of its aliases.
func (l *loader) peerKey(path, id string) string {
	for p := range l.keys {
		if key, ok := strings.CutPrefix(p, path+"."); ok && !strings.ContainsAny(key, ".[") {
			if r := l.names.role(key); key == id || (r != nil && r.ID == id) {
				return key
			}
		}
	}
	return id
}

// hostScenarios checks the scenarios a host group turns on: each exists
// and belongs to one of the group's roles.
func (l *loader) hostScenarios(path string, in, roles []string, p *Policy) []string {
	var out []string
	have := l.scenariosOf(roles, p)
	for i, id := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case id == "":
			// the validator said so
		case slices.Contains(out, id):
			l.errorf(at, "%q is listed twice", id)
		case !slices.Contains(have, id):
			l.errorf(at, "%s", l.scenarioProblem(id, have, "the group's roles"))
		default:
			out = append(out, id)
		}
	}
	return out
}

// policyScenarios checks the scenarios the policy turns on for every
// group: each belongs to a role of some group.
func (l *loader) policyScenarios(in []string, p *Policy) []string {
	var roles []string
	for _, h := range p.Hosts {
		roles = append(roles, h.Roles...)
	}
	have := l.scenariosOf(roles, p)
	var out []string
	for i, id := range in {
		at := fmt.Sprintf("scenarios[%d]", i)
		switch {
		case id == "":
		case slices.Contains(out, id):
			l.errorf(at, "%q is listed twice", id)
		case !slices.Contains(have, id):
			l.errorf(at, "%s", l.scenarioProblem(id, have, "the roles of the host groups"))
		default:
			out = append(out, id)
		}
	}
	return out
}

// scenarioProblem says why a scenario id cannot be turned on.
func (l *loader) scenarioProblem(id string, have []string, whose string) string {
	if _, err := l.c.Scenario(id); err != nil && !l.ownScenario(id) {
		var ids []string
		for _, s := range l.c.Scenarios {
			ids = append(ids, s.ID)
		}
		return fmt.Sprintf("unknown scenario %q%s; 'fwgen roles' lists each role's scenarios", id, didYouMean(id, ids))
	}
	if len(have) == 0 {
		return fmt.Sprintf("%q is not a scenario of %s, which have none", id, whose)
	}
	return fmt.Sprintf("%q is not a scenario of %s; theirs are %s", id, whose, strings.Join(have, ", "))
}

// ownScenario reports whether an entry of the policy's own services names
// scenario id.
func (l *loader) ownScenario(id string) bool { return l.ownScenarios[id] }

// withPolicy is the catalog with the policy's own services and roles,
// made once; nil when they do not pass the catalog's checks.
func (l *loader) withPolicy(p *Policy) *catalog.Catalog {
	if !l.fullDone {
		l.fullDone = true
		l.full, _ = withPolicy(p, l.c)
	}
	return l.full
}

// scenariosOf lists the scenarios the roles can turn on, with the
// policy's own services and roles in place of the catalog's.
func (l *loader) scenariosOf(roles []string, p *Policy) []string {
	c := l.withPolicy(p)
	if c == nil {
		c = l.c
	}
	var out []string
	for _, id := range roles {
		if r, err := c.Role(id); err == nil {
			for _, s := range c.RoleScenarios(r) {
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// profiles returns the Windows Firewall profiles sorted, as the command
// line does, so that the same profiles give the same rules.
func (l *loader) profiles(path string, in []string) []string {
	var out []string
	for i, s := range in {
		if slices.Contains(out, s) {
			l.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is listed twice", s)
			continue
		}
		if slices.Contains([]string{"domain", "private", "public"}, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
