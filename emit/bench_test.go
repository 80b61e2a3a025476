package emit

import (
	"io"
	"testing"
)

// BenchmarkEmit renders a mixed-OS DC's rules in every format.
func BenchmarkEmit(b *testing.B) {
	rs := goldenCases[1].ruleset(b)
	for _, f := range Formats() {
		b.Run(f.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if f.Bundler != nil {
					_, err = f.Bundler.Bundle(rs, Options{})
				} else {
					err = f.Emitter.Emit(io.Discard, rs, Options{})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
