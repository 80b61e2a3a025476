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
	end := time.Now().Add(timeout)
	c, err := net.DialTimeout(string(p.Proto), p.Dst.String(), timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if p.Proto == policies.TCP {
		return nil
	}
	return echoed(c, []byte("fwgen probe "+p.Dst.String()), end)
}

// echoed sends msg until it comes back or end passes; a datagram may be
// lost, and a busy machine may answer late.
func echoed(c net.Conn, msg []byte, end time.Time) error {
	buf := make([]byte, 100)
	for {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		next := time.Now().Add(200 * time.Millisecond)
		if next.After(end) {
			next = end
		}
		c.SetReadDeadline(next)
		n, err := c.Read(buf)
		switch {
		case err == nil && string(buf[:n]) == string(msg):
			return nil
		case err == nil:
			return errors.New("wrong echo")
		case time.Now().After(end):
			return err
		}
	}
}
