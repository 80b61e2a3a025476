package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteFileKeepsWhatThePathIs: -o replaces a regular file atomically
// and keeps its mode, follows a symlink to its target, writes into a FIFO
// and a device without replacing them, and refuses a directory.
func TestWriteFileKeepsWhatThePathIs(t *testing.T) {
	dir := t.TempDir()
	data := []byte("rules\n")

	file := filepath.Join(dir, "rules.csv")
	if err := os.WriteFile(file, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, file, data)
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Errorf("existing file: mode %v, want a regular 0600 file", fi.Mode())
	}
	checkContent(t, file, data)

	fresh := filepath.Join(dir, "new.csv")
	mustWrite(t, fresh, data)
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Errorf("new file: mode %v, want 0644", fi.Mode())
	}

	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink("rules.csv", link); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, link, []byte("through the link\n"))
	if fi, _ := os.Lstat(link); fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink became %v", fi.Mode())
	}
	checkContent(t, file, []byte("through the link\n"))

	dangling := filepath.Join(dir, "dangling.csv")
	if err := os.Symlink("target.csv", dangling); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, dangling, data)
	checkContent(t, filepath.Join(dir, "target.csv"), data)

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	mustWrite(t, fifo, data)
	select {
	case b := <-got:
		if !bytes.Equal(b, data) {
			t.Errorf("read %q from the FIFO, want %q", b, data)
		}
	case <-time.After(5 * time.Second):
		t.Error("nothing was written into the FIFO")
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close() // lets the reader go
		}
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO became %v", fi.Mode())
	}

	err := writeFile(dir, data)
	var ioe ioError
	if err == nil || !errors.As(err, &ioe) || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("writing a directory: %v", err)
	}
	if err := writeFile(filepath.Join(dir, "missing", "x.csv"), data); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("writing into a missing directory: %v, want an error naming the path", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestWriteFileDevice writes into a copy of /dev/null made for the test,
// as -o /dev/null would: it stays a character device.
func TestWriteFileDevice(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("making a device node needs root, and CI runs as root")
		}
		t.Skip("making a device node needs root")
	}
	null := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, int(1<<8|3)); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, null, []byte("rules\n"))
	if fi, _ := os.Lstat(null); fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("-o on a character device made it %v", fi.Mode())
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := writeFile(path, data); err != nil {
		t.Fatalf("writeFile(%s): %v", path, err)
	}
}

func checkContent(t *testing.T, path string, want []byte) {
	t.Helper()
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s holds %q (%v), want %q", path, got, err, want)
	}
}
