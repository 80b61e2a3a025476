package main

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// fileSet is what generate -o writes: files rendered on demand, in units
// (a host group's files in every format) that render independently of
// each other, so that a run renders them on every core and holds a few
// files in memory at a time, never the whole site.
type fileSet interface {
	// names lists every file of the set.
	names() []string
	// units is the number of units.
	units() int
	// renderUnit renders the files of unit i, handing each to put as a
	// function that writes the file (and can be called again); it stops
	// at the first error, put's or its own.
	renderUnit(i int, put putFunc) error
	// render renders one file alone.
	render(name string) ([]byte, error)
}

// putFunc takes a file of a fileSet: its name, and a function that
// writes it to w, which fails with w's error or the render's.
type putFunc func(name string, write func(w io.Writer) error) error

// writeBytes is a write function of a file rendered already.
func writeBytes(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// renderFiles renders every unit of files on runtime.GOMAXPROCS workers,
// handing each file to put, which is called from any of them. Once a unit
// fails, the units after it are skipped and the units before it still
// run, so that the error returned is always that of the first unit that
// fails, whatever the timing.
func renderFiles(files fileSet, put putFunc) error {
	n := files.units()
	errs := make([]error, n)
	var next atomic.Int64
	var firstFailed atomic.Int64
	firstFailed.Store(int64(n))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= firstFailed.Load() {
					return // past a unit that failed: its error comes first
				}
				if err := files.renderUnit(int(i), put); err != nil {
					errs[i] = err
					for {
						f := firstFailed.Load()
						if i >= f || firstFailed.CompareAndSwap(f, i) {
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
