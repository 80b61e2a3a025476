package emit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// probeRow is a row of the probe script's JSON output.
type probeRow struct {
	Target   string `json:"target"`
	Address  string `json:"address"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Result   string `json:"result"`
	Expect   string `json:"expect"`
	Verdict  string `json:"verdict"`
	OK       bool   `json:"ok"`
}

// quickRuleset resolves roles in an OS mix as quick mode does, the server
// at addr.
func quickRuleset(t *testing.T, roles []string, addrs []string) *policies.Ruleset {
	t.Helper()
	p := policies.Quick{Roles: roles, OS: []string{"2016"}, To: prefixes(addrs...)}.Policy()
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestListenerAndProbe runs, in network namespaces, the Python listener
// of a 2016 DC on a server behind its own nftables rules (--default-deny)
// and the Python probe from a client: with the DC's rules every required
// port answers and the ports that must stay closed, which the listener
// listens on too, are filtered; with the rules of a DNS server only, DNS
// answers and the rest of the DC's ports are filtered, while the listener
// still listens on them, and UDP silence from the listener is a failure;
// with no firewall, the closed ports answer and fail.
func TestListenerAndProbe(t *testing.T) {
	fwtest.Require(t, append(linuxTools, "python3")...)
	server, client := fwtest.NewNetns(t), fwtest.NewNetns(t)
	fwtest.Link(t, server, prefixes("10.1.0.1/24", "fd01::1/64"), client, prefixes("10.1.0.2/24", "fd01::2/64"))
	dc := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1", "fd01::1"})
	opts := VerifyOptions{Lang: "py", PortsPerRange: 3, Duration: time.Minute, Timeout: time.Second, Format: "json",
		Targets: []string{"10.1.0.1", "[fd01::1]"}, Closed: closedPorts(t, "tcp/8080", "udp/161")}
	log := startListener(t, server, writeScript(t, Listener, dc, opts))
	// A closed port the listener does not listen on: with no firewall, its
	// reset proves nothing, and fails.
	opts.Closed = append(opts.Closed, closedPorts(t, "tcp/8081")...)
	ppath := writeScript(t, Probe, dc, opts)
	if strings.Contains(log.String(), "skipped") {
		t.Fatalf("the listener skipped ports:\n%s", log.String())
	}

	run := func(rules *policies.Ruleset) map[string]probeRow {
		t.Helper()
		server.Must("nft", "flush", "ruleset")
		nft := emitString(t, "nftables", rules, Options{DefaultDeny: true})
		if out, err := server.Exec(nft, "nft", "-f", "-"); err != nil {
			t.Fatalf("nft: %v\n%s", err, out)
		}
		out, err := client.Exec(nil, "python3", ppath)
		return probeRows(t, out, err)
	}

	// The DC's own rules: every required port answers; the closed ones,
	// though the listener listens on them, are filtered.
	got := run(dc)
	checks, err := PortChecks(dc, &dc.Groups[0], "", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"10.1.0.1", "fd01::1"} {
		for _, c := range checks {
			r := got[target+" "+c.Proto+"/"+itoa(int(c.Port))]
			if r.Result != "listening" || r.Verdict != "ok" || !r.OK {
				t.Errorf("DC rules: %s %s/%d: %q %q, want listening ok", target, c.Proto, c.Port, r.Result, r.Verdict)
			}
		}
		if r := got[target+" tcp/8080"]; r.Result != "filtered" || r.Verdict != "ok" {
			t.Errorf("DC rules: %s tcp/8080: %q %q, want filtered and ok", target, r.Result, r.Verdict)
		}
		if r := got[target+" tcp/8081"]; r.Result != "filtered" || r.Verdict != "ok" {
			t.Errorf("DC rules: %s tcp/8081: %q %q, want filtered and ok", target, r.Result, r.Verdict)
		}
		if r := got[target+" udp/161"]; r.Result != "listening or filtered" || r.Verdict != "ok" {
			t.Errorf("DC rules: %s udp/161: %q %q, want listening or filtered, ok", target, r.Result, r.Verdict)
		}
	}

	// A DNS server's rules in front of the DC's listener: DNS answers,
	// LDAP and Kerberos are filtered, and the probe fails; the listener's
	// answers on DNS make UDP silence a failure, not inconclusive.
	got = run(quickRuleset(t, []string{"dns"}, []string{"10.1.0.1", "fd01::1"}))
	for key, want := range map[string]string{"10.1.0.1 tcp/53": "listening ok", "10.1.0.1 udp/53": "listening ok",
		"10.1.0.1 tcp/389": "filtered FAIL", "fd01::1 tcp/88": "filtered FAIL", "10.1.0.1 udp/88": "listening or filtered FAIL"} {
		if r := got[key]; r.Result+" "+r.Verdict != want {
			t.Errorf("DNS rules: %s: %q %q, want %q", key, r.Result, r.Verdict, want)
		}
	}

	// No firewall: the ports that must stay closed answer, and fail. A
	// target in brackets is tested at its address.
	server.Must("nft", "flush", "ruleset")
	out, err := client.Exec(nil, "python3", ppath, "--format", "csv", "--target", "10.1.0.1", "--target", "[fd01::1]")
	if err == nil || !strings.Contains(string(out), "10.1.0.1,10.1.0.1,tcp,8080,listening,closed,FAIL,False") ||
		!strings.Contains(string(out), "[fd01::1],fd01::1,udp,161,listening,closed,FAIL,False") ||
		!strings.Contains(string(out), "10.1.0.1,10.1.0.1,tcp,8081,not listening,closed,FAIL,False") {
		t.Errorf("no firewall: tcp/8080 and udp/161 should answer, tcp/8081 reset, and fail (%v):\n%s", err, out)
	}
}

// TestProbeLiveServer: against a live server, which is not fwgen's
// listener, UDP silence on a port that gets no real request (CLDAP) is
// inconclusive and no failure, while a TCP port that answers passes.
func TestProbeLiveServer(t *testing.T) {
	fwtest.Require(t, "ip", "python3")
	server, client := fwtest.NewNetns(t), fwtest.NewNetns(t)
	fwtest.Link(t, server, prefixes("10.1.0.1/24"), client, prefixes("10.1.0.2/24"))
	dc := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"})
	g := &dc.Groups[0]
	g.Needs = slices.DeleteFunc(g.Needs, func(n policies.Need) bool { return !n.Proto.HasPorts() || !n.Ports.Contains(389) })
	// A directory that answers LDAP on TCP and keeps quiet on UDP to
	// anything but a CLDAP request.
	err := server.Do(func() error {
		l, err := net.Listen("tcp4", "10.1.0.1:389")
		if err != nil {
			return err
		}
		u, err := net.ListenPacket("udp4", "10.1.0.1:389")
		if err != nil {
			return err
		}
		t.Cleanup(func() { l.Close(); u.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ppath := writeScript(t, Probe, dc, VerifyOptions{Lang: "py", PortsPerRange: 3, Timeout: time.Second, Format: "json"})
	out, err := client.Exec(nil, "python3", ppath)
	got := probeRows(t, out, err)
	if r := got["10.1.0.1 udp/389"]; r.Result != "listening or filtered" || r.Verdict != "inconclusive" || r.OK {
		t.Errorf("udp/389 of a live DC: %+v, want inconclusive", r)
	}
	if r := got["10.1.0.1 tcp/389"]; r.Verdict != "ok" {
		t.Errorf("tcp/389 of a live DC: %+v, want ok", r)
	}
	if err != nil {
		t.Errorf("an inconclusive check fails the probe: %v", err)
	}
}

// TestListenerSharesNoPort: a UDP port a daemon holds with SO_REUSEADDR,
// which Linux would let a second socket with it share, is reported in use
// and skipped; with every port taken, the listener exits 1 at once.
func TestListenerSharesNoPort(t *testing.T) {
	fwtest.Require(t, "ip", "python3")
	server := fwtest.NewNetns(t)
	reuse := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	var tcp net.Listener
	err := server.Do(func() error {
		u, err := reuse.ListenPacket(context.Background(), "udp4", "0.0.0.0:53")
		if err != nil {
			return err
		}
		t.Cleanup(func() { u.Close() })
		tcp, err = reuse.Listen(context.Background(), "tcp", "[::]:53")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dns := quickRuleset(t, []string{"dns"}, []string{"10.1.0.1"})
	g := &dns.Groups[0]
	g.Needs = slices.DeleteFunc(g.Needs, func(n policies.Need) bool { return !n.Proto.HasPorts() || !n.Ports.Contains(53) })
	lpath := writeScript(t, Listener, dns, VerifyOptions{Lang: "py", PortsPerRange: 3, Duration: time.Second})
	out, err := server.Exec(nil, "python3", lpath, "--duration", "0.1")
	if err == nil || !strings.Contains(err.Error(), "udp/53 (dns/dns-server): in use or not allowed, skipped") ||
		!strings.Contains(err.Error(), "no port could be opened") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("both ports held: %v\n%s", err, out)
	}
	tcp.Close()
	out, err = server.Exec(nil, "python3", lpath, "--duration", "0.1")
	if err != nil || !strings.Contains(string(out), "skipped 1: udp/53") || !strings.Contains(string(out), "stopped; listened on 1 ports") {
		t.Errorf("udp/53 held: %v\n%s", err, out)
	}
}

// TestProbeUnresolvable: a target that does not resolve, or that the
// resolver cannot even encode, exits 2 before any check.
func TestProbeUnresolvable(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	dc := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"})
	ppath := writeScript(t, Probe, dc, VerifyOptions{Lang: "py", PortsPerRange: 3, Timeout: time.Second})
	for _, target := range []string{"dc01..contoso.com", "dc\u2028.contoso.com"} {
		cmd := exec.Command("python3", ppath, "--target", target)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "does not resolve") {
			t.Errorf("--target %q: %v, want exit status 2 and \"does not resolve\":\n%s", target, err, out)
		}
	}
}

// closedPorts reads --closed values.
func closedPorts(t *testing.T, specs ...string) []PortCheck {
	t.Helper()
	var out []PortCheck
	for _, c := range specs {
		pc, err := ParsePortCheck(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pc)
	}
	return out
}

// writeScript writes a listener or probe script for the first group of rs
// to a file of the test, and returns its path.
func writeScript(t *testing.T, write func(io.Writer, *policies.Ruleset, string, VerifyOptions) error, rs *policies.Ruleset, o VerifyOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, rs, rs.Groups[0].Name, o); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(path, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// startListener runs a Python listener in ns until the test ends, and
// returns its log once it listens.
func startListener(t *testing.T, ns *fwtest.Netns, path string) *syncBuffer {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "python3", path, "--duration", "60")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for !strings.Contains(log.String(), "listening on") {
		if cmd.ProcessState != nil || strings.Contains(log.String(), "no port could be opened") {
			t.Fatalf("the listener did not start:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return log
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// probeRows reads the probe's JSON output by "target proto/port".
func probeRows(t *testing.T, out []byte, err error) map[string]probeRow {
	t.Helper()
	var rows []probeRow
	if jerr := json.Unmarshal(out, &rows); jerr != nil {
		t.Fatalf("probe output: %v (%v)\n%s", jerr, err, out)
	}
	got := map[string]probeRow{}
	for _, r := range rows {
		got[r.Target+" "+r.Protocol+"/"+itoa(r.Port)] = r
	}
	return got
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestVerifyScriptsParse: the listener and probe scripts, for a DC and for
// host groups of hostile names, parse as Python (py_compile, and the data
// loads: --help runs past it) and as PowerShell (tree-sitter), and every
// PowerShell script of a kind runs the same commands, whatever the names:
// no name smuggled one in. The PowerShell listener adds its temporary
// firewall rules once and removes them twice (leftovers, then its own).
func TestVerifyScriptsParse(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]*policies.Ruleset{"dc": quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"}), "hostile": winHostile()}
	var ps []string
	kindOf := map[string]string{}
	for name, rs := range cases {
		for _, g := range rs.Groups {
			for _, kind := range []string{"listener", "probe"} {
				for _, lang := range []string{"py", "ps"} {
					var buf bytes.Buffer
					o := VerifyOptions{Lang: lang, PortsPerRange: 4, Duration: time.Second, Timeout: time.Second,
						Closed: closedPorts(t, "tcp/7"), Targets: []string{"10.0.0.1", "[fd00::1]", "dc01.contoso.com"}}
					write := Listener
					if kind == "probe" {
						write = Probe
					}
					if err := write(&buf, rs, g.Name, o); err != nil {
						t.Fatalf("%s %s %s: %v", name, kind, lang, err)
					}
					path := filepath.Join(dir, name+"-"+strconv.Itoa(len(ps))+"-"+kind+"."+lang+map[string]string{"py": "", "ps": "1"}[lang])
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					if lang == "ps" {
						ps = append(ps, path)
						kindOf[path] = kind
						continue
					}
					if _, err := exec.LookPath("python3"); err != nil {
						continue // the netns test requires it under CI
					}
					if out, err := exec.Command("python3", "-m", "py_compile", path).CombinedOutput(); err != nil {
						t.Errorf("%s: py_compile: %v\n%s", path, err, out)
					}
					if out, err := exec.Command("python3", path, "--help").CombinedOutput(); err != nil {
						t.Errorf("%s --help: %v\n%s", path, err, out)
					}
				}
			}
		}
	}
	node := needPSChecker(t)
	code, out, stderr := runPSChecker(t, node, append([]string{"--json"}, ps...)...)
	if code != 0 {
		t.Fatalf("check.mjs exit status %d:\n%s", code, stderr)
	}
	var report psReport
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Files) != len(ps) {
		t.Errorf("check.mjs read %d scripts, want %d", len(report.Files), len(ps))
	}
	commands := map[string]map[string]int{}
	for _, f := range report.Files {
		for _, e := range f.Errors {
			t.Errorf("%s: %s", f.Path, e)
		}
		kind := kindOf[f.Path]
		if commands[kind] == nil {
			commands[kind] = f.Commands
		} else if diff := cmp.Diff(commands[kind], f.Commands); diff != "" {
			t.Errorf("%s runs other commands than the %s scripts before it (-want +got):\n%s", f.Path, kind, diff)
		}
	}
	if c := commands["listener"]; c["New-NetFirewallRule"] != 1 || c["Remove-NetFirewallRule"] != 2 {
		t.Errorf("listener: %d New-NetFirewallRule, %d Remove-NetFirewallRule; want 1 and 2", c["New-NetFirewallRule"], c["Remove-NetFirewallRule"])
	}
}

// TestParseTarget: addresses and host names pass, brackets removed;
// anything else, hostile strings first, is refused.
func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.10": "10.0.0.10", "[fd00::1]": "fd00::1", "fd00::1": "fd00::1",
		"fe80::1%eth0": "fe80::1%eth0", "dc01.contoso.com": "dc01.contoso.com", "dc01.contoso.com.": "dc01.contoso.com.",
		"dc_01": "dc_01", "xn--bcher-kva.example": "xn--bcher-kva.example"} {
		if got, err := ParseTarget(in); err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range append(slices.Clone(hostile), "", ".", "dc01..contoso.com", "-dc01", "dc01-", "[10.0.0.1]", "[dc01]",
		"a b", "a\nb", "a;b", "a&b", "a|b", "a%b", "$(calc)", "`calc`", "a'b", `a"b`, "dc\u2028x", "bücher.example",
		"fe80::1%$(x)", strings.Repeat("a", 64)+".example", strings.Repeat("a.", 127)+"ab") {
		if got, err := ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) = %q, want an error", in, got)
		}
	}
}

// TestClosedChecks: a probe refuses a --closed port its peer needs, as
// a port or in a range, and takes one another peer needs; the listener
// listens on a --closed port once, and the PowerShell listener's rules
// admit a port's sources as the group's rules do.
func TestClosedChecks(t *testing.T) {
	rs := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"})
	for _, c := range []string{"tcp/389", "udp/88", "tcp/50000"} {
		err := Probe(io.Discard, rs, "dc", VerifyOptions{Lang: "py", PortsPerRange: 3, Closed: closedPorts(t, c)})
		if err == nil || !strings.Contains(err.Error(), "a port host group dc needs") {
			t.Errorf("--closed %s: %v, want a port the group needs", c, err)
		}
	}
	err := Probe(io.Discard, rs, "dc", VerifyOptions{Lang: "py", PortsPerRange: 3, Peer: "admins", Closed: closedPorts(t, "tcp/389")})
	if err == nil {
		t.Error("--peer admins --closed tcp/389: want an error, admins reach LDAP too")
	}
	var buf bytes.Buffer
	o := VerifyOptions{Lang: "py", PortsPerRange: 3, Closed: closedPorts(t, "tcp/389", "tcp/8080", "tcp/8080")}
	if err := Listener(&buf, rs, "dc", o); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), `\"port\":8080`); n != 1 {
		t.Errorf("the listener lists tcp/8080 %d times, want once", n)
	}
	if n := strings.Count(buf.String(), `\"port\":389`); n != 2 {
		t.Errorf("the listener lists port 389 %d times, want twice (tcp and udp, both open)", n)
	}

	site := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"})
	for i := range site.Groups[0].Needs {
		n := &site.Groups[0].Needs[i]
		if n.Proto == "tcp" && n.Ports.Contains(9389) {
			n.Sources = prefixes("10.30.0.0/16", "10.10.0.0/16")
		}
	}
	checks, err := PortChecks(site, &site.Groups[0], "", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		want := ""
		if c.Proto == "tcp" && c.Port == 9389 {
			want = "10.10.0.0/16 10.30.0.0/16"
		}
		if got := strings.Join(c.Sources, " "); got != want {
			t.Errorf("%s/%d: sources %q, want %q", c.Proto, c.Port, got, want)
		}
	}
}

// TestVerifyOptionsRefused: settings a script cannot honour are errors
// that say what is wanted: a range sampled by more ports than a listener
// may hold, a negative duration or timeout, a peer that quick mode, which
// names no networks, cannot mean.
func TestVerifyOptionsRefused(t *testing.T) {
	rs := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"})
	for want, o := range map[string]VerifyOptions{
		"want 2 (the first and the last) to 100": {PortsPerRange: MaxPortsPerRange + 1},
		"want 0 or more":                         {PortsPerRange: 3, Duration: -time.Minute},
		"timeout -1s":                            {PortsPerRange: 3, Timeout: -time.Second},
		`peer "bogus": want clients, members, admins or role:ID (a network is a peer only in a site policy`: {PortsPerRange: 3, Peer: "bogus"},
	} {
		o.Lang = "py"
		if err := Probe(io.Discard, rs, "dc", o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", o, err, want)
		}
	}
	if err := Probe(io.Discard, rs, "dc", VerifyOptions{Lang: "py", PortsPerRange: MaxPortsPerRange}); err != nil {
		t.Errorf("%d ports per range: %v", MaxPortsPerRange, err)
	}
}

// TestScriptOptionsRefused: the scripts' own options refuse what they
// cannot honour, with exit status 2 before opening any socket: a negative
// (or NaN) listener duration, which listened until Ctrl+C, and a probe
// timeout that is not more than 0. The PowerShell scripts check the same
// before they read their data.
func TestScriptOptionsRefused(t *testing.T) {
	dc := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"})
	o := VerifyOptions{Lang: "ps", PortsPerRange: 3, Duration: time.Minute, Timeout: time.Second, Targets: []string{"10.1.0.1"}}
	for kind, want := range map[string]string{
		"listener": "if (-not ($Duration -ge 0)) {\n    [Console]::Error.WriteLine('fwgen listener: -Duration must be 0 (until Ctrl+C) or more')\n    exit 2\n}\n\n$data = ",
		"probe":    "if (-not ($Timeout -gt 0)) {\n    [Console]::Error.WriteLine('fwgen probe: -Timeout must be more than 0')\n    exit 2\n}\n",
	} {
		write := Listener
		if kind == "probe" {
			write = Probe
		}
		var buf bytes.Buffer
		if err := write(&buf, dc, "dc", o); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), want) {
			t.Errorf("PowerShell %s: no check %q", kind, want)
		}
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	o.Lang = "py"
	lpath, ppath := writeScript(t, Listener, dc, o), writeScript(t, Probe, dc, o)
	for _, args := range [][]string{
		{lpath, "--duration", "-1"}, {lpath, "--duration", "nan"},
		{ppath, "--timeout", "0"}, {ppath, "--timeout", "-1"}, {ppath, "--timeout", "nan"},
	} {
		// A listener that takes the option listens: stop it soon.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, "python3", args...).CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "must be") ||
			strings.Contains(string(out), "listening on") {
			t.Errorf("%s: %v, want exit status 2 and what the option must be:\n%s", strings.Join(args[1:], " "), err, out)
		}
	}
}
