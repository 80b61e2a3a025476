//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive lock on a directory for the rest of the run,
// so that two generate -o runs into it do not interleave; it fails at
// once, naming the directory, when another run holds it. The returned
// function releases it.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, ioError{err}
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ioError{fmt.Errorf("%s: another fwgen generate is writing this directory; nothing was written", dir)}
		}
		return nil, ioError{fmt.Errorf("%s: lock: %w", dir, err)}
	}
	return func() { f.Close() }, nil
}
