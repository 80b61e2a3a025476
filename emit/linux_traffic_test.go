package emit

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// Probe timeouts. Probes run at once, so a round of probes that should
// fail takes blockTimeout. One that should get through answers at once but
// on a busy machine, so it may take longer, and a slow answer must not pass
// for a dropped packet.
const (
	passTimeout  = 5 * time.Second
	blockTimeout = time.Second
)

// trafficFormats are the formats as an administrator applies them: nftables
// alone, or iptables with ip6tables.
var trafficFormats = map[string][]linuxFormat{
	"nftables": {linuxFormats[0]},
	"iptables": {linuxFormats[1], linuxFormats[2]},
}

// applyAll emits and applies every format of a traffic test in ns.
func applyAll(t *testing.T, ns *fwtest.Netns, fs []linuxFormat, rs *policies.Ruleset, opts Options) {
	t.Helper()
	for _, f := range fs {
		if err := f.apply(ns, emitString(t, f.name, rs, opts)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLinuxTraffic applies each case with --default-deny on a server's own
// input chain, scoped to client A's networks, and connects over IPv4 and
// IPv6: from A, sampled allowed ports answer and sampled other ports do
// not; from client B, outside the scope, nothing answers.
func TestLinuxTraffic(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	for _, c := range linuxCases {
		for name, fs := range trafficFormats {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				server, a, b := fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t)
				fwtest.Link(t, server, prefixes("10.1.0.1/24", "fd01::1/64"), a, prefixes("10.1.0.2/24", "fd01::2/64"))
				fwtest.Link(t, server, prefixes("10.2.0.1/24", "fd02::1/64"), b, prefixes("10.2.0.2/24", "fd02::2/64"))
				rs := c.ruleset(t, prefixes("10.1.0.0/24", "fd01::/64"), prefixes("10.1.0.1/32", "10.2.0.1/32", "fd01::1/128", "fd02::1/128"))
				allowed, denied := samplePorts(rs)
				serve(t, server, []string{"10.1.0.1", "10.2.0.1", "fd01::1", "fd02::1"}, allowed, denied)

				fromA := ofNeedFamily(rs, probes(allowed, "10.1.0.1", "fd01::1"))
				fromAOther := probes(denied, "10.1.0.1", "fd01::1")
				scoped, open := splitAnySource(allowed, rs)
				fromB := probes(scoped, "10.2.0.1", "fd02::1")
				expectReach(t, "before the rules, A", a, append(slices.Clone(fromA), fromAOther...), true)
				expectReach(t, "before the rules, B", b, fromB, true)

				applyAll(t, server, fs, rs, Options{Chain: "input", DefaultDeny: true})
				expectReach(t, "A, allowed port", a, fromA, true)
				expectReach(t, "A, port no rule allows", a, fromAOther, false)
				expectReach(t, "B, outside the sources", b, fromB, false)
				if len(open.tcp)+len(open.udp) > 0 {
					expectReach(t, "B, a port open to any source (DHCP)", b, ofNeedFamily(rs, probes(open, "10.2.0.1", "fd02::1")), true)
				}
			})
		}
	}
}

// TestLinuxForwardTraffic puts a router between two clients and a server
// and applies --chain forward --default-deny there: A reaches the allowed
// ports of the server's address and no other port; B, outside the sources,
// reaches none; traffic to an address that is not a server still passes.
func TestLinuxForwardTraffic(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	c := linuxCases[0]
	for name, fs := range trafficFormats {
		t.Run(c.name+"/"+name, func(t *testing.T) {
			t.Parallel()
			router, server, a, b := fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t)
			fwtest.Link(t, router, prefixes("10.1.0.1/24", "fd01::1/64"), a, prefixes("10.1.0.2/24", "fd01::2/64"))
			fwtest.Link(t, router, prefixes("10.2.0.1/24", "fd02::1/64"), b, prefixes("10.2.0.2/24", "fd02::2/64"))
			fwtest.Link(t, router, prefixes("10.3.0.1/24", "fd03::1/64"), server, prefixes("10.3.0.2/24", "10.3.0.3/24", "fd03::2/64"))
			route(t, router, map[*fwtest.Netns][]string{a: {"10.1.0.1", "fd01::1"}, b: {"10.2.0.1", "fd02::1"}, server: {"10.3.0.1", "fd03::1"}})
			rs := c.ruleset(t, prefixes("10.1.0.0/24", "fd01::/64"), prefixes("10.3.0.2/32", "fd03::2/128"))
			allowed, denied := samplePorts(rs)
			serve(t, server, []string{"10.3.0.2", "10.3.0.3", "fd03::2"}, allowed, denied)

			fromA := probes(allowed, "10.3.0.2", "fd03::2")
			fromAOther := probes(denied, "10.3.0.2", "fd03::2")
			fromB := probes(allowed, "10.3.0.2", "fd03::2")
			notServer := probes(denied, "10.3.0.3")
			expectReach(t, "before the rules, A", a, slices.Concat(fromA, fromAOther, notServer), true)
			expectReach(t, "before the rules, B", b, fromB, true)

			applyAll(t, router, fs, rs, Options{Chain: "forward", DefaultDeny: true})
			expectReach(t, "A, allowed port", a, fromA, true)
			expectReach(t, "A, port no rule allows", a, fromAOther, false)
			expectReach(t, "B, outside the sources", b, fromB, false)
			expectReach(t, "A, an address that is not a server", a, notServer, true)
		})
	}
}

// TestLinuxForwardLeavesOtherHosts applies --chain forward --default-deny
// on a router that has rules of its own, and checks that fwgen's rules
// decide nothing about traffic to a host that is not a server: a reply the
// router's own later rule drops stays dropped (fwgen accepted no reply to
// that host), and an ICMP error that belongs to no connection, which the
// router lets through, still passes (fwgen dropped no invalid packet to
// that host). The same stray error to a server is dropped.
func TestLinuxForwardLeavesOtherHosts(t *testing.T) {
	fwtest.Require(t, linuxTools...)
	for name, fs := range trafficFormats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			router, a, server, other := fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t), fwtest.NewNetns(t)
			fwtest.Link(t, router, prefixes("10.1.0.1/24", "fd01::1/64"), a, prefixes("10.1.0.2/24", "fd01::2/64"))
			fwtest.Link(t, router, prefixes("10.3.0.1/24", "fd03::1/64"), server, prefixes("10.3.0.2/24", "fd03::2/64"))
			fwtest.Link(t, router, prefixes("10.4.0.1/24", "fd04::1/64"), other, prefixes("10.4.0.2/24", "fd04::2/64"))
			route(t, router, map[*fwtest.Netns][]string{a: {"10.1.0.1", "fd01::1"}, server: {"10.3.0.1", "fd03::1"},
				other: {"10.4.0.1", "fd04::1"}})
			rs := linuxCases[0].ruleset(t, prefixes("10.1.0.0/24", "fd01::/64"), prefixes("10.3.0.2", "fd03::2"))
			aPort := portSample{tcp: []uint16{7000}}
			serve(t, a, []string{"10.1.0.2", "fd01::2"}, aPort)
			toA := probes(aPort, "10.1.0.2", "fd01::2")
			stray := func(what string, to *fwtest.Netns, dsts []string, want bool) {
				t.Helper()
				for i, dst := range dsts {
					src := []string{"10.1.0.2", "fd01::2"}[i]
					timeout := map[bool]time.Duration{true: passTimeout, false: blockTimeout}[want]
					if got := fwtest.StrayICMPError(t, a, netip.MustParseAddr(src), to, netip.MustParseAddr(dst), timeout); got != want {
						t.Errorf("%s: stray ICMP error from %s to %s: got through %v, want %v", what, src, dst, got, want)
					}
				}
			}
			expectReach(t, "before the rules, other host to A", other, toA, true)
			stray("before the rules, to the other host", other, []string{"10.4.0.2", "fd04::2"}, true)
			stray("before the rules, to the server", server, []string{"10.3.0.2", "fd03::2"}, true)

			applyAll(t, router, fs, rs, Options{Chain: "forward", DefaultDeny: true})
			routerRules(t, router, name)
			expectReach(t, "other host to A, whose replies the router drops", other, toA, false)
			stray("to the other host", other, []string{"10.4.0.2", "fd04::2"}, true)
			stray("to the server", server, []string{"10.3.0.2", "fd03::2"}, false)
		})
	}
}

// routerRules gives the router rules of its own, after fwgen's: TCP from
// network 1 to network 4 is dropped, so hosts of network 4 cannot open
// connections to network 1 (the replies never come back).
func routerRules(t *testing.T, router *fwtest.Netns, format string) {
	t.Helper()
	if format == "nftables" {
		rules := "table inet router {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n" +
			"\t\tip saddr 10.1.0.0/24 ip daddr 10.4.0.0/24 meta l4proto tcp drop\n" +
			"\t\tip6 saddr fd01::/64 ip6 daddr fd04::/64 meta l4proto tcp drop\n\t}\n}\n"
		if _, err := router.Exec([]byte(rules), "nft", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		return
	}
	router.Must("iptables", "-A", "FORWARD", "-s", "10.1.0.0/24", "-d", "10.4.0.0/24", "-p", "tcp", "-j", "DROP")
	router.Must("ip6tables", "-A", "FORWARD", "-s", "fd01::/64", "-d", "fd04::/64", "-p", "tcp", "-j", "DROP")
}

// ofNeedFamily keeps the probes of a port and address family that some
// need allows: DHCP's 67 is IPv4's only, DHCPv6's 547 IPv6's.
func ofNeedFamily(rs *policies.Ruleset, ps []fwtest.Probe) []fwtest.Probe {
	return slices.DeleteFunc(ps, func(p fwtest.Probe) bool {
		fam := 6
		if p.Dst.Addr().Is4() {
			fam = 4
		}
		return !slices.ContainsFunc(rs.Groups[0].Needs, func(n policies.Need) bool {
			return n.Proto == p.Proto && n.Ports.Contains(p.Dst.Port()) && (n.Family == 0 || n.Family == fam)
		})
	})
}

// splitAnySource splits a sample into the ports only scoped needs allow
// and those a need open to any source allows (DHCP's 67 and 547).
func splitAnySource(s portSample, rs *policies.Ruleset) (scoped, open portSample) {
	anySource := func(proto policies.Proto) func(uint16) bool {
		return func(p uint16) bool {
			return slices.ContainsFunc(rs.Groups[0].Needs, func(n policies.Need) bool {
				return n.AnySource && n.Proto == proto && n.Ports.Contains(p)
			})
		}
	}
	for _, proto := range []policies.Proto{policies.TCP, policies.UDP} {
		ports := map[policies.Proto][]uint16{policies.TCP: s.tcp, policies.UDP: s.udp}[proto]
		var in, out []uint16
		for _, p := range ports {
			if anySource(proto)(p) {
				out = append(out, p)
			} else {
				in = append(in, p)
			}
		}
		if proto == policies.TCP {
			scoped.tcp, open.tcp = in, out
		} else {
			scoped.udp, open.udp = in, out
		}
	}
	return scoped, open
}

// portSample is a handful of TCP and UDP ports.
type portSample struct{ tcp, udp []uint16 }

// samplePorts picks ports the Ruleset allows (the ends and middle of each
// range) and ports it does not (just outside each range), at most 8 of
// each kind per protocol.
func samplePorts(rs *policies.Ruleset) (allowed, denied portSample) {
	for _, proto := range []policies.Proto{policies.TCP, policies.UDP} {
		var ranges []policies.PortRange
		for _, n := range rs.Groups[0].Needs {
			if n.Proto == proto {
				ranges = append(ranges, n.Ports)
			}
		}
		ranges = catalog.MergeRanges(ranges)
		var in, out []uint16
		for _, r := range ranges {
			in = append(in, r.From, r.To, r.From+(r.To-r.From)/2)
			for _, p := range []int{int(r.From) - 1, int(r.To) + 1} {
				if p > 0 && p < 65536 && !slices.ContainsFunc(ranges, func(r policies.PortRange) bool { return r.Contains(uint16(p)) }) {
					out = append(out, uint16(p))
				}
			}
		}
		in, out = spread(in, 8), spread(out, 8)
		if proto == policies.TCP {
			allowed.tcp, denied.tcp = in, out
		} else {
			allowed.udp, denied.udp = in, out
		}
	}
	return allowed, denied
}

// spread sorts and dedupes ports and keeps at most n, evenly spaced.
func spread(ports []uint16, n int) []uint16 {
	slices.Sort(ports)
	ports = slices.Compact(ports)
	if len(ports) <= n {
		return ports
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = ports[i*(len(ports)-1)/(n-1)]
	}
	return out
}

// serve listens on the sampled ports at the addresses; samples may share
// ports.
func serve(t *testing.T, ns *fwtest.Netns, addrs []string, samples ...portSample) {
	var tcp, udp []uint16
	for _, s := range samples {
		tcp, udp = append(tcp, s.tcp...), append(udp, s.udp...)
	}
	slices.Sort(tcp)
	slices.Sort(udp)
	tcp, udp = slices.Compact(tcp), slices.Compact(udp)
	ips := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		ips[i] = netip.MustParseAddr(a)
	}
	ns.Serve(t, ips, tcp, udp)
}

// probes are TCP and UDP probes of the sampled ports at each address.
func probes(s portSample, addrs ...string) []fwtest.Probe {
	var out []fwtest.Probe
	for _, a := range addrs {
		ip := netip.MustParseAddr(a)
		for _, p := range s.tcp {
			out = append(out, fwtest.Probe{Proto: policies.TCP, Dst: netip.AddrPortFrom(ip, p)})
		}
		for _, p := range s.udp {
			out = append(out, fwtest.Probe{Proto: policies.UDP, Dst: netip.AddrPortFrom(ip, p)})
		}
	}
	return out
}

// expectReach sends the probes from ns and reports each that got through
// when it should not have, or the other way round.
func expectReach(t *testing.T, what string, ns *fwtest.Netns, ps []fwtest.Probe, want bool) {
	t.Helper()
	if len(ps) == 0 {
		t.Fatalf("%s: no probes", what)
	}
	timeout := blockTimeout
	if want {
		timeout = passTimeout
	}
	for i, ok := range ns.Reach(ps, timeout) {
		if ok != want {
			t.Errorf("%s: %s: got through %v, want %v", what, ps[i], ok, want)
		}
	}
}
