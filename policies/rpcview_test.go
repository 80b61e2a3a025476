package policies

import (
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
			if len(sp.Dynamic) > 0 && !sp.EPMap {
				t.Errorf("%s/%s/%s: dynamic ports without the endpoint mapper", r.Role, r.Service, r.Proto)
			}
		}
	}
}

func TestRPCPorts(t *testing.T) {
	g := resolve(t, &Policy{Name: "t", OS: []string{"2016"}, RPC: RPCOptions{Static: map[string]uint16{"ntds": 38901}},
		Roles: []catalog.Role{{ID: "ftp-server", Name: "FTP server", Services: []string{"ftp"}}},
		Hosts: []Host{{Name: "t", Roles: []string{"dc", "ftp-server"}}}})
	byKey := map[string]RPCPorts{}
	for _, r := range g.ByService() {
		byKey[r.Service+"/"+string(r.Proto)] = g.RPCPorts(r)
	}
	pr := func(from, to uint16) PortRange { return PortRange{From: from, To: to} }
	tests := map[string]RPCPorts{
		// The NTDS interface is pinned: its port stays a number.
		"ad/tcp": {EPMap: true, Other: []PortRange{pr(53, 53), pr(88, 88), pr(389, 389), pr(445, 445),
			pr(464, 464), pr(636, 636), pr(3268, 3269), pr(9389, 9389), pr(38901, 38901)}},
		"dfsn/tcp": {EPMap: true, Dynamic: []PortRange{pr(49152, 65535)}, Other: []PortRange{pr(389, 389), pr(445, 445)}},
		"ad/udp":   {Other: []PortRange{pr(53, 53), pr(88, 88), pr(389, 389), pr(464, 464)}},
		// FTP's passive ports come from the same range, but not from RPC.
		"ftp/tcp": {Other: []PortRange{pr(20, 21), pr(49152, 65535)}},
	}
	for key, want := range tests {
		if diff := cmp.Diff(want, byKey[key]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", key, diff)
		}
	}
}
