package emit

// A reader of the netsh batch files: every line is either a comment, a
// netsh command whose arguments are read back by cmd's and the C runtime's
// rules, or one of the template's fixed lines in the template's order, so
// that a statement smuggled in by a name cannot pass unseen.

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
)

// remLine is a comment as cmdComment writes it.
var remLine = regexp.MustCompile(`^rem( [A-Za-z0-9 .,:;/()_+\-=#@'?*\[\]{}~$\\]*)?$`)

// netshKeys are the parameters of "netsh advfirewall firewall add rule"
// that the scripts may use.
var netshKeys = []string{"name", "dir", "action", "protocol", "localport", "localip", "remoteip", "profile", "description", "program", "service"}

// Kinds of netsh script lines that hold data; any other line must be one of
// the template's fixed lines.
const (
	lineRem    = "<rem>"
	lineDelete = "<delete>"
	lineAdd    = "<add>"
	lineSweep  = "<sweep>"
	lineCount  = "<count>"
)

// countLine is the message that closes a script: how many rules it added.
var countLine = regexp.MustCompile(`^echo fwgen: added ([0-9]+) rules\.$`)

// netshLineKind tells a data line's kind, or "" for a fixed line.
func netshLineKind(line string) string {
	switch {
	case line == "rem" || strings.HasPrefix(line, "rem "):
		return lineRem
	case strings.HasPrefix(line, "netsh advfirewall firewall delete rule "):
		return lineDelete
	case strings.HasPrefix(line, "netsh advfirewall firewall add rule "):
		return lineAdd
	case strings.HasPrefix(line, "for /f "):
		return lineSweep
	case countLine.MatchString(line):
		return lineCount
	}
	return ""
}

// netshShape is a script's outline: its fixed lines as they are, and each
// run of data lines of one kind as that kind.
func netshShape(lines []string) []string {
	var shape []string
	for _, line := range lines {
		kind := netshLineKind(line)
		switch {
		case kind == "":
			shape = append(shape, line)
		case len(shape) == 0 || shape[len(shape)-1] != kind:
			shape = append(shape, kind)
		}
	}
	return shape
}

// netshTemplateShape is the outline of templates/netsh.tmpl: the template
// rendered with one line of each kind of data.
func netshTemplateShape() ([]string, error) {
	var buf bytes.Buffer
	data := netshScript{Header: []string{"header"}, Names: []string{`"name"`}, Add: slices.Values([]string{"name=x"}), Count: 1}
	if err := render(&buf, "netsh.tmpl", data); err != nil {
		return nil, err
	}
	return netshShape(strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")), nil
}

// netshRead is a netsh script read back.
type netshRead struct {
	Adds    []parsedRule // the rules it adds
	Deletes []string     // the names it deletes one by one
	Sweeps  []*cmdFor    // the loops that delete rules found in netsh's list
}

// netshRules reads a netsh script: it checks that the script has the
// template's outline and that each comment is one cmd cannot run, and
// reads every other line that is not the template's.
func netshRules(script string) (*netshRead, error) {
	lines := strings.Split(strings.TrimSuffix(script, "\r\n"), "\r\n")
	want, err := netshTemplateShape()
	if err != nil {
		return nil, err
	}
	if diff := cmp.Diff(want, netshShape(lines)); diff != "" {
		return nil, fmt.Errorf("the script's lines differ from the template's (-want +got):\n%s", diff)
	}
	read := &netshRead{}
	for i, line := range lines {
		if err := read.line(line); err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
	}
	return read, nil
}

// line reads one line of a script.
func (read *netshRead) line(line string) error {
	switch netshLineKind(line) {
	case lineRem:
		if !remLine.MatchString(line) {
			return fmt.Errorf("comment %q has characters cmd reads", line)
		}
	case lineDelete:
		name, err := netshDelete(line)
		if err != nil {
			return err
		}
		read.Deletes = append(read.Deletes, name)
	case lineAdd:
		r, err := netshAddLine(line)
		if err != nil {
			return err
		}
		read.Adds = append(read.Adds, r)
	case lineSweep:
		f, rest, err := parseCmdFor(line)
		if err != nil || rest != ">nul 2>&1" {
			return fmt.Errorf("loop %q: %v, rest %q; want a quiet loop", line, err, rest)
		}
		read.Sweeps = append(read.Sweeps, f)
	case lineCount:
		if n := countLine.FindStringSubmatch(line)[1]; n != strconv.Itoa(len(read.Adds)) {
			return fmt.Errorf("says %s rules, the script adds %d", n, len(read.Adds))
		}
	}
	return nil
}

// sweep runs a script's loops over list, netsh's list of all rules, and
// returns the names they delete.
func (read *netshRead) sweep(list []string) ([]string, error) {
	var names []string
	for _, f := range read.Sweeps {
		runs, err := f.run(netshListing(list), map[byte]string{})
		if err != nil {
			return nil, err
		}
		for _, args := range runs {
			if len(args) != 6 || strings.Join(args[:5], " ") != "netsh advfirewall firewall delete rule" ||
				!strings.HasPrefix(args[5], "name=") {
				return nil, fmt.Errorf("a loop runs %q, want netsh advfirewall firewall delete rule name=", args)
			}
			names = append(names, strings.TrimPrefix(args[5], "name="))
		}
	}
	return names, nil
}

// netshDelete reads a "delete rule name=..." line and returns the name.
func netshDelete(line string) (string, error) {
	args, rest, err := cmdArgs(line)
	if err != nil {
		return "", err
	}
	if rest != ">nul 2>&1" || len(args) != 6 || strings.Join(args[:5], " ") != "netsh advfirewall firewall delete rule" ||
		!strings.HasPrefix(args[5], "name=") {
		return "", fmt.Errorf("want delete rule name= alone, quiet, got %q ... %q", args, rest)
	}
	return strings.TrimPrefix(args[5], "name="), nil
}

// netshAddLine reads an "add rule" line that stops the script on failure.
func netshAddLine(line string) (parsedRule, error) {
	args, rest, err := cmdArgs(line)
	if err != nil {
		return parsedRule{}, err
	}
	if rest != "|| goto :fail" || len(args) < 5 || strings.Join(args[:5], " ") != "netsh advfirewall firewall add rule" {
		return parsedRule{}, fmt.Errorf("want add rule ... || goto :fail, got %q ... %q", args, rest)
	}
	return netshRule(args[5:])
}

func netshRule(args []string) (parsedRule, error) {
	var r parsedRule
	seen := map[string]bool{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || !slices.Contains(netshKeys, k) || seen[k] {
			return r, fmt.Errorf("unknown or repeated parameter %q", a)
		}
		seen[k] = true
		switch k {
		case "name":
			r.Name = v
		case "description":
			r.Description = v
		case "protocol":
			proto, icmp, _ := strings.Cut(v, ":")
			r.Proto = protoOf(proto)
			r.ICMPType, _, _ = strings.Cut(icmp, ",")
		case "localport":
			r.Ports = strings.Split(v, ",")
		case "remoteip":
			r.Sources = strings.Split(v, ",")
		case "localip":
			r.Locals = strings.Split(v, ",")
		case "profile":
			r.Profiles = strings.Split(v, ",")
		case "program":
			r.Program = v
		case "service":
			r.Service = v
		case "dir", "action":
			if want := map[string]string{"dir": "in", "action": "allow"}[k]; v != want {
				return r, fmt.Errorf("%s=%s, want %s", k, v, want)
			}
		}
	}
	for _, k := range []string{"name", "dir", "action", "protocol", "profile", "description"} {
		if !seen[k] {
			return r, fmt.Errorf("no %s=", k)
		}
	}
	return r, nil
}
