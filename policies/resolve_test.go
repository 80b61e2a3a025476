package policies

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fwgen/fwgen/catalog"
)

// quick is the policy of quick mode's flags --role and --os.
func quick(roles, oses []string) *Policy {
	return Quick{Roles: roles, OS: oses}.Policy()
}

func resolve(t *testing.T, p *Policy) *Group {
	t.Helper()
	rs, err := Resolve(p, catalog.Default())
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if len(rs.Groups) != 1 {
		t.Fatalf("got %d groups, want 1", len(rs.Groups))
	}
	return &rs.Groups[0]
}

// has reports whether some need of g opens exactly port range pr for proto.
func has(g *Group, proto Proto, pr string) bool {
	want, _ := catalog.ParsePortRange(pr)
	return slices.ContainsFunc(g.Needs, func(n Need) bool { return n.Proto == proto && n.Ports == want })
}

func TestResolveOSMixes(t *testing.T) {
	type port struct {
		proto Proto
		ports string
	}
	dc2016 := []port{{TCP, "53"}, {UDP, "53"}, {TCP, "88"}, {UDP, "88"}, {TCP, "135"}, {TCP, "389"},
		{UDP, "389"}, {TCP, "445"}, {TCP, "464"}, {UDP, "464"}, {TCP, "636"}, {TCP, "3268"},
		{TCP, "3269"}, {TCP, "9389"}, {UDP, "123"}, {TCP, "49152-65535"}}
	tests := []struct {
		name      string
		roles     []string
		os        []string
		rpc       RPCOptions
		want      []port
		wantNot   []port
		rpcRanges string
	}{
		{name: "2016 only", roles: []string{"dc"}, os: []string{"2016"}, want: dc2016,
			wantNot: []port{{TCP, "1025-5000"}, {TCP, "5722"}, {UDP, "135"}, {UDP, "445"}}, rpcRanges: "49152-65535"},
		{name: "2003 only", roles: []string{"dc"}, os: []string{"2003"}, want: []port{{TCP, "1025-5000"}, {TCP, "389"}},
			wantNot: []port{{TCP, "49152-65535"}, {TCP, "5722"}}, rpcRanges: "1025-5000"},
		{name: "2003 and 2016", roles: []string{"dc"}, os: []string{"2003", "2016"},
			want: []port{{TCP, "1025-5000"}, {TCP, "49152-65535"}}, wantNot: []port{{TCP, "5722"}}, rpcRanges: "1025-5000 49152-65535"},
		{name: "2008 R2", roles: []string{"dc"}, os: []string{"2008 R2"}, want: []port{{TCP, "5722"}, {TCP, "49152-65535"}},
			wantNot: []port{{TCP, "1025-5000"}}, rpcRanges: "49152-65535"},
		{name: "restricted range", roles: []string{"dc"}, os: []string{"2016"}, rpc: RPCOptions{Range: &PortRange{From: 5000, To: 5100}},
			want: []port{{TCP, "5000-5100"}, {TCP, "135"}}, wantNot: []port{{TCP, "49152-65535"}}, rpcRanges: "5000-5100"},
		{name: "static ports", roles: []string{"dc"}, os: []string{"2003", "2016"},
			rpc:  RPCOptions{Static: map[string]uint16{"ntds": 38901, "netlogon": 38902, "frs": 38903, "dfsr": 5722}},
			want: []port{{TCP, "38901"}, {TCP, "38902"}, {TCP, "38903"}, {TCP, "5722"}}, rpcRanges: "1025-5000 49152-65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := quick(tt.roles, tt.os)
			p.RPC = tt.rpc
			g := resolve(t, p)
			for _, w := range tt.want {
				if !has(g, w.proto, w.ports) {
					t.Errorf("missing %s/%s", w.ports, w.proto)
				}
			}
			for _, w := range tt.wantNot {
				if has(g, w.proto, w.ports) {
					t.Errorf("unexpected %s/%s", w.ports, w.proto)
				}
			}
			var got []string
			for _, r := range g.RPC.Ranges {
				got = append(got, r.String())
			}
			if strings.Join(got, " ") != tt.rpcRanges {
				t.Errorf("RPC ranges %v, want %s", got, tt.rpcRanges)
			}
		})
	}
}

// TestStaticRPCReplacesOnlyItsInterface: a pinned NTDS port replaces the
// dynamic range for AD's RPC, not for services that pin nothing.
func TestStaticRPCReplacesOnlyItsInterface(t *testing.T) {
	p := quick([]string{"dc"}, []string{"2016"})
	p.RPC.Static = map[string]uint16{"ntds": 38901}
	g := resolve(t, p)
	for _, n := range g.Needs {
		if n.RPCInterface == "ntds" && (n.Ports != PortRange{From: 38901, To: 38901} || n.RPC != "static") {
			t.Errorf("ntds need %+v, want static 38901", n)
		}
		if n.Service == "link-tracking" && n.Ports.From != 135 &&
			(n.RPC != "dynamic" || n.Ports != PortRange{From: 49152, To: 65535}) {
			t.Errorf("link-tracking need %+v, want the dynamic range", n)
		}
	}
	if !slices.Equal(g.RPC.Static, []StaticRPC{{Interface: "ntds", Port: 38901}}) {
		t.Errorf("RPC.Static = %v", g.RPC.Static)
	}
}

func TestOSConditions(t *testing.T) {
	browser := func(g *Group) bool {
		return slices.ContainsFunc(g.Needs, func(n Need) bool { return n.Service == "browser" })
	}
	gpICMP := func(g *Group) bool {
		return slices.ContainsFunc(g.Needs, func(n Need) bool { return n.Service == "group-policy" && n.Proto == ICMPv4 })
	}
	modern := resolve(t, quick([]string{"dc"}, []string{"2016", "10"}))
	legacy := resolve(t, quick([]string{"dc"}, []string{"2016", "xp"}))
	if browser(modern) || gpICMP(modern) {
		t.Error("Computer Browser or Group Policy ICMP kept though every host is Vista or later")
	}
	if !gpICMP(legacy) {
		t.Error("Group Policy ICMP left out though the mix has XP")
	}
	if !slices.ContainsFunc(modern.Omitted, func(o Omission) bool {
		return o.Service == "group-policy" && strings.Contains(o.Reason, "not needed for this OS mix")
	}) {
		t.Errorf("the omission of Group Policy ICMP is not explained: %+v", modern.Omitted)
	}
	for _, n := range legacy.Needs {
		if n.Service == "group-policy" && n.Proto == ICMPv4 && !strings.Contains(n.OSReason, "Windows XP") {
			t.Errorf("OS reason %q does not name Windows XP", n.OSReason)
		}
	}
	winrm2 := resolve(t, quick([]string{"management"}, []string{"2016"}))
	winrm1 := resolve(t, quick([]string{"management"}, []string{"2008"}))
	if !has(winrm2, TCP, "5985") || has(winrm2, TCP, "80") {
		t.Error("WinRM 2.0 on 2016 should use 5985, not 80")
	}
	if !has(winrm1, TCP, "80") || has(winrm1, TCP, "5985") {
		t.Error("WinRM 1.1 on 2008 should use 80, not 5985")
	}
}

func TestOptionalEntries(t *testing.T) {
	p := quick([]string{"file-server"}, []string{"2016"})
	without := resolve(t, p)
	p.Optional = true
	with := resolve(t, p)
	if has(without, TCP, "139") || !has(with, TCP, "139") {
		t.Error("NetBIOS 139/tcp should appear only with Optional")
	}
	i := slices.IndexFunc(without.Scenarios, func(s ScenarioState) bool { return s.ID == "netbios" })
	if i < 0 || without.Scenarios[i].On || !slices.Contains(without.Scenarios[i].Ports, "139/tcp") {
		t.Errorf("the netbios scenario left out is not listed with its ports: %+v", without.Scenarios)
	}
}

// TestProtocolsStaySeparate: a TCP port never produces a UDP need.
func TestProtocolsStaySeparate(t *testing.T) {
	c := catalog.Default()
	for _, role := range c.Roles {
		g := resolve(t, quick([]string{role.ID}, []string{"2003", "2016"}))
		for _, n := range g.Needs {
			svc, _ := c.Service(n.Service)
			if !slices.ContainsFunc(svc.Entries, func(e catalog.Entry) bool { return e.Protocol == n.Proto }) {
				t.Errorf("%s/%s: %s need %s has no %s entry in the catalog", role.ID, n.Service, n.Proto, n.Ports, n.Proto)
			}
			if len(n.Refs) == 0 {
				t.Errorf("%s/%s %s/%s has no reference", role.ID, n.Service, n.Ports, n.Proto)
			}
		}
	}
}

func TestMembersAreGroupsWithTheSameRole(t *testing.T) {
	pfx := netip.MustParsePrefix
	p := &Policy{Name: "site", OS: []string{"2016"},
		Networks: map[string][]netip.Prefix{"clients": {pfx("10.10.0.0/16")}},
		Hosts: []Host{
			{Name: "dcs-a", Roles: []string{"dc"}, Addresses: []netip.Prefix{pfx("10.20.0.10/32")},
				Peers: map[Peer][]string{Clients: {"clients"}}},
			{Name: "dcs-b", Roles: []string{"domain-controller"}, Addresses: []netip.Prefix{pfx("10.21.0.10/32")}},
			{Name: "web", Roles: []string{"web"}, Addresses: []netip.Prefix{pfx("10.30.0.0/24")}},
		}}
	rs, err := Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	g := rs.Groups[0]
	wantMembers := "10.20.0.10/32,10.21.0.10/32"
	for _, n := range g.Needs {
		switch n.Peer {
		case Members:
			if SourcesKey(n.Sources) != wantMembers {
				t.Fatalf("members of dcs-a: %s, want %s", SourcesKey(n.Sources), wantMembers)
			}
		case Clients:
			if SourcesKey(n.Sources) != "10.10.0.0/16" {
				t.Fatalf("clients of dcs-a: %s", SourcesKey(n.Sources))
			}
		case Admins:
			if SourcesKey(n.Sources) != "10.10.0.0/16" {
				t.Fatalf("admins left out should be the clients, yet have sources %v", n.Sources)
			}
		}
	}
	if slices.ContainsFunc(g.Notes, func(s string) bool { return strings.Contains(s, "any address") }) {
		t.Errorf("notes say a peer is unscoped: %v", g.Notes)
	}
	b := rs.Groups[1]
	if !slices.ContainsFunc(b.Notes, func(s string) bool { return strings.HasPrefix(s, "admins may connect from any address") }) {
		t.Errorf("notes of dcs-b do not say admins are unscoped: %v", b.Notes)
	}
}

func TestResolveErrors(t *testing.T) {
	for name, p := range map[string]*Policy{
		"no OS":        quick([]string{"dc"}, nil),
		"unknown role": quick([]string{"dcc"}, []string{"2016"}),
		"unknown OS":   quick([]string{"dc"}, []string{"2061"}),
	} {
		if _, err := Resolve(p, catalog.Default()); err == nil {
			t.Errorf("%s: Resolve accepted it", name)
		}
	}
}

func TestViewsMergePorts(t *testing.T) {
	g := resolve(t, quick([]string{"dc"}, []string{"2016"}))
	for _, r := range g.ByScope() {
		if r.Proto == TCP && len(r.Sources) == 0 {
			s := ""
			for _, pr := range r.Ports {
				s += pr.String() + " "
			}
			if !strings.Contains(s, "3268-3269 ") || !strings.Contains(s, "49152-65535") {
				t.Errorf("by-scope TCP ports %q: want 3268-3269 merged and the RPC range", s)
			}
			if !slices.Contains(r.Services, "ad") || !slices.Contains(r.Roles, "dc") {
				t.Errorf("by-scope rule lost its services or roles: %v %v", r.Services, r.Roles)
			}
		}
	}
	byPort := g.ByPort()
	i := slices.IndexFunc(byPort, func(r PortRule) bool { return r.Proto == TCP && r.Ports == PortRange{From: 135, To: 135} })
	if i < 0 {
		t.Fatal("the by-port view has no 135/tcp")
	}
	if len(byPort[i].Services) < 3 {
		t.Errorf("135/tcp should list every service that needs it, got %+v", byPort[i])
	}
}

// TestClientVersionsDoNotWidenTheRange: XP clients of 2016 DCs do not open
// 1025-5000 on the DCs; the range is where the servers listen.
func TestClientVersionsDoNotWidenTheRange(t *testing.T) {
	g := resolve(t, quick([]string{"dc"}, []string{"2016", "xp"}))
	if has(g, TCP, "1025-5000") || !has(g, TCP, "49152-65535") {
		t.Errorf("RPC ranges %v, want 49152-65535 only", g.RPC.Ranges)
	}
	if !slices.ContainsFunc(g.Needs, func(n Need) bool { return n.Service == "group-policy" && n.Proto == ICMPv4 }) {
		t.Error("the XP clients still need Group Policy's ICMP")
	}
	if hosts := g.Hosts(); len(hosts) != 1 || hosts[0].ID != "2016" {
		t.Errorf("Hosts() = %v, want 2016 only", hosts)
	}
	ws := resolve(t, quick([]string{"management"}, []string{"xp", "10"}))
	if !has(ws, TCP, "80") || len(ws.Hosts()) != 2 {
		t.Errorf("a mix of client versions only is the hosts themselves: %v", ws.Hosts())
	}
}

// TestConditionsOnServersOrMix: what a server listens on depends on its own
// version; only conditions marked mix look at the clients' versions.
func TestConditionsOnServersOrMix(t *testing.T) {
	wsus := resolve(t, quick([]string{"wsus"}, []string{"2019", "xp"}))
	if has(wsus, TCP, "80") || !has(wsus, TCP, "8530") {
		t.Error("XP clients of a 2019 WSUS server must not bring back WSUS 3.x's port 80")
	}
	winrm := resolve(t, quick([]string{"management"}, []string{"xp", "2016"}))
	if has(winrm, TCP, "80") || !has(winrm, TCP, "5985") {
		t.Error("XP clients of a 2016 server must not open WinRM 1.1's port 80")
	}
	dc := resolve(t, quick([]string{"dc"}, []string{"2016", "xp"}))
	if !slices.ContainsFunc(dc.Needs, func(n Need) bool { return n.Service == "browser" }) {
		t.Error("the Computer Browser is needed while XP computers are in the mix")
	}
}

// TestMembersShareTheNeedsRole: other groups are members of a need only
// through the role that has the need, not through any role they share.
func TestMembersShareTheNeedsRole(t *testing.T) {
	pfx := netip.MustParsePrefix
	p := &Policy{Name: "site", OS: []string{"2016"}, Hosts: []Host{
		{Name: "dcs", Roles: []string{"dc", "management"}, Addresses: []netip.Prefix{pfx("10.20.0.10/32")}},
		{Name: "sql", Roles: []string{"sql-server", "management"}, Addresses: []netip.Prefix{pfx("10.30.0.5/32")}},
	}}
	rs, err := Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rs.Groups[0].Needs {
		if n.Role == "dc" && n.Peer == Members && SourcesKey(n.Sources) != "10.20.0.10/32" {
			t.Fatalf("dc members of dcs: %s, want the DCs only", SourcesKey(n.Sources))
		}
	}
}

// TestStaticRPCWithoutInterface: a pin whose interface no service declares
// (the policy overrode that service) pins nothing, and the group says so.
func TestStaticRPCWithoutInterface(t *testing.T) {
	p := quick([]string{"dc"}, []string{"2016"})
	p.RPC.Static = map[string]uint16{"ntdss": 1}
	g := resolve(t, p)
	if len(g.RPC.Static) != 0 || !slices.ContainsFunc(g.Notes, func(s string) bool { return strings.Contains(s, "ntdss pins nothing") }) {
		t.Errorf("static %v, notes %v", g.RPC.Static, g.Notes)
	}
}

// TestOptionalPortsRuleOfTheirOwn: with optional entries included, the
// by-service view keeps them apart, so a reader sees which are optional.
func TestOptionalPortsRuleOfTheirOwn(t *testing.T) {
	p := quick([]string{"file-server"}, []string{"2016"})
	p.Optional = true
	var got []string
	for _, r := range resolve(t, p).ByService() {
		if r.Service == "server" && r.Proto == TCP {
			for _, pr := range r.Ports {
				got = append(got, fmt.Sprintf("%s:%t", pr, r.Optional))
			}
		}
	}
	if strings.Join(got, " ") != "445:false 139:true" {
		t.Errorf("server tcp rules %v, want 445 required and 139 optional apart", got)
	}
}
