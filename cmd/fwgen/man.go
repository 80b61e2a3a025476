package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
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
the commands' own help. DIR's parent must exist. The pages are dated by
SOURCE_DATE_EPOCH when it is set, else by the commit fwgen was built from, so
that the same build always writes the same bytes.`,
		Example: `  fwgen man /usr/local/share/man/man1 && mandb
  fwgen man ./man && man ./man/fwgen-generate.1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.Mkdir(args[0], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return ioError{err}
			}
			date := buildTime()
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usagef("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
				}
				date = time.Unix(sec, 0).UTC()
			}
			// No title: each page takes its command's (FWGEN-GENERATE).
			header := &doc.GenManHeader{Section: "1", Source: "fwgen " + fwgenVersion(), Manual: "fwgen manual", Date: &date}
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

// buildTime is the time of the commit fwgen was built from, as the go
// command records it; the Unix epoch when it did not (go install
// module@version).
func buildTime() time.Time {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t.UTC()
				}
			}
		}
	}
	return time.Unix(0, 0).UTC()
}
