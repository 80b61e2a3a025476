package capture

import (
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var capturesDir = filepath.Join("..", "..", "testdata", "captures")

// captureRoles are the roles and OS of the server each capture of
// testdata/captures was taken on, by its name's first word.
var captureRoles = map[string]policies.Quick{
	"dc":         {Roles: []string{"dc"}, OS: []string{"2016"}},
	"fileserver": {Roles: []string{"file-server"}, OS: []string{"2016"}},
	"hyperv":     {Roles: []string{"hyperv-host", "cluster-node"}, OS: []string{"2022"}},
	"linux":      {Roles: []string{"web"}, OS: []string{"2016"}},
}

// TestCaptures reads every capture (netstat -ano and -anob, the
// PowerShell table saved as UTF-16, Export-Csv, ConvertTo-Json, TCPView,
// CurrPorts, ss), checks it against its server's roles and compares the
// report with its golden file; a broken capture's error, with its line, is
// its golden file too.
func TestCaptures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(capturesDir, "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") || strings.HasSuffix(f, ".err") {
			continue
		}
		n++
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := Parse(data)
			if strings.HasPrefix(name, "broken-") {
				if err == nil {
					t.Fatalf("read as %s with %d listeners, want an error", cp.Format, len(cp.Listeners))
				}
				checkGolden(t, f+".err", []byte(err.Error()+"\n"))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			q, ok := captureRoles[strings.SplitN(name, "-", 2)[0]]
			if !ok {
				t.Fatalf("no roles for %s", name)
			}
			rs, err := policies.Resolve(q.Policy(), catalog.Default())
			if err != nil {
				t.Fatal(err)
			}
			r := Check(cp, &rs.Groups[0], catalog.Default())
			b, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, f+".golden", append(b, '\n'))
		})
	}
	if n < 10 {
		t.Errorf("%d captures, want every format with a DC, a Hyper-V host and a file server", n)
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./policies/capture -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestParseFormats: each capture is read as its own format, with the
// processes the format names.
func TestParseFormats(t *testing.T) {
	for file, want := range map[string]string{
		"dc-netstat-ano.txt":                    Netstat,
		"fileserver-netstat-anob.txt":           Netstat,
		"hyperv-get-nettcpconnection.txt":       PSTable,
		"fileserver-get-netudpendpoint.csv":     PSCsv,
		"dc-get-nettcpconnection.json":          PSJson,
		"fileserver-tcpview.csv":                TCPView,
		"hyperv-currports.csv":                  CurrPorts,
		"linux-ss-ltnup.txt":                    SS,
		"dc-ss-lunp-listener.txt":               SS,
		"dc-netstat-anot-offload.txt":           Netstat,
		"dc-get-nettcpconnection-ps7.csv":       PSCsv,
		"dc-get-netendpoints-ps51-wrapper.json": PSJson,
		"dc-tcpview-netstat-states.csv":         TCPView,
	} {
		data, err := os.ReadFile(filepath.Join(capturesDir, file))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := Parse(data)
		if err != nil || cp.Format != want || len(cp.Listeners) == 0 {
			t.Errorf("%s: %+v, %v; want %s", file, cp, err, want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(capturesDir, "fileserver-netstat-anob.txt"))
	cp, _ := Parse(data)
	procs := map[uint16]string{}
	for _, l := range cp.Listeners {
		procs[l.Port] = l.Process
	}
	if procs[135] != "svchost.exe" || procs[49669] != "lsass.exe" || procs[445] != "" {
		t.Errorf("netstat -anob processes: %v", procs)
	}
}

// TestProtocols: a capture lists the protocols it holds sockets of,
// whether any listens or not, and no other; ss without a Netid column
// tells them by the state, PowerShell's records by their columns or CIM
// class.
func TestProtocols(t *testing.T) {
	for file, want := range map[string]string{
		"dc-netstat-ano.txt":                    "tcp udp",
		"dc-get-nettcpconnection.json":          "tcp",
		"fileserver-get-netudpendpoint.csv":     "udp",
		"dc-ss-lunp-listener.txt":               "udp",
		"dc-get-netudpendpoint-ps7.csv":         "udp",
		"dc-get-netendpoints-ps51-wrapper.json": "tcp udp",
		"hyperv-get-nettcpconnection.txt":       "tcp udp",
	} {
		cp := parseFile(t, file)
		if got := strings.Join(cp.Protocols, " "); got != want {
			t.Errorf("%s: protocols %q, want %q", file, got, want)
		}
		for _, l := range cp.Listeners {
			if l.Port == 0 {
				t.Errorf("%s:%d: a listener on port 0", file, l.Line)
			}
		}
	}
}

// TestEphemeral: a DNS server's socket pool and client sockets in the
// dynamic range fail no check; they are counted by process.
func TestEphemeral(t *testing.T) {
	r := Check(parseFile(t, "dc-netstat-dns-socket-pool.txt"), &resolve(t, "dc").Groups[0], catalog.Default())
	if !r.OK() || len(r.Ephemeral) != 2 || r.Ephemeral[0].Count != 40 || r.Ephemeral[0].PIDs[0] != 2168 || r.Ephemeral[1].Count != 2 {
		t.Errorf("uncovered %+v, ephemeral %+v; want none, and 40 endpoints of PID 2168 and 2 of 1204", r.Uncovered, r.Ephemeral)
	}
	// On servers of 2003, the dynamic range is 1025-5000: 49152 and up
	// are no client sockets there.
	old := policies.Quick{Roles: []string{"dc"}, OS: []string{"2003"}}.Policy()
	rs, err := policies.Resolve(old, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if r := Check(parseFile(t, "dc-netstat-dns-socket-pool.txt"), &rs.Groups[0], catalog.Default()); len(r.Ephemeral) != 0 {
		t.Errorf("2003: ephemeral %+v, want none", r.Ephemeral)
	}
}

// TestNotCaptured: a TCP-only capture says nothing of the UDP rules.
func TestNotCaptured(t *testing.T) {
	r := Check(parseFile(t, "dc-get-nettcpconnection.json"), &resolve(t, "dc").Groups[0], catalog.Default())
	for _, i := range r.Idle {
		if i.Proto == "udp" {
			t.Errorf("udp %s counts as nothing listening in a TCP-only capture", i.Ports)
		}
	}
	if len(r.NotCaptured) == 0 || r.NotCaptured[0].Proto != "udp" {
		t.Errorf("not captured: %+v, want the UDP rules", r.NotCaptured)
	}
}

// TestScenarioHint: a NetBIOS port on a DC without the netbios scenario
// names the scenario, not the catalog's usual services.
func TestScenarioHint(t *testing.T) {
	r := Check(parseFile(t, "dc-netstat-ano.txt"), &resolve(t, "dc").Groups[0], catalog.Default())
	for _, p := range r.Uncovered {
		if p.Proto == "tcp" && p.Port == 139 && (len(p.Scenarios) != 1 || !strings.HasPrefix(p.Scenarios[0], "netbios ") || p.Usual != nil) {
			t.Errorf("tcp/139: scenarios %q, usual %q; want the netbios scenario alone", p.Scenarios, p.Usual)
		}
		if slices.ContainsFunc(p.Usual, func(s string) bool { return strings.HasPrefix(s, "isa-tmg") }) {
			t.Errorf("%s/%d: usually ISA Server, whose range holds every high port", p.Proto, p.Port)
		}
	}
}

func parseFile(t *testing.T, name string) *Capture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(capturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cp
}

func resolve(t *testing.T, roles ...string) *policies.Ruleset {
	t.Helper()
	rs, err := policies.Resolve(policies.Quick{Roles: roles, OS: []string{"2016"}}.Policy(), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestSuggest: a Hyper-V cluster node's capture suggests cluster-node and
// hyperv-host, each with the ports it explains; a DC's, the DC alone,
// though it listens on Remote Desktop and WinRM; a TCP-only capture does
// not count the UDP ports as missing; the ports every server may have
// suggest nothing, nor does NetBIOS alone.
func TestSuggest(t *testing.T) {
	ss, err := Suggest(parseFile(t, "hyperv-currports.csv"), []string{"2022"}, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].Role != "cluster-node" || ss[1].Role != "hyperv-host" ||
		strings.Join(ss[1].Explains, " ") != "2179/tcp 6600/tcp" {
		t.Errorf("Hyper-V node: %+v", ss)
	}
	for _, file := range []string{"dc-netstat-ano.txt", "dc-get-nettcpconnection.json"} {
		ss, err := Suggest(parseFile(t, file), []string{"2016"}, catalog.Default())
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 1 || ss[0].Role != "dc" || len(ss[0].Missing) != 0 {
			t.Errorf("%s: %+v, want dc alone with nothing missing", file, ss)
		}
	}
	any := netip.IPv4Unspecified()
	var common []Listener
	for _, k := range commonPorts {
		port, proto, _ := strings.Cut(k, "/")
		n, _ := strconv.Atoi(port)
		common = append(common, Listener{Proto: proto, Port: uint16(n), Addr: any})
	}
	for name, ls := range map[string][]Listener{"common ports": common, "NetBIOS": {{Proto: "udp", Port: 137, Addr: any}}} {
		if ss, _ := Suggest(&Capture{Listeners: ls, Protocols: []string{"tcp", "udp"}}, []string{"2016"}, catalog.Default()); len(ss) != 0 {
			t.Errorf("%s suggest %+v", name, ss)
		}
	}
}

// TestEmptyCaptures: a capture of each format that lists no socket, its
// header alone, reads as that format with no listener and no protocol,
// which fwgen listening warns about, rather than as an unknown format.
func TestEmptyCaptures(t *testing.T) {
	for want, text := range map[string]string{
		Netstat: "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n",
		SS:      "Netid State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n",
		PSJson:  "[]\n",
	} {
		cp, err := Parse([]byte(text))
		if err != nil || cp.Format != want || len(cp.Listeners) != 0 || len(cp.Protocols) != 0 {
			t.Errorf("%s with no socket: %+v, %v; want the format, no listener and no protocol", want, cp, err)
		}
	}
}
