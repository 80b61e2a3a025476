package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
)

// explainOptions are the flags of fwgen explain.
type explainOptions struct {
	gen   *genOptions
	group string
}

func newExplainCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &explainOptions{gen: &genOptions{stdout: stdout, stderr: stderr}}
	cmd := &cobra.Command{
		Use:   "explain ROLE... --os VERSION | explain -f site.yaml --group NAME",
		Short: "Every port of a role or host group, and every decision fwgen took for it, with the documents",
		Long: `explain says, for roles in an OS mix (as quick mode resolves them) or for a
host group of a site policy, which ports the servers accept and why: each port
with the services that need it, who may connect, the OS or scenario reason and
the document; which RPC range stands for "RPC dynamic" and why; what was left
out for the OS mix; and the scenarios there are, with how to turn them on.`,
		Example: `  fwgen explain dc --os 2003,2016
  fwgen explain file-server --os 2019 --scenario dfs-namespaces
  fwgen explain -f site.yaml --group dcs`,
		RunE: func(_ *cobra.Command, args []string) error {
			o.gen.roles = append(o.gen.roles, args...)
			return explainRun(o)
		},
	}
	f := cmd.Flags()
	o.gen.flags = f
	f.Var(&o.gen.oses, "os", "Windows version(s) of the servers and of the hosts they talk to")
	f.Var(&o.gen.scenarios, "scenario", "scenarios to turn on")
	f.BoolVar(&o.gen.optional, "optional", false, "turn on every scenario")
	f.StringVar(&o.gen.rpcRange, "rpc-range", "", "restricted RPC dynamic range (KB 154596)")
	f.Var(&o.gen.staticRPC, "static-rpc", "RPC interfaces pinned to a port (KB 224196)")
	f.Var(&o.gen.from, "from", "source addresses or CIDRs (repeatable or comma-separated)")
	f.StringVarP(&o.gen.policyFile, "file", "f", "", "site policy YAML")
	f.StringVar(&o.group, "group", "", "the host group of the site policy to explain")
	completeCatalogFlags(cmd, false)
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return roleNames(catalog.Default()), cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

func explainRun(o *explainOptions) error {
	g := o.gen
	var rs *policies.Ruleset
	switch {
	case g.policyFile != "":
		if len(g.roles) > 0 || len(g.oses) > 0 {
			return usagef("with -f, the roles and OS come from the policy: name a host group with --group")
		}
		if o.group == "" {
			return usagef("explain -f needs --group NAME, one of the policy's host groups")
		}
		p, err := loadPolicy(g.policyFile)
		if err != nil {
			return err
		}
		full, err := policies.Resolve(p, catalog.Default())
		if err != nil {
			return err
		}
		rs = full
		one := rs.ForGroup(o.group, false)
		if one == nil {
			var names []string
			for _, h := range rs.Groups {
				names = append(names, h.Name)
			}
			return usagef("no host group %q in %s%s; its groups: %s", o.group, g.policyFile,
				didYouMean(o.group, names), strings.Join(names, ", "))
		}
		rs = one
	case len(g.roles) == 0:
		return usagef("name a role (fwgen explain dc --os 2016) or a site policy and group (-f site.yaml --group dcs)")
	default:
		p, err := g.quickPolicy(catalog.Default())
		if err != nil {
			return err
		}
		full, err := policies.Resolve(p, catalog.Default())
		if err != nil {
			return err
		}
		rs = full
	}
	var b strings.Builder
	explainGroup(&b, rs, &rs.Groups[0])
	return writeStdout(g.stdout, []byte(b.String()))
}

// explainGroup writes what fwgen decided for one host group.
func explainGroup(w io.Writer, rs *policies.Ruleset, g *policies.Group) {
	fmt.Fprintf(w, "Host group %s: roles %s\n", g.Name, strings.Join(g.Roles, ", "))
	var os []string
	for _, v := range g.OS {
		os = append(os, v.Name+" ("+v.Kind+")")
	}
	fmt.Fprintf(w, "OS mix: %s; the servers' own versions decide what they listen on.\n", strings.Join(os, ", "))
	fmt.Fprintf(w, "\nRPC dynamic range %s: %s.\n", emit.PortList(g.RPC.Ranges), g.RPC.Reason)
	for _, s := range g.RPC.Static {
		fmt.Fprintf(w, "  %s is pinned to %d (KB 224196): its RPC rules open that port instead of the range.\n", s.Interface, s.Port)
	}
	fmt.Fprintln(w, "\nPorts the servers accept, and why:")
	for _, line := range explainPorts(rs, g) {
		fmt.Fprintln(w, line)
	}
	if len(g.Omitted) > 0 {
		fmt.Fprintln(w, "\nLeft out:")
		for _, o := range g.Omitted {
			fmt.Fprintf(w, "  %s\n", g.OmissionText(o))
		}
	}
	if len(g.Scenarios) > 0 {
		fmt.Fprintln(w, "\nScenarios (turn one on with --scenario ID, or scenarios: [ID] in a site policy; --optional turns on all):")
		for _, s := range g.Scenarios {
			state := "off"
			if s.On {
				state = "on"
			}
			ports := strings.Join(s.Ports, ", ")
			if ports == "" {
				ports = "nothing on these servers' versions"
			}
			fmt.Fprintf(w, "  %s (%s), %s: %s\n    %s\n", s.ID, s.Name, state, ports, s.Description)
		}
	}
	if len(g.Notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range g.Notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
}

// explainPorts is a paragraph per protocol and port or range: who may
// connect from where, each service that needs it with its reasons and
// documents.
func explainPorts(rs *policies.Ruleset, g *policies.Group) []string {
	type port struct {
		proto policies.Proto
		what  string
		from  uint16
	}
	byPort := map[port][]policies.Need{}
	var keys []port
	for _, n := range g.Needs {
		what := n.Ports.String()
		switch {
		case n.ICMPType != nil:
			what = fmt.Sprintf("type %d", *n.ICMPType)
		case !n.Proto.HasPorts():
			what = ""
		}
		k := port{n.Proto, what, n.Ports.From}
		if _, ok := byPort[k]; !ok {
			keys = append(keys, k)
		}
		byPort[k] = append(byPort[k], n)
	}
	slices.SortFunc(keys, func(a, b port) int {
		if a.proto != b.proto {
			return strings.Compare(string(a.proto), string(b.proto))
		}
		return int(a.from) - int(b.from)
	})
	var out []string
	for _, k := range keys {
		needs := byPort[k]
		var from []string
		for _, n := range needs {
			peer := string(n.Peer)
			if id, ok := n.Peer.Role(); ok {
				peer = "servers of " + id
			}
			item := peer + " from " + rs.SourceName(n.Sources)
			if !slices.Contains(from, item) {
				from = append(from, item)
			}
		}
		out = append(out, fmt.Sprintf("  %s %s: %s", k.proto, k.what, strings.Join(from, "; ")))
		var seen []string
		for _, n := range needs {
			line := fmt.Sprintf("    %s/%s (%s)", n.Role, n.Service, n.Label)
			if n.RPC != "" {
				line += ", RPC " + n.RPC
			}
			if n.OSReason != "" {
				line += "; " + n.OSReason
			}
			for _, s := range n.Scenarios {
				line += "; scenario " + s
			}
			refs := make([]string, len(n.Refs))
			for i, r := range n.Refs {
				refs[i] = r.String()
			}
			line += " [" + strings.Join(refs, "; ") + "]"
			if !slices.Contains(seen, line) {
				seen = append(seen, line)
				out = append(out, line)
			}
		}
	}
	return out
}

// didYouMean is ` (did you mean "x"?)` when name looks like a typo of a
// candidate, else "".
func didYouMean(name string, candidates []string) string {
	if m := policies.Suggest(name, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}
