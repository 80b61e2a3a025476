package emit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

// Graph is the flows of a site as a picture: the sources and the host
// groups as nodes, an edge per set of sources a group accepts, labelled
// with what it accepts and for which services. Markdown draws it with
// Mermaid and dot with Graphviz.
type Graph struct {
	Nodes []GraphNode
	Edges []GraphEdge
}

// GraphNode is a set of sources or a host group.
type GraphNode struct {
	ID    string // n1, g1: safe in Mermaid and DOT
	Label string
	Group bool // a host group; else a set of sources
	Any   bool // the source "any address"
}

// GraphEdge is the traffic a group accepts from a set of sources.
type GraphEdge struct {
	From, To string
	Label    string
	// Mark is "" for an ordinary edge, "open" for one from any address,
	// "added" or "removed" in a diff.
	Mark string
}

// graphBuilder gives each node an id, once.
type graphBuilder struct {
	g   Graph
	ids map[string]string
}

func newGraphBuilder() *graphBuilder { return &graphBuilder{ids: map[string]string{}} }

// Node returns the id of the node for a label, adding it the first time.
func (b *graphBuilder) node(label string, group bool) string {
	k := fmt.Sprintf("%v|%s", group, label)
	if id, ok := b.ids[k]; ok {
		return id
	}
	prefix := "n"
	if group {
		prefix = "g"
	}
	id := fmt.Sprintf("%s%d", prefix, len(b.ids)+1)
	b.ids[k] = id
	b.g.Nodes = append(b.g.Nodes, GraphNode{ID: id, Label: label, Group: group, Any: !group && label == "any address"})
	return id
}

// source returns the id of the node a set of sources starts from: the
// host group's own node when the sources are exactly one group's servers
// ("host group dcs"), so that traffic between groups is drawn between
// them; else a node of the sources.
func (b *graphBuilder) source(label string) string {
	if name, ok := strings.CutPrefix(label, "host group "); ok && !strings.Contains(name, " ") {
		return b.node(name, true)
	}
	return b.node(label, false)
}

// clipList shortens a list joined by sep to at most n bytes, cutting
// between items and saying how many it left out: "53, 88 and 3 more".
func clipList(items []string, sep string, n int) string {
	for k := len(items); k > 0; k-- {
		s := strings.Join(items[:k], sep)
		if k < len(items) {
			s += fmt.Sprintf(" and %d more", len(items)-k)
		}
		if len(s) <= n || k == 1 {
			return s
		}
	}
	return ""
}

// rulesetGraph draws a Ruleset: an edge from each set of sources to each
// host group that accepts it, labelled with the protocols and ports and
// the services, and marked "open" from any address. labels names the
// sources.
func rulesetGraph(rs *policies.Ruleset, labels *sourceLabels) Graph {
	b := newGraphBuilder()
	for i := range rs.Groups {
		g := &rs.Groups[i]
		if g.SharedWith != "" {
			continue
		}
		to := b.node(g.Name, true)
		for _, e := range groupEdges(g, labels) {
			e.From, e.To = b.source(e.From), to
			b.g.Edges = append(b.g.Edges, e)
		}
	}
	return b.g
}

// NewDiffGraph returns a builder for the graph of a diff: its edges are
// added flows and removed ones.
func NewDiffGraph() *DiffGraph { return &DiffGraph{b: newGraphBuilder()} }

// DiffGraph collects the edges of a diff.
type DiffGraph struct{ b *graphBuilder }

// Edge adds the traffic from a set of sources to a host group, marked
// "added", "removed" or "changed".
func (d *DiffGraph) Edge(from, group, label, mark string) {
	d.b.g.Edges = append(d.b.g.Edges, GraphEdge{From: d.b.source(from), To: d.b.node(group, true), Label: label, Mark: mark})
}

// Graph returns the graph.
func (d *DiffGraph) Graph() Graph { return d.b.g }

// groupEdges are a group's edges, one per set of sources, From set to the
// sources' node id.
func groupEdges(g *policies.Group, labels *sourceLabels) []GraphEdge {
	type acc struct {
		what, services []string
	}
	bySrc := map[string]*acc{}
	var order []string
	for _, r := range g.ByScope() {
		from := labels.label(r.Set, r.Sources)
		a, ok := bySrc[from]
		if !ok {
			a = &acc{}
			bySrc[from] = a
			order = append(order, from)
		}
		a.what = append(a.what, ruleText(r))
		for _, s := range r.Services {
			if !slices.Contains(a.services, s) {
				a.services = append(a.services, s)
			}
		}
	}
	slices.Sort(order)
	var out []GraphEdge
	for _, from := range order {
		a := bySrc[from]
		slices.Sort(a.services)
		e := GraphEdge{From: from, Label: clipList(a.what, "; ", 100) + ": " + clipList(a.services, ", ", 100)}
		if from == "any address" {
			e.Mark = "open"
		}
		out = append(out, e)
	}
	return out
}

// ruleText is "tcp 53,88" or "icmpv6 type 128".
func ruleText(r policies.ScopeRule) string {
	switch {
	case r.Proto.HasPorts():
		return string(r.Proto) + " " + PortList(r.Ports)
	case r.ICMPType != nil:
		return fmt.Sprintf("%s type %d", r.Proto, *r.ICMPType)
	}
	return string(r.Proto)
}

// Mermaid's limits on a diagram, its defaults maxTextSize (50,000
// characters) and maxEdges (500), which GitHub keeps: fwgen's text stays
// well under the first.
const (
	maxMermaidText  = 45000
	maxMermaidEdges = 500
)

// MermaidFits reports whether Mermaid draws the graph, whose Mermaid text
// is text: at most 500 edges and 45,000 characters.
func (g Graph) MermaidFits(text string) bool {
	return len(g.Edges) <= maxMermaidEdges && len(text) <= maxMermaidText
}

// Mermaid writes the graph as a Mermaid flowchart, left to right. Edges
// from any address are dashed and red; in a diff, added edges are thick
// and green, removed ones dashed and grey, changed ones orange.
func (g Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range g.Nodes {
		if n.Group {
			fmt.Fprintf(&b, "  %s[[\"%s\"]]\n", n.ID, mermaidText(n.Label))
		} else {
			fmt.Fprintf(&b, "  %s([\"%s\"])\n", n.ID, mermaidText(n.Label))
		}
	}
	var styles []string
	for i, e := range g.Edges {
		arrow := "-->"
		switch e.Mark {
		case "open", "removed":
			arrow = "-.->"
		case "added":
			arrow = "==>"
		}
		label := e.Label
		if sign := map[string]string{"added": "+ ", "removed": "- ", "changed": "~ "}[e.Mark]; sign != "" {
			label = sign + label
		}
		fmt.Fprintf(&b, "  %s %s|\"%s\"| %s\n", e.From, arrow, mermaidText(label), e.To)
		if color := map[string]string{"open": "#c00", "added": "#080", "removed": "#888", "changed": "#d80"}[e.Mark]; color != "" {
			styles = append(styles, fmt.Sprintf("  linkStyle %d stroke:%s,color:%s", i, color, color))
		}
	}
	for _, n := range g.Nodes {
		if n.Any {
			styles = append(styles, fmt.Sprintf("  style %s stroke:#c00,color:#c00", n.ID))
		}
	}
	for _, s := range styles {
		b.WriteString(s + "\n")
	}
	return b.String()
}

// mermaidText makes s safe inside a quoted Mermaid label: one line, no
// quotes or markup characters, which become Mermaid's entity codes.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch r {
		case '"':
			b.WriteString("#quot;")
		case '#':
			b.WriteString("#35;")
		case '<':
			b.WriteString("#lt;")
		case '>':
			b.WriteString("#gt;")
		case '&':
			b.WriteString("#amp;")
		case '|':
			b.WriteString("#124;")
		case '`':
			b.WriteString("#96;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// DOT writes the graph for Graphviz, left to right, with the same marks
// as Mermaid.
func (g Graph) DOT(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n", dotString(name))
	for _, n := range g.Nodes {
		attrs := "shape=ellipse"
		switch {
		case n.Group:
			attrs = "shape=box, style=bold"
		case n.Any:
			attrs = "shape=ellipse, color=\"#cc0000\", fontcolor=\"#cc0000\""
		}
		fmt.Fprintf(&b, "  %s [label=%s, %s];\n", n.ID, dotString(n.Label), attrs)
	}
	for _, e := range g.Edges {
		attrs := ""
		switch e.Mark {
		case "open":
			attrs = ", style=dashed, color=\"#cc0000\""
		case "added":
			attrs = ", penwidth=2, color=\"#008800\""
		case "removed":
			attrs = ", style=dashed, color=\"#888888\""
		case "changed":
			attrs = ", color=\"#dd8800\""
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s%s];\n", e.From, e.To, dotString(e.Label), attrs)
	}
	b.WriteString("}\n")
	return b.String()
}

// dotString quotes s as a DOT string: one line, backslashes and quotes
// escaped.
func dotString(s string) string {
	s = strings.ReplaceAll(oneLine(s), `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
