package policies

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fwgen/fwgen/catalog"
)

// mixes are the OS mixes the peer-model tests run every role through.
var mixes = [][]string{{"2016"}, {"2003", "2016"}, {"2008r2"}, {"2022"}}

// scopedSite puts every role of the catalog in a host group of its own,
// with clients, admins and (for every other group) members scoped to
// networks, so that each peer has sources of its own.
func scopedSite(oses []string, optional bool) *Policy {
	c := catalog.Default()
	p := &Policy{Name: "site", OS: oses, Optional: optional, Networks: map[string][]netip.Prefix{
		"clients": {netip.MustParsePrefix("10.10.0.0/16")},
		"admins":  {netip.MustParsePrefix("10.99.0.0/24")},
	}}
	for i, r := range c.Roles {
		p.Hosts = append(p.Hosts, Host{Name: r.ID, Roles: []string{r.ID},
			Addresses: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 20, byte(i), 1}), 32)},
			Peers:     map[Peer][]string{Clients: {"clients"}, Admins: {"admins"}}})
	}
	return p
}

// TestEndpointMapperInvariant checks, over every role and OS mix, with and
// without every scenario: a peer that may reach an RPC port (the dynamic
// range, a restricted range or a pinned port) of a service may reach its
// endpoint mapper, 135/tcp, from the same sources. The catalog has it
// itself: the resolver never has to add 135/tcp.
func TestEndpointMapperInvariant(t *testing.T) {
	for _, oses := range mixes {
		for _, optional := range []bool{false, true} {
			for _, rpc := range []RPCOptions{{}, {Range: &PortRange{From: 5000, To: 5100},
				Static: map[string]uint16{"ntds": 38901, "netlogon": 38902, "frs": 38903, "dfsr": 38904}}} {
				p := scopedSite(oses, optional)
				p.RPC = rpc
				rs, err := Resolve(p, catalog.Default())
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range rs.Groups {
					checkEndpointMapper(t, fmt.Sprintf("%s %v optional=%v", g.Name, oses, optional), &g)
				}
			}
		}
	}
}

func checkEndpointMapper(t *testing.T, what string, g *Group) {
	t.Helper()
	for _, n := range g.Needs {
		if n.RPC == "" || n.Proto != TCP {
			continue
		}
		if !slices.ContainsFunc(g.Needs, func(m Need) bool {
			return m.Service == n.Service && m.Peer == n.Peer && m.Proto == TCP &&
				m.Ports == (PortRange{From: 135, To: 135}) && SourcesKey(m.Sources) == SourcesKey(n.Sources)
		}) {
			t.Errorf("%s: %s may reach %s %s/tcp (%s) but not 135/tcp", what, n.Peer, n.Service, n.Ports, n.RPC)
		}
	}
	for _, note := range g.Notes {
		if strings.Contains(note, "135/tcp added") {
			t.Errorf("%s: the catalog lacks an endpoint mapper entry: %s", what, note)
		}
	}
}

// TestEndpointMapperAdded: a service of the policy's own with RPC ports
// and no 135/tcp gets it, and the group says so.
func TestEndpointMapperAdded(t *testing.T) {
	p := quick([]string{"erp"}, []string{"2016"})
	p.Services = []catalog.Service{{ID: "erp-rpc", Name: "ERP", Entries: []catalog.Entry{
		{Protocol: TCP, Ports: []string{catalog.RPCDynamicSymbol}, Peers: catalog.Peers{Clients}}}}}
	p.Roles = []catalog.Role{{ID: "erp", Name: "ERP", Services: []catalog.RoleService{{ID: "erp-rpc"}}}}
	g := resolve(t, p)
	if !has(g, TCP, "135") {
		t.Errorf("no 135/tcp for an RPC service: %+v", g.Needs)
	}
	if !slices.ContainsFunc(g.Notes, func(s string) bool { return strings.Contains(s, "135/tcp added for clients of erp-rpc") }) {
		t.Errorf("notes do not say 135/tcp was added: %v", g.Notes)
	}
}

// twoGroups is a site with two host groups of the same roles, each with
// its own address and clients scoped to the workstations.
func twoGroups(roles []string, a, b string) *Policy {
	return &Policy{Name: "site", OS: []string{"2016"},
		Networks: map[string][]netip.Prefix{"workstations": {netip.MustParsePrefix("10.10.0.0/16")}},
		Hosts: []Host{
			{Name: "a", Roles: roles, Addresses: []netip.Prefix{netip.MustParsePrefix(a)},
				Peers: map[Peer][]string{Clients: {"workstations"}}},
			{Name: "b", Roles: roles, Addresses: []netip.Prefix{netip.MustParsePrefix(b)},
				Peers: map[Peer][]string{Clients: {"workstations"}}},
		}}
}

// reaches reports whether addr may reach port of proto on group g.
func reaches(g *Group, proto Proto, port uint16, addr string) bool {
	a := netip.MustParseAddr(addr)
	return slices.ContainsFunc(g.Needs, func(n Need) bool {
		if n.Proto != proto || !n.Ports.Contains(port) {
			return false
		}
		return len(n.Sources) == 0 || slices.ContainsFunc(n.Sources, func(p netip.Prefix) bool { return p.Contains(a) })
	})
}

// TestMembersAcrossTheSite: two DC groups reach each other on every port
// DCs use between them (KB 179442), pinned RPC ports included, though
// their clients are scoped to the workstations.
func TestMembersAcrossTheSite(t *testing.T) {
	p := twoGroups([]string{"dc"}, "10.20.0.10/32", "10.21.0.10/32")
	p.RPC.Static = map[string]uint16{"ntds": 38901, "netlogon": 38902}
	rs, err := Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	tcp := []uint16{53, 88, 135, 389, 445, 464, 636, 3268, 3269, 49152, 65535, 38901, 38902}
	udp := []uint16{53, 88, 123, 389, 464}
	for i, g := range rs.Groups {
		other := []string{"10.21.0.10", "10.20.0.10"}[i]
		for _, port := range tcp {
			if !reaches(&g, TCP, port, other) {
				t.Errorf("%s: the other DC cannot reach %d/tcp", g.Name, port)
			}
		}
		for _, port := range udp {
			if !reaches(&g, UDP, port, other) {
				t.Errorf("%s: the other DC cannot reach %d/udp", g.Name, port)
			}
		}
		if reaches(&g, TCP, 389, "192.0.2.1") {
			t.Errorf("%s: an address outside the workstations and DCs reaches LDAP", g.Name)
		}
	}
}

// TestMembersOfOneCluster: two clusters, neither naming its members, do
// not reach each other's cluster ports.
func TestMembersOfOneCluster(t *testing.T) {
	for _, roles := range [][]string{{"cluster-node"}, {"hyperv-host", "cluster-node"}} {
		rs, err := Resolve(twoGroups(roles, "10.30.0.0/24", "10.31.0.0/24"), catalog.Default())
		if err != nil {
			t.Fatal(err)
		}
		for i, g := range rs.Groups {
			own, other := []string{"10.30.0.5", "10.31.0.5"}[i], []string{"10.31.0.5", "10.30.0.5"}[i]
			for _, pp := range []struct {
				proto Proto
				port  uint16
			}{{UDP, 3343}, {TCP, 3343}, {TCP, 445}, {TCP, 135}, {TCP, 49152}} {
				if reaches(&g, pp.proto, pp.port, other) {
					t.Errorf("%v %s: the other cluster reaches %d/%s", roles, g.Name, pp.port, pp.proto)
				}
				if !reaches(&g, pp.proto, pp.port, own) {
					t.Errorf("%v %s: a node of the cluster cannot reach %d/%s", roles, g.Name, pp.port, pp.proto)
				}
			}
		}
	}
}

// TestMembersNamed: a group that names its members, by host group or by
// network, gets those and no others.
func TestMembersNamed(t *testing.T) {
	p := twoGroups([]string{"cluster-node"}, "10.30.0.0/24", "10.31.0.0/24")
	p.Networks["stretch"] = []netip.Prefix{netip.MustParsePrefix("10.40.0.0/24")}
	p.Hosts[0].Peers[Members] = []string{"a", "b", "stretch"}
	g := resolveAll(t, p)[0]
	for _, addr := range []string{"10.30.0.5", "10.31.0.5", "10.40.0.5"} {
		if !reaches(&g, UDP, 3343, addr) {
			t.Errorf("named member %s cannot reach 3343/udp", addr)
		}
	}
}

// TestRolePeers: RD Session Hosts accept SMB and RPC from the RD
// Connection Broker's servers only; without a broker in the policy they
// accept them from nobody, and say so; in quick mode the broker is
// wherever the clients are.
func TestRolePeers(t *testing.T) {
	p := &Policy{Name: "rds", OS: []string{"2019"},
		Networks: map[string][]netip.Prefix{"users": {netip.MustParsePrefix("10.10.0.0/16")}},
		Hosts: []Host{
			{Name: "rdsh", Roles: []string{"rds-session-host"}, Addresses: []netip.Prefix{netip.MustParsePrefix("10.51.0.0/28")},
				Peers: map[Peer][]string{Clients: {"users"}}},
			{Name: "broker", Roles: []string{"rd-connection-broker"}, Addresses: []netip.Prefix{netip.MustParsePrefix("10.51.1.10/32")},
				Peers: map[Peer][]string{Clients: {"users"}}},
		}}
	rs := resolveAll(t, p)
	rdsh, broker := &rs[0], &rs[1]
	for _, port := range []uint16{445, 135, 49152} {
		if !reaches(rdsh, TCP, port, "10.51.1.10") || reaches(rdsh, TCP, port, "10.10.0.5") {
			t.Errorf("session host %d/tcp: want the broker only", port)
		}
	}
	if !reaches(rdsh, TCP, 3389, "10.10.0.5") {
		t.Error("users cannot reach RDP on the session hosts")
	}
	if !reaches(broker, TCP, 135, "10.51.0.5") || reaches(broker, TCP, 135, "10.10.0.5") {
		t.Error("broker 135/tcp: want the session hosts only")
	}

	p.Hosts = p.Hosts[:1]
	rdsh = &resolveAll(t, p)[0]
	if reaches(rdsh, TCP, 445, "10.51.1.10") || reaches(rdsh, TCP, 445, "192.0.2.1") {
		t.Error("without a broker, session hosts opened 445")
	}
	if !slices.ContainsFunc(rdsh.Notes, func(s string) bool {
		return strings.Contains(s, "role rd-connection-broker") && strings.Contains(s, "peers.rd-connection-broker")
	}) {
		t.Errorf("notes do not say the broker is missing: %v", rdsh.Notes)
	}

	p.Hosts[0].Peers[catalog.RolePeer("rd-connection-broker")] = []string{"users"}
	rdsh = &resolveAll(t, p)[0]
	if !reaches(rdsh, TCP, 445, "10.10.0.5") {
		t.Error("a broker network named under peers is not admitted")
	}

	q := Quick{Roles: []string{"rds-session-host"}, OS: []string{"2019"}, From: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	g := resolve(t, q.Policy())
	if !reaches(g, TCP, 445, "10.1.2.3") || reaches(g, TCP, 445, "192.0.2.1") {
		t.Error("quick mode: the broker's ports should be open to --from")
	}
}

// TestEphemeralIsNotRPC: a restricted RPC range narrows RPC, not FTP's
// passive ports, which come from the OS's ephemeral range.
func TestEphemeralIsNotRPC(t *testing.T) {
	p := &Policy{Name: "t", OS: []string{"2016"}, RPC: RPCOptions{Range: &PortRange{From: 5000, To: 5100}},
		Roles: []catalog.Role{{ID: "ftp-server", Name: "FTP", Services: []catalog.RoleService{{ID: "ftp"}, {ID: "rpc"}}}},
		Hosts: []Host{{Name: "t", Roles: []string{"ftp-server"}}}}
	g := resolve(t, p)
	for _, n := range g.Needs {
		switch {
		case n.Service == "ftp" && n.Ports.From > 1024 && n.Ports != (PortRange{From: 49152, To: 65535}):
			t.Errorf("FTP passive ports %s, want the OS's 49152-65535", n.Ports)
		case n.Service == "rpc" && n.RPC == "restricted" && n.Ports != (PortRange{From: 5000, To: 5100}):
			t.Errorf("RPC ports %s, want the restricted 5000-5100", n.Ports)
		}
	}
}

// TestScenarios: a scenario's entries stay closed until asked for, per
// group or for the policy; the group lists its scenarios, on or off, with
// what they open.
func TestScenarios(t *testing.T) {
	g := resolve(t, quick([]string{"file-server"}, []string{"2016"}))
	if has(g, TCP, "135") || has(g, TCP, "389") || !has(g, TCP, "445") {
		t.Errorf("a plain file server: %v", g.ByPort())
	}
	for _, id := range []string{"dfs-namespaces", "dfs-replication", "netbios"} {
		i := slices.IndexFunc(g.Scenarios, func(s ScenarioState) bool { return s.ID == id })
		if i < 0 || g.Scenarios[i].On || len(g.Scenarios[i].Ports) == 0 || g.Scenarios[i].Name == "" {
			t.Errorf("scenario %s not listed as off with its ports: %+v", id, g.Scenarios)
		}
	}
	p := quick([]string{"file-server"}, []string{"2016"})
	p.Hosts[0].Scenarios = []string{"dfs-namespaces"}
	g = resolve(t, p)
	if !has(g, TCP, "389") || has(g, TCP, "139") {
		t.Error("dfs-namespaces should open LDAP and leave NetBIOS closed")
	}
	for _, n := range g.Needs {
		if n.Service == "dfsn" && (!n.Optional || !slices.Equal(n.Scenarios, []string{"dfs-namespaces"})) {
			t.Errorf("dfsn need without its scenario: %+v", n)
		}
	}
	p = quick([]string{"hyperv-host"}, []string{"2008r2"})
	p.Scenarios = []string{"hyperv-replica"}
	if g = resolve(t, p); has(g, TCP, "80") || has(g, TCP, "443") {
		t.Error("Hyper-V Replica on 2008 R2, which has none")
	}
}

func resolveAll(t *testing.T, p *Policy) []Group {
	t.Helper()
	rs, err := Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return rs.Groups
}

func TestCheckRPC(t *testing.T) {
	c := catalog.Default()
	rng := func(from, to uint16) *PortRange { return &PortRange{From: from, To: to} }
	tests := []struct {
		name string
		o    RPCOptions
		want []string // substrings of the problems, in order
	}{
		{"fine", RPCOptions{Range: rng(5000, 5100), Static: map[string]uint16{"ntds": 38901, "netlogon": 38902, "dfsr": 5722}}, nil},
		{"small range", RPCOptions{Range: rng(5000, 5010)}, []string{"range: 5000-5010 has 11 ports: KB 154596"}},
		{"shared port", RPCOptions{Static: map[string]uint16{"ntds": 38901, "netlogon": 38901}},
			[]string{"static.ntds: netlogon and ntds are both pinned to port 38901", "event 5809"}},
		{"inside range", RPCOptions{Range: rng(5000, 5100), Static: map[string]uint16{"ntds": 5050}},
			[]string{"static.ntds: ntds=5050 is inside the restricted RPC range 5000-5100"}},
		{"served port", RPCOptions{Static: map[string]uint16{"netlogon": 88}},
			[]string{"static.netlogon: netlogon=88 is already the port of ad (Kerberos), kdc (Kerberos) on the servers of dc"}},
		{"another interface's own port", RPCOptions{Static: map[string]uint16{"ntds": 5722}},
			[]string{"static.ntds: ntds=5722 is already the port of ad (RPC, DFSR (SYSVOL))"}},
		{"range over served ports", RPCOptions{Range: rng(100, 300)},
			[]string{"range: 100-300 holds ports the servers listen on, or would with a scenario on (135/tcp of ad (RPC)"}},
		{"unused interface", RPCOptions{Static: map[string]uint16{"dfsr": 38904}},
			[]string{"static.dfsr: no service of the roles dc uses"}},
	}
	for _, tt := range tests {
		var got []string
		roles := []string{"dc"}
		if tt.name == "unused interface" {
			roles = []string{"web"}
			tt.want = []string{"static.dfsr: no service of the roles web uses the RPC interface dfsr"}
		}
		for _, pr := range CheckRPC(tt.o, roles, c) {
			got = append(got, pr.Field+": "+pr.Msg)
		}
		joined := strings.Join(got, "\n")
		if len(tt.want) == 0 && len(got) > 0 {
			t.Errorf("%s: %v", tt.name, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(joined, w) {
				t.Errorf("%s: %q not in\n%s", tt.name, w, joined)
			}
		}
	}
}
