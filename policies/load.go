package policies

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	goccy "github.com/goccy/go-yaml"
	goccylexer "github.com/goccy/go-yaml/lexer"
	goccyparser "github.com/goccy/go-yaml/parser"
	goccytoken "github.com/goccy/go-yaml/token"
	"go.yaml.in/yaml/v3"

	"github.com/fwgen/fwgen/catalog"
)

// MaxSize is the largest policy Load accepts, in bytes: 64 MiB, some 200,000
// host groups. Callers should read at most MaxSize+1 bytes so that Load can
// say so.
const MaxSize = 64 << 20

// maxErrors is how many problems of one file are reported; a file that has
// more is usually not a policy at all, and a screenful says so well enough.
const maxErrors = 50

// maxStored is how many problems Load keeps; it shows maxErrors of them and
// counts the rest.
const maxStored = 1000

// maxNodes bounds the YAML values Load looks at, aliases expanded, so that an
// alias bomb ("billion laughs") fails fast instead of eating memory: a
// base, and one value for every four bytes of the file, more than a policy
// written out without aliases ever has (its shortest value, "- x\n", takes
// four).
const maxNodes = 200_000

// nodeBudget is the YAML values Load looks at in a file of size bytes.
func nodeBudget(size int) int { return maxNodes + size/4 }

// Version is the policy format that Load reads, as the fwgen key names it.
const Version = "v1"

// rawPolicy and the raw types below mirror the policy file, key for key.
// Load decodes a file into them strictly, checks them with validator tags
// and cross-checks, and builds a Policy from them.
type rawPolicy struct {
	Fwgen     string              `yaml:"fwgen" validate:"required"`
	Name      string              `yaml:"name" validate:"required,max=64,sitename"`
	OS        []string            `yaml:"os" validate:"dive,required"`
	Networks  map[string][]string `yaml:"networks"`
	RPC       *rawRPC             `yaml:"rpc"`
	Scenarios []string            `yaml:"scenarios" validate:"dive,required"`
	Optional  bool                `yaml:"optional"`
	Services  []rawService        `yaml:"services" validate:"dive"`
	Roles     []rawRole           `yaml:"roles" validate:"dive"`
	Hosts     []rawHost           `yaml:"hosts" validate:"required,min=1,dive"`
}

type rawRPC struct {
	Range  string         `yaml:"range"`
	Static map[string]int `yaml:"static"`
}

type rawService struct {
	ID            string     `yaml:"id" validate:"required,id"`
	Name          string     `yaml:"name" validate:"max=100,nocontrol"`
	SystemService string     `yaml:"system_service" validate:"max=100,nocontrol"`
	Notes         string     `yaml:"notes"`
	Override      bool       `yaml:"override"`
	Ref           []rawRef   `yaml:"ref" validate:"dive"`
	Entries       []rawEntry `yaml:"entries" validate:"required,min=1,dive"`
}

type rawRef struct {
	Doc     string `yaml:"doc" validate:"required"`
	Section string `yaml:"section" validate:"nocontrol"`
}

type rawEntry struct {
	Protocol string   `yaml:"protocol" validate:"required,oneof=tcp udp icmpv4 icmpv6 gre esp ah"`
	Ports    portList `yaml:"ports"`
	ICMPType *int     `yaml:"icmp_type" validate:"omitnil,min=0,max=255"`
	Label    string   `yaml:"label" validate:"max=100,nocontrol"`
	Peers    nameList `yaml:"peers" validate:"required,min=1,dive,required"`
	Scenario string   `yaml:"scenario" validate:"omitempty,id"`
	Optional bool     `yaml:"optional"`
	Why      string   `yaml:"why"`
}

type rawRole struct {
	ID       string   `yaml:"id" validate:"required,id"`
	Name     string   `yaml:"name" validate:"max=100,nocontrol"`
	Notes    string   `yaml:"notes"`
	Override bool     `yaml:"override"`
	Members  string   `yaml:"members" validate:"omitempty,oneof=group site"`
	Services []string `yaml:"services" validate:"required,min=1,dive,required"`
}

type rawHost struct {
	Name      string              `yaml:"name" validate:"required,group"`
	Roles     []string            `yaml:"roles" validate:"required,min=1,dive,required"`
	OS        []string            `yaml:"os" validate:"dive,required"`
	Addresses []string            `yaml:"addresses" validate:"dive,required"`
	Peers     map[string][]string `yaml:"peers"`
	Profile   []string            `yaml:"profile" validate:"dive,oneof=domain private public"`
	Scenarios []string            `yaml:"scenarios" validate:"dive,required"`
}

// Load reads a site policy: name is the file name that errors cite, data
// its content, c the catalog that names roles, services and OS versions
// (nil means catalog.Default()). Every problem of the file is reported in
// one ErrorList, sorted by position.
func Load(name string, data []byte, c *catalog.Catalog) (*Policy, error) {
	if c == nil {
		c = catalog.Default()
	}
	l := newLoader(name, c)
	l.budget = nodeBudget(len(data))
	root := l.parse(data)
	if root == nil {
		return nil, l.err()
	}
	var raw rawPolicy
	l.decode(root, reflect.ValueOf(&raw).Elem(), "")
	if l.nodes > l.budget {
		return nil, ErrorList{{File: name, Msg: fmt.Sprintf(
			"too many values once aliases are expanded: more than %d in a file of %d bytes (an alias bomb?); write the values out instead of aliasing them", l.budget, len(data))}}
	}
	l.validate(&raw)
	p := l.build(&raw)
	if err := l.err(); err != nil {
		return nil, err
	}
	p.Source = name
	p.pos = l.positions()
	return p, nil
}

// loader holds the state of one Load: the problems found so far and where
// each value of the file is.
type loader struct {
	file string
	c    *catalog.Catalog
	errs ErrorList
	// vals and keys map a value's path (hosts[1].roles[0]) to its node and
	// to the node of its key, for positions.
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
	// bad marks paths that already have an error, so that later checks do
	// not report the same value twice ("want a list", then "missing").
	bad map[string]bool
	// quiet are paths whose "missing" errors would be noise: the key that a
	// misspelt key meant, and mappings with a merge key.
	quiet  map[string]bool
	nodes  int
	budget int // the most values nodes may reach (nodeBudget)
	// found counts the problems, of which errs keeps the first maxStored.
	found int
	names *names
	// ownRoles are the ids of the policy's own roles, and ownScenarios
	// the scenarios its own services name.
	ownRoles, ownScenarios set
	// full is the catalog with the policy's own services and roles.
	full     *catalog.Catalog
	fullDone bool
}

func newLoader(file string, c *catalog.Catalog) *loader {
	return &loader{file: file, c: c, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{},
		bad: map[string]bool{}, quiet: map[string]bool{}, names: newNames(c)}
}

// add records a problem; past maxStored it is only counted.
func (l *loader) add(e *Error) {
	l.found++
	if len(l.errs) < maxStored {
		l.errs = append(l.errs, e)
	}
}

// err returns the problems found, sorted: the first maxErrors of them and
// a count of the rest, or nil when there are none.
func (l *loader) err() error {
	if l.found == 0 {
		return nil
	}
	stored := len(l.errs)
	l.errs.Sort()
	l.found -= stored - len(l.errs) // repeats, through aliases
	out := l.errs
	if l.found > maxErrors {
		out = append(out[:maxErrors:maxErrors], &Error{File: l.file,
			Msg: fmt.Sprintf("too many errors (%d more)", l.found-maxErrors)})
	}
	return out
}

// parse checks that data is a text file of a sane size and parses it into
// a node tree, or records why not and returns nil.
func (l *loader) parse(data []byte) *yaml.Node {
	if !l.checkText(data) {
		return nil
	}
	doc, second, err := decodeDocs(data)
	switch {
	case err != nil:
		l.syntaxError(data, err)
		return nil
	case second > 0:
		l.add(&Error{File: l.file, Line: second, Msg: "a policy is one YAML document; remove the second (---)"})
		return nil
	case doc == nil || len(doc.Content) == 0 || isNull(doc.Content[0]):
		l.add(&Error{File: l.file, Msg: `empty policy: a policy starts with "fwgen: v1"`})
		return nil
	}
	return doc.Content[0]
}

// decodeDocs parses the first YAML document of data, and returns the line
// of a second one if there is one. The parser is a third party's and this
// is the only place that feeds it raw input, so a panic of it becomes an
// error here rather than a crash of the program.
func decodeDocs(data []byte) (doc *yaml.Node, second int, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, second, err = nil, 0, fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, next yaml.Node
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return &first, 0, nil
	case err != nil:
		return nil, 0, err
	}
	return &first, max(next.Line, 1), nil
}

// checkText rejects files that are too big or not UTF-8 text, with one
// error each, before the YAML parser sees them.
func (l *loader) checkText(data []byte) bool {
	if len(data) > MaxSize {
		l.add(&Error{File: l.file, Msg: fmt.Sprintf(
			"policy is too big: %d bytes or more; the limit is %d bytes (64 MiB): split the estate into several site policies", len(data), MaxSize)})
		return false
	}
	// PowerShell 5's ">" and Notepad's "Unicode" write UTF-16, which is
	// common on Windows and would otherwise read as binary garbage.
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		l.add(&Error{File: l.file, Msg: "policy is UTF-16 text: save it as UTF-8"})
		return false
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == 0:
			l.errAtOffset(data, i, "binary data (a NUL byte): a policy is UTF-8 text")
			return false
		case r == utf8.RuneError && size == 1:
			l.errAtOffset(data, i, fmt.Sprintf("not UTF-8 text (byte 0x%02x): a policy is UTF-8 text", data[i]))
			return false
		}
		i += size
	}
	if off := tooDeep(data, maxFlowDepth); off >= 0 {
		l.errAtOffset(data, off, fmt.Sprintf("brackets nested more than %d deep ([ and { inside each other): a site policy needs a few; check the brackets", maxFlowDepth))
		return false
	}
	return true
}

// maxFlowDepth bounds how deep [ and { nest. A policy needs three or four
// levels; the YAML parsers take time and memory that grow much faster
// than the file with deeper ones (100,000 levels in 200 KB: 15 GB).
const maxFlowDepth = 64

// tooDeep returns the offset of the first [ or { that opens more than max
// flow collections at once, outside quotes and comments; -1 when there is
// none. Block nesting costs the parsers little: it needs a line and an
// indentation a level.
func tooDeep(data []byte, max int) int {
	depth := 0
	var quote byte
	lineStart := true
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case quote == '"' && c == '\\':
			i++ // an escaped character
		case quote != 0:
			if c == quote {
				if quote == '\'' && i+1 < len(data) && data[i+1] == '\'' {
					i++ // '' in a single-quoted string
				} else {
					quote = 0
				}
			}
		case c == '#' && (lineStart || data[i-1] == ' ' || data[i-1] == '\t'):
			for i < len(data) && data[i] != '\n' {
				i++
			}
			lineStart = true
			continue
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			if depth++; depth > max {
				return i
			}
		case (c == ']' || c == '}') && depth > 0:
			depth--
		}
		lineStart = c == '\n'
	}
	return -1
}

// errAtOffset records a problem at a byte offset, with line and column
// counted as the YAML parser counts them (columns in characters).
func (l *loader) errAtOffset(data []byte, off int, msg string) {
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	col := 1 + utf8.RuneCount(data[start:off])
	l.add(&Error{File: l.file, Line: line, Col: col, Msg: msg})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError records a YAML syntax error at its line and column, with the
// line itself and a caret under the column. The decoder (go.yaml.in/yaml/v3)
// names a line, often the one before the mistake, and no column; goccy's
// parser finds where the mistake is, so it explains the errors the decoder
// found. Should it accept what the decoder refused, the decoder's own
// message stands.
func (l *loader) syntaxError(data []byte, err error) {
	e := &Error{File: l.file, Msg: err.Error()}
	if m := yamlLine.FindStringSubmatch(e.Msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	} else if len(e.Msg) > 6 && e.Msg[:6] == "yaml: " {
		e.Msg = e.Msg[6:]
	}
	if line, col, msg, ok := syntaxPosition(data); ok {
		e.Line, e.Col, e.Msg = line, col, msg
	} else if m := unknownAnchor.FindStringSubmatch(e.Msg); m != nil {
		e.Line, e.Col = aliasPosition(data, m[1])
		e.Msg = fmt.Sprintf("*%s refers to no anchor &%s before it", m[1], m[1])
	}
	e.Msg = "YAML syntax: " + e.Msg + sourceExcerpt(data, e.Line, e.Col)
	l.add(e)
}

// syntaxPosition asks goccy's YAML parser where the syntax error of data
// is. A panic of the parser counts as no answer.
func syntaxPosition(data []byte) (line, col int, msg string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil {
		return 0, 0, "", false
	}
	return se.Token.Position.Line, se.Token.Position.Column, strings.ReplaceAll(se.Message, "\t", `\t`), true
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// aliasPosition finds the first alias *name of data, which the decoder
// names without a position when no anchor &name comes before it; 0, 0
// when there is none.
func aliasPosition(data []byte, name string) (line, col int) {
	defer func() { recover() }() // a panic of the lexer counts as no answer
	tokens := goccylexer.Tokenize(string(data))
	for i, tk := range tokens {
		if tk.Type == goccytoken.AliasType && i+1 < len(tokens) && tokens[i+1].Value == name && tk.Position != nil {
			return tk.Position.Line, tk.Position.Column
		}
	}
	return 0, 0
}

// sourceExcerpt is the line of data that an error points at, with a caret
// under its column, to follow the error's message.
func sourceExcerpt(data []byte, line, col int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	text := strings.TrimRight(lines[line-1], "\r")
	if utf8.RuneCountInString(text) > 120 {
		return ""
	}
	prefix := fmt.Sprintf("    %d | ", line)
	out := "\n" + prefix + strings.ReplaceAll(text, "\t", " ")
	if col > 0 {
		out += "\n" + strings.Repeat(" ", len(prefix)+col-1) + "^"
	}
	return out
}

// positions returns what Policy.Pos answers: the line and column of the
// value at a path, or of its key, or of its nearest parent that has one,
// as l.position finds them. It keeps a table of them rather than the YAML
// nodes, which a site of thousands of host groups would hold in memory
// for as long as its policy.
func (l *loader) positions() func(path string) (int, int) {
	table := make(map[string][2]int32, len(l.vals)+len(l.keys))
	for k, n := range l.vals {
		table[k] = [2]int32{int32(n.Line), int32(n.Column)}
	}
	for k, n := range l.keys { // a key's position comes before its value's
		table[k] = [2]int32{int32(n.Line), int32(n.Column)}
	}
	return func(path string) (int, int) {
		for p := path; ; p = parentPath(p) {
			if lc, ok := table[p]; ok {
				return int(lc[0]), int(lc[1])
			}
			if p == "" {
				return 0, 0
			}
		}
	}
}
