package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncAll flushes to disk, in one call, every file written in dir's file
// system: the staged files of a site, before they take their places. It
// reports false where it cannot, and each file must then be flushed on
// its own.
func syncAll(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd())) == nil
}
