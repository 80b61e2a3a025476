package emit

import (
	"fmt"
	"regexp"
	"strings"
)

// linuxTable returns the table opts name, "fwgen" when none. It names the
// nftables table and, in upper case, the iptables chains, so that the files
// of several host groups, each given a table of its own, can be loaded on
// one router without replacing each other.
func linuxTable(opts Options) (string, error) {
	table := opts.Table
	if table == "" {
		table = "fwgen"
	}
	switch {
	case !tableName.MatchString(table):
		return "", fmt.Errorf("table %q: want a letter, then letters, digits, _ or -", table)
	case nftKeywords[table]:
		return "", fmt.Errorf("table %q is an nft keyword, which nft does not take as a table name; pick another name (the default is fwgen)", table)
	case commonTables[table]:
		return "", fmt.Errorf("table %q is a common table name (Debian's nftables.conf, iptables-nft, firewalld and OpenWrt make their own), and loading the file would delete that table; pick another name (the default is fwgen)", table)
	}
	return table, nil
}

// tableName is what fwgen accepts as a table name: an nft identifier.
var tableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// commonTables are tables Linux systems often have already: the nftables
// file deletes and redefines its table, so it must never take their name.
// Debian's /etc/nftables.conf defines table inet filter; iptables-nft makes
// filter, nat, mangle, raw and security; firewalld and OpenWrt (fw4) make
// tables of their names.
var commonTables = wordSet("filter nat mangle raw security firewalld fw4")

// nftKeywords are the words nft's scanner reads as keywords (nftables 1.1,
// src/scanner.l). nft parses a table named so as the keyword and refuses
// the file. Since 1.0.3 some are keywords only after certain words, but
// older releases read every one of them anywhere, so all are refused.
var nftKeywords = wordSet(`
	a-rwnd abort accept ackseq add addr ah all and arp asconf asconf-ack auto-merge avgpkt
	bridge burst bypass bytes cfi cgroup cgroupv2 chain chains check checksum chunk classid
	code comment comp constant continue cookie-ack cookie-echo count counter counters cpi cpu
	create csumcov ct cum-tsn-ack cwr daddr data day dccp define dei delete describe destroy
	device devices direction dnat doff dport drop dscp dst dup dynamic echo ecn ecne element
	elements eol eq error esp ether event exists expectation expiration expires export exthdr
	fanout fastopen fib flags flow flowlabel flowtable flowtables flush forward-tsn frag
	frag-off fully-random fwd gateway gc-interval ge geneve get goto gre gretap group gt handle
	hbh hdrlength heartbeat heartbeat-ack helper helpers hlen hook hooks hoplimit hour htype
	ibriport ibrname icmp icmpv6 icmpx id igmp iif iifgroup iifname iiftype import in inc
	include index inet init init-ack init-tag initial-tsn insert interval ip ip6 ipsec jhash
	json jump l3proto label last last-entry le left length level limit limits list ll log
	lowest-tsn lshift lsrr lt map maps mark masquerade max-delay maxseg md5sig memory meta
	meter meters mh minute missing mod monitor more-fragments mptcp mrt mss mtu name ne netdev
	never new-cum-tsn nexthdr nexthop nftrace nh noop nop not notrack num num-dup-tsns
	num-gap-ack-blocks num-inbound-streams num-outbound-streams numgen obriport obrname offload
	offset oif oifgroup oifname oiftype operation option options or original osf out over
	packets param-problem pcp performance persistent pkttype plen policy port position ppid
	prefix priority proto-dst proto-src protocol ptr ptype queue queue-threshold quota quotas
	ra random rate redefine redirect reject rename replace reply reqid reserved reserved2 reset
	return right rr rshift rt rt0 rt2 rtclassid rule rules ruleset sack sack-perm
	sack-permitted sack0 sack1 sack2 sack3 saddr sctp secmark secmarks second seed seg-left
	seqno sequence set sets shutdown shutdown-ack shutdown-complete sid size skgid skuid
	snaplen snat socket spi spnum sport srh ssn ssrr state status stream subtype symhash
	synproxy synproxys table tables taddr tag tcp th time timeout timestamp to tos tproxy trace
	transparent tsecr tsn tsval ttl tunnel tunnels type typeof udp udplite undefine until
	update urgptr used value version vlan vm vmap vni vtag vxlan week wildcard window with
	wscale xml xor xt zone`)

func wordSet(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}
