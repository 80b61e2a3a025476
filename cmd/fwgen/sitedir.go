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
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// stagingPattern matches the staging directories of runs in progress, or
// of runs killed half-way.
const stagingPattern = ".fwgen-staging-*"

// manifestName is the file in which generate -o DIR lists the files it
// wrote there, so that the next run can remove those of host groups that
// are gone, and nothing else.
const manifestName = ".fwgen-manifest"

const manifestHeader = "# The files fwgen generate -o wrote in this directory for the policy named below, with\n" +
	"# the SHA-256 of each as written (as sha256sum prints it). On the next run of the policy,\n" +
	"# fwgen removes the files of the formats it writes that it no longer generates, unless\n" +
	"# changed since, and no other file. Do not edit.\n"

// siteManifest is what a manifest says: the policy whose files the
// directory holds, and each file with the SHA-256 of what was written
// ("" where a manifest of an earlier fwgen gave none).
type siteManifest struct {
	policy string
	files  map[string]string
}

// siteDir is the plan of one generate -o DIR run: the files to write, the
// entries of the manifest that stay, and the stale files of an earlier run
// to remove or, changed since, to leave.
type siteDir struct {
	dir    string
	policy string
	files  fileSet
	// keep are the entries of the earlier manifest that the next one
	// keeps: files of formats this run does not write, and stale files
	// changed since.
	keep map[string]string
	// read is the manifest as the plan read it, to see at commit time
	// whether another run changed the directory meanwhile.
	read    []byte
	stale   []string // to remove: listed, no longer generated, unchanged
	changed []string // left in place and listed: no longer generated, changed since
}

// planSiteDir checks dir and the files to write into it for policy, in
// files of the extensions exts (and site.csv), and finds the stale files
// that the manifest of an earlier run lists. Nothing is written, and only
// the files already in dir that its manifest does not list are rendered
// (to compare). A file of another extension stays listed: a run of one
// format leaves the others' files alone. It refuses a dir that is a file,
// a file name whose path holds something other than a regular file, and a
// dir whose manifest names another policy.
func planSiteDir(dir, policy string, exts []string, files fileSet) (*siteDir, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, usagef("-o %s is a file: generate -o writes a directory of files (<group>.<ext>, site.csv); "+
			"give a directory, or write one output to a file with > FILE", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, ioError{err}
	}
	d := &siteDir{dir: dir, policy: policy, files: files, keep: map[string]string{}}
	if left, _ := filepath.Glob(filepath.Join(dir, stagingPattern)); len(left) > 0 {
		return nil, ioError{fmt.Errorf("%s is left from a run of fwgen generate that was killed half-way: the files it had set aside are in its aside/; "+
			"check %s against them, then delete it; nothing was written", left[0], dir)}
	}
	old, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	d.read, _ = os.ReadFile(filepath.Join(dir, manifestName))
	names := slices.Sorted(slices.Values(files.names()))
	var foreign []string
	for _, name := range names {
		if err := checkSubdir(dir, name); err != nil {
			return nil, ioError{err}
		}
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, ioError{err}
		case !fi.Mode().IsRegular():
			return nil, ioError{fmt.Errorf("%s is %s, not a regular file: nothing was written; move it away", path, fileKind(fi))}
		default:
			if _, ours := old.files[name]; !ours {
				data, err := os.ReadFile(path)
				if err != nil {
					foreign = append(foreign, name)
					continue
				}
				want, err := files.render(name)
				if err != nil {
					return nil, err
				}
				if !bytes.Equal(data, want) {
					foreign = append(foreign, name)
				}
			}
		}
	}
	if len(foreign) > 0 {
		return nil, ioError{fmt.Errorf("%s: %s already there and not written by fwgen (not in its %s): nothing was written; move them away, or write into another directory",
			dir, strings.Join(foreign, ", "), manifestName)}
	}
	if old.policy != "" && old.policy != policy {
		return nil, usagef("-o %s holds the files of policy %s (its %s says so), not of %s: give each policy a directory of its own; "+
			"to give this one to %s, delete its files of %s and the %s", dir, old.policy, manifestName, policy, policy, old.policy, manifestName)
	}
	for _, name := range slices.Sorted(maps.Keys(old.files)) {
		if _, ok := slices.BinarySearch(names, name); ok {
			continue
		}
		ext := strings.TrimPrefix(filepath.Ext(name), ".")
		if name != siteCSV && !slices.Contains(exts, ext) {
			d.keep[name] = old.files[name] // a format this run does not write
			continue
		}
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || !fi.Mode().IsRegular() {
			continue // gone, or no longer a file of fwgen's
		}
		sum, err := fileSum(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if old.files[name] != "" && old.files[name] != sum {
			// Listed still, so that every run warns and --check fails
			// until someone deletes it.
			d.changed = append(d.changed, name)
			d.keep[name] = old.files[name]
			continue
		}
		d.stale = append(d.stale, name)
	}
	return d, nil
}

// fileSum is the SHA-256 of a file, as sha256sum prints it.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// manifest is the text of the manifest that lists the files of sums (as
// rendered) and the entries the plan keeps.
func (d *siteDir) manifest(sums map[string]string) []byte {
	next := siteManifest{policy: d.policy, files: maps.Clone(d.keep)}
	maps.Copy(next.files, sums)
	return next.bytes()
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
	case m.IsRegular():
		return "a file"
	}
	return "a special file"
}

// readManifest reads dir's manifest; an empty one when there is none. It
// keeps plain file names only, so that a damaged manifest never names a
// file outside dir, and reads the one name a line of earlier manifests.
func readManifest(dir string) (siteManifest, error) {
	m := siteManifest{files: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, ioError{err}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if p, ok := strings.CutPrefix(line, "policy "); ok {
			m.policy = strings.TrimSpace(p)
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || !sha256Hex.MatchString(sum) {
			sum, name = "", line
		}
		if strings.HasPrefix(name, "#") || !siteFileName(name) {
			continue
		}
		m.files[name] = sum
	}
	return m, nil
}

// bundleDirs are the subdirectories of the formats that write a tree of
// files (capirca, aerleon: pol/, def/), the only ones a site's directory
// has.
var bundleDirs = []string{"def", "pol"}

// siteFileName reports whether name can be a file of a site's directory:
// a plain file name, or one inside a bundleDirs directory ("pol/x.pol"),
// never starting with '.'.
func siteFileName(name string) bool {
	sub, base, nested := strings.Cut(name, "/")
	if !nested {
		base = sub
	} else if !slices.Contains(bundleDirs, sub) {
		return false
	}
	return base != "" && !strings.HasPrefix(base, ".") && !strings.ContainsAny(base, `/\`) && base == filepath.Base(base)
}

// checkSubdir refuses a file name whose subdirectory in dir is anything
// but a directory: a symbolic link there would send the file elsewhere.
func checkSubdir(dir, name string) error {
	sub, _, nested := strings.Cut(name, "/")
	if !nested {
		return nil
	}
	path := filepath.Join(dir, sub)
	if fi, err := os.Lstat(path); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s is %s, not a directory: nothing was written; move it away", path, fileKind(fi))
	}
	return nil
}

// sha256Hex matches a SHA-256 as sha256sum prints it.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// bytes is the manifest's text: the header, the policy, and a line
// "SHA256  NAME" a file, sorted by name.
func (m siteManifest) bytes() []byte {
	var b strings.Builder
	b.WriteString(manifestHeader)
	b.WriteString("policy " + m.policy + "\n")
	for _, n := range slices.Sorted(maps.Keys(m.files)) {
		b.WriteString(m.files[n] + "  " + n + "\n")
	}
	return []byte(b.String())
}

// commit writes the plan all or nothing: every file is rendered straight
// into a staging directory inside dir, and hashed for the manifest as it
// is written; then each takes its place, the file it replaces kept aside,
// and the stale files are set aside too. Should any step fail, every file
// already in place is put back as it was, and dir is as before; a dir
// that commit made is removed again. It returns the stale files it
// removed.
func (d *siteDir) commit() (removed []string, err error) {
	unmake, err := makeDir(d.dir)
	if err != nil {
		return nil, ioError{err}
	}
	defer func() {
		if err != nil {
			unmake()
		}
	}()
	unlock, err := lockDir(d.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if now, _ := os.ReadFile(filepath.Join(d.dir, manifestName)); !bytes.Equal(now, d.read) {
		return nil, ioError{fmt.Errorf("%s changed since fwgen read it (another run?): nothing was written; run again", d.dir)}
	}
	// An interrupt (Ctrl-C, SIGTERM) is taken between two steps, where
	// the plan can still be undone whole.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var caught atomic.Bool
	interrupted := func() bool {
		select {
		case <-sigs:
			caught.Store(true)
		default:
		}
		return caught.Load()
	}
	errInterrupted := interruptedError{fmt.Errorf("interrupted: nothing in %s was changed", d.dir)}
	staging, err := os.MkdirTemp(d.dir, strings.TrimSuffix(stagingPattern, "*"))
	if err != nil {
		return nil, ioError{err}
	}
	defer os.RemoveAll(staging)
	// Where the file system flushes in one call, the staged files are
	// not flushed one by one.
	oneSync := runtime.GOOS == "linux"
	var mu sync.Mutex
	sums := map[string]string{}
	put := func(name string, write func(io.Writer) error) error {
		if interrupted() {
			return errInterrupted
		}
		sum, err := stage(filepath.Join(staging, name), filepath.Join(d.dir, name), write, !oneSync)
		if err != nil {
			return err
		}
		mu.Lock()
		sums[name] = sum
		mu.Unlock()
		return nil
	}
	if err := renderFiles(d.files, put); err != nil {
		if interrupted() {
			return nil, errInterrupted
		}
		return nil, err
	}
	// The manifest goes last: until it is in place, the directory's
	// manifest describes the files that are.
	names := slices.Sorted(maps.Keys(sums))
	names = append(names, manifestName)
	if interrupted() {
		return nil, errInterrupted
	}
	if _, err := stage(filepath.Join(staging, manifestName), filepath.Join(d.dir, manifestName), writeBytes(d.manifest(sums)), !oneSync); err != nil {
		return nil, err
	}
	// Every staged file is on disk before any takes its place.
	if oneSync && !syncAll(staging) {
		for _, n := range names {
			if err := syncFile(filepath.Join(staging, n)); err != nil {
				return nil, ioError{fmt.Errorf("%s: %w", filepath.Join(d.dir, n), err)}
			}
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
		if afterSwap != nil {
			afterSwap(n)
		}
		if interrupted() {
			t.undo()
			return nil, errInterrupted
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

// makeDir makes dir and the parents it lacks, and returns a function that
// removes again, deepest first, those it made that are empty.
func makeDir(dir string) (unmake func(), err error) {
	var made []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		made = append(made, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return func() {
		for _, p := range made {
			os.Remove(p)
		}
	}, nil
}

// afterSwap, when set (by tests), runs after each file of a commit took
// its place.
var afterSwap func(name string)

// stage writes a file of the plan into the staging directory, with the
// mode and owner of the file it will replace, or 0666 less the umask, and
// returns its SHA-256, taken as it is written, as sha256sum prints it;
// with flush, it is on disk when stage returns. An error writing is an
// ioError; write's own is returned as it is.
func stage(path, target string, write func(io.Writer) error, flush bool) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", ioError{err}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return "", ioError{err}
	}
	var perm fs.FileMode
	if fi, err := os.Stat(target); err == nil {
		perm = fi.Mode().Perm()
		keepOwner(f, fi)
	}
	h := sha256.New()
	fw := &errWriter{w: f}
	bw := bufio.NewWriterSize(io.MultiWriter(fw, h), 64<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if fw.err == nil && err != nil {
		f.Close()
		return "", err
	}
	if err := fw.err; err != nil {
		f.Close()
		return "", ioError{fmt.Errorf("%s: %w", target, err)}
	}
	if perm != 0 {
		err = f.Chmod(perm)
	}
	if err == nil && flush {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", ioError{fmt.Errorf("%s: %w", target, err)}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// syncFile flushes a file to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// errWriter keeps the first error of its writer.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// swap moves files into dir, keeping what they replace aside, and can put
// everything back.
type swap struct {
	dir, aside string
	done       []swapped
	made       []string // subdirectories of dir it made, to remove on undo
}

// parents makes the directories name needs in dir and aside.
func (t *swap) parents(name string) error {
	if err := checkSubdir(t.dir, name); err != nil {
		return err
	}
	if sub := filepath.Dir(name); sub != "." {
		if err := os.MkdirAll(filepath.Join(t.aside, sub), 0o700); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(t.dir, sub), 0o755); err == nil {
			t.made = append(t.made, filepath.Join(t.dir, sub))
		} else if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

type swapped struct {
	name    string
	kept    bool // the old file is aside
	removed bool // a stale file, set aside and not replaced
}

func (t *swap) replace(name, staged string) error {
	if err := t.parents(name); err != nil {
		return err
	}
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
	if err := t.parents(name); err != nil {
		return err
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
	for _, d := range slices.Backward(t.made) {
		os.Remove(d) // empty again
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
