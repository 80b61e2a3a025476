// Package emit turns a Ruleset into the text of a firewall format. Emitters
// are pure: they read only the Ruleset and their Options, and the same input
// gives the same bytes.
package emit

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/template"

	"github.com/fwgen/fwgen/policies"
	"github.com/fwgen/fwgen/templates"
)

// Options are the settings of a format that are not part of the Ruleset.
type Options struct {
	// Group names the Windows Firewall rule group (PowerShell) or rule
	// name prefix (netsh); empty means "fwgen: <policy>".
	Group string
	// RPCKeywords uses Windows Firewall's RPCEPMap and RPC keywords for
	// 135/tcp and the RPC range (PowerShell, netsh).
	RPCKeywords bool
	// Chain is "input" (host firewall) or "forward" (a router in front of
	// the servers) for nftables and iptables.
	Chain string
	// Table names the nftables table; the iptables chains are named after
	// it (fwgen: FWGEN-INPUT, FWGEN-FORWARD).
	Table string
	// DefaultDeny drops what is not allowed, keeping established traffic,
	// loopback and essential ICMP open.
	DefaultDeny bool
	// NoBind writes Windows rules that admit their ports whatever program
	// listens (--bind none); by default each rule is bound to the program
	// and Windows service that listen, as Windows' predefined rules are
	// (PowerShell -Program/-Service, netsh program=/service=).
	NoBind bool
	// SiteFile marks one host group's file of a site (generate -o), which
	// is loaded beside the other groups' files. Under DefaultDeny on the
	// input chain it then drops only what is sent to its own group's
	// servers, as on the forward chain, so that the files add up: a drop
	// in any table is final.
	SiteFile bool
}

// scopedDeny reports whether DefaultDeny drops only the traffic to each
// group's servers: always on the forward chain; on the input chain in a
// site file whose groups all have addresses.
func scopedDeny(rs *policies.Ruleset, opts Options, chain string) bool {
	if chain == chainForward {
		return true
	}
	if !opts.SiteFile {
		return false
	}
	for _, g := range rs.Groups {
		if len(g.Addresses) == 0 {
			return false
		}
	}
	return true
}

// Emitter writes a Ruleset in one format.
type Emitter interface {
	Emit(w io.Writer, rs *policies.Ruleset, opts Options) error
}

// Format describes an output format.
type Format struct {
	Name        string // as given to --emit
	Ext         string // file name extension, without the dot
	Description string
	// MinBuild is the oldest Windows build that can run the output, 0 when
	// the output does not run on Windows; MinOS names that release and
	// Instead names a format for older hosts.
	MinBuild int
	MinOS    string
	Instead  string
	// Netfilter marks the Linux packet filter formats, whose --default-deny
	// drops in each file: a site's file of one host group also holds the
	// rules of the groups that share its servers (policies.Ruleset.ForGroup).
	Netfilter bool
	// Emitter writes the format; Bundler, for a format that writes a tree
	// of files for the whole site (capirca, aerleon), is set instead.
	Emitter Emitter
	Bundler Bundler
}

var formats []Format

// register adds a format; emitters call it from a package-level var so that
// the table is complete before main runs.
func register(f Format) bool {
	formats = append(formats, f)
	return true
}

// Formats lists the output formats, sorted by name.
func Formats() []Format {
	out := slices.Clone(formats)
	slices.SortFunc(out, func(a, b Format) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Names lists the names of the output formats, sorted.
func Names() []string {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name)
	}
	return names
}

// Lookup returns the format with the given name.
func Lookup(name string) (Format, error) {
	for _, f := range formats {
		if f.Name == strings.ToLower(name) {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("unknown format %q%s; valid formats: %s",
		name, didYouMean(strings.ToLower(name), Names()), strings.Join(Names(), ", "))
}

// EmitFunc adapts a function to the Emitter interface.
type EmitFunc func(w io.Writer, rs *policies.Ruleset, opts Options) error

// Emit calls f.
func (f EmitFunc) Emit(w io.Writer, rs *policies.Ruleset, opts Options) error { return f(w, rs, opts) }

// render executes the named template of the templates package into w,
// through a buffered writer. A failed render may have written part of the
// output: the command writes each output to memory or to a staging file
// first, and drops it on error.
func render(w io.Writer, name string, data any) error {
	t, err := parsed(name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := t.Execute(bw, data); err != nil {
		return err
	}
	return bw.Flush()
}

// templateCache holds each template of the templates package, parsed on
// first use: a site renders one per host group and format, on every core
// (a parsed template executes concurrently).
var templateCache struct {
	sync.Mutex
	byName map[string]*template.Template
}

func parsed(name string) (*template.Template, error) {
	templateCache.Lock()
	defer templateCache.Unlock()
	if t, ok := templateCache.byName[name]; ok {
		return t, nil
	}
	t, err := template.New(name).ParseFS(templates.FS, name)
	if err != nil {
		return nil, err
	}
	if templateCache.byName == nil {
		templateCache.byName = map[string]*template.Template{}
	}
	templateCache.byName[name] = t
	return t, nil
}

// PortList formats merged ranges as "53,88,3268-3269".
func PortList(rs []policies.PortRange) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

// GroupName is the rule group of a Ruleset: the --group option, or
// "fwgen: <policy name>".
func GroupName(rs *policies.Ruleset, opts Options) string {
	if opts.Group != "" {
		return opts.Group
	}
	return "fwgen: " + rs.Policy
}

func didYouMean(s string, names []string) string {
	if m := policies.Suggest(s, names); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}
