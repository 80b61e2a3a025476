//go:build !unix

package main

import (
	"io/fs"
	"os"
)

// stdoutClosed reports whether standard output was closed; only Unix
// systems can tell.
func stdoutClosed() bool { return false }

// keepOwner keeps the owner of a replaced file; only Unix systems have one
// to keep.
func keepOwner(*os.File, fs.FileInfo) {}
