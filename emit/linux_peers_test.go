package emit

import (
	"net/netip"
	"testing"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// siteGroup returns the Ruleset of one host group of a resolved site, as
// generate -o writes each group's file.
func siteGroup(rs *policies.Ruleset, name string) *policies.Ruleset {
	one := *rs
	for _, g := range rs.Groups {
		if g.Name == name {
			one.Groups = []policies.Group{g}
			return &one
		}
	}
	panic("no host group " + name)
}

// dcPorts are the ports domain controllers use between each other (KB
// 179442), with the RPC dynamic range's ends and middle and the pinned
// NTDS and Netlogon ports (KB 224196).
var dcPorts = portSample{
	tcp: []uint16{53, 88, 135, 389, 445, 464, 636, 3268, 3269, 49152, 57343, 65535, 38901, 38902},
	udp: []uint16{53, 88, 123, 389, 464},
}

// TestLinuxDomainControllersTraffic: two DC host groups of one site, whose
// clients are scoped to the workstations, each with its own group's rules
// on its input chain under --default-deny. Each DC reaches every port of
// the other that DCs use between them, pinned RPC ports included; a
// workstation reaches them too; the administrators' network reaches the
// endpoint mapper wherever it reaches the RPC range; a host outside every
// scope reaches nothing.
func TestLinuxDomainControllersTraffic(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	pfx := func(s ...string) []netip.Prefix { return prefixes(s...) }
	p := &policies.Policy{Name: "contoso", Source: "site.yaml", OS: []string{"2016"},
		RPC: policies.RPCOptions{Static: map[string]uint16{"ntds": 38901, "netlogon": 38902}},
		Networks: map[string][]netip.Prefix{
			"workstations": pfx("10.10.0.0/24", "fd10::/64"),
			"admins":       pfx("10.99.0.0/24", "fd99::/64"),
		},
		Hosts: []policies.Host{
			{Name: "dcs-hq", Roles: []string{"dc"}, Addresses: pfx("10.20.0.2", "fd20::2"),
				Peers: map[policies.Peer][]string{policies.Clients: {"workstations"}, policies.Admins: {"admins"}}},
			{Name: "dcs-branch", Roles: []string{"dc"}, Addresses: pfx("10.21.0.2", "fd21::2"),
				Peers: map[policies.Peer][]string{policies.Clients: {"workstations"}, policies.Admins: {"admins"}}},
		}}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	for name, fs := range trafficFormats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			router := fwtest.NewNetns(t)
			hq, branch, ws, admin, outsider := fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t)
			fwtest.Link(t, router, pfx("10.20.0.1/24", "fd20::1/64"), hq, pfx("10.20.0.2/24", "fd20::2/64"))
			fwtest.Link(t, router, pfx("10.21.0.1/24", "fd21::1/64"), branch, pfx("10.21.0.2/24", "fd21::2/64"))
			fwtest.Link(t, router, pfx("10.10.0.1/24", "fd10::1/64"), ws, pfx("10.10.0.2/24", "fd10::2/64"))
			fwtest.Link(t, router, pfx("10.99.0.1/24", "fd99::1/64"), admin, pfx("10.99.0.2/24", "fd99::2/64"))
			fwtest.Link(t, router, pfx("10.50.0.1/24", "fd50::1/64"), outsider, pfx("10.50.0.2/24", "fd50::2/64"))
			route(t, router, map[*fwtest.Netns][]string{hq: {"10.20.0.1", "fd20::1"}, branch: {"10.21.0.1", "fd21::1"},
				ws: {"10.10.0.1", "fd10::1"}, admin: {"10.99.0.1", "fd99::1"}, outsider: {"10.50.0.1", "fd50::1"}})
			serve(t, hq, []string{"10.20.0.2", "fd20::2"}, dcPorts)
			serve(t, branch, []string{"10.21.0.2", "fd21::2"}, dcPorts)
			applyAll(t, hq, fs, siteGroup(rs, "dcs-hq"), Options{Chain: "input", DefaultDeny: true, Table: "fwgen-dcs-hq"})
			applyAll(t, branch, fs, siteGroup(rs, "dcs-branch"), Options{Chain: "input", DefaultDeny: true, Table: "fwgen-dcs-branch"})

			toHQ, toBranch := probes(dcPorts, "10.20.0.2", "fd20::2"), probes(dcPorts, "10.21.0.2", "fd21::2")
			expectReach(t, "branch DC to HQ DC", branch, toHQ, true)
			expectReach(t, "HQ DC to branch DC", hq, toBranch, true)
			expectReach(t, "workstation to HQ DC", ws, toHQ, true)
			rpc := portSample{tcp: []uint16{135, 49152, 65535}}
			expectReach(t, "administrators to the endpoint mapper and the RPC range", admin, probes(rpc, "10.20.0.2", "fd20::2"), true)
			expectReach(t, "a host outside every scope to HQ DC", outsider, toHQ, false)
			expectReach(t, "a host outside every scope to branch DC", outsider, toBranch, false)
		})
	}
}

// clusterPorts are the ports the nodes of a failover cluster use between
// them.
var clusterPorts = portSample{tcp: []uint16{135, 445, 3343, 5985, 49152, 65535}, udp: []uint16{3343}}

// TestLinuxClustersTraffic: two failover clusters of one site, neither
// naming its members. A node of a cluster reaches the other nodes of its
// own cluster on every cluster port, and a node of the other cluster is
// refused on all of them.
func TestLinuxClustersTraffic(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	pfx := func(s ...string) []netip.Prefix { return prefixes(s...) }
	p := &policies.Policy{Name: "fabrikam", Source: "site.yaml", OS: []string{"2022"},
		Networks: map[string][]netip.Prefix{"workstations": pfx("10.10.0.0/24")},
		Hosts: []policies.Host{
			{Name: "sql-cluster", Roles: []string{"cluster-node"}, Addresses: pfx("10.30.0.0/24", "fd30::/64"),
				Peers: map[policies.Peer][]string{policies.Clients: {"workstations"}}},
			{Name: "hv-cluster", Roles: []string{"hyperv-host", "cluster-node"}, Addresses: pfx("10.31.0.0/24", "fd31::/64"),
				Peers: map[policies.Peer][]string{policies.Clients: {"workstations"}}},
		}}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	for name, fs := range trafficFormats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			router := fwtest.NewNetns(t)
			node1, node2, other := fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t)
			fwtest.Link(t, router, pfx("10.30.0.1/25", "fd30::1/65"), node1, pfx("10.30.0.2/25", "fd30::2/65"))
			fwtest.Link(t, router, pfx("10.30.0.129/25", "fd30::8000:0:0:1/65"), node2, pfx("10.30.0.130/25", "fd30::8000:0:0:2/65"))
			fwtest.Link(t, router, pfx("10.31.0.1/24", "fd31::1/64"), other, pfx("10.31.0.2/24", "fd31::2/64"))
			route(t, router, map[*fwtest.Netns][]string{node1: {"10.30.0.1", "fd30::1"},
				node2: {"10.30.0.129", "fd30::8000:0:0:1"}, other: {"10.31.0.1", "fd31::1"}})
			serve(t, node1, []string{"10.30.0.2", "fd30::2"}, clusterPorts)
			applyAll(t, node1, fs, siteGroup(rs, "sql-cluster"), Options{Chain: "input", DefaultDeny: true, Table: "fwgen-sql-cluster"})

			toNode1 := probes(clusterPorts, "10.30.0.2", "fd30::2")
			expectReach(t, "a node of the same cluster", node2, toNode1, true)
			expectReach(t, "a node of the other cluster", other, toNode1, false)
		})
	}
}

// TestLinuxSiteFilesAddUp loads the files of each host group of a site
// together, as generate -o writes them (a table or chain each, and the
// rules of the groups that share its servers), with --default-deny: on a
// router in front of the servers (forward chain), and on the servers' own
// host (input chain). Either way they let through exactly what the site's
// one file does: a DC inside the web servers' prefix keeps its own ports
// and the web ports the web group opens on it, a management server inside
// it too has its WinRM and the web ports, and the rest is dropped.
func TestLinuxSiteFilesAddUp(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	pfx := func(s ...string) []netip.Prefix { return prefixes(s...) }
	p := &policies.Policy{Name: "contoso", Source: "site.yaml", OS: []string{"2016"},
		Networks: map[string][]netip.Prefix{"clients": pfx("10.1.0.0/24", "fd01::/64")},
		Hosts: []policies.Host{
			{Name: "web", Roles: []string{"web"}, Addresses: pfx("10.3.0.0/24", "fd03::/64"),
				Peers: map[policies.Peer][]string{policies.Clients: {"clients"}}},
			{Name: "dcs", Roles: []string{"dc"}, Addresses: pfx("10.3.0.10", "fd03::10"),
				Peers: map[policies.Peer][]string{policies.Clients: {"clients"}}},
			{Name: "mgmt", Roles: []string{"management"}, Addresses: pfx("10.3.0.20", "fd03::20"),
				Peers: map[policies.Peer][]string{policies.Admins: {"clients"}}},
		}}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ports := portSample{tcp: []uint16{80, 88, 389, 443, 445, 5985, 8080}, udp: []uint16{53, 88, 161}}
	for name, fs := range trafficFormats {
		for _, chain := range []string{"forward", "input"} {
			t.Run(name+"/"+chain, func(t *testing.T) {
				t.Parallel()
				reach := map[string][]bool{}
				for _, layout := range []string{"one file", "a file per group"} {
					router, server, client := fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t)
					fwtest.Link(t, router, pfx("10.1.0.1/24", "fd01::1/64"), client, pfx("10.1.0.2/24", "fd01::2/64"))
					fwtest.Link(t, router, pfx("10.3.0.1/24", "fd03::1/64"), server, pfx("10.3.0.10/24", "10.3.0.20/24", "fd03::10/64", "fd03::20/64"))
					route(t, router, map[*fwtest.Netns][]string{client: {"10.1.0.1", "fd01::1"}, server: {"10.3.0.1", "fd03::1"}})
					serve(t, server, []string{"10.3.0.10", "10.3.0.20", "fd03::10", "fd03::20"}, ports)
					on := router // the forward chain filters on the router, the input chain on the servers' host
					if chain == "input" {
						on = server
					}
					if layout == "one file" {
						applyAll(t, on, fs, rs, Options{Chain: chain, DefaultDeny: true, Table: "fwgen"})
					} else {
						for _, g := range rs.Groups {
							applyAll(t, on, fs, rs.ForGroup(g.Name, true), Options{Chain: chain, DefaultDeny: true,
								Table: "fwgen-" + g.Name, SiteFile: true})
						}
					}
					ps := probes(ports, "10.3.0.10", "fd03::10", "10.3.0.20", "fd03::20")
					reach[layout] = client.Reach(ps, passTimeout)
					if layout == "a file per group" {
						for i, ok := range reach[layout] {
							if ok != reach["one file"][i] {
								t.Errorf("%s: one file lets it through %v, the files of each group %v", ps[i], reach["one file"][i], ok)
							}
						}
					}
				}
				// What the one file does is right: the DC has its ports and
				// the web ports, the management server WinRM and the web
				// ports, and nothing else is open.
				want := map[string]bool{"tcp 10.3.0.10:389": true, "tcp 10.3.0.10:80": true, "tcp 10.3.0.20:80": true,
					"tcp 10.3.0.20:5985": true, "tcp 10.3.0.10:5985": false, "tcp 10.3.0.20:389": false,
					"tcp 10.3.0.10:8080": false, "udp 10.3.0.10:161": false, "udp 10.3.0.10:53": true}
				ps := probes(ports, "10.3.0.10", "fd03::10", "10.3.0.20", "fd03::20")
				for i, p := range ps {
					if w, ok := want[p.String()]; ok && reach["one file"][i] != w {
						t.Errorf("one file: %s got through %v, want %v", p, reach["one file"][i], w)
					}
				}
			})
		}
	}
}
