package policies

import (
	"os"
	"testing"

	"github.com/fwgen/fwgen/catalog"
)

// BenchmarkResolveQuick resolves what `fwgen --role dc,file-server --os
// 2003,2016` asks for.
func BenchmarkResolveQuick(b *testing.B) {
	c := catalog.Default()
	p := Quick{Roles: []string{"dc", "file-server"}, OS: []string{"2003", "2016"}}.Policy()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resolve(p, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAndResolveSite loads and resolves the largest example site.
func BenchmarkLoadAndResolveSite(b *testing.B) {
	c := catalog.Default()
	data, err := os.ReadFile("examples/ad-mixed.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p, err := Load("ad-mixed.yaml", data, c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Resolve(p, c); err != nil {
			b.Fatal(err)
		}
	}
}
