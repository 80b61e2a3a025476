package fwtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

var icmpCount atomic.Int64

// StrayICMPError sends, from the namespace from at address src, ICMP
// "port unreachable" errors about a UDP datagram that dst never sent, until
// one arrives at dst in the namespace to or timeout passes, and reports
// whether one arrived. Connection tracking finds no connection such an
// error belongs to and marks it invalid: the probe shows where a firewall
// drops invalid packets.
func StrayICMPError(t testing.TB, from *Netns, src netip.Addr, to *Netns, dst netip.Addr, timeout time.Duration) bool {
	t.Helper()
	network := "ip4:icmp"
	if dst.Is6() {
		network = "ip6:ipv6-icmp"
	}
	marker := fmt.Appendf(nil, "fwgen stray ICMP error %d", icmpCount.Add(1))
	var recv, send net.PacketConn
	if err := to.Do(func() (err error) { recv, err = net.ListenPacket(network, dst.String()); return err }); err != nil {
		t.Fatalf("in %s: %v", to.Name, err)
	}
	defer recv.Close()
	if err := from.Do(func() (err error) { send, err = net.ListenPacket(network, src.String()); return err }); err != nil {
		t.Fatalf("in %s: %v", from.Name, err)
	}
	defer send.Close()
	msg := icmpError(src, dst, marker)
	buf := make([]byte, 1500)
	for end := time.Now().Add(timeout); time.Now().Before(end); {
		if _, err := send.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			t.Fatalf("in %s: send to %s: %v", from.Name, dst, err)
		}
		next := time.Now().Add(200 * time.Millisecond)
		if next.After(end) {
			next = end
		}
		recv.SetReadDeadline(next)
		for {
			n, _, err := recv.ReadFrom(buf)
			if err != nil {
				break // deadline: send again
			}
			if bytes.Contains(buf[:n], marker) {
				return true
			}
		}
	}
	return false
}

// icmpError is an ICMP or ICMPv6 "port unreachable" from src about a UDP
// datagram from dst to src that carried marker. The kernel computes the
// ICMPv6 checksum; the ICMP one is computed here.
func icmpError(src, dst netip.Addr, marker []byte) []byte {
	udp := binary.BigEndian.AppendUint16(nil, 40000) // source port
	udp = binary.BigEndian.AppendUint16(udp, 9)      // discard
	udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(marker)))
	udp = append(udp, 0, 0) // no checksum
	udp = append(udp, marker...)
	if dst.Is6() {
		inner := []byte{0x60, 0, 0, 0}
		inner = binary.BigEndian.AppendUint16(inner, uint16(len(udp)))
		inner = append(inner, 17, 64) // UDP, hop limit
		inner = append(append(append(inner, dst.AsSlice()...), src.AsSlice()...), udp...)
		return append([]byte{1, 4, 0, 0, 0, 0, 0, 0}, inner...) // destination unreachable, port
	}
	inner := []byte{0x45, 0}
	inner = binary.BigEndian.AppendUint16(inner, uint16(20+len(udp)))
	inner = append(inner, 0, 0, 0, 0, 64, 17, 0, 0) // id, fragment, TTL, UDP, checksum
	inner = append(append(inner, dst.AsSlice()...), src.AsSlice()...)
	binary.BigEndian.PutUint16(inner[10:], checksum(inner))
	msg := append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, append(inner, udp...)...) // destination unreachable, port
	binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	return msg
}

// checksum is the Internet checksum (RFC 1071) of b.
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
