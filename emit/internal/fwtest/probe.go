package fwtest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fwgen/fwgen/policies"
)

// Serve listens in the namespace at each address, on each TCP port
// (accepting and closing connections) and each UDP port (echoing
// datagrams), until the test ends. UDP listens per address so that an echo
// leaves from the address the probe was sent to.
func (n *Netns) Serve(t testing.TB, addrs []netip.Addr, tcp, udp []uint16) {
	t.Helper()
	var closers []func() error
	err := n.Do(func() error {
		for _, a := range addrs {
			for _, p := range tcp {
				ln, err := net.Listen("tcp", netip.AddrPortFrom(a, p).String())
				if err != nil {
					return err
				}
				closers = append(closers, ln.Close)
				go acceptAll(ln)
			}
			for _, p := range udp {
				pc, err := net.ListenPacket("udp", netip.AddrPortFrom(a, p).String())
				if err != nil {
					return err
				}
				closers = append(closers, pc.Close)
				go echo(pc)
			}
		}
		return nil
	})
	t.Cleanup(func() {
		for _, c := range closers {
			c()
		}
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", n.Name, err)
	}
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func echo(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], addr)
	}
}

// Probe is a connection attempt to a TCP or UDP port.
type Probe struct {
	Proto policies.Proto
	Dst   netip.AddrPort
}

func (p Probe) String() string { return fmt.Sprintf("%s %s", p.Proto, p.Dst) }

// Reach tries every probe from the namespace at once and reports which got
// through: a TCP connection that opened, a UDP datagram that came back. A
// probe that gets no answer within timeout did not.
func (n *Netns) Reach(probes []Probe, timeout time.Duration) []bool {
	ok := make([]bool, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() {
			ok[i] = n.Do(func() error { return reach(p, timeout) }) == nil
		})
	}
	wg.Wait()
	return ok
}

func reach(p Probe, timeout time.Duration) error {
	c, err := net.DialTimeout(string(p.Proto), p.Dst.String(), timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if p.Proto == policies.TCP {
		return nil
	}
	c.SetDeadline(time.Now().Add(timeout))
	msg := []byte("fwgen probe " + p.Dst.String())
	if _, err := c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != string(msg) {
		return errors.New("wrong echo")
	}
	return nil
}
