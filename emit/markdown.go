package emit

import (
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

var (
	_ = register(Format{Name: "markdown", Ext: "md", Emitter: EmitFunc(emitMarkdown),
		Description: "a review document: a Mermaid diagram of the flows, then per host group a table of what it accepts and why"})
	_ = register(Format{Name: "dot", Ext: "dot", Emitter: EmitFunc(emitDOT),
		Description: "the flow diagram of the Markdown review, for Graphviz (dot -Tsvg)"})
)

// mdData is what templates/markdown.tmpl lays out; every string is
// already Markdown (mdText, mdCell).
type mdData struct {
	Title, Source string
	Diagram       string // Mermaid; "" when Mermaid would not draw it
	NoDiagram     string // why there is none
	Groups        []mdGroup
	Sets          []mdSet // the source sets named by their size above
}

// mdSet is a source set that the review names rather than lists, listed
// once at the end.
type mdSet struct{ Name, Prefixes string }

type mdGroup struct {
	Name, Summary string
	Lines         []string // facts: servers, RPC range, notes
	Rows          []mdRow
	LeftOut       []string
}

type mdRow struct {
	Proto, Ports, From, Services, Why, Refs string
}

func emitMarkdown(w io.Writer, rs *policies.Ruleset, _ Options) error {
	labels := newSourceLabels(rs)
	d := mdData{Title: mdText(rs.Policy), Source: mdText(rs.Source)}
	if g := rulesetGraph(rs, labels); g.MermaidFits(g.Mermaid()) {
		d.Diagram = g.Mermaid()
	} else {
		d.NoDiagram = fmt.Sprintf("%d flows: too many to draw (Mermaid draws at most %d edges and 50,000 characters); "+
			"fwgen generate --emit dot draws them with Graphviz, and the tables below list them.", len(g.Edges), maxMermaidEdges)
	}
	for i := range rs.Groups {
		g := &rs.Groups[i]
		if g.SharedWith != "" {
			continue
		}
		d.Groups = append(d.Groups, mdGroupOf(rs, g, labels))
	}
	for _, set := range labels.named() {
		d.Sets = append(d.Sets, mdSet{Name: mdText(set.Label()), Prefixes: mdText(strings.ReplaceAll(set.String(), ",", ", "))})
	}
	return render(w, "markdown.tmpl", d)
}

func mdGroupOf(rs *policies.Ruleset, g *policies.Group, labels *sourceLabels) mdGroup {
	mg := mdGroup{Name: mdText(g.Name), Summary: mdText("roles " + strings.Join(g.Roles, ", ") + "; " + osNameList(g.OS))}
	servers := "any address of the host"
	if len(g.Addresses) > 0 {
		servers = policies.SourcesKey(g.Addresses)
	}
	mg.Lines = append(mg.Lines, mdText("Servers: "+servers+"."), mdText("RPC dynamic range "+PortList(g.RPC.Ranges)+": "+g.RPC.Reason+"."))
	for _, s := range g.RPC.Static {
		mg.Lines = append(mg.Lines, mdText("Static RPC port: "+s.Interface+" on "+strconv.Itoa(int(s.Port))+"."))
	}
	for _, n := range g.Notes {
		mg.Lines = append(mg.Lines, mdText("Note: "+n))
	}
	for _, r := range g.ByService() {
		ports := PortList(r.Ports)
		if r.ICMPType != nil {
			ports = "type " + strconv.Itoa(*r.ICMPType)
		}
		why := append([]string{}, r.OSReasons...)
		for _, s := range r.Scenarios {
			why = append(why, "scenario "+s)
		}
		refs := make([]string, len(r.Refs))
		for i, ref := range r.Refs {
			refs[i] = mdLink(ref)
		}
		mg.Rows = append(mg.Rows, mdRow{Proto: mdCell(string(r.Proto)), Ports: mdCell(ports),
			From:     mdCell(labels.label(r.Set, r.Sources) + " (" + peerWords(r.Peers, ", ") + ")"),
			Services: mdCell(r.Role + " / " + r.ServiceName), Why: mdCell(strings.Join(why, "; ")), Refs: strings.Join(refs, "<br>")})
	}
	for _, o := range g.Omitted {
		mg.LeftOut = append(mg.LeftOut, mdText(g.OmissionText(o)))
	}
	for _, l := range scenarioLines(g) {
		mg.LeftOut = append(mg.LeftOut, mdText(l))
	}
	return mg
}

func emitDOT(w io.Writer, rs *policies.Ruleset, _ Options) error {
	_, err := io.WriteString(w, rulesetGraph(rs, newSourceLabels(rs)).DOT("fwgen: "+rs.Policy))
	return err
}

// maxSourceLabel is the longest a review names a rule's sources as the
// policy does (SourceName: networks, host groups, or the prefixes); past
// it, the review names their source set and its size, and lists the set
// once, so that a role's thousand members do not fill every row.
const maxSourceLabel = 160

// sourceLabels names the sources of a review's rules, and keeps the sets
// it named by their size.
type sourceLabels struct {
	rs    *policies.Ruleset
	sized map[*policies.SourceSet]bool
}

func newSourceLabels(rs *policies.Ruleset) *sourceLabels {
	return &sourceLabels{rs: rs, sized: map[*policies.SourceSet]bool{}}
}

// label names sources, whose source set is set (nil for any address, or
// in a Ruleset built by hand): as SourceName does when that is at most
// maxSourceLabel bytes, or when there is no set; else by the set's name
// and size ("members of role dc (1,000 prefixes)"), and the set is listed.
func (l *sourceLabels) label(set *policies.SourceSet, sources []netip.Prefix) string {
	name := l.rs.SourceName(sources)
	if len(name) <= maxSourceLabel || set == nil || len(set.Prefixes) != len(sources) {
		return name
	}
	l.sized[set] = true
	return set.Label()
}

// named are the sets that label named by their size, by name.
func (l *sourceLabels) named() []*policies.SourceSet {
	out := slices.Collect(maps.Keys(l.sized))
	slices.SortFunc(out, func(a, b *policies.SourceSet) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// MarkdownText makes s one line of Markdown text that shows as written:
// the characters Markdown or HTML would read as markup (emphasis, links,
// table cells, HTML tags and entities, GitHub's $math$) are escaped with a
// backslash.
func MarkdownText(s string) string { return mdText(s) }

func mdText(s string) string {
	if printableASCII(s) && !strings.ContainsAny(s, mdSpecial) {
		return s
	}
	var b strings.Builder
	for _, r := range oneLine(s) {
		if strings.ContainsRune(mdSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdSpecial are the characters mdText escapes.
const mdSpecial = "\\`*_[]<>|#!~&$"

// mdCell is mdText for a table cell, "-" when empty.
func mdCell(s string) string {
	if s == "" {
		return "-"
	}
	return mdText(s)
}

// mdLink is a citation as a Markdown link when it has an https address.
func mdLink(r policies.Ref) string {
	if strings.HasPrefix(r.URL, "https://") && !strings.ContainsAny(r.URL, "()<> \"") {
		return "[" + mdText(r.String()) + "](" + r.URL + ")"
	}
	return mdText(r.String())
}
