package emit

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// routerGroup is one host group's file on a router that serves several:
// its Ruleset, the table its file is written for, and the IPv4 and IPv6
// addresses of its server.
type routerGroup struct {
	rs         *policies.Ruleset
	table      string
	server, v6 string
}

// TestLinuxGroupsShareRouter loads the files of two host groups, each with
// a table of its own, on one router with --chain forward --default-deny,
// as fwgen generate -o writes them: both files keep their rules, and
// traffic to each group's server follows that group's rules and not the
// other's.
func TestLinuxGroupsShareRouter(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	for name, fs := range trafficFormats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			router, server, a := fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t)
			fwtest.Link(t, router, prefixes("10.1.0.1/24", "fd01::1/64"), a, prefixes("10.1.0.2/24", "fd01::2/64"))
			fwtest.Link(t, router, prefixes("10.3.0.1/24", "fd03::1/64"), server,
				prefixes("10.3.0.2/24", "10.3.0.4/24", "fd03::2/64", "fd03::4/64"))
			route(t, router, map[*fwtest.Netns][]string{a: {"10.1.0.1", "fd01::1"}, server: {"10.3.0.1", "fd03::1"}})
			from := prefixes("10.1.0.0/24", "fd01::/64")
			groups := []routerGroup{
				{linuxCases[0].ruleset(t, from, prefixes("10.3.0.2", "fd03::2")), "fwgen-dcs", "10.3.0.2", "fd03::2"},
				{linuxCases[3].ruleset(t, from, prefixes("10.3.0.4", "fd03::4")), "fwgen-hyperv", "10.3.0.4", "fd03::4"},
			}
			var samples []portSample
			for _, g := range groups {
				allowed, denied := samplePorts(g.rs)
				samples = append(samples, allowed, denied)
			}
			serve(t, server, []string{"10.3.0.2", "10.3.0.4", "fd03::2", "fd03::4"}, samples...)
			for _, g := range groups {
				applyAll(t, router, fs, g.rs, Options{Chain: "forward", DefaultDeny: true, Table: g.table})
			}
			for _, g := range groups {
				opts := Options{Chain: "forward", DefaultDeny: true, Table: g.table}
				for _, f := range fs {
					got, err := acceptedFlows(f, f.chains(t, router, g.table), opts, g.rs)
					if err != nil {
						t.Fatalf("%s, %s: %v", g.table, f.name, err)
					}
					if diff := cmp.Diff(expectedFlows(g.rs, f.fam, opts.Chain).Strings(), got.Strings()); diff != "" {
						t.Errorf("%s, %s: accepted flows (-want +got):\n%s", g.table, f.name, diff)
					}
				}
			}
			for i, g := range groups {
				other := groups[1-i]
				allowed, denied := samplePorts(g.rs)
				otherAllowed, _ := samplePorts(other.rs)
				expectReach(t, g.table+", allowed port", a, probes(allowed, g.server, g.v6), true)
				expectReach(t, g.table+", port no rule of the group allows", a,
					probes(merge(denied, outside(otherAllowed, g.rs)), g.server, g.v6), false)
			}
		})
	}
}

// route makes the router forward and gives each namespace a default route
// through it.
func route(t *testing.T, router *fwtest.Netns, gateways map[*fwtest.Netns][]string) {
	t.Helper()
	router.Sysctl(t, "net.ipv4.ip_forward", "1")
	router.Sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	for ns, gw := range gateways {
		ns.Must("ip", "route", "add", "default", "via", gw[0])
		ns.Must("ip", "-6", "route", "add", "default", "via", gw[1])
	}
}

// outside keeps the ports of s that no need of rs allows.
func outside(s portSample, rs *policies.Ruleset) portSample {
	allows := func(proto policies.Proto) func(uint16) bool {
		return func(p uint16) bool {
			for _, g := range rs.Groups {
				for _, n := range g.Needs {
					if n.Proto == proto && n.Ports.Contains(p) {
						return true
					}
				}
			}
			return false
		}
	}
	return portSample{
		tcp: slices.DeleteFunc(slices.Clone(s.tcp), allows(policies.TCP)),
		udp: slices.DeleteFunc(slices.Clone(s.udp), allows(policies.UDP)),
	}
}

// merge joins two samples.
func merge(a, b portSample) portSample {
	return portSample{tcp: slices.Concat(a.tcp, b.tcp), udp: slices.Concat(a.udp, b.udp)}
}
