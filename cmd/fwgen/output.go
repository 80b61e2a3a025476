package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

func writePath(path string, data []byte) error {
	fi, err := os.Stat(path) // through links, /dev/stdout's to a pipe included
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
		return replaceFile(target, data, fi.Mode().Perm())
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	target, err := danglingTarget(path)
	if err != nil {
		return err
	}
	return replaceFile(target, data, 0o644)
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

// replaceFile writes data to a temporary file beside path, gives it mode
// perm, syncs it and renames it to path.
func replaceFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := writeAll(tmp, data, perm); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

func writeAll(f *os.File, data []byte, perm fs.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
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
