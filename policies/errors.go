package policies

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem of a policy file, at a position when it has one.
// Line and Col count from 1; 0 means unknown.
type Error struct {
	File string
	Line int
	Col  int
	// Path names the value in the policy, as hosts[1].roles[0]; it is empty
	// for problems of the whole file.
	Path string
	Msg  string
}

// Error formats the problem as "file:line:col: path: msg", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a policy file, in the manner of
// go/scanner.ErrorList: sorted by position, one per line.
type ErrorList []*Error

// Add appends a problem.
func (l *ErrorList) Add(e *Error) { *l = append(*l, e) }

// Sort orders the list by file, line, column, path and message, and drops
// exact repeats (a value reached twice through a YAML alias).
func (l *ErrorList) Sort() {
	slices.SortFunc(*l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	*l = slices.CompactFunc(*l, func(a, b *Error) bool { return *a == *b })
}

// Error returns the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns the list sorted as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	out := slices.Clone(l)
	out.Sort()
	return out
}
