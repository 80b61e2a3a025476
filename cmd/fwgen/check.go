package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/aymanbagabas/go-udiff"
)

// checkSiteDir is generate -o DIR --check: it writes nothing in DIR, and
// reports, as unified diffs, every file of DIR that differs from what
// generate would write for policy in files of the extensions exts, is
// missing, or is a stale file of a host group that is gone. It returns a
// findingsError when anything drifted.
//
// The files are rendered on every core and compared one at a time; the
// diffs wait in a temporary directory (outside DIR) to be shown in the
// order of the files' names.
func checkSiteDir(w io.Writer, dir, policy string, exts []string, files fileSet) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return usagef("-o %s is a file: --check compares a directory that generate -o wrote", dir)
	}
	d, err := planSiteDir(dir, policy, exts, files)
	if err != nil {
		return err
	}
	diffs, err := os.MkdirTemp("", "fwgen-check-*")
	if err != nil {
		return ioError{err}
	}
	defer os.RemoveAll(diffs)
	var mu sync.Mutex
	sums := map[string]string{}
	drifted := map[string]bool{} // a diff of the file waits in diffs
	missing := map[string]bool{}
	compare := func(n string, want []byte) error {
		sum := sha256.Sum256(want)
		path := filepath.Join(dir, n)
		got, err := os.ReadFile(path)
		var diff string
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return ioError{err}
		case !bytes.Equal(got, want):
			diff = udiff.Unified(path, path+" (as generated)", string(got), string(want))
			if err := os.WriteFile(filepath.Join(diffs, n), []byte(diff), 0o600); err != nil {
				return ioError{err}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		sums[n] = hex.EncodeToString(sum[:])
		missing[n] = err != nil
		drifted[n] = diff != ""
		return nil
	}
	if err := renderFiles(files, compare); err != nil {
		return err
	}
	if err := compare(manifestName, d.manifest(sums)); err != nil {
		return err
	}
	drift := 0
	for _, n := range slices.Sorted(maps.Keys(missing)) {
		path := filepath.Join(dir, n)
		switch {
		case missing[n]:
			drift++
			fmt.Fprintf(w, "missing: %s\n", path)
		case drifted[n]:
			drift++
			diff, err := os.ReadFile(filepath.Join(diffs, n))
			if err != nil {
				return ioError{err}
			}
			w.Write(diff)
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
