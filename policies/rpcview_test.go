package policies

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
)

// TestRPCPortsCoverTheRule checks that the split of every rule gives back
// exactly the rule's ports, over OS mixes and RPC options.
func TestRPCPortsCoverTheRule(t *testing.T) {
	policies := []*Policy{
		quick([]string{"dc", "file-server", "web"}, []string{"2016"}),
		quick([]string{"dc", "cluster-node"}, []string{"2003", "2012r2"}),
		{Name: "t", OS: []string{"2016"}, RPC: RPCOptions{Range: &PortRange{From: 5000, To: 5100}},
			Hosts: []Host{{Name: "t", Roles: []string{"dc"}}}},
		{Name: "t", OS: []string{"2016"}, RPC: RPCOptions{Static: map[string]uint16{"ntds": 38901, "netlogon": 38902}},
			Hosts: []Host{{Name: "t", Roles: []string{"dc"}}}},
	}
	for _, p := range policies {
		g := resolve(t, p)
		for _, r := range g.ByService() {
			sp := g.RPCPorts(r)
			all := append(append([]PortRange{}, sp.Other...), sp.Dynamic...)
			if sp.EPMap {
				all = append(all, PortRange{From: 135, To: 135})
			}
			if diff := cmp.Diff(r.Ports, catalog.MergeRanges(all)); diff != "" {
				t.Errorf("%s/%s/%s: split does not cover the rule (-want +got):\n%s", r.Role, r.Service, r.Proto, diff)
			}
			if r.Proto != TCP && (sp.EPMap || len(sp.Dynamic) > 0) {
				t.Errorf("%s/%s/%s: RPC ports split out of a rule that is not TCP", r.Role, r.Service, r.Proto)
			}
		}
	}
}

func TestRPCPorts(t *testing.T) {
	g := resolve(t, &Policy{Name: "t", OS: []string{"2016"}, RPC: RPCOptions{Static: map[string]uint16{"ntds": 38901}},
		Roles: []catalog.Role{{ID: "ftp-server", Name: "FTP server", Services: []catalog.RoleService{{ID: "ftp"}}}},
		Hosts: []Host{{Name: "t", Roles: []string{"dc", "ftp-server"}}}})
	byKey := map[string]RPCPorts{}
	for _, r := range g.PortOnly() {
		byKey[r.Service+"/"+string(r.Proto)+"/"+peersKey(r.Peers)] = g.RPCPorts(r)
	}
	pr := func(from, to uint16) PortRange { return PortRange{From: from, To: to} }
	tests := map[string]RPCPorts{
		// The NTDS interface is pinned: its port stays a number.
		"ad/tcp/admins,clients,members": {EPMap: true, Other: []PortRange{pr(53, 53), pr(88, 88), pr(389, 389), pr(445, 445),
			pr(464, 464), pr(636, 636), pr(3268, 3269), pr(38901, 38901)}},
		"ad/tcp/admins":                   {Other: []PortRange{pr(9389, 9389)}},
		"dfsn/tcp/admins,clients,members": {EPMap: true, Dynamic: []PortRange{pr(49152, 65535)}, Other: []PortRange{pr(389, 389), pr(445, 445)}},
		"ad/udp/admins,clients,members":   {Other: []PortRange{pr(53, 53), pr(88, 88), pr(389, 389), pr(464, 464)}},
		// FTP's passive ports come from the same range, but not from RPC.
		"ftp/tcp/admins,clients": {Other: []PortRange{pr(20, 21), pr(49152, 65535)}},
	}
	for key, want := range tests {
		if diff := cmp.Diff(want, byKey[key]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", key, diff)
		}
	}
}

// TestRPCPortsWithoutEPMap checks Group Policy's DCOM ports with the
// gp-dcom-udp scenario on: the TCP range, open to clients and admins with
// 135/tcp, is split into the endpoint mapper and the RPC range; the UDP
// range, open to the administrators only, stays a number, as the keywords
// are TCP's.
func TestRPCPortsWithoutEPMap(t *testing.T) {
	p := &Policy{Name: "t", OS: []string{"2016"}, Scenarios: []string{"gp-dcom-udp"},
		Networks: map[string][]netip.Prefix{
			"clients": {netip.MustParsePrefix("10.0.0.0/8")},
			"admins":  {netip.MustParsePrefix("192.0.2.0/24")},
		},
		Hosts: []Host{{Name: "t", Roles: []string{"dc"},
			Peers: map[Peer][]string{Clients: {"clients"}, Admins: {"admins"}, Members: {"clients"}}}}}
	g := resolve(t, p)
	admins := SourcesKey([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	both := SourcesKey([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")})
	pr := func(from, to uint16) PortRange { return PortRange{From: from, To: to} }
	want := map[string]RPCPorts{
		"tcp " + both:   {EPMap: true, Dynamic: []PortRange{pr(49152, 65535)}, Other: []PortRange{pr(389, 389), pr(445, 445)}},
		"udp " + admins: {Other: []PortRange{pr(49152, 65535)}},
	}
	found := 0
	for _, r := range g.PortOnly() {
		k := string(r.Proto) + " " + SourcesKey(r.Sources)
		if r.Service != "group-policy" || r.Proto == ICMPv4 {
			continue
		}
		found++
		if diff := cmp.Diff(want[k], g.RPCPorts(r)); diff != "" {
			t.Errorf("group-policy %s (-want +got):\n%s", k, diff)
		}
	}
	if found != 2 {
		t.Errorf("found %d group-policy rules, want 2", found)
	}
}
