package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
)

// siteCSV is the file that holds the CSV of every host group of a site.
const siteCSV = policies.SiteFiles + ".csv"

// maxPolicySize bounds what fwgen reads of a policy file; the loader says
// so in a clear message rather than reading a runaway file into memory.
const maxPolicySize = policies.MaxSize

func newGenerateCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &genOptions{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "generate -f site.yaml [--emit FORMAT[,FORMAT...]|all] [-o DIR]",
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
	// The policy file sets what these set in quick mode; they stay
	// accepted only to be refused with a clear message.
	for _, name := range quickFlags {
		_ = cmd.Flags().MarkHidden(name)
	}
	cmd.Flags().Lookup("output").Usage = "write into this directory, all or nothing: <group>.<ext> per host group and format, and site.csv"
	cmd.Flags().Lookup("emit").Usage = "output format, or with -o DIR several (comma-separated) or all: " + strings.Join(emit.Names(), ", ")
	cmd.Example = `  fwgen generate -f site.yaml --emit all -o rules/
  fwgen generate -f site.yaml --emit nftables > site.nft
  fwgen generate -f site.yaml --emit nftables,netsh -o rules/
  fwgen generate -f site.yaml --emit all -o rules/ --check`
	cmd.Flags().StringVarP(&opts.policyFile, "file", "f", "", "site policy YAML")
	completeCatalogFlags(cmd, true)
	cmd.Flags().BoolVar(&opts.check, "check", false, "with -o DIR: write nothing; exit 1 and show a diff when a file of DIR differs from what would be generated, is missing, or is stale")
	return cmd
}

// generateRun loads a site policy and writes its outputs.
func generateRun(o *genOptions) error {
	if err := o.checkFlags(); err != nil {
		return err
	}
	var quick []string
	for _, name := range quickFlags {
		if o.flags.Changed(name) {
			quick = append(quick, "--"+name)
		}
	}
	if len(quick) > 0 {
		return usagef("with -f, roles, OS versions, addresses, profiles, scenarios and RPC settings come from the policy file; drop %s",
			strings.Join(quick, ", "))
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
	if o.check && o.output == "" {
		return usagef("--check compares a directory: give the one generate -o wrote")
	}
	if o.output == "" && len(formats) != 1 {
		return usagef("--emit %s writes one file per host group and format: give a directory with -o", o.emit)
	}
	if o.output == "" && formats[0].Bundler != nil {
		return bundleNeedsDir(formats[0])
	}
	if o.output != "" {
		if err := checkOutputDir(o.output); err != nil {
			return err
		}
	}
	o.summarize(rs, formats)
	o.warnUnused(formats)
	if o.output == "" {
		return o.emitToStdout(formats[0], rs)
	}
	return o.writeSiteDir(formats, rs)
}

// emitToStdout writes rs in format f to standard output. A site's output
// can be gigabytes (a Windows format lists each rule's sources), so it
// goes to a temporary file first rather than to memory; standard output
// gets it only once it is whole, and nothing when rendering fails. Where
// no temporary file can be made, it is rendered in memory.
func (o *genOptions) emitToStdout(f emit.Format, rs *policies.Ruleset) error {
	tmp, err := os.CreateTemp("", "fwgen-output-*")
	if err != nil {
		out, err := o.render(f, rs)
		if err != nil {
			return err
		}
		return writeStdout(o.stdout, out)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	opts, err := o.emitOptions()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := f.Emitter.Emit(bw, rs, opts); err != nil {
		return usageError{fmt.Errorf("--emit %s: %w", f.Name, err)}
	}
	if err := bw.Flush(); err != nil {
		return ioError{fmt.Errorf("temporary file for the output: %w", err)}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return ioError{err}
	}
	return copyStdout(o.stdout, tmp)
}

// writeSiteDir writes the outputs of rs in formats into the directory -o
// names, or with --check compares them with it.
func (o *genOptions) writeSiteDir(formats []emit.Format, rs *policies.Ruleset) error {
	files, err := o.siteFiles(formats, rs)
	if err != nil {
		return err
	}
	var exts []string
	for _, f := range formats {
		exts = append(exts, f.Ext)
	}
	if o.check {
		return checkSiteDir(o.stdout, o.output, rs.Policy, exts, files)
	}
	d, err := planSiteDir(o.output, rs.Policy, exts, files)
	if err != nil {
		return err
	}
	removed, err := d.commit()
	if err != nil {
		return err
	}
	o.tidySummary(removed, d.changed)
	return nil
}

// bundleNeedsDir is the error for a format that writes a tree of files,
// asked to write to standard output.
func bundleNeedsDir(f emit.Format) error {
	return usagef("--emit %s writes a tree of files (pol/, def/) for aclgen: give a directory with -o DIR", f.Name)
}

// tidySummary says what generate -o removed (a count, unless --quiet; the
// files with --verbose) and, as a warning, which stale files it left
// because they changed since it wrote them.
func (o *genOptions) tidySummary(removed, changed []string) {
	paths := func(names []string) string {
		var ps []string
		for _, n := range names {
			ps = append(ps, filepath.Join(o.output, n))
		}
		return strings.Join(ps, ", ")
	}
	switch {
	case len(removed) == 0 || o.quiet:
	case o.verbose:
		fmt.Fprintf(o.stderr, "fwgen: removed %s of host groups no longer in the policy: %s\n", files(len(removed)), paths(removed))
	default:
		fmt.Fprintf(o.stderr, "fwgen: removed %s of host groups no longer in the policy (--verbose names them)\n", files(len(removed)))
	}
	if len(changed) > 0 {
		fmt.Fprintf(o.stderr, "fwgen: warning: left %s of host groups no longer in the policy, changed since fwgen wrote them: %s; "+
			"delete them when done with them\n", files(len(changed)), paths(changed))
	}
}

// files is "1 file" or "n files".
func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
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
		if ext != "" && ext == f.Ext && f.Bundler != nil {
			return usagef("-o %s looks like a file name: --emit %s writes a directory (pol/, def/) for aclgen; give a directory", dir, f.Name)
		}
		if ext != "" && ext == f.Ext {
			return usagef("-o %s looks like a file name: generate -o writes a directory of files (<group>.<ext>, site.csv); "+
				"give a directory, or write one output to a file with fwgen generate -f POLICY --emit %s > %s", dir, f.Name, dir)
		}
	}
	return nil
}

// formats resolves --emit: a format, a comma-separated list of formats
// (for -o DIR; each once), or all, which means every format. They come in
// the order of emit.Formats.
func (o *genOptions) formats() ([]emit.Format, error) {
	if strings.EqualFold(strings.TrimSpace(o.emit), "all") {
		return emit.Formats(), nil
	}
	names := strings.Split(o.emit, ",")
	var want []emit.Format
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, usagef("--emit %s: an empty format name", o.emit)
		}
		if strings.EqualFold(name, "all") {
			return nil, usagef("--emit %s: all means every format; name it alone", o.emit)
		}
		f, err := emit.Lookup(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("--emit %s: %w", o.emit, err)}
		}
		if slices.ContainsFunc(want, func(g emit.Format) bool { return g.Name == f.Name }) {
			return nil, usagef("--emit %s: %s is named twice", o.emit, f.Name)
		}
		want = append(want, f)
	}
	var out []emit.Format
	for _, f := range emit.Formats() {
		if slices.ContainsFunc(want, func(g emit.Format) bool { return g.Name == f.Name }) {
			out = append(out, f)
		}
	}
	return out, nil
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

// siteFiles are the outputs of a site, rendered on demand: one file per
// host group and format, and the CSV of the whole site.
//
// Each group's files name their own Windows Firewall rule group and their
// own nftables table and iptables chains, so that two groups' files applied
// to one GPO store or one router add up instead of replacing each other.
type siteFiles struct {
	o       *genOptions
	rs      *policies.Ruleset
	formats []emit.Format
	base    emit.Options
	tables  map[string]string
	// file maps a file's name to its unit (the index of its host group,
	// len(rs.Groups) for the site's CSV, len(rs.Groups)+1 for the files
	// of the formats that write a tree for the whole site) and format.
	file map[string]siteFile
	// bundle holds the files of those formats ("pol/site.pol",
	// "def/NETWORKS.net"), small, worked out when the site's files are
	// listed; a file that two formats write (def/) is the same for both.
	bundle map[string][]byte
}

type siteFile struct{ unit, format int }

// siteFiles checks the options of a site's outputs and returns its files,
// none rendered yet.
func (o *genOptions) siteFiles(formats []emit.Format, rs *policies.Ruleset) (*siteFiles, error) {
	base, err := o.emitOptions()
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(formats, func(f emit.Format) bool { return f.Netfilter }) && len(base.Table) > maxSiteTable {
		return nil, usagef("--table %q: with generate -o, at most %d characters: each host group's table is <TABLE>-<group> "+
			"(cut and hashed to %d characters), which iptables' chains <TABLE>-<GROUP>-FORWARD must fit in 28", base.Table, maxSiteTable, maxGroupTable)
	}
	tables, err := groupTables(base.Table, rs.Groups)
	if err != nil {
		return nil, err
	}
	s := &siteFiles{o: o, rs: rs, formats: formats, base: base, tables: tables, file: map[string]siteFile{}, bundle: map[string][]byte{}}
	for j, f := range formats {
		if f.Bundler == nil {
			for i, g := range rs.Groups {
				s.file[g.Name+"."+f.Ext] = siteFile{i, j}
			}
			continue
		}
		files, err := f.Bundler.Bundle(rs, base)
		if err != nil {
			return nil, usageError{fmt.Errorf("--emit %s: %w", f.Name, err)}
		}
		for _, file := range files {
			if prev, ok := s.bundle[file.Path]; ok && !bytes.Equal(prev, file.Data) {
				return nil, fmt.Errorf("--emit %s: %s differs from the one another format writes", f.Name, file.Path)
			}
			s.bundle[file.Path] = file.Data
			s.file[file.Path] = siteFile{len(rs.Groups) + 1, j}
		}
	}
	// The site's port matrix comes with every set of files, whatever the
	// formats: it is what a reviewer reads.
	s.file[siteCSV] = siteFile{len(rs.Groups), -1}
	return s, nil
}

func (s *siteFiles) names() []string { return slices.Collect(maps.Keys(s.file)) }

// units are the host groups, in the policy's order, the site's CSV, and
// the files of the formats that write a tree for the whole site.
func (s *siteFiles) units() int { return len(s.rs.Groups) + 2 }

func (s *siteFiles) renderUnit(i int, put putFunc) error {
	if i == len(s.rs.Groups)+1 {
		for _, name := range slices.Sorted(maps.Keys(s.bundle)) {
			if err := put(name, writeBytes(s.bundle[name])); err != nil {
				return err
			}
		}
		return nil
	}
	if i == len(s.rs.Groups) {
		// The site's CSV, which grows with the square of the groups,
		// goes straight to the file.
		csv, _ := emit.Lookup("csv")
		opts, err := s.o.emitOptions()
		if err != nil {
			return err
		}
		return put(siteCSV, func(w io.Writer) error {
			if err := csv.Emitter.Emit(w, s.rs, opts); err != nil {
				return usageError{fmt.Errorf("--emit %s: %w", csv.Name, err)}
			}
			return nil
		})
	}
	g := s.rs.Groups[i].Name
	var views [2]*policies.Ruleset // without, with the groups that share addresses
	for j, f := range s.formats {
		if f.Bundler != nil {
			continue // the site's, not the group's
		}
		// Straight into the file: a group's Windows script lists its
		// role's members.
		err := put(g+"."+f.Ext, func(w io.Writer) error { return s.emitFile(siteFile{i, j}, &views, w) })
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *siteFiles) render(name string) ([]byte, error) {
	if data, ok := s.bundle[name]; ok {
		return data, nil
	}
	f, ok := s.file[name]
	if !ok {
		return nil, fmt.Errorf("%s: not a file of the site", name)
	}
	return s.renderFile(f)
}

// renderFile renders one file in memory.
func (s *siteFiles) renderFile(f siteFile) ([]byte, error) {
	if f.unit == len(s.rs.Groups) {
		csv, _ := emit.Lookup("csv")
		return s.o.render(csv, s.rs)
	}
	var buf bytes.Buffer
	if err := s.emitFile(f, nil, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// emitFile writes a host group's file to w; views, when given, keeps the
// group's Rulesets for the next formats of the group.
func (s *siteFiles) emitFile(f siteFile, views *[2]*policies.Ruleset, w io.Writer) error {
	g := s.rs.Groups[f.unit]
	format := s.formats[f.format]
	opts := s.base
	opts.Group = emit.GroupName(s.rs, s.base) + "/" + g.Name
	opts.Table = s.tables[g.Name]
	opts.SiteFile = len(s.rs.Groups) > 1
	shared := 0
	if format.Netfilter {
		shared = 1
	}
	if views == nil {
		views = new([2]*policies.Ruleset)
	}
	if views[shared] == nil {
		views[shared] = s.rs.ForGroup(g.Name, format.Netfilter)
	}
	if err := format.Emitter.Emit(w, views[shared], opts); err != nil {
		// What an emitter refuses is the combination of format options
		// and input the command was given; an error of w is the
		// writer's, which stage reports.
		return usageError{fmt.Errorf("host group %q, %s: --emit %s: %w", g.Name, format.Name, format.Name, err)}
	}
	return nil
}

// maxSiteTable bounds --table under generate -o: a cut group table keeps
// the base, '_' and 8 hex digits within maxGroupTable.
const maxSiteTable = maxGroupTable - 9

// maxGroupTable keeps a group's table name short enough for the iptables
// chain made of it (FWGEN-<GROUP>-FORWARD fits in iptables' 28 characters).
const maxGroupTable = 20

// groupTables names each host group's own nftables table (and so its
// iptables chains): the base table, '-' and the group's slug
// ("fwgen-dc-east" for dc_east). A name too long is cut and given '_' and
// 8 hex digits of the SHA-256 of the group's name ("fwgen-branc_1a2b3c4d"):
// a slug has no '_', so a cut name never meets a whole one, and the policy
// loader has refused two groups of one slug. It returns an error naming
// both groups should two names still meet, which would make their files
// replace each other's rules.
func groupTables(base string, groups []policies.Group) (map[string]string, error) {
	if base == "" {
		base = "fwgen"
	}
	tables := make(map[string]string, len(groups))
	owner := make(map[string]string, len(groups))
	for _, g := range groups {
		t := base + "-" + policies.GroupSlug(g.Name)
		if len(t) > maxGroupTable {
			sum := sha256.Sum256([]byte(g.Name))
			h := hex.EncodeToString(sum[:4])
			t = strings.TrimRight(t[:max(maxGroupTable-len(h)-1, len(base)+1)], "-") + "_" + h
		}
		if other, dup := owner[t]; dup {
			return nil, fmt.Errorf("host groups %q and %q would share the table %s (and its iptables chains); rename one, or give a shorter --table", other, g.Name, t)
		}
		owner[t], tables[g.Name] = g.Name, t
	}
	return tables, nil
}
