package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1   // an invalid policy, drift, lint findings
	exitUsage    = 2   // unknown flag, role, OS or format
	exitIO       = 3   // a file could not be read or written
	exitSignal   = 130 // interrupted (Ctrl-C, SIGTERM): nothing was changed
)

// usageError marks a mistake in how fwgen was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// interruptedError is a run stopped by a signal before it changed
// anything.
type interruptedError struct{ err error }

func (e interruptedError) Error() string { return e.err.Error() }

// findingsError is a result that exits 1 without being a mistake of the
// input: drift, lint findings, a difference.
type findingsError struct{ err error }

func (e findingsError) Error() string { return e.err.Error() }

// run is fwgen's entry point; it returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, errorText(err))
	var ue usageError
	var unknown *catalog.UnknownError
	var findings policies.ErrorList
	var ioe ioError
	var sig interruptedError
	switch {
	case errors.As(err, &sig):
		return exitSignal
	case errors.As(err, &findings):
		return exitFindings
	case errors.As(err, &ioe):
		return exitIO
	case errors.As(err, &ue), errors.As(err, &unknown), isCobraUsage(err):
		return exitUsage
	}
	return exitFindings
}

// errorText prefixes each line of an error with "fwgen: ", except the
// indented lines that continue one (the source line under a YAML syntax
// error).
func errorText(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, " ") {
			lines[i] = "fwgen: " + l
		}
	}
	return strings.Join(lines, "\n")
}

// isCobraUsage recognises cobra's and pflag's own errors about the command
// line, which carry no type of their own.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command",
		"flag needs an argument", "invalid argument", "accepts ", "requires at least", "bad flag syntax"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &genOptions{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "fwgen --role ROLE --os VERSION [--emit FORMAT] [-o FILE]",
		Short: "Firewall rules for Windows server roles, from Microsoft's port documentation",
		Long: `fwgen turns "these servers have these Windows roles, in this OS mix" into the
firewall rules they need, each rule naming the services that need it and the
Microsoft article that says so (KB 832017 and the articles it leans on).`,
		Example: `  fwgen --role dc --os 2016 --emit powershell
  fwgen --role cluster-node,hyperv-host --os 2019 --emit netsh --profile domain
  fwgen --role dc --os 2003,2016 --emit csv -o dc-ports.csv
  fwgen generate -f site.yaml --emit all -o out/`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.checkFlags(); err != nil {
				return err
			}
			if opts.policyFile != "" {
				return generateRun(opts)
			}
			if len(opts.roles) == 0 {
				return usagef("name at least one role with --role (see 'fwgen roles'), or a site policy with -f")
			}
			return quickRun(opts)
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	opts.bindFlags(cmd)
	cmd.Flags().StringVarP(&opts.policyFile, "file", "f", "", "site policy YAML (as 'fwgen generate -f'); -o is then a directory")
	completeCatalogFlags(cmd, false)
	cmd.AddCommand(newGenerateCmd(stdout, stderr), newRolesCmd(stdout), newServicesCmd(stdout),
		newVersionCmd(stdout), newDiffCmd(stdout), newLintCmd(stdout), newPortsCmd(stdout),
		newExplainCmd(stdout, stderr), newManCmd(stdout), newListenerCmd(stdout, stderr), newProbeCmd(stdout, stderr),
		newListeningCmd(stdout, stderr), newSuggestCmd(stdout, stderr))
	return cmd
}
