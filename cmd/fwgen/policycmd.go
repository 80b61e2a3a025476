package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newGenerateCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &genOptions{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "generate -f site.yaml [--emit FORMAT|all] [-o DIR]",
		Short: "Generate the rules of every host group of a site policy",
		Args:  cobra.NoArgs,
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

// generateRun is written with the site policy loader.
func generateRun(o *genOptions) error {
	return usagef("site policies are not supported yet")
}
