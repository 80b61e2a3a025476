package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// manifestName is the file in which generate -o DIR lists the files it
// wrote there, so that the next run can remove those of host groups that
// are gone, and nothing else.
const manifestName = ".fwgen-manifest"

const manifestHeader = "# The files fwgen generate -o wrote in this directory, one a line. On the next run,\n" +
	"# fwgen removes those it no longer generates, and no other file. Do not edit.\n"

// siteDir is the plan of one generate -o DIR run: the files to write and
// the stale files of an earlier run to remove.
type siteDir struct {
	dir   string
	files map[string][]byte
	stale []string
}

// planSiteDir checks dir and the files to write into it, and finds the
// stale files the manifest of an earlier run lists. Nothing is written.
// It refuses a dir that is a file, and a file name whose path holds
// something other than a regular file.
func planSiteDir(dir string, files map[string][]byte) (*siteDir, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, usagef("-o %s is a file: generate -o writes a directory of files (<group>.<ext>, site.csv); "+
			"give a directory, or write one output to a file with > FILE", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, ioError{err}
	}
	d := &siteDir{dir: dir, files: files}
	for name := range files {
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, ioError{err}
		case !fi.Mode().IsRegular():
			return nil, ioError{fmt.Errorf("%s is %s, not a regular file: nothing was written; move it away", path, fileKind(fi))}
		}
	}
	old, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range old {
		if _, keep := files[name]; keep {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			d.stale = append(d.stale, name)
		}
	}
	return d, nil
}

// fileKind names what a non-regular file is, for messages.
func fileKind(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// readManifest returns the file names an earlier run listed in dir's
// manifest: plain names only, so that a damaged manifest never names a
// file outside dir.
func readManifest(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, ioError{err}
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.HasPrefix(name, "#") || name != filepath.Base(name) || name == manifestName ||
			strings.HasPrefix(name, ".") {
			continue
		}
		names = append(names, name)
	}
	return names, nil
}

func manifest(files map[string][]byte) []byte {
	var b strings.Builder
	b.WriteString(manifestHeader)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	return []byte(b.String())
}

// commit writes the plan all or nothing: every file goes to a staging
// directory inside dir first; then each takes its place, the file it
// replaces kept aside, and the stale files are set aside too. Should any
// step fail, every file already in place is put back as it was, and dir
// is as before. It returns the stale files it removed.
func (d *siteDir) commit() (removed []string, err error) {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return nil, ioError{err}
	}
	staging, err := os.MkdirTemp(d.dir, ".fwgen-staging-")
	if err != nil {
		return nil, ioError{err}
	}
	defer os.RemoveAll(staging)
	all := map[string][]byte{manifestName: manifest(d.files)}
	for n, data := range d.files {
		all[n] = data
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := stage(filepath.Join(staging, n), filepath.Join(d.dir, n), all[n]); err != nil {
			return nil, ioError{err}
		}
	}
	t := &swap{dir: d.dir, aside: filepath.Join(staging, "aside")}
	if err := os.Mkdir(t.aside, 0o700); err != nil {
		return nil, ioError{err}
	}
	for _, n := range names {
		if err := t.replace(n, filepath.Join(staging, n)); err != nil {
			t.undo()
			return nil, ioError{fmt.Errorf("%w; nothing in %s was changed", err, d.dir)}
		}
	}
	for _, n := range d.stale {
		if err := t.remove(n); err != nil {
			t.undo()
			return nil, ioError{fmt.Errorf("%w; nothing in %s was changed", err, d.dir)}
		}
	}
	syncDir(d.dir)
	return d.stale, nil
}

// stage writes a file of the plan into the staging directory, with the
// mode of the file it will replace, or 0644.
func stage(path, target string, data []byte) error {
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(target); err == nil {
		perm = fi.Mode().Perm()
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := writeAll(f, data, perm); err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	return nil
}

// swap moves files into dir, keeping what they replace aside, and can put
// everything back.
type swap struct {
	dir, aside string
	done       []swapped
}

type swapped struct {
	name    string
	kept    bool // the old file is aside
	removed bool // a stale file, set aside and not replaced
}

func (t *swap) replace(name, staged string) error {
	target := filepath.Join(t.dir, name)
	if fi, err := os.Lstat(target); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file", target, fileKind(fi))
	}
	s := swapped{name: name}
	if err := os.Rename(target, filepath.Join(t.aside, name)); err == nil {
		s.kept = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	t.done = append(t.done, s)
	return os.Rename(staged, target)
}

func (t *swap) remove(name string) error {
	if fi, err := os.Lstat(filepath.Join(t.dir, name)); err != nil || !fi.Mode().IsRegular() {
		return nil // gone, or no longer a file of fwgen's: leave it
	}
	if err := os.Rename(filepath.Join(t.dir, name), filepath.Join(t.aside, name)); err != nil {
		return err
	}
	t.done = append(t.done, swapped{name: name, kept: true, removed: true})
	return nil
}

// undo puts back every file it moved, newest first.
func (t *swap) undo() {
	for i := len(t.done) - 1; i >= 0; i-- {
		s := t.done[i]
		target := filepath.Join(t.dir, s.name)
		if !s.removed {
			os.Remove(target)
		}
		if s.kept {
			os.Rename(filepath.Join(t.aside, s.name), target)
		}
	}
}

// syncDir flushes a directory's entries to disk, so that the renames
// survive a crash; where it cannot, the files are still in place.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
