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
	p.OS = l.osList("os", raw.OS)
	p.Networks = l.networks(raw.Networks)
	p.RPC = l.rpc(raw.RPC)
	p.Services = l.services(raw.Services)
	p.Roles = l.roles(raw.Roles, raw.Services)
	p.Hosts = l.hosts(raw, p)
	return p
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
	networks := slices.Sorted(maps.Keys(raw.Networks))
	if len(raw.Hosts) > MaxHosts {
		l.errorf("hosts", "%d host groups; a policy has at most %d: split the estate into several sites", len(raw.Hosts), MaxHosts)
		return nil
	}
	for i, rh := range raw.Hosts {
		path := fmt.Sprintf("hosts[%d]", i)
		if j, dup := first[rh.Name]; dup && rh.Name != "" {
			l.errorf(path+".name", "%q is already the name of hosts[%d]", rh.Name, j)
		} else {
			first[rh.Name] = i
		}
		h := Host{Name: rh.Name, Roles: l.hostRoles(path+".roles", rh.Roles, own, roleNames)}
		h.OS = l.osList(path+".os", rh.OS)
		if len(rh.OS) == 0 && len(raw.OS) == 0 {
			l.errorf(path, "no OS versions: give the group an os list, or the policy a default one")
		}
		h.Addresses = l.prefixes(path+".addresses", rh.Addresses)
		h.Peers = l.peers(path+".peers", rh.Peers, raw.Networks, networks)
		h.Profiles = l.profiles(path+".profile", rh.Profile)
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

// peers checks a host group's peer classes and the networks they name.
func (l *loader) peers(path string, raw, networks map[string][]string, names []string) map[Peer][]string {
	if raw == nil {
		return nil
	}
	out := map[Peer][]string{}
	for _, class := range slices.Sorted(maps.Keys(raw)) {
		at := joinKey(path, class)
		if !slices.Contains(peerClasses, class) {
			l.keyErrorf(at, "unknown peer class %q%s; the classes are clients, members and admins",
				class, didYouMean(class, peerClasses))
			continue
		}
		if len(raw[class]) == 0 {
			l.errorf(at, "empty: name networks, or leave %s out to allow any address", class)
			continue
		}
		out[Peer(class)] = l.peerNetworks(at, raw[class], networks, names)
	}
	return out
}

func (l *loader) peerNetworks(path string, in []string, networks map[string][]string, names []string) []string {
	var out []string
	seen := set{}
	for i, name := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		_, known := networks[name]
		_, addrErr := ParsePrefix(name)
		switch {
		case name == "":
			l.errorf(at, "empty")
		case !known && addrErr == nil:
			l.errorf(at, "%q is an address; peers name networks: add it under networks and use that name", name)
		case !known:
			l.errorf(at, "unknown network %q%s", name, didYouMean(name, names))
		case !seen.add(name):
			l.errorf(at, "%q is listed twice", name)
		default:
			out = append(out, name)
		}
	}
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
