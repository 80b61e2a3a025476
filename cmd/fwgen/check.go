package main

import (
	"bufio"
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
	compare := func(n string, write func(io.Writer) error) error {
		path := filepath.Join(dir, n)
		h := sha256.New()
		same, err := sameAs(path, h, write)
		gone := errors.Is(err, fs.ErrNotExist)
		if err != nil && !gone {
			return err
		}
		if !gone && !same {
			// Rendered again, to show how it differs.
			var want bytes.Buffer
			if err := write(&want); err != nil {
				return err
			}
			got, err := os.ReadFile(path)
			if err != nil {
				return ioError{err}
			}
			diff := udiff.Unified(path, path+" (as generated)", string(got), want.String())
			if err := os.MkdirAll(filepath.Dir(filepath.Join(diffs, n)), 0o700); err != nil {
				return ioError{err}
			}
			if err := os.WriteFile(filepath.Join(diffs, n), []byte(diff), 0o600); err != nil {
				return ioError{err}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		sums[n] = hex.EncodeToString(h.Sum(nil))
		missing[n] = gone
		drifted[n] = !gone && !same
		return nil
	}
	if err := renderFiles(files, compare); err != nil {
		return err
	}
	if err := compare(manifestName, writeBytes(d.manifest(sums))); err != nil {
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

// sameAs reports whether the file at path holds what write writes, which
// it also hands to h; comparing as it goes, it holds no whole file in
// memory. It fails with fs.ErrNotExist when there is no file, after
// writing to h all the same.
func sameAs(path string, h io.Writer, write func(io.Writer) error) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := write(h); err != nil {
			return false, err
		}
		return false, fs.ErrNotExist
	}
	if err != nil {
		return false, ioError{err}
	}
	defer f.Close()
	c := &compareWriter{r: bufio.NewReaderSize(f, 64<<10), same: true}
	if err := write(io.MultiWriter(h, c)); err != nil {
		return false, err
	}
	if c.err != nil {
		return false, ioError{c.err}
	}
	if c.same {
		if _, err := c.r.Peek(1); err == nil {
			c.same = false // the file goes on
		} else if err != io.EOF {
			return false, ioError{err}
		}
	}
	return c.same, nil
}

// compareWriter compares what is written to it with what r reads.
type compareWriter struct {
	r    *bufio.Reader
	buf  []byte
	same bool
	err  error // reading r
}

func (c *compareWriter) Write(p []byte) (int, error) {
	if !c.same || c.err != nil {
		return len(p), nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	b := c.buf[:len(p)]
	n, err := io.ReadFull(c.r, b)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		c.same = false // the file is shorter
	case err != nil:
		c.err = err
	case !bytes.Equal(b[:n], p):
		c.same = false
	}
	return len(p), nil
}
