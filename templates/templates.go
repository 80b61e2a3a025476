// Package templates holds the text/template sources of fwgen's output
// formats. Templates only lay out: what they print is computed in Go by the
// emitters, and every user-nameable string passes a quoting helper first.
package templates

import "embed"

// FS holds every *.tmpl file of this package.
//
//go:embed *.tmpl
var FS embed.FS
