// Package fwtest checks Linux firewall rules with the real tools: it makes
// throwaway network namespaces joined by veth pairs, loads rules with nft
// and iptables-restore, reads them back (nft -j list ruleset,
// iptables-save) into the set of flows they accept, and sends TCP and UDP
// probes between namespaces.
//
// Everything it makes lives in namespaces of its own, removed when the test
// ends; the host's own network is never touched.
package fwtest

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Require skips the test unless it runs as root with the named tools, or
// fails it when CI=true, where a missing tool or privilege is a defect of
// the test machine rather than a reason to skip.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	unavailable(t, "needs "+strings.Join(missing, ", "))
}

// unavailable skips the test, or fails it under CI=true, saying how to run
// it.
func unavailable(t testing.TB, why string) {
	t.Helper()
	msg := why + ": run as root with nftables, iptables and iproute2 installed " +
		"(sudo go test ./emit -run Linux), or .ci/run"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Netns is a network namespace made for one test.
type Netns struct {
	Name  string
	t     testing.TB
	links int
}

var (
	nsCount atomic.Int64
	sweep   sync.Once
)

// nsPrefix starts the name of every namespace the tests make.
const nsPrefix = "fwgen-test-"

// NewNetns makes a network namespace with loopback up, removed when the
// test ends. Its name holds the process id, so that parallel runs of the
// tests never meet.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	sweep.Do(sweepStale)
	n := &Netns{Name: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsCount.Add(1)), t: t}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		// Root in a container may lack the privilege to make namespaces.
		unavailable(t, fmt.Sprintf("ip netns add %s: %v: %s", n.Name, err, bytes.TrimSpace(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	n.Must("ip", "link", "set", "lo", "up")
	// Without duplicate address detection, IPv6 addresses (link-local ones
	// too, which neighbour discovery needs) work as soon as a link is up.
	n.Sysctl(t, "net.ipv6.conf.all.accept_dad", "0")
	n.Sysctl(t, "net.ipv6.conf.default.accept_dad", "0")
	return n
}

// sweepStale removes the namespaces of earlier test processes that were
// killed before their cleanup ran: those whose process is gone.
func sweepStale() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		pid, _, ok := strings.Cut(strings.TrimPrefix(e.Name(), nsPrefix), "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || !strings.HasPrefix(e.Name(), nsPrefix) || unix.Kill(n, 0) != unix.ESRCH {
			continue
		}
		exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// Exec runs a command inside the namespace, with stdin as its input, and
// returns its standard output; the error holds its standard error.
func (n *Netns) Exec(stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// Must runs a command inside the namespace and fails the test if it fails.
func (n *Netns) Must(name string, args ...string) []byte {
	n.t.Helper()
	out, err := n.Exec(nil, name, args...)
	if err != nil {
		n.t.Fatalf("in %s: %v", n.Name, err)
	}
	return out
}

// Sysctl sets a network setting of the namespace, such as
// net.ipv4.ip_forward, through /proc/sys as seen from inside it.
func (n *Netns) Sysctl(t testing.TB, name, value string) {
	t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	if err := n.Do(func() error { return os.WriteFile(path, []byte(value), 0o644) }); err != nil {
		t.Fatalf("in %s: %v", n.Name, err)
	}
}

// Link joins two namespaces with a veth pair, gives each end its
// addresses and waits until they can be used. It returns the names of the
// two ends.
func Link(t testing.TB, a *Netns, aAddrs []netip.Prefix, b *Netns, bAddrs []netip.Prefix) (string, string) {
	t.Helper()
	a.links++
	b.links++
	aName, bName := fmt.Sprintf("veth%d", a.links), fmt.Sprintf("veth%d", b.links)
	out, err := exec.Command("ip", "link", "add", aName, "netns", a.Name, "type", "veth",
		"peer", "name", bName, "netns", b.Name).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	for _, end := range []struct {
		ns    *Netns
		name  string
		addrs []netip.Prefix
	}{{a, aName, aAddrs}, {b, bName, bAddrs}} {
		for _, p := range end.addrs {
			end.ns.Must("ip", "addr", "add", p.String(), "dev", end.name, "nodad")
		}
		end.ns.Must("ip", "link", "set", end.name, "up")
	}
	a.settle(t)
	b.settle(t)
	return aName, bName
}

// settle waits until no IPv6 address of the namespace is tentative: even
// without duplicate address detection, the kernel makes an address usable
// a moment after its link comes up.
func (n *Netns) settle(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if len(bytes.TrimSpace(n.Must("ip", "-6", "addr", "show", "tentative"))) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in %s: IPv6 addresses still tentative:\n%s", n.Name, n.Must("ip", "-6", "addr", "show", "tentative"))
		}
	}
}

// Do runs f on a thread that has entered the namespace; sockets f opens
// belong to the namespace for their whole life, whichever thread uses them
// later. f runs on a goroutine of its own that ends still locked to its
// thread, so that the Go runtime discards the thread instead of running
// other goroutines in the namespace.
func (n *Netns) Do(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		target, err := os.Open("/run/netns/" + n.Name)
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		done <- f()
	}()
	return <-done
}
