package main

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
)

// genOptions are the flags shared by the root command (quick mode) and
// 'fwgen generate' (site policy).
type genOptions struct {
	stdout, stderr io.Writer
	flags          *pflag.FlagSet

	policyFile  string
	roles, oses listValue
	emit        string
	output      string
	rpcRange    string
	staticRPC   listValue
	optional    bool
	scenarios   listValue
	from, to    addressList
	profiles    listValue
	group       string
	rpcKeywords bool
	bind        string
	chain       string
	table       string
	defaultDeny bool
	quiet       bool
	verbose     bool
	check       bool
}

func (o *genOptions) bindFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	o.flags = f
	f.VarP(&o.roles, "role", "r", "server role(s), repeatable or comma-separated (see 'fwgen roles')")
	f.Var(&o.oses, "os", `Windows version(s) of the servers and of the hosts they talk to, e.g. 2016, "2008 R2", 2003`)
	f.StringVarP(&o.emit, "emit", "e", "csv", "output format: "+strings.Join(emit.Names(), ", "))
	f.StringVarP(&o.output, "output", "o", "", "write to this file (atomically) instead of standard output")
	f.StringVar(&o.rpcRange, "rpc-range", "", "RPC dynamic range the estate restricted in the registry, e.g. 5000-5100 (KB 154596)")
	f.Var(&o.staticRPC, "static-rpc", "RPC interfaces pinned to a port, e.g. ntds=38901,netlogon=38902,frs=38903,dfsr=5722 (KB 224196)")
	f.Var(&o.scenarios, "scenario", "turn on scenarios of the roles, e.g. hyperv-replica,dfs-namespaces (see 'fwgen roles')")
	f.BoolVar(&o.optional, "optional", false, "turn on every scenario of the roles (NetBIOS fallback, Hyper-V Replica, ...)")
	f.Var(&o.from, "from", "allow only these source addresses or CIDRs, for every rule (repeatable or comma-separated)")
	f.Var(&o.to, "to", "the servers' addresses or CIDRs (needed by --chain forward; repeatable or comma-separated)")
	f.Var(&o.profiles, "profile", "Windows Firewall profiles: domain, private, public (default any)")
	f.StringVar(&o.group, "group", "", `Windows Firewall rule group (default "fwgen: <policy>")`)
	f.BoolVar(&o.rpcKeywords, "rpc-keywords", false, "use Windows Firewall's RPCEPMap (135, and 593 for RPC over HTTP) and RPC keywords for 135/tcp and the RPC range")
	f.StringVar(&o.bind, "bind", "program", "Windows rules: program binds each to the program and service that listen, as Windows' own rules; none admits the ports whatever listens")
	f.StringVar(&o.chain, "chain", "input", "nftables/iptables chain: input (host firewall) or forward (router in front of the servers)")
	f.StringVar(&o.table, "table", "fwgen", "nftables table, and iptables chains <TABLE>-INPUT/-FORWARD in upper case")
	f.BoolVar(&o.defaultDeny, "default-deny", false, "drop what is not allowed (keeps established, loopback and essential ICMP open)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "say on stderr only warnings (rules open to any address, servers too old for the format) and errors")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "name every host group in the summary on stderr")
}

// checkFlags refuses what no run can mean: an empty value of a flag that
// takes one (-o "", --table "", --rpc-range "$UNSET"), and --quiet with
// --verbose.
func (o *genOptions) checkFlags() error {
	for _, c := range []struct{ name, hint string }{
		{"output", "name the file to write, or leave -o out to write to standard output"},
		{"file", "name the site policy file"},
		{"emit", "name a format"},
		{"rpc-range", "name the range, e.g. 5000-5100, or leave the flag out"},
		{"group", "name the rule group, or leave the flag out"},
		{"table", "name the table, or leave the flag out"},
		{"chain", "input or forward"},
		{"bind", "program or none"},
	} {
		f := o.flags.Lookup(c.name)
		if f == nil || !f.Changed || strings.TrimSpace(f.Value.String()) != "" {
			continue
		}
		if f.Shorthand != "" {
			return usagef("-%s: empty; %s", f.Shorthand, c.hint)
		}
		return usagef("--%s: empty; %s", f.Name, c.hint)
	}
	if o.quiet && o.verbose {
		return usagef("--quiet and --verbose: choose one")
	}
	return nil
}

// quickFlags are the flags of quick mode that a site policy sets in its
// file instead.
var quickFlags = []string{"role", "os", "from", "to", "profile", "scenario", "rpc-range", "static-rpc"}

// emitOptions are the format settings the flags give.
func (o *genOptions) emitOptions() (emit.Options, error) {
	if o.chain != "input" && o.chain != "forward" {
		return emit.Options{}, usagef("--chain %q: want input or forward", o.chain)
	}
	if strings.Contains(o.group, "|") {
		return emit.Options{}, usagef("--group %q: a GPO stores a rule's fields separated by '|', so a rule group cannot hold one", o.group)
	}
	if o.bind != "program" && o.bind != "none" {
		return emit.Options{}, usagef("--bind %q: want program or none", o.bind)
	}
	return emit.Options{Group: o.group, RPCKeywords: o.rpcKeywords, Chain: o.chain,
		Table: o.table, DefaultDeny: o.defaultDeny, NoBind: o.bind == "none"}, nil
}

// quickRun serves one role set on one host group, from flags alone.
func quickRun(o *genOptions) error {
	if err := o.checkFlags(); err != nil {
		return err
	}
	if strings.EqualFold(strings.TrimSpace(o.emit), "all") || strings.Contains(o.emit, ",") {
		return usagef("--emit %s: without a site policy fwgen writes one format; "+
			"a site policy writes several into a directory (fwgen generate -f site.yaml --emit FORMAT,FORMAT... -o DIR)", o.emit)
	}
	f, err := emit.Lookup(strings.TrimSpace(o.emit))
	if err != nil {
		return usageError{err}
	}
	p, err := o.quickPolicy(catalog.Default())
	if err != nil {
		return err
	}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		return err
	}
	if f.Bundler != nil {
		// A tree of files for the whole site: written as generate -o
		// writes a site's directory.
		if o.output == "" {
			return bundleNeedsDir(f)
		}
		if err := checkOutputDir(o.output); err != nil {
			return err
		}
		o.summarize(rs, []emit.Format{f})
		o.warnUnused([]emit.Format{f})
		return o.writeSiteDir([]emit.Format{f}, rs)
	}
	if fi, err := os.Stat(o.output); o.output != "" && err == nil && fi.IsDir() {
		return usagef("-o %s is a directory; name the file to write (site policies write a directory: fwgen generate -f)", o.output)
	}
	out, err := o.render(f, rs)
	if err != nil {
		return err
	}
	o.summarize(rs, []emit.Format{f})
	o.warnUnused([]emit.Format{f})
	if o.output == "" {
		return writeStdout(o.stdout, out)
	}
	return writeFile(o.output, out)
}

// render emits rs in format f and reports, on stderr, what the reader of
// the output should know: hosts too old for the format, entries left out.
func (o *genOptions) render(f emit.Format, rs *policies.Ruleset) ([]byte, error) {
	opts, err := o.emitOptions()
	if err != nil {
		return nil, err
	}
	return o.renderWith(f, rs, opts)
}

func (o *genOptions) renderWith(f emit.Format, rs *policies.Ruleset, opts emit.Options) ([]byte, error) {
	if f.Bundler != nil {
		return nil, bundleNeedsDir(f)
	}
	var buf bytes.Buffer
	if err := f.Emitter.Emit(&buf, rs, opts); err != nil {
		// Emitters write to memory; what they refuse is the combination
		// of format options and input the command was given.
		return nil, usageError{fmt.Errorf("--emit %s: %w", f.Name, err)}
	}
	return buf.Bytes(), nil
}

// formatOptions names the formats that each format option changes.
var formatOptions = []struct {
	flag    string
	set     func(*genOptions) bool
	formats []string
}{
	{"--group", func(o *genOptions) bool { return o.group != "" }, []string{"powershell", "netsh"}},
	{"--rpc-keywords", func(o *genOptions) bool { return o.rpcKeywords }, []string{"powershell", "netsh"}},
	{"--bind", func(o *genOptions) bool { return o.bind != "program" }, []string{"powershell", "netsh", "csv"}},
	{"--chain", func(o *genOptions) bool { return o.chain != "input" }, []string{"nftables", "iptables", "ip6tables", "capirca", "aerleon"}},
	{"--table", func(o *genOptions) bool { return o.table != "fwgen" }, []string{"nftables", "iptables", "ip6tables"}},
	{"--default-deny", func(o *genOptions) bool { return o.defaultDeny }, []string{"nftables", "iptables", "ip6tables"}},
}

// warnUnused says on stderr which format options none of the chosen
// formats uses, so that nobody believes, say, a PowerShell script denies by
// default because --default-deny was given.
func (o *genOptions) warnUnused(formats []emit.Format) {
	for _, fo := range formatOptions {
		if !fo.set(o) {
			continue
		}
		used := slices.ContainsFunc(formats, func(f emit.Format) bool { return slices.Contains(fo.formats, f.Name) })
		if !used {
			names := make([]string, len(formats))
			for i, f := range formats {
				names[i] = f.Name
			}
			fmt.Fprintf(o.stderr, "fwgen: warning: %s changes only %s output; --emit %s ignores it\n",
				fo.flag, strings.Join(fo.formats, ", "), strings.Join(names, ","))
		}
	}
}

// quickPolicy checks the quick-mode flags and builds their Policy.
func (o *genOptions) quickPolicy(c *catalog.Catalog) (*policies.Policy, error) {
	q := policies.Quick{Optional: o.optional}
	for _, name := range o.roles {
		r, err := c.Role(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("%w; valid roles: %s", err, strings.Join(roleNames(c), ", "))}
		}
		if !slices.Contains(q.Roles, r.ID) {
			q.Roles = append(q.Roles, r.ID)
		}
	}
	if len(o.oses) == 0 {
		return nil, usagef("name the Windows version(s) with --os, e.g. --os 2016 (see 'fwgen roles' for roles; versions: %s)", strings.Join(osNames(c), ", "))
	}
	for _, name := range o.oses {
		v, err := c.OS(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("%w; valid versions: %s", err, strings.Join(osNames(c), ", "))}
		}
		q.OS = append(q.OS, v.ID)
	}
	var err error
	if q.Profiles, err = parseProfiles(o.profiles); err != nil {
		return nil, err
	}
	if q.To, err = o.parsePrefixes("to", o.to); err != nil {
		return nil, err
	}
	if q.From, err = o.parsePrefixes("from", o.from); err != nil {
		return nil, err
	}
	if q.RPC, err = parseRPC(o.rpcRange, o.staticRPC, c); err != nil {
		return nil, err
	}
	for _, pr := range policies.CheckRPC(q.RPC, q.Roles, c) {
		flag := "--rpc-range"
		if strings.HasPrefix(pr.Field, "static.") {
			flag = "--static-rpc"
		}
		return nil, usagef("%s: %s", flag, pr.Msg)
	}
	if q.Scenarios, err = quickScenarios(o.scenarios, q.Roles, c); err != nil {
		return nil, err
	}
	return q.Policy(), nil
}

// quickScenarios checks --scenario: each a scenario of one of the roles.
func quickScenarios(in, roles []string, c *catalog.Catalog) ([]string, error) {
	var have []string
	for _, id := range roles {
		r, _ := c.Role(id)
		for _, s := range c.RoleScenarios(r) {
			if !slices.Contains(have, s) {
				have = append(have, s)
			}
		}
	}
	slices.Sort(have)
	var out []string
	for _, s := range in {
		s = strings.ToLower(strings.TrimSpace(s))
		if _, err := c.Scenario(s); err != nil {
			return nil, usageError{fmt.Errorf("--scenario: %w; 'fwgen roles' lists each role's scenarios", err)}
		}
		if !slices.Contains(have, s) {
			return nil, usagef("--scenario %s: not a scenario of %s; theirs: %s", s, strings.Join(roles, ", "), dash(strings.Join(have, ", ")))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func parseProfiles(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "any" {
			return nil, nil
		}
		if !slices.Contains([]string{"domain", "private", "public"}, s) {
			return nil, usagef("--profile %q: want domain, private, public or any", s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// parsePrefixes reads the addresses and CIDRs of flag --name as a site
// policy does; listValue has refused empty ones.
func (o *genOptions) parsePrefixes(name string, in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		p, err := policies.ParsePrefix(s)
		if err != nil {
			return nil, usagef("--%s: %v", name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseRPC(rng string, static []string, c *catalog.Catalog) (policies.RPCOptions, error) {
	var o policies.RPCOptions
	if rng != "" {
		r, err := catalog.ParsePortRange(rng)
		if err != nil {
			return o, usagef("--rpc-range: %v", err)
		}
		o.Range = &r
	}
	for _, kv := range static {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || !slices.Contains(c.RPCInterfaces(), k) {
			return o, usagef("--static-rpc %q: want INTERFACE=PORT with INTERFACE one of %s", kv, strings.Join(c.RPCInterfaces(), ", "))
		}
		pr, err := catalog.ParsePortRange(v)
		if err != nil || !pr.Single() {
			return o, usagef("--static-rpc %q: want one port from 1 to 65535", kv)
		}
		if prev, dup := o.Static[k]; dup {
			return o, usagef("--static-rpc: %s is pinned twice (%d and %s); give each interface one port", k, prev, strings.TrimSpace(v))
		}
		if o.Static == nil {
			o.Static = map[string]uint16{}
		}
		o.Static[k] = pr.From
	}
	return o, nil
}

func roleNames(c *catalog.Catalog) []string {
	var out []string
	for _, r := range c.Roles {
		out = append(out, r.ID)
	}
	return out
}

func osNames(c *catalog.Catalog) []string {
	var out []string
	for _, v := range c.OSes {
		out = append(out, v.ID)
	}
	return out
}
