package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ioError marks a file that could not be read or written; run maps it to
// exitIO.
type ioError struct{ err error }

func (e ioError) Error() string { return e.err.Error() }
func (e ioError) Unwrap() error { return e.err }

// writeFile writes data to path as -o promises:
//   - a regular file, or a path that does not exist yet, is replaced
//     atomically: the data goes to a temporary file in the same directory,
//     which then takes the path's name, so a reader never sees half a file.
//     An existing file keeps its permission bits; a new one gets 0644.
//   - a symbolic link is followed, and its target replaced in the same way:
//     the link stays a link.
//   - a device, FIFO or socket (/dev/stdout, /dev/null, a named pipe) is
//     written to directly, and stays what it is.
//   - a directory is an error.
//
// Errors name the path and are ioErrors.
func writeFile(path string, data []byte) error {
	if err := writePath(path, data); err != nil {
		return ioError{err}
	}
	return nil
}

// stdFDs are the names of a process's open file descriptors. Writing to
// one writes to what the shell gave fwgen (a pipe, a file opened for
// appending), never to a file re-opened or replaced by name.
var stdFDs = regexp.MustCompile(`^/(dev/(stdout|stderr|fd/[0-9]+)|proc/self/fd/[0-9]+)$`)

func writePath(path string, data []byte) error {
	if m := stdFDs.FindString(filepath.Clean(path)); m != "" {
		return writeFD(m, data)
	}
	fi, err := os.Stat(path) // through links
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		return writeDirect(path, data)
	case err == nil:
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return err
		}
		return replaceFile(target, data, fi)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	target, err := danglingTarget(path)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(target); !isDir(dir) {
		return fmt.Errorf("%s: the directory %s does not exist", path, dir)
	}
	return replaceFile(target, data, nil)
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// writeFD writes data to an open file descriptor named /dev/stdout,
// /dev/stderr, /dev/fd/N or /proc/self/fd/N.
func writeFD(name string, data []byte) error {
	n, err := strconv.Atoi(name[strings.LastIndexAny(name, "/")+1:])
	switch {
	case strings.HasSuffix(name, "stdout"):
		n, err = 1, nil
	case strings.HasSuffix(name, "stderr"):
		n, err = 2, nil
	}
	if err != nil {
		return fmt.Errorf("%s: not a file descriptor", name)
	}
	if n == 1 && stdoutClosed() {
		return fmt.Errorf("%s: standard output is closed: nothing would be written", name)
	}
	f := os.NewFile(uintptr(n), name)
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// maxLinks bounds how many symbolic links danglingTarget follows.
const maxLinks = 40

// danglingTarget is the file a path that does not exist names: itself, or,
// for a symbolic link to a missing file, that file, so that writing it
// leaves the link a link.
func danglingTarget(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// writeDirect writes data into an existing device, FIFO or socket.
func writeDirect(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replaceFile writes data to a temporary file beside path and renames it
// to path, so that a reader never sees half a file. The file keeps the
// permission bits and, where fwgen may, the owner of old, the file it
// replaces; a new file (old nil) gets 0666 less the umask, as any program
// creates one.
func replaceFile(path string, data []byte, old fs.FileInfo) error {
	tmp, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	var perm fs.FileMode
	if old != nil {
		perm = old.Mode().Perm()
		keepOwner(tmp, old)
	}
	if err := writeAll(tmp, data, perm); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	return nil
}

// createTemp makes a new file beside path, with mode 0666 less the umask.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	for range 100 {
		name := filepath.Join(dir, fmt.Sprintf(".%s.tmp%d", base, rand.Uint32()))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no free temporary name beside it")
}

// writeAll writes data to f, gives it mode perm unless perm is 0, syncs
// and closes it.
func writeAll(f *os.File, data []byte, perm fs.FileMode) error {
	_, err := f.Write(data)
	if err == nil && perm != 0 {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyStdout copies r to standard output, refusing as writeStdout does.
func copyStdout(w io.Writer, r io.Reader) error {
	if w == io.Writer(os.Stdout) && stdoutClosed() {
		return ioError{errors.New("standard output is closed: nothing would be written; redirect it to a file, or use -o")}
	}
	if _, err := io.Copy(w, r); err != nil {
		return ioError{fmt.Errorf("standard output: %w", err)}
	}
	return nil
}

// writeStdout writes data to standard output, refusing when it was closed
// (the Go runtime then quietly opens /dev/null in its place, and the
// output would vanish).
func writeStdout(w io.Writer, data []byte) error {
	if w == io.Writer(os.Stdout) && stdoutClosed() {
		return ioError{errors.New("standard output is closed: nothing would be written; redirect it to a file, or use -o")}
	}
	if _, err := w.Write(data); err != nil {
		return ioError{fmt.Errorf("standard output: %w", err)}
	}
	return nil
}
