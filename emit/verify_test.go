package emit

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// probeRow is a row of the probe script's JSON output.
type probeRow struct {
	Target   string `json:"target"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Result   string `json:"result"`
	Expect   string `json:"expect"`
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
// port answers and the ports that must stay closed do not; with the rules
// of a DNS server only, DNS answers and the rest of the DC's ports are
// filtered, while the listener still listens on them.
func TestListenerAndProbe(t *testing.T) {
	fwtest.Require(t, append(linuxTools, "python3")...)
	server, client := fwtest.NewNetns(t), fwtest.NewNetns(t)
	fwtest.Link(t, server, prefixes("10.1.0.1/24", "fd01::1/64"), client, prefixes("10.1.0.2/24", "fd01::2/64"))
	dir := t.TempDir()
	dc := quickRuleset(t, []string{"dc"}, []string{"10.1.0.1", "fd01::1"})
	opts := VerifyOptions{Lang: "py", PortsPerRange: 3, Duration: time.Minute, Timeout: time.Second, Format: "json",
		Targets: []string{"10.1.0.1", "fd01::1"}}
	for _, c := range []string{"tcp/8080", "udp/161"} {
		pc, err := ParsePortCheck(c)
		if err != nil {
			t.Fatal(err)
		}
		opts.Closed = append(opts.Closed, pc)
	}
	var listener, probe bytes.Buffer
	if err := Listener(&listener, dc, "dc", opts); err != nil {
		t.Fatal(err)
	}
	if err := Probe(&probe, dc, "dc", opts); err != nil {
		t.Fatal(err)
	}
	lpath, ppath := filepath.Join(dir, "listener.py"), filepath.Join(dir, "probe.py")
	if err := os.WriteFile(lpath, listener.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ppath, probe.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", server.Name, "python3", lpath, "--duration", "60")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "listening on"); {
		if time.Now().After(deadline) {
			t.Fatalf("the listener did not start:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(log.String(), "skipped:") {
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

	// The DC's own rules: every required port answers; the closed ones do not.
	got := run(dc)
	checks, err := PortChecks(dc, &dc.Groups[0], "", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range opts.Targets {
		for _, c := range checks {
			r := got[target+" "+c.Proto+"/"+itoa(int(c.Port))]
			if r.Result != "listening" || !r.OK {
				t.Errorf("DC rules: %s %s/%d: %q, want listening", target, c.Proto, c.Port, r.Result)
			}
		}
		if r := got[target+" tcp/8080"]; r.Result != "filtered" || !r.OK {
			t.Errorf("DC rules: %s tcp/8080: %q, want filtered and as expected", target, r.Result)
		}
		if r := got[target+" udp/161"]; r.Result != "listening or filtered" || !r.OK {
			t.Errorf("DC rules: %s udp/161: %q, want listening or filtered", target, r.Result)
		}
	}

	// A DNS server's rules in front of the DC's listener: DNS answers,
	// LDAP and Kerberos are filtered, and the probe fails.
	got = run(quickRuleset(t, []string{"dns"}, []string{"10.1.0.1", "fd01::1"}))
	for key, want := range map[string]string{"10.1.0.1 tcp/53": "listening", "10.1.0.1 udp/53": "listening",
		"10.1.0.1 tcp/389": "filtered", "fd01::1 tcp/88": "filtered", "10.1.0.1 udp/88": "listening or filtered"} {
		if r := got[key]; r.Result != want {
			t.Errorf("DNS rules: %s: %q, want %q", key, r.Result, want)
		}
	}
	if r := got["10.1.0.1 tcp/389"]; r.OK {
		t.Error("DNS rules: a filtered required port counts as passed")
	}

	// No firewall: a port nothing listens on resets.
	server.Must("nft", "flush", "ruleset")
	out, _ := client.Exec(nil, "python3", ppath, "--format", "csv")
	if !strings.Contains(string(out), "10.1.0.1,tcp,8080,not listening,closed,True") {
		t.Errorf("no firewall: tcp/8080 should be \"not listening\":\n%s", out)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestVerifyScriptsParse: the listener and probe scripts, for a DC and for
// host groups of hostile names, parse as Python (py_compile, and the data
// loads: --help runs past it) and as PowerShell (tree-sitter).
func TestVerifyScriptsParse(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]*policies.Ruleset{"dc": quickRuleset(t, []string{"dc"}, []string{"10.1.0.1"}), "hostile": winHostile()}
	var ps []string
	for name, rs := range cases {
		for _, g := range rs.Groups {
			for _, kind := range []string{"listener", "probe"} {
				for _, lang := range []string{"py", "ps"} {
					var buf bytes.Buffer
					o := VerifyOptions{Lang: lang, PortsPerRange: 4, Duration: time.Second, Timeout: time.Second}
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
	for _, f := range report.Files {
		for _, e := range f.Errors {
			t.Errorf("%s: %s", f.Path, e)
		}
	}
}
