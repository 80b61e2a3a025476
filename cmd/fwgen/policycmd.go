package main

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
)

// siteCSV is the file that holds the CSV of every host group of a site.
const siteCSV = "site.csv"

// maxPolicySize bounds what fwgen reads of a policy file; the loader says
// so in a clear message rather than reading a runaway file into memory.
const maxPolicySize = 1 << 20

func newGenerateCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &genOptions{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "generate -f site.yaml [--emit FORMAT|all] [-o DIR]",
		Short: "Generate the rules of every host group of a site policy",
		Long: `generate reads a site policy and writes its rules. With -o DIR it writes one
file per host group and format, <group>.<ext>, and site.csv for the whole site;
without -o it prints the one output asked for. Nothing is written when the
policy has an error.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if opts.policyFile == "" {
				return usagef("generate needs a site policy: -f site.yaml")
			}
			return generateRun(opts)
		},
	}
	opts.bindFlags(cmd)
	cmd.Flags().StringVarP(&opts.policyFile, "file", "f", "", "site policy YAML")
	return cmd
}

// generateRun loads a site policy and writes its outputs.
func generateRun(o *genOptions) error {
	if len(o.roles) > 0 || len(o.oses) > 0 || len(o.from) > 0 || len(o.to) > 0 || o.rpcRange != "" ||
		len(o.staticRPC) > 0 || len(o.profiles) > 0 || len(o.scenarios) > 0 {
		return usagef("with -f, roles, OS versions, addresses, profiles, scenarios and RPC settings come from the policy file; drop --role, --os, --from, --to, --profile, --scenario, --rpc-range and --static-rpc")
	}
	formats, err := o.formats()
	if err != nil {
		return err
	}
	p, err := loadPolicy(o.policyFile)
	if err != nil {
		return err
	}
	p.Optional = p.Optional || o.optional
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		return err
	}
	o.summarize(rs, formats)
	o.warnUnused(formats)
	if o.output == "" {
		if len(formats) != 1 {
			return usagef("--emit all writes one file per host group and format: give a directory with -o")
		}
		out, err := o.render(formats[0], rs)
		if err != nil {
			return err
		}
		return writeStdout(o.stdout, out)
	}
	if err := checkOutputDir(o.output); err != nil {
		return err
	}
	files, err := o.siteFiles(formats, rs)
	if err != nil {
		return err
	}
	d, err := planSiteDir(o.output, files)
	if err != nil {
		return err
	}
	removed, err := d.commit()
	for _, n := range removed {
		fmt.Fprintf(o.stderr, "fwgen: removed %s: host group no longer in the policy (listed in %s)\n",
			filepath.Join(o.output, n), manifestName)
	}
	return err
}

// checkOutputDir refuses, for generate -o, a path that does not exist and
// is named like one output file (change.csv): generate -o writes a
// directory, and would otherwise make a directory of that name.
func checkOutputDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil // planSiteDir checks what it is
	}
	ext := strings.TrimPrefix(filepath.Ext(dir), ".")
	for _, f := range emit.Formats() {
		if ext != "" && ext == f.Ext {
			return usagef("-o %s looks like a file name: generate -o writes a directory of files (<group>.<ext>, site.csv); "+
				"give a directory, or write one output to a file with fwgen generate -f POLICY --emit %s > %s", dir, f.Name, dir)
		}
	}
	return nil
}

// formats resolves --emit, where "all" means every format.
func (o *genOptions) formats() ([]emit.Format, error) {
	if o.emit == "all" {
		return emit.Formats(), nil
	}
	f, err := emit.Lookup(o.emit)
	if err != nil {
		return nil, usageError{err}
	}
	return []emit.Format{f}, nil
}

// loadPolicy reads and loads a site policy. The Ruleset names it by its
// base name, so that the outputs do not depend on how its path was
// spelled; errors cite the path as given.
func loadPolicy(name string) (*policies.Policy, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, ioError{err}
	}
	defer f.Close()
	// Read one byte past the limit so that the loader can tell a file that
	// is too large from one that is exactly at it.
	data, err := io.ReadAll(io.LimitReader(f, maxPolicySize+1))
	if err != nil {
		return nil, ioError{fmt.Errorf("%s: %w", name, err)}
	}
	p, err := policies.Load(name, data, catalog.Default())
	if err != nil {
		return nil, err
	}
	p.Source = filepath.Base(name)
	return p, nil
}

// siteFiles renders every output of a site in memory: one file per host
// group and format, and the CSV of the whole site.
//
// Each group's files name their own Windows Firewall rule group and their
// own nftables table and iptables chains, so that two groups' files applied
// to one GPO store or one router add up instead of replacing each other.
func (o *genOptions) siteFiles(formats []emit.Format, rs *policies.Ruleset) (map[string][]byte, error) {
	base, err := o.emitOptions()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, g := range rs.Groups {
		if g.Name+".csv" == siteCSV {
			return nil, fmt.Errorf("host group %q: its CSV would overwrite %s, the site's; rename the group", g.Name, siteCSV)
		}
		opts := base
		opts.Group = emit.GroupName(rs, base) + "/" + g.Name
		opts.Table = groupTable(base.Table, g.Name)
		for _, f := range formats {
			out, err := o.renderWith(f, rs.ForGroup(g.Name, f.Netfilter), opts)
			if err != nil {
				return nil, fmt.Errorf("host group %q, %s: %w", g.Name, f.Name, err)
			}
			files[g.Name+"."+f.Ext] = out
		}
	}
	// The site's port matrix comes with every set of files, whatever the
	// formats: it is what a reviewer reads.
	csv, _ := emit.Lookup("csv")
	out, err := o.render(csv, rs)
	if err != nil {
		return nil, err
	}
	files[siteCSV] = out
	return files, nil
}

// maxGroupTable keeps a group's table name short enough for the iptables
// chain made of it (FWGEN-<GROUP>-FORWARD fits in iptables' 28 characters).
const maxGroupTable = 20

// groupTable names a host group's own nftables table (and so its iptables
// chains): the base table and the group's name, shortened with a hash of
// the name when too long, so that two long names still differ.
func groupTable(base, group string) string {
	t := base + "-" + strings.ReplaceAll(group, ".", "_")
	if len(t) <= maxGroupTable {
		return t
	}
	h := fnv.New32a()
	h.Write([]byte(group))
	sum := fmt.Sprintf("%08x", h.Sum32())[:6]
	return strings.TrimRight(t[:maxGroupTable-len(sum)-1], "-_") + "-" + sum
}
