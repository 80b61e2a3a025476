package policies

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// legacyBuild is the first build of Windows Vista / Server 2008: earlier
// versions use the old RPC dynamic range and lack newer firewall tooling.
const legacyBuild = 6000

// sitePolicyDoc is the document id a site policy's own services cite when
// they name none.
const sitePolicyDoc = "site-policy"

// Resolve turns a policy into a Ruleset, reading ports from the catalog
// c together with the policy's own services and roles.
func Resolve(p *Policy, c *catalog.Catalog) (*Ruleset, error) {
	c, err := withPolicy(p, c)
	if err != nil {
		return nil, err
	}
	rs := &Ruleset{Schema: SchemaV1, Policy: p.Name, Source: p.Source}
	var errs []error
	for i := range p.Hosts {
		g, err := resolveGroup(p, &p.Hosts[i], c)
		if err != nil {
			errs = append(errs, fmt.Errorf("host group %q: %w", p.Hosts[i].Name, err))
			continue
		}
		rs.Groups = append(rs.Groups, *g)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// withPolicy adds the policy's services and roles to the catalog; a service
// that cites nothing cites the site policy.
func withPolicy(p *Policy, c *catalog.Catalog) (*catalog.Catalog, error) {
	if len(p.Services) == 0 && len(p.Roles) == 0 {
		return c, nil
	}
	services := slices.Clone(p.Services)
	for i := range services {
		if len(services[i].Ref) == 0 {
			services[i].Ref = []catalog.Citation{{Doc: sitePolicyDoc}}
		}
	}
	roles := slices.Clone(p.Roles)
	for i := range roles {
		if len(roles[i].Ref) == 0 {
			roles[i].Ref = []catalog.Citation{{Doc: sitePolicyDoc}}
		}
	}
	doc := catalog.Document{ID: sitePolicyDoc, Title: "site policy " + p.Name}
	return c.With([]catalog.Document{doc}, services, roles)
}

// resolver holds what one host group's resolution needs.
type resolver struct {
	p     *Policy
	h     *Host
	c     *catalog.Catalog
	g     *Group
	oses  []*catalog.OS
	seen  map[string]bool
	peers map[Peer][]netip.Prefix
	// members caches memberAddresses by role.
	members map[string][]netip.Prefix
}

func resolveGroup(p *Policy, h *Host, c *catalog.Catalog) (*Group, error) {
	r := &resolver{p: p, h: h, c: c, seen: map[string]bool{}}
	r.g = &Group{Name: h.Name, Addresses: h.Addresses, Profiles: h.Profiles}
	if err := r.osMix(); err != nil {
		return nil, err
	}
	if err := r.rpcChoice(); err != nil {
		return nil, err
	}
	r.scopes()
	for _, name := range h.Roles {
		role, err := c.Role(name)
		if err != nil {
			return nil, err
		}
		if slices.Contains(r.g.Roles, role.ID) {
			continue
		}
		r.g.Roles = append(r.g.Roles, role.ID)
		for _, sid := range role.Services {
			svc, err := c.Service(sid)
			if err != nil {
				return nil, fmt.Errorf("role %q: %w", role.ID, err)
			}
			for _, e := range svc.Entries {
				r.entry(role.ID, svc, e)
			}
		}
	}
	if len(r.g.Roles) == 0 {
		return nil, errors.New("no roles")
	}
	sortNeeds(r.g.Needs)
	r.openNotes()
	r.unpinnedNote()
	slices.SortFunc(r.g.Omitted, func(a, b Omission) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Ports, b.Ports), cmp.Compare(a.Label, b.Label))
	})
	r.g.Omitted = slices.Compact(r.g.Omitted)
	return r.g, nil
}

// osMix resolves the group's OS versions, oldest first.
func (r *resolver) osMix() error {
	names := r.h.OS
	if len(names) == 0 {
		names = r.p.OS
	}
	if len(names) == 0 {
		return errors.New("no OS versions: name them (for example --os 2016)")
	}
	for _, n := range names {
		o, err := r.c.OS(n)
		if err != nil {
			return err
		}
		if !slices.Contains(r.oses, o) {
			r.oses = append(r.oses, o)
		}
	}
	slices.SortStableFunc(r.oses, func(a, b *catalog.OS) int { return a.Build - b.Build })
	for _, o := range r.oses {
		r.g.OS = append(r.g.OS, OSVersion{ID: o.ID, Name: o.Name, Kind: o.Kind, Build: o.Build, Legacy: o.Build < legacyBuild})
	}
	return nil
}

// rpcChoice decides which range stands for "RPC dynamic".
func (r *resolver) rpcChoice() error {
	for _, iface := range slices.Sorted(maps.Keys(r.p.RPC.Static)) {
		if !slices.Contains(r.c.RPCInterfaces(), iface) {
			// The loader knows the catalog's interfaces; a policy that
			// overrides the service declaring one leaves the pin nothing
			// to pin, which the reader should know.
			r.g.Notes = append(r.g.Notes, fmt.Sprintf("the static RPC port for %s pins nothing: no service of this policy declares that interface", iface))
			continue
		}
		r.g.RPC.Static = append(r.g.RPC.Static, StaticRPC{Interface: iface, Port: r.p.RPC.Static[iface]})
	}
	slices.SortFunc(r.g.RPC.Static, func(a, b StaticRPC) int { return cmp.Compare(a.Interface, b.Interface) })
	if r.p.RPC.Range != nil {
		r.g.RPC.Ranges = []PortRange{*r.p.RPC.Range}
		r.g.RPC.Reason = fmt.Sprintf("restricted RPC dynamic range %s set in the registry (KB 154596)", r.p.RPC.Range)
		return nil
	}
	byRange := map[PortRange][]string{}
	for _, o := range r.listeners() {
		if _, ok := byRange[o.RPCDynamic]; !ok {
			r.g.RPC.Ranges = append(r.g.RPC.Ranges, o.RPCDynamic)
		}
		byRange[o.RPCDynamic] = append(byRange[o.RPCDynamic], o.Name)
	}
	slices.SortFunc(r.g.RPC.Ranges, func(a, b PortRange) int { return cmp.Compare(a.From, b.From) })
	var parts []string
	for _, pr := range r.g.RPC.Ranges {
		parts = append(parts, fmt.Sprintf("%s for %s", pr, strings.Join(byRange[pr], ", ")))
	}
	r.g.RPC.Reason = "default RPC dynamic range of the servers' OS (KB 929851): " + strings.Join(parts, "; ")
	return nil
}

// listeners are the OS versions whose RPC dynamic range the group's servers
// listen on (Group.Hosts): client versions in the mix are peers, and their
// own ranges open nothing on the servers.
func (r *resolver) listeners() []*catalog.OS {
	var out []*catalog.OS
	for _, v := range r.g.Hosts() {
		o, _ := r.c.OS(v.ID) // osMix found it
		out = append(out, o)
	}
	return out
}

// scopes maps each peer class to source addresses: the networks the group
// names for it. Members a group does not name are worked out per role, by
// sources.
func (r *resolver) scopes() {
	r.peers = map[Peer][]netip.Prefix{}
	r.members = map[string][]netip.Prefix{}
	for peer, nets := range r.h.Peers {
		var src []netip.Prefix
		for _, net := range nets {
			src = append(src, r.p.Networks[net]...)
		}
		r.peers[peer] = sortPrefixes(src)
	}
}

// sources are the addresses that peer class may connect from for a need
// of role; none means any address.
func (r *resolver) sources(role string, peer Peer) []netip.Prefix {
	if _, named := r.h.Peers[peer]; named || peer != Members {
		return r.peers[peer]
	}
	if _, ok := r.members[role]; !ok {
		r.members[role] = r.memberAddresses(role)
	}
	return r.members[role]
}

// memberAddresses are the addresses of this group and of every other group
// that holds role: the other DCs of a DC's replication, the other nodes of
// a cluster. A role both groups hold for another reason does not count.
func (r *resolver) memberAddresses(role string) []netip.Prefix {
	var out []netip.Prefix
	for _, other := range r.p.Hosts {
		if other.Name == r.h.Name || r.holdsRole(&other, role) {
			out = append(out, other.Addresses...)
		}
	}
	return sortPrefixes(out)
}

func (r *resolver) holdsRole(h *Host, role string) bool {
	for _, name := range h.Roles {
		if rr, err := r.c.Role(name); err == nil && rr.ID == role {
			return true
		}
	}
	return false
}

func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return slices.Compact(out)
}

// openNotes says which peer classes of the group's needs may connect from
// any address, so that no format hides an unscoped rule.
func (r *resolver) openNotes() {
	for _, peer := range []Peer{Admins, Clients, Members} {
		if slices.ContainsFunc(r.g.Needs, func(n Need) bool { return n.Peer == peer && len(n.Sources) == 0 }) {
			r.g.Notes = append(r.g.Notes, fmt.Sprintf("%s may connect from any address: the policy gives no addresses for them", peer))
		}
	}
}

// unpinnedNote says which services keep the RPC dynamic range although the
// policy pins RPC ports, so that nobody expects pinning to close the range.
func (r *resolver) unpinnedNote() {
	if len(r.g.RPC.Static) == 0 {
		return
	}
	var services []string
	for _, n := range r.g.Needs {
		if n.RPC == "dynamic" || n.RPC == "restricted" {
			services = addUnique(services, n.Service)
		}
	}
	if len(services) > 0 {
		r.g.Notes = append(r.g.Notes, fmt.Sprintf("static RPC ports pin only their own interfaces; the RPC dynamic range stays open for %s",
			strings.Join(services, ", ")))
	}
}
