package emit

import (
	"bytes"
	stdcmp "cmp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fwgen/fwgen/emit/internal/fwtest"
	"github.com/fwgen/fwgen/policies"
)

// writeBundle writes a bundle's files under dir.
func writeBundle(t *testing.T, dir string, files []File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func bundle(t *testing.T, format string, rs *policies.Ruleset, opts Options) []File {
	t.Helper()
	f, err := Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	files, err := f.Bundler.Bundle(rs, opts)
	if err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return files
}

// aclgen runs a Capirca or Aerleon aclgen on the policy file pol of the
// export in dir, into out, and fails the test when it fails or logs an
// error.
func aclgen(t *testing.T, bin, dir, pol, out string) {
	t.Helper()
	cmd := exec.Command(bin, "--base_directory", filepath.Join(dir, "pol"), "--definitions_directory", filepath.Join(dir, "def"),
		"--output_directory", out, "--policy_file", filepath.Join(dir, "pol", pol))
	msg, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(msg, []byte("ERROR")) || bytes.Contains(msg, []byte("Traceback")) {
		t.Fatalf("%s on %s: %v\n%s", bin, pol, err, msg)
	}
}

// aerleonBin is Aerleon's aclgen, installed by .ci/test.sh in a virtual
// environment of its own (pip install aerleon), apart from Debian's
// Capirca, whose command has the same name.
func aerleonBin(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", ".ci", "aerleon", "bin", "aclgen"))
	if err != nil {
		t.Fatal(err)
	}
	return needTool(t, p, "run .ci/test.sh, which installs Aerleon from the Python package index into .ci/aerleon")
}

// TestCapircaInterop exports every example and runs Capirca's and Aerleon's
// aclgen on it for the iptables, nftables (Aerleon) and windows_advfirewall
// targets. The iptables they generate must accept exactly the Ruleset's
// flows: every (protocol, port, source, destination) of every host group's
// rules, and nothing else.
func TestCapircaInterop(t *testing.T) {
	capirca := needTool(t, "/usr/bin/aclgen", "install Debian's python3-capirca")
	aerleon := aerleonBin(t)
	for name, rs := range exampleRulesets(t) {
		for _, opts := range []Options{{}, {Chain: chainForward}} {
			if opts.Chain == chainForward && slices.ContainsFunc(rs.Groups, func(g policies.Group) bool { return len(g.Addresses) == 0 }) {
				continue
			}
			t.Run(name+"/"+stdcmp.Or(opts.Chain, "input"), func(t *testing.T) {
				for _, tool := range []struct{ format, bin, ext string }{{"capirca", capirca, "pol"}, {"aerleon", aerleon, "yaml"}} {
					dir, out := t.TempDir(), t.TempDir()
					files := bundle(t, tool.format, rs, opts)
					writeBundle(t, dir, files)
					pol := capFileName(rs.Policy) + "." + tool.ext
					aclgen(t, tool.bin, dir, pol, out)
					base := strings.TrimSuffix(pol, "."+tool.ext)
					ipt := readFirst(t, out, base, base+".ipt")
					got := capircaIptablesFlows(t, ipt)
					want := rulesetFlows(rs, opts.Chain)
					if diff := cmp.Diff(want.Normalize().Strings(), got.Normalize().Strings()); diff != "" {
						t.Errorf("%s iptables output accepts other flows than the Ruleset (-want +got):\n%s", tool.format, diff)
					}
					if wf := readFirst(t, out, base+".bat", base+".wf"); len(wf) == 0 {
						t.Errorf("%s wrote an empty windows_advfirewall output", tool.format)
					}
					if tool.format == "aerleon" {
						nft := readFirst(t, out, base+".nft")
						nftCheck(t, nft)
					}
				}
			})
		}
	}
}

// readFirst returns the first of the named files of dir that exists.
func readFirst(t *testing.T, dir string, names ...string) []byte {
	t.Helper()
	for _, n := range names {
		if data, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			return data
		}
	}
	entries, _ := os.ReadDir(dir)
	var have []string
	for _, e := range entries {
		have = append(have, e.Name())
	}
	t.Fatalf("none of %v in the output (%v)", names, have)
	return nil
}

// nftCheck has nft check a ruleset without loading it.
func nftCheck(t *testing.T, ruleset []byte) {
	t.Helper()
	nft := needTool(t, "nft", "install nftables")
	f := filepath.Join(t.TempDir(), "rules.nft")
	if err := os.WriteFile(f, ruleset, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nft, "-c", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("nft -c: %v\n%s\n%s", err, out, ruleset)
	}
}

// capircaIptablesFlows reads the iptables output of Capirca or Aerleon: one
// filter a family, each a policy line, chains and rules in the form
// iptables-save writes, and has iptables-restore --test (ip6tables-restore
// for the IPv6 filter) check each, then returns what they accept.
func capircaIptablesFlows(t *testing.T, data []byte) fwtest.Flows {
	t.Helper()
	var filters []string
	var cur []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "# Iptables") && len(cur) > 0 {
			filters = append(filters, strings.Join(cur, "\n"))
			cur = nil
		}
		cur = append(cur, line)
	}
	filters = append(filters, strings.Join(cur, "\n"))
	flows := fwtest.Flows{}
	for _, f := range filters {
		six := strings.Contains(f, "\n# inet6\n")
		var b strings.Builder
		b.WriteString("*filter\n")
		var rules []string
		for _, line := range strings.Split(f, "\n") {
			switch {
			case strings.HasPrefix(line, "-P "):
				fs := strings.Fields(line)
				b.WriteString(":" + fs[1] + " " + fs[2] + " [0:0]\n")
			case strings.HasPrefix(line, "-N "):
				b.WriteString(":" + strings.TrimPrefix(line, "-N ") + " - [0:0]\n")
			case strings.HasPrefix(line, "-A "):
				rules = append(rules, line)
			}
		}
		for _, c := range []string{"INPUT", "FORWARD", "OUTPUT"} {
			if !strings.Contains(b.String(), ":"+c+" ") {
				b.WriteString(":" + c + " ACCEPT [0:0]\n")
			}
		}
		b.WriteString(strings.Join(rules, "\n") + "\nCOMMIT\n")
		restore := "iptables-restore"
		if six {
			restore = "ip6tables-restore"
		}
		bin := needTool(t, restore, "install iptables")
		cmd := exec.Command(bin, "--test")
		cmd.Stdin = strings.NewReader(b.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s --test: %v\n%s\n%s", restore, err, out, b.String())
		}
		// What the rules accept: the state match Capirca adds to each
		// (new, established, related) takes the accepted direction of a
		// connection whatever its state, and comment-only rules match
		// nothing. The replies are the default policy's, ACCEPT in the
		// export's example targets.
		var plain []string
		for _, line := range strings.Split(b.String(), "\n") {
			line = strings.Replace(line, " -m state --state NEW,ESTABLISHED,RELATED", "", 1)
			if strings.HasPrefix(line, "-A ") && !strings.Contains(line, " -j ") {
				continue
			}
			plain = append(plain, line)
		}
		chains, err := fwtest.ParseIptablesSave([]byte(strings.Join(plain, "\n")))
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		fam := 4
		if six {
			fam = 6
		}
		for _, c := range chains {
			for _, r := range c.Rules {
				if strings.HasPrefix(r.Verdict, "jump ") {
					if c.Name != "INPUT" && c.Name != "FORWARD" || len(r.Src)+len(r.Dst)+len(r.Ports) > 0 || r.Proto != "" {
						t.Fatalf("chain %s: a conditional jump: %+v", c.Name, r)
					}
					continue
				}
				fs, err := r.Flows()
				if err != nil {
					t.Fatalf("chain %s: %v", c.Name, err)
				}
				for f, ports := range fs {
					if f.Src == "" && f.Dst == "" {
						f.Src = fwtest.AnyOf(fam) // a rule of this family's filter
					}
					flows.Add(f, ports)
				}
			}
		}
	}
	return flows
}

// rulesetFlows lists what the Ruleset accepts, as a filter of the chain
// sees it: every scope rule of every group, from each of its sources to
// each of its group's servers (any address where the group has none, and
// on the input chain for senders without an address, DHCP), worked out
// here from the Ruleset alone.
func rulesetFlows(rs *policies.Ruleset, chain string) fwtest.Flows {
	flows := fwtest.Flows{}
	for _, g := range rs.Groups {
		for _, r := range g.ByScope() {
			for _, fam := range []int{4, 6} {
				if rf := max(r.Family, policies.ICMPFamily(r.Proto)); rf != 0 && rf != fam {
					continue
				}
				srcs := []string{""}
				if r.Set != nil && !r.AnySource {
					srcs = nil
					for _, p := range r.Set.Prefixes {
						if int(familyOf(p)) == fam {
							srcs = append(srcs, p.String())
						}
					}
				}
				dsts := []string{""}
				if len(g.Addresses) > 0 && !(r.AnySource && chain != chainForward) {
					dsts = nil
					for _, p := range g.Addresses {
						if int(familyOf(p)) == fam {
							dsts = append(dsts, p.String())
						}
					}
				}
				if len(srcs) == 0 || len(dsts) == 0 {
					continue
				}
				icmp := -1
				if r.ICMPType != nil {
					icmp = *r.ICMPType
				}
				for _, s := range srcs {
					for _, d := range dsts {
						if s == "" && d == "" {
							s = fwtest.AnyOf(fam)
						}
						flows.Add(fwtest.Flow{Proto: r.Proto, ICMPType: icmp, Src: s, Dst: d}, r.Ports)
					}
				}
			}
		}
	}
	return flows
}

// TestCapircaGolden keeps the export of every example and of a Ruleset of
// hostile names, in both languages.
func TestCapircaGolden(t *testing.T) {
	cases := exampleRulesets(t)
	cases["hostile-forward"] = linuxHostile()
	for name, rs := range cases {
		opts := Options{}
		if strings.HasSuffix(name, "forward") {
			opts = Options{Chain: chainForward}
		}
		for _, format := range []string{"capirca", "aerleon"} {
			checkGolden(t, filepath.Join("..", "testdata", format, name+".txt"), emitString(t, format, rs, opts))
		}
	}
}

// TestCapircaHostile runs both aclgens on the export of hostile names:
// they must read every comment, token and term name as fwgen meant it.
func TestCapircaHostile(t *testing.T) {
	capirca := needTool(t, "/usr/bin/aclgen", "install Debian's python3-capirca")
	aerleon := aerleonBin(t)
	rs := linuxHostile()
	opts := Options{Chain: chainForward}
	for _, tool := range []struct{ format, bin, ext string }{{"capirca", capirca, "pol"}, {"aerleon", aerleon, "yaml"}} {
		dir, out := t.TempDir(), t.TempDir()
		writeBundle(t, dir, bundle(t, tool.format, rs, opts))
		pol := capFileName(rs.Policy) + "." + tool.ext
		aclgen(t, tool.bin, dir, pol, out)
		got := capircaIptablesFlows(t, readFirst(t, out, strings.TrimSuffix(pol, "."+tool.ext)))
		if diff := cmp.Diff(rulesetFlows(rs, opts.Chain).Normalize().Strings(), got.Normalize().Strings()); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tool.format, diff)
		}
	}
}

// TestCapircaFlowsCatchWidening shows that the interop check fails when
// an export opens more than the Ruleset: one port more in a service.
func TestCapircaFlowsCatchWidening(t *testing.T) {
	capirca := needTool(t, "/usr/bin/aclgen", "install Debian's python3-capirca")
	rs := exampleRulesets(t)["single-dc"]
	dir, out := t.TempDir(), t.TempDir()
	files := bundle(t, "capirca", rs, Options{})
	for i := range files {
		if files[i].Path == "def/SERVICES.svc" {
			files[i].Data = bytes.Replace(files[i].Data, []byte(" = "), []byte(" = 4444/tcp\n    "), 1)
		}
	}
	writeBundle(t, dir, files)
	pol := capFileName(rs.Policy) + ".pol"
	aclgen(t, capirca, dir, pol, out)
	got := capircaIptablesFlows(t, readFirst(t, out, strings.TrimSuffix(pol, ".pol")))
	if cmp.Equal(rulesetFlows(rs, "").Normalize().Strings(), got.Normalize().Strings()) {
		t.Fatal("an export with an extra port passed the flow comparison")
	}
}

// TestCheckPaths checks that a bundle path must be clean, relative and
// inside the output directory.
func TestCheckPaths(t *testing.T) {
	for _, bad := range []string{"", "/etc/x", "../x", "..", "pol/../../x", "pol//x", "./x"} {
		if checkPaths([]File{{Path: bad}}) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := checkPaths([]File{{Path: "pol/site.pol"}, {Path: "def/NETWORKS.net"}}); err != nil {
		t.Error(err)
	}
	if checkPaths([]File{{Path: "a"}, {Path: "a"}}) == nil {
		t.Error("a path written twice accepted")
	}
}
