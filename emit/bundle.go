package emit

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/fwgen/fwgen/policies"
)

// File is one file of a format that writes a tree of files (capirca,
// aerleon): Path is slash-separated and relative to the output directory
// ("pol/site.pol", "def/NETWORKS.net").
type File struct {
	Path string
	Data []byte
}

// Bundler writes a whole Ruleset as a tree of files. Formats with a
// Bundler have no Emitter: their output is one policy of the site, not a
// file per host group, and needs a directory.
type Bundler interface {
	Bundle(rs *policies.Ruleset, opts Options) ([]File, error)
}

// BundleFunc adapts a function to the Bundler interface.
type BundleFunc func(rs *policies.Ruleset, opts Options) ([]File, error)

// Bundle calls f.
func (f BundleFunc) Bundle(rs *policies.Ruleset, opts Options) ([]File, error) { return f(rs, opts) }

// checkPaths refuses a bundle whose paths are not clean, relative and
// distinct: the directory writer joins them to the output directory.
func checkPaths(files []File) error {
	seen := map[string]bool{}
	for _, f := range files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) || path.Clean(f.Path) != f.Path {
			return fmt.Errorf("bundle path %q is not a clean relative path", f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("bundle path %q written twice", f.Path)
		}
		seen[f.Path] = true
	}
	return nil
}
