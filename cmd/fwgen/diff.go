package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
	"github.com/fwgen/fwgen/policies/diff"
)

// diffOptions are the flags of fwgen diff.
type diffOptions struct {
	stdout   io.Writer
	format   string
	exitCode bool
	old, new string
}

func newDiffCmd(stdout io.Writer) *cobra.Command {
	o := &diffOptions{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show the flows a change to a site policy opens, closes and changes",
		Long: `diff compares two versions of a site's rules: host group by host group (added,
removed, servers' addresses or Windows Firewall profiles changed), then flow by
flow. A flow is what a host group accepts from one peer (clients, members,
admins, the servers of a role) on one protocol and port, from which addresses.
OLD and NEW are site policies, JSON Rulesets (--emit json), or a git revision
of a policy file, REV:PATH (main:site.yaml), read with git show: PATH is from
the repository's top, or from the current directory when it starts with ./
(main:./site.yaml). A network renamed, or its addresses written otherwise,
changes no flow.`,
		Example: `  fwgen diff main:site.yaml site.yaml
  fwgen diff old.json new.json --format markdown
  fwgen diff origin/main:policies/site.yaml policies/site.yaml --exit-code`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			o.old, o.new = args[0], args[1]
			return diffRun(o)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "text", "text, markdown or json")
	cmd.Flags().BoolVar(&o.exitCode, "exit-code", false, "exit 1 when anything differs")
	completeWith(cmd, "format", fixed("text", "markdown", "json"))
	return cmd
}

// errDiffers is diff --exit-code's finding.
var errDiffers = findingsError{errors.New("the rules differ")}

func diffRun(o *diffOptions) error {
	if o.format != "text" && o.format != "markdown" && o.format != "json" {
		return usagef("--format %q: want text, markdown or json", o.format)
	}
	oldRS, err := readRuleset(o.old)
	if err != nil {
		return err
	}
	newRS, err := readRuleset(o.new)
	if err != nil {
		return err
	}
	res := diff.Compare(oldRS, newRS, o.old, o.new)
	var buf bytes.Buffer
	switch o.format {
	case "json":
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		buf.Write(append(b, '\n'))
	case "markdown":
		diffMarkdown(&buf, res)
	default:
		res.Text(&buf)
	}
	if err := writeStdout(o.stdout, buf.Bytes()); err != nil {
		return err
	}
	if o.exitCode && !res.Empty() {
		return errDiffers
	}
	return nil
}

// readRuleset reads one side of a diff: a JSON Ruleset, a site policy,
// or REV:PATH, a policy file as git holds it at a revision.
func readRuleset(arg string) (*policies.Ruleset, error) {
	data, name, err := readSide(arg)
	if err != nil {
		return nil, err
	}
	if trimmed := bytes.TrimSpace(data); bytes.HasPrefix(trimmed, []byte("{")) {
		var rs policies.Ruleset
		if err := json.Unmarshal(trimmed, &rs); err != nil {
			return nil, fmt.Errorf("%s: not a JSON Ruleset of fwgen (--emit json): %v", arg, err)
		}
		if rs.Schema != policies.RulesetSchema && rs.Schema != policies.RulesetSchemaV1 {
			return nil, fmt.Errorf("%s: schema %q; want a JSON Ruleset of fwgen (--emit json, %q)", arg, rs.Schema, policies.RulesetSchema)
		}
		return &rs, nil
	}
	p, err := policies.Load(name, data, catalog.Default())
	if err != nil {
		return nil, err
	}
	p.Source = filepath.Base(name)
	return policies.Resolve(p, catalog.Default())
}

// readSide reads a file, or, for REV:PATH that is no file, git show's
// REV:PATH.
func readSide(arg string) (data []byte, name string, err error) {
	data, err = os.ReadFile(arg)
	if err == nil {
		return data, arg, nil
	}
	rev, path, isRev := strings.Cut(arg, ":")
	if !errors.Is(err, fs.ErrNotExist) || !isRev || rev == "" || path == "" {
		return nil, "", ioError{err}
	}
	if strings.HasPrefix(rev, "-") {
		// git would read it as an option (--output=FILE writes a file).
		return nil, "", usagef("%s: a revision cannot start with '-'", arg)
	}
	out, gitErr := exec.Command("git", "show", arg).Output()
	if gitErr != nil {
		msg := gitErr.Error()
		var ee *exec.ExitError
		if errors.As(gitErr, &ee) && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, "", ioError{fmt.Errorf("%s: neither a file nor a git revision of one (git show: %s)", arg, msg)}
	}
	return out, arg, nil
}

// diffMarkdown writes a diff for a pull request: the flows added and
// removed as a diagram (left out, with a note, when Mermaid would refuse
// its size), then per host group its own changes and a table of flows.
func diffMarkdown(w io.Writer, res *diff.Result) {
	fmt.Fprintf(w, "# Firewall changes: %s → %s\n\n", mdEscape(res.Old), mdEscape(res.New))
	if res.Empty() {
		fmt.Fprintln(w, "No changes.")
		return
	}
	if len(res.Changes) > 0 {
		g := emit.NewDiffGraph()
		for _, c := range res.Changes {
			f := c.Flow()
			g.Edge(f.From, f.Group, f.What()+": "+strings.Join(f.Services, ", "), c.Kind)
		}
		if graph := g.Graph(); graph.MermaidFits(graph.Mermaid()) {
			fmt.Fprintf(w, "```mermaid\n%s```\n", graph.Mermaid())
		} else {
			fmt.Fprintf(w, "%d flows changed: too many to draw (Mermaid draws at most 500 edges and 50,000 characters); the tables below list them.\n", len(res.Changes))
		}
	}
	for _, group := range res.GroupNames() {
		fmt.Fprintf(w, "\n## Host group %s\n", mdEscape(group))
		if gc := res.GroupChange(group); gc != nil {
			fmt.Fprintln(w)
			for _, what := range gc.What {
				fmt.Fprintf(w, "- **%s**: %s\n", gc.Kind, mdEscape(what))
			}
		}
		header := false
		for _, c := range res.Changes {
			f := c.Flow()
			if f.Group != group {
				continue
			}
			if !header {
				fmt.Fprint(w, "\n| Change | Traffic | From | Services | Detail |\n|---|---|---|---|---|\n")
				header = true
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.Kind, mdEscape(f.What()), mdEscape(f.From+" ("+string(f.Peer)+")"),
				mdEscape(strings.Join(f.Services, ", ")), mdEscape(strings.Join(append(c.What, c.NewReasons()...), "; ")))
		}
	}
}

// mdEscape escapes Markdown in one line of text, "-" when empty.
func mdEscape(s string) string {
	if s == "" {
		return "-"
	}
	return emit.MarkdownText(s)
}
