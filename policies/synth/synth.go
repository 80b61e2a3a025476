// Package synth writes synthetic site policies of any size, for
// benchmarks and scale tests: host groups whose roles cycle through the
// ones an estate has most (domain controllers, DNS, file servers, Hyper-V
// clusters, web servers, RD Gateways, DHCP, SQL Server, certification
// authorities, WSUS), each with its own addresses and the site's client
// and admin networks as peers.
package synth

import (
	"fmt"
	"strings"
)

// roleCycle is the roles of group i, taken in turn.
var roleCycle = [][]string{
	{"dc"}, {"dns"}, {"file-server"}, {"cluster-node", "hyperv-host"}, {"web"},
	{"rd-gateway"}, {"dhcp"}, {"sql-server"}, {"ca"}, {"wsus"},
}

// Networks is how many client networks a synthetic site has.
const Networks = 20

// Site returns the YAML of a site policy of n host groups (n >= 1): group
// i (from 0) has the roles roleCycle[i mod 10], the addresses of a /28 of
// 10.64.0.0/10 (and IPv6 for every other group), the client networks
// i mod Networks and the next as clients, and one admin network.
func Site(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "fwgen: v1\nname: synthetic-%d\nos: [\"2016\", \"2019\"]\n\nnetworks:\n", n)
	for k := range Networks {
		fmt.Fprintf(&b, "  clients-%02d: [172.%d.%d.0/22]\n", k, 16+k/64, k%64*4)
	}
	b.WriteString("  admins: [10.255.0.0/24, \"fd00:ff::/64\"]\n\nhosts:\n")
	for i := range n {
		roles := roleCycle[i%len(roleCycle)]
		// /28 number i of 10.64.0.0/10: 2^18 of them.
		base := 10<<24 | 64<<16 | i<<4
		fmt.Fprintf(&b, "  - name: g%05d\n    roles: [%s]\n    addresses: [%d.%d.%d.%d/28",
			i, strings.Join(roles, ", "), base>>24&255, base>>16&255, base>>8&255, base&255)
		if i%2 == 0 {
			fmt.Fprintf(&b, ", \"fd00:%x:%x::/64\"", i>>16, i&0xffff)
		}
		b.WriteString("]\n")
		fmt.Fprintf(&b, "    peers:\n      clients: [clients-%02d, clients-%02d]\n      admins: [admins]\n",
			i%Networks, (i+1)%Networks)
	}
	return []byte(b.String())
}
