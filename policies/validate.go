package policies

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"github.com/go-playground/validator/v10"
	"go.yaml.in/yaml/v3"
)

var (
	// idPattern is the catalog's rule for service and role ids.
	idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	// namePattern is the rule for host group and network names. Group names
	// become file names (<group>.ps1) and names in scripts and firewall
	// sets, so they stay plain and do not end in a dot, which Windows drops.
	namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)
	// reservedNames are device names that Windows will not use as a file
	// name, whatever the extension ("con.ps1" too).
	reservedNames = regexp.MustCompile(`^(con|prn|aux|nul|com[0-9]|lpt[0-9])$`)
	indexes       = regexp.MustCompile(`\[[^\]]*\]`)
)

const maxNameLen = 64

var structValidator = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Name fields as the file does, so that a FieldError's namespace reads
	// rawPolicy.hosts[1].name.
	v.RegisterTagNameFunc(yamlName)
	for tag, ok := range map[string]func(string) bool{
		"id":        func(s string) bool { return idPattern.MatchString(s) && len(s) <= maxNameLen },
		"group":     func(s string) bool { return groupNameProblem(s) == "" },
		"nocontrol": func(s string) bool { return !strings.ContainsFunc(s, unicode.IsControl) },
		// A site's name reaches its Windows rule group, which a GPO stores
		// among a rule's '|'-separated fields.
		"sitename": func(s string) bool { return !strings.ContainsFunc(s, unicode.IsControl) && !strings.Contains(s, "|") },
	} {
		if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return ok(fl.Field().String()) }); err != nil {
			panic(err) // only a programming error: a bad tag name
		}
	}
	return v
})

// groupNameProblem says what is wrong with a host group name, or "".
func groupNameProblem(s string) string {
	base, _, _ := strings.Cut(s, ".")
	switch {
	case !namePattern.MatchString(s):
		return fmt.Sprintf("%q is not a valid group name: use lower-case letters, digits, '.', '_' and '-', "+
			"starting and ending with a letter or digit (it names files and firewall groups)", s)
	case len(s) > maxNameLen:
		return fmt.Sprintf("longer than %d characters", maxNameLen)
	case reservedNames.MatchString(base):
		return fmt.Sprintf("%q is a device name that Windows does not allow as a file name", base)
	case s == SiteFiles:
		return fmt.Sprintf("%q is reserved: generate -o writes the whole site's files as %s.<ext>; rename the group", s, s)
	}
	return ""
}

// SiteFiles is the base name of the files that generate -o writes for a
// whole site (site.csv), which no host group may take.
const SiteFiles = "site"

// fieldMessages are the messages of validation tags that deserve more
// than the generic wording, by field (indexes left out) and tag.
var fieldMessages = map[string]string{
	"fwgen/required":            `missing: a policy starts with "fwgen: v1"`,
	"name/required":             "missing: name the site, e.g. name: contoso-hq",
	"hosts/required":            "missing: a policy needs at least one host group",
	"hosts/min":                 "empty: a policy needs at least one host group",
	"hosts.roles/required":      "missing: a host group needs at least one role",
	"hosts.roles/min":           "empty: a host group needs at least one role",
	"services.entries/required": "missing: a service needs at least one entry",
	"services.entries/min":      "empty: a service needs at least one entry",
	"roles.services/required":   "missing: a role needs at least one service",
	"roles.services/min":        "empty: a role needs at least one service",
}

// validate checks the validator tags of the raw policy.
func (l *loader) validate(raw *rawPolicy) {
	err := structValidator().Struct(raw)
	var fes validator.ValidationErrors
	if !errors.As(err, &fes) {
		if err != nil {
			l.add(&Error{File: l.file, Msg: err.Error()})
		}
		return
	}
	for _, fe := range fes {
		_, path, _ := strings.Cut(fe.Namespace(), ".")
		if fe.Tag() == "required" && (l.quiet[path] || l.quiet[parentPath(path)]) {
			continue
		}
		l.errorf(path, "%s", l.fieldMessage(fe, path))
	}
}

func (l *loader) fieldMessage(fe validator.FieldError, path string) string {
	if m, ok := fieldMessages[indexes.ReplaceAllString(path, "")+"/"+fe.Tag()]; ok {
		return m
	}
	isString := fe.Kind() == reflect.String
	switch fe.Tag() {
	case "required":
		if l.vals[path] != nil {
			return "empty"
		}
		return "missing"
	case "min":
		if fe.Kind() == reflect.Slice {
			return "empty"
		}
		return fmt.Sprintf("%v is below %s", fe.Value(), fe.Param())
	case "max":
		if isString {
			return fmt.Sprintf("longer than %s characters", fe.Param())
		}
		return fmt.Sprintf("%v is above %s", fe.Value(), fe.Param())
	case "oneof":
		valid := strings.Fields(fe.Param())
		return fmt.Sprintf("%q is not one of %s%s", fe.Value(), strings.Join(valid, ", "),
			didYouMean(fmt.Sprint(fe.Value()), valid))
	case "id":
		return fmt.Sprintf("%q is not a valid id: use lower-case letters, digits, '.' and '-', "+
			"starting with a letter or digit, at most %d characters", fe.Value(), maxNameLen)
	case "group":
		return groupNameProblem(fe.Value().(string))
	case "nocontrol":
		return "contains control characters (a newline, a tab, ...)"
	case "sitename":
		return "contains control characters or '|': the name becomes the Windows rule group, which a GPO stores among '|'-separated fields"
	}
	return fmt.Sprintf("fails the %q check", fe.Tag())
}

// errorf records a problem of the value at path, at its position, unless
// that value already has one.
func (l *loader) errorf(path, format string, args ...any) {
	l.addAt(path, l.vals, format, args...)
}

// keyErrorf records a problem of a mapping key (a network or peer class
// name), at the key's position.
func (l *loader) keyErrorf(path, format string, args ...any) {
	l.addAt(path, l.keys, format, args...)
}

func (l *loader) addAt(path string, nodes map[string]*yaml.Node, format string, args ...any) {
	for p := path; ; p = parentPath(p) {
		if l.bad[p] {
			return
		}
		if p == "" {
			break
		}
	}
	// Past maxStored only the count goes on: the problems are not shown,
	// and formatting them (with their suggestions) would cost time.
	if len(l.errs) >= maxStored {
		l.found++
		return
	}
	e := &Error{File: l.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	e.Line, e.Col = l.position(path, nodes)
	l.add(e)
}

// position finds the node of path in nodes, or else of the nearest parent
// that has one: a missing key is reported where its mapping is.
func (l *loader) position(path string, nodes map[string]*yaml.Node) (line, col int) {
	for p := path; ; p = parentPath(p) {
		n := nodes[p]
		if n == nil {
			n = l.vals[p]
		}
		if n != nil {
			return n.Line, n.Column
		}
		if p == "" {
			return 0, 0
		}
	}
}

// parentPath is hosts[1].roles for hosts[1].roles[0], hosts for hosts[1],
// and "" for a top-level key.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// line is the line of the value at path, for messages that name a second
// place; 0 when unknown.
func (l *loader) line(path string) int {
	line, _ := l.position(path, l.vals)
	return line
}
