package emit

// A reader of cmd's "for /f" loops and findstr's regular expressions, as
// the netsh scripts use them to find their own rules in netsh's list of all
// rules. It runs a loop over a made-up list and returns the commands the
// loop's body would run, so that a test can see which rules a script
// deletes.

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// cmdFor is a "for /f" loop after cmd has read its line: percent signs
// and carets are gone; the loop's variables (%a) are expanded when the
// body runs.
type cmdFor struct {
	Tokens  []int  // token numbers; 0 stands for *, the rest of the line
	Delims  string // token delimiters
	Var     byte   // the first token's variable; the next tokens take the next letters
	Command string // in ('...'): the command whose output is read
	Text    string // in ("..."): a string read as one line
	Inner   *cmdFor
	Body    string // the command the loop runs, when Inner is nil
}

// parseCmdFor reads a batch file line that is a "for /f" loop. rest is
// the line from its first operator on (the innermost body's redirection).
func parseCmdFor(line string) (f *cmdFor, rest string, err error) {
	expanded, err := cmdPercent(line)
	if err != nil {
		return nil, "", err
	}
	cmdline, rest, err := cmdSplit(expanded)
	if err != nil {
		return nil, "", err
	}
	f, err = parseFor(strings.TrimRight(cmdline, " "))
	return f, rest, err
}

// forHead is the start of a loop with the only options the scripts use.
var forHead = regexp.MustCompile(`^for /f "tokens=([0-9*,]+)(?: delims=([^"]*))?" %([a-z]) in \(`)

// parseFor reads `for /f "options" %x in (set) do body`.
func parseFor(s string) (*cmdFor, error) {
	m := forHead.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("not a for /f loop with tokens= and delims= only: %q", s)
	}
	f := &cmdFor{Var: m[3][0], Delims: " \t"}
	if strings.Contains(m[0], " delims=") {
		f.Delims = m[2]
	}
	for _, t := range strings.Split(m[1], ",") {
		n, err := strconv.Atoi(t)
		if t == "*" {
			n, err = 0, nil
		}
		if err != nil || t != "*" && n < 1 {
			return nil, fmt.Errorf("tokens=%s", m[1])
		}
		f.Tokens = append(f.Tokens, n)
	}
	s = s[len(m[0]):]
	end := closingParen(s)
	if end < 2 {
		return nil, errors.New("no set in (...)")
	}
	switch set := s[:end]; {
	case set[0] == '\'' && set[len(set)-1] == '\'':
		f.Command = set[1 : len(set)-1]
	case set[0] == '"' && set[len(set)-1] == '"':
		f.Text = set[1 : len(set)-1]
	default:
		return nil, fmt.Errorf("set %q: want ('command') or (\"text\")", set)
	}
	body, ok := strings.CutPrefix(s[end+1:], " do ")
	if !ok {
		return nil, fmt.Errorf("no do after the set: %q", s[end+1:])
	}
	if strings.HasPrefix(body, "for ") {
		inner, err := parseFor(body)
		f.Inner = inner
		return f, err
	}
	f.Body = body
	return f, nil
}

// closingParen returns the index of the first ) of s outside double
// quotes, or -1.
func closingParen(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == ')' && !quoted:
			return i
		}
	}
	return -1
}

// run runs the loop: output gives the lines a command prints. It returns
// each command the innermost body runs, split by the C runtime's rules.
func (f *cmdFor) run(output func(command string) ([]string, error), vars map[byte]string) ([][]string, error) {
	lines := []string{expandVars(f.Text, vars)}
	if f.Command != "" {
		var err error
		if lines, err = output(expandVars(f.Command, vars)); err != nil {
			return nil, err
		}
	}
	var runs [][]string
	for _, line := range lines {
		tokens, ok := forTokens(line, f.Tokens, f.Delims)
		if !ok {
			continue
		}
		v := maps.Clone(vars)
		for i, t := range tokens {
			v[f.Var+byte(i)] = t
		}
		if f.Inner == nil {
			runs = append(runs, crtArgs(expandVars(f.Body, v)))
			continue
		}
		inner, err := f.Inner.run(output, v)
		if err != nil {
			return nil, err
		}
		runs = append(runs, inner...)
	}
	return runs, nil
}

// forTokens splits a line as "for /f" does: lines that are empty or start
// with ; (the default eol) are skipped, runs of delimiters separate
// tokens, and * takes the rest of the line. ok is false when the loop
// skips the line.
func forTokens(line string, want []int, delims string) (tokens []string, ok bool) {
	if line == "" || line[0] == ';' {
		return nil, false
	}
	isDelim := func(i int) bool { return i < len(line) && strings.IndexByte(delims, line[i]) >= 0 }
	pos, n := 0, 0
	for _, w := range want {
		for pos < len(line) && isDelim(pos) {
			pos++
		}
		if w == 0 {
			tokens = append(tokens, line[pos:])
			break
		}
		for ; n < w; n++ {
			for isDelim(pos) {
				pos++
			}
			start := pos
			for pos < len(line) && !isDelim(pos) {
				pos++
			}
			if n+1 == w {
				tokens = append(tokens, line[start:pos])
			}
		}
	}
	return tokens, len(tokens) > 0 && tokens[0] != ""
}

// expandVars replaces each loop variable %x of s with its value.
func expandVars(s string, vars map[byte]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+1 < len(s) {
			if v, ok := vars[s[i+1]]; ok {
				b.WriteString(v)
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// netshListing stands for the command a sweep loop reads: netsh's list of
// all rules (list) piped to findstr, run by cmd /c, which reads the command
// line once more. Any other command is an error.
func netshListing(list []string) func(string) ([]string, error) {
	return func(command string) ([]string, error) {
		first, rest, err := cmdSplit(command)
		if err != nil {
			return nil, err
		}
		if args := crtArgs(first); !slices.Equal(args, []string{"netsh", "advfirewall", "firewall", "show", "rule", "name=all"}) {
			return nil, fmt.Errorf("command %q: want netsh advfirewall firewall show rule name=all", args)
		}
		pipe, ok := strings.CutPrefix(rest, "|")
		if !ok {
			return nil, fmt.Errorf("want | findstr after netsh, got %q", rest)
		}
		second, rest, err := cmdSplit(pipe)
		if err != nil || rest != "" {
			return nil, fmt.Errorf("findstr command %q: %v %q", pipe, err, rest)
		}
		re, err := findstrArgs(crtArgs(second))
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(slices.Clone(list), func(l string) bool { return !re.MatchString(l) }), nil
	}
}

// findstrArgs reads `findstr /r /c:"expression"` and returns the
// expression as a Go regexp.
func findstrArgs(args []string) (*regexp.Regexp, error) {
	if len(args) != 3 || args[0] != "findstr" || args[1] != "/r" || !strings.HasPrefix(args[2], "/c:") {
		return nil, fmt.Errorf("findstr %q: want findstr /r /c:expression", args)
	}
	return findstrRegexp(strings.TrimPrefix(args[2], "/c:"))
}

// findstrRegexp translates the part of findstr's regular expressions the
// scripts use: ^ and $ at the ends, . and *, classes [...] and [^...] of
// single characters, and literal characters. A range in a class (a-z) is
// an error: findstr's ranges follow a collation order in which [a-z] also
// matches most capitals, so the scripts list the characters instead.
func findstrRegexp(expr string) (*regexp.Regexp, error) {
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '^' && i == 0, c == '$' && i == len(expr)-1, c == '.', c == '*':
			b.WriteByte(c)
		case c == '[':
			end := strings.IndexByte(expr[i+1:], ']')
			if end < 1 {
				return nil, fmt.Errorf("%q: unclosed class", expr)
			}
			class, err := findstrClass(expr[i+1 : i+1+end])
			if err != nil {
				return nil, fmt.Errorf("%q: %v", expr, err)
			}
			b.WriteString(class)
			i += end + 1
		case strings.IndexByte(`\^$]`, c) >= 0:
			return nil, fmt.Errorf("%q: %c at %d is not supported here", expr, c, i)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return regexp.Compile(b.String())
}

// findstrClass translates the inside of a findstr class.
func findstrClass(class string) (string, error) {
	var b strings.Builder
	b.WriteByte('[')
	if rest, ok := strings.CutPrefix(class, "^"); ok {
		b.WriteByte('^')
		class = rest
	}
	for i := 0; i < len(class); i++ {
		if class[i] == '-' && i > 0 && i < len(class)-1 {
			return "", fmt.Errorf("range %q in a class", class[i-1:i+2])
		}
		fmt.Fprintf(&b, `\x{%x}`, class[i])
	}
	return b.String() + "]", nil
}
