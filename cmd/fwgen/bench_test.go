package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/fwgen/fwgen/policies/synth"
)

// benchSizes are the host groups of the synthetic sites the benchmarks
// generate; -short keeps to the smallest.
var benchSizes = []int{100, 1000, 10000}

// BenchmarkGenerate runs fwgen generate on synthetic sites (policies/synth)
// of 100, 1,000 and 10,000 host groups: one format to standard output, and
// every format into a directory. It reports the bytes written per
// operation as MB/op.
func BenchmarkGenerate(b *testing.B) {
	for _, n := range benchSizes {
		if testing.Short() && n > benchSizes[0] {
			continue
		}
		site := filepath.Join(b.TempDir(), "site.yaml")
		if err := os.WriteFile(site, synth.Site(n), 0o644); err != nil {
			b.Fatal(err)
		}
		for _, emit := range []string{"nftables", "iptables", "json", "powershell", "netsh", "csv", "markdown", "all"} {
			b.Run(fmt.Sprintf("groups=%d/emit=%s", n, emit), func(b *testing.B) {
				args := []string{"generate", "-f", site, "--emit", emit, "-q"}
				if emit == "all" {
					args = append(args, "-o", filepath.Join(b.TempDir(), "out"))
				}
				b.ReportAllocs()
				for b.Loop() {
					var out countWriter
					if code := run(context.Background(), args, &out, io.Discard); code != exitOK {
						b.Fatalf("fwgen %v: exit %d", args, code)
					}
					b.ReportMetric(float64(out)/1e6, "MB/op")
				}
			})
		}
	}
}

// countWriter counts the bytes written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
