package capture

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
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
			format, ls, err := Parse(data)
			if strings.HasPrefix(name, "broken-") {
				if err == nil {
					t.Fatalf("read as %s with %d listeners, want an error", format, len(ls))
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
			r := Check(format, ls, &rs.Groups[0], catalog.Default())
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
		"dc-netstat-ano.txt":                Netstat,
		"fileserver-netstat-anob.txt":       Netstat,
		"hyperv-get-nettcpconnection.txt":   PSTable,
		"fileserver-get-netudpendpoint.csv": PSCsv,
		"dc-get-nettcpconnection.json":      PSJson,
		"fileserver-tcpview.csv":            TCPView,
		"hyperv-currports.csv":              CurrPorts,
		"linux-ss-ltnup.txt":                SS,
	} {
		data, err := os.ReadFile(filepath.Join(capturesDir, file))
		if err != nil {
			t.Fatal(err)
		}
		format, ls, err := Parse(data)
		if err != nil || format != want || len(ls) == 0 {
			t.Errorf("%s: %s, %d listeners, %v; want %s", file, format, len(ls), err, want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(capturesDir, "fileserver-netstat-anob.txt"))
	_, ls, _ := Parse(data)
	procs := map[uint16]string{}
	for _, l := range ls {
		procs[l.Port] = l.Process
	}
	if procs[135] != "svchost.exe" || procs[49669] != "lsass.exe" || procs[445] != "" {
		t.Errorf("netstat -anob processes: %v", procs)
	}
}

// TestSuggest: a Hyper-V cluster node's capture suggests cluster-node and
// hyperv-host, each with the ports it explains; a NetBIOS port alone
// suggests nothing.
func TestSuggest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(capturesDir, "hyperv-currports.csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, ls, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Suggest(ls, []string{"2022"}, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) < 2 || ss[0].Role != "cluster-node" || ss[1].Role != "hyperv-host" ||
		strings.Join(ss[1].Explains, " ") != "2179/tcp 6600/tcp" {
		t.Errorf("suggestions: %+v", ss)
	}
	only137 := []Listener{{Proto: "udp", Port: 137, Addr: ls[0].Addr}}
	if ss, _ := Suggest(only137, []string{"2016"}, catalog.Default()); len(ss) != 0 {
		t.Errorf("NetBIOS alone suggests %+v", ss)
	}
}
