package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newManCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write fwgen's man pages (fwgen.1, fwgen-generate.1, ...) into DIR",
		Long: `man writes a man page for fwgen and each of its commands into DIR, made from
the commands' own help. The pages carry the date of SOURCE_DATE_EPOCH when it is
set, so that a packager gets the same bytes on every build.`,
		Example: `  fwgen man /usr/local/share/man/man1 && mandb
  fwgen man ./man && man ./man/fwgen-generate.1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return ioError{err}
			}
			date := time.Unix(0, 0).UTC()
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usagef("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
				}
				date = time.Unix(sec, 0).UTC()
			}
			header := &doc.GenManHeader{Title: "FWGEN", Section: "1", Source: "fwgen", Manual: "fwgen manual", Date: &date}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return ioError{err}
			}
			fmt.Fprintf(stdout, "wrote the man pages of fwgen into %s\n", args[0])
			return nil
		},
	}
}
