//go:build !unix

package main

// stdoutClosed reports whether standard output was closed; only Unix
// systems can tell.
func stdoutClosed() bool { return false }
