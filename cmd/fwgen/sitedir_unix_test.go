//go:build unix

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSiteDirInterrupted: a Ctrl-C half-way through the swap puts every
// file back, and the run says it changed nothing.
func TestSiteDirInterrupted(t *testing.T) {
	dir := t.TempDir()
	first := memFiles{"a.csv": []byte("a1"), "b.csv": []byte("b1"), "site.csv": []byte("s1")}
	d, err := planSiteDir(dir, "p", []string{"csv"}, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.commit(); err != nil {
		t.Fatal(err)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, manifestName))
	d, err = planSiteDir(dir, "p", []string{"csv"}, memFiles{"a.csv": []byte("a2"), "b.csv": []byte("b2"), "site.csv": []byte("s2")})
	if err != nil {
		t.Fatal(err)
	}
	afterSwap = func(name string) {
		if name == "b.csv" {
			syscall.Kill(os.Getpid(), syscall.SIGINT)
			time.Sleep(100 * time.Millisecond) // let the signal arrive
		}
	}
	defer func() { afterSwap = nil }()
	_, err = d.commit()
	var ie interruptedError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "nothing in") {
		t.Fatalf("commit: %v, want an interruption that changed nothing", err)
	}
	for name, want := range map[string]string{"a.csv": "a1", "b.csv": "b1", "site.csv": "s1", manifestName: string(manifest)} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q (%v), want %q", name, got, err, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, stagingPattern)); len(left) > 0 {
		t.Errorf("staging left behind: %v", left)
	}
}
