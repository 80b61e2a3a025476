package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/aymanbagabas/go-udiff"
)

// checkSiteDir is generate -o DIR --check: it writes nothing, and reports,
// as unified diffs, every file of DIR that differs from what generate
// would write for policy in files of the extensions exts, is missing, or
// is a stale file of a host group that is gone. It returns a findingsError
// when anything drifted.
func checkSiteDir(w io.Writer, dir, policy string, exts []string, files map[string][]byte) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return usagef("-o %s is a file: --check compares a directory that generate -o wrote", dir)
	}
	d, err := planSiteDir(dir, policy, exts, files)
	if err != nil {
		return err
	}
	want := map[string][]byte{manifestName: d.manifest}
	for n, data := range files {
		want[n] = data
	}
	drift := 0
	for _, n := range slices.Sorted(maps.Keys(want)) {
		path := filepath.Join(dir, n)
		got, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			drift++
			fmt.Fprintf(w, "missing: %s\n", path)
		case err != nil:
			return ioError{err}
		case !bytes.Equal(got, want[n]):
			drift++
			fmt.Fprint(w, udiff.Unified(path, path+" (as generated)", string(got), string(want[n])))
		}
	}
	for _, n := range d.stale {
		drift++
		fmt.Fprintf(w, "stale: %s: a file of a host group that is no longer in the policy\n", filepath.Join(dir, n))
	}
	for _, n := range d.changed {
		drift++
		fmt.Fprintf(w, "stale: %s: a file of a host group that is no longer in the policy, changed since fwgen wrote it\n", filepath.Join(dir, n))
	}
	if drift > 0 {
		return findingsError{fmt.Errorf("%s: %d files differ from what the policy generates; run fwgen generate again without --check", dir, drift)}
	}
	return nil
}
