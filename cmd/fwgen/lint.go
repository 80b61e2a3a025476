package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
	"github.com/fwgen/fwgen/policies/lint"
)

// lintOptions are the flags of fwgen lint.
type lintOptions struct {
	stdout     io.Writer
	policyFile string
	format     string
	failOn     string
	ignore     []string
}

func newLintCmd(stdout io.Writer) *cobra.Command {
	o := &lintOptions{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "lint -f site.yaml",
		Short: "Flag what is risky in a site policy: open RPC or SMB, unscoped peers, legacy services",
		Long: `lint reads a site policy and reports what a reviewer should look at, each
finding with its rule, severity, file:line:col and the document behind it. It
exits 1 when a finding is at least as severe as --fail-on.

Rules:
` + lintRuleList(),
		Example: `  fwgen lint -f site.yaml
  fwgen lint -f site.yaml --format sarif > fwgen.sarif
  fwgen lint -f site.yaml --fail-on warning`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if o.policyFile == "" {
				return usagef("lint needs a site policy: -f site.yaml")
			}
			return lintRun(o)
		},
	}
	cmd.Flags().StringVarP(&o.policyFile, "file", "f", "", "site policy YAML")
	cmd.Flags().StringVar(&o.format, "format", "text", "text, json or sarif (SARIF 2.1.0, for code scanning)")
	cmd.Flags().StringVar(&o.failOn, "fail-on", "error", "exit 1 on findings of this severity or worse: info, warning or error")
	completeWith(cmd, "format", fixed("text", "json", "sarif"))
	completeWith(cmd, "fail-on", fixed("info", "warning", "error"))
	defer completeWith(cmd, "ignore", lintRuleNames)
	cmd.Flags().StringSliceVar(&o.ignore, "ignore", nil, "rules to leave out, by id or name (FWG006,legacy-service), for choices the site made on purpose")
	return cmd
}

func lintRuleList() string {
	var b bytes.Buffer
	for _, r := range lint.Rules {
		fmt.Fprintf(&b, "  %s %-24s %-8s %s\n", r.ID, r.Name, r.Severity, r.Summary)
	}
	return b.String()
}

func lintRun(o *lintOptions) error {
	min, err := lint.ParseSeverity(o.failOn)
	if err != nil {
		return usagef("--fail-on: %v", err)
	}
	if o.format != "text" && o.format != "json" && o.format != "sarif" {
		return usagef("--format %q: want text, json or sarif", o.format)
	}
	var ignored []string
	for _, name := range o.ignore {
		i := slices.IndexFunc(lint.Rules, func(r lint.Rule) bool {
			return strings.EqualFold(r.ID, strings.TrimSpace(name)) || r.Name == strings.TrimSpace(name)
		})
		if i < 0 {
			return usagef("--ignore %q: no such rule; fwgen lint --help lists them", name)
		}
		ignored = append(ignored, lint.Rules[i].ID)
	}
	p, err := loadPolicy(o.policyFile)
	if err != nil {
		return err
	}
	p.Source = o.policyFile // findings point into the file as it was named
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		return err
	}
	findings := lint.Check(p, rs, catalog.Default())
	findings = slices.DeleteFunc(findings, func(f lint.Finding) bool {
		return slices.Contains(ignored, f.Rule)
	})
	var buf bytes.Buffer
	switch o.format {
	case "json":
		if findings == nil {
			findings = []lint.Finding{}
		}
		b, err := json.MarshalIndent(findings, "", "  ")
		if err != nil {
			return err
		}
		buf.Write(append(b, '\n'))
	case "sarif":
		if err := writeSARIF(&buf, findings); err != nil {
			return err
		}
	default:
		for _, f := range findings {
			fmt.Fprintln(&buf, f)
		}
		fmt.Fprintf(&buf, "%d findings\n", len(findings))
	}
	if err := writeStdout(o.stdout, buf.Bytes()); err != nil {
		return err
	}
	if lint.Fails(findings, min) {
		return findingsError{fmt.Errorf("%s has findings of severity %s or worse", o.policyFile, min)}
	}
	return nil
}

// writeSARIF writes the findings as a SARIF 2.1.0 log of one run, with
// every rule of the linter described, so that code-scanning pages show
// each finding on its line of the policy.
func writeSARIF(w io.Writer, findings []lint.Finding) error {
	report := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("fwgen", "https://github.com/fwgen/fwgen")
	run.Tool.Driver.WithVersion(fwgenVersion())
	for _, r := range lint.Rules {
		rule := run.AddRule(r.ID).WithName(r.Name).
			WithShortDescription(sarif.NewMultiformatMessageString().WithText(r.Summary)).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(r.Severity)))
		if d := catalog.Default().Document(r.Doc.Doc); d != nil && d.URL != "" {
			rule.WithHelpURI(d.URL)
		}
	}
	for _, f := range findings {
		uri := fileURI(f.File)
		run.AddDistinctArtifact(uri)
		index := slices.IndexFunc(run.Artifacts, func(a *sarif.Artifact) bool { return *a.Location.URI == uri })
		region := sarif.NewRegion().WithStartLine(max(f.Line, 1))
		if f.Col > 0 {
			region.WithStartColumn(f.Col)
		}
		run.CreateResultForRule(f.Rule).
			WithLevel(sarifLevel(f.Severity)).
			WithMessage(sarif.NewTextMessage(f.Message + " (" + f.Ref + ")")).
			WithLocations([]*sarif.Location{sarif.NewLocationWithPhysicalLocation(
				sarif.NewPhysicalLocation().
					WithArtifactLocation(sarif.NewArtifactLocation().WithURI(uri).WithIndex(index)).
					WithRegion(region))})
	}
	report.AddRun(run)
	return report.PrettyWrite(w)
}

// fileURI is a policy's path as a SARIF artifact URI: a relative reference
// for a relative path (which code scanning resolves against the checkout),
// a file: URI for an absolute one, percent-encoded either way.
func fileURI(path string) string {
	u := url.URL{Path: filepath.ToSlash(path)}
	if filepath.IsAbs(path) {
		u.Scheme = "file"
		if !strings.HasPrefix(u.Path, "/") { // C:/x on Windows
			u.Path = "/" + u.Path
		}
	}
	return u.String()
}

func sarifLevel(s lint.Severity) string {
	return map[lint.Severity]string{lint.Info: "note", lint.Warning: "warning", lint.Error: "error"}[s]
}
