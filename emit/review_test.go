package emit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
	"github.com/fwgen/fwgen/policies/synth"
)

// examplesDir holds the example site policies.
var examplesDir = filepath.Join("..", "policies", "examples")

// exampleRulesets resolves every example policy, by file base name.
func exampleRulesets(t *testing.T) map[string]*policies.Ruleset {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", examplesDir, err)
	}
	out := map[string]*policies.Ruleset{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = resolvePolicy(t, filepath.Base(f), data)
	}
	return out
}

// resolvePolicy loads and resolves a site policy with the catalog.
func resolvePolicy(t *testing.T, name string, data []byte) *policies.Ruleset {
	t.Helper()
	p, err := policies.Load(name, data, catalog.Default())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	rs, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rs
}

// TestReviewGolden keeps the Markdown review and the DOT graph of every
// example.
func TestReviewGolden(t *testing.T) {
	for name, rs := range exampleRulesets(t) {
		checkGolden(t, filepath.Join("..", "testdata", "markdown", name+".md"), emitString(t, "markdown", rs, Options{}))
		checkGolden(t, filepath.Join("..", "testdata", "dot", name+".dot"), emitString(t, "dot", rs, Options{}))
	}
}

// needTool returns the path of a checker the tests run, or skips the test
// when it is missing; with CI=true it fails instead.
func needTool(t *testing.T, path, install string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err != nil {
		msg := fmt.Sprintf("%s not available (%v); %s", path, err, install)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// mmdc is mermaid-cli, installed by npm ci in .ci/mermaid, which draws a
// diagram in headless Chromium; puppeteer.json points it at the system's
// chromium.
func mmdc(t *testing.T) (bin string, args []string) {
	dir, err := filepath.Abs(filepath.Join("..", ".ci", "mermaid"))
	if err != nil {
		t.Fatal(err)
	}
	bin = needTool(t, filepath.Join(dir, "node_modules", ".bin", "mmdc"),
		"install Node.js and chromium, then: cd .ci/mermaid && PUPPETEER_SKIP_DOWNLOAD=true npm ci")
	needTool(t, "chromium", "install Debian's chromium")
	return bin, []string{"-p", filepath.Join(dir, "puppeteer.json"), "-q"}
}

// renderMermaid draws every Mermaid block of a Markdown file with
// mermaid-cli and returns the SVG of the first.
func renderMermaid(t *testing.T, markdown []byte) ([]byte, error) {
	bin, args := mmdc(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "review.md"), filepath.Join(dir, "out.md")
	if err := os.WriteFile(in, markdown, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(args, "-i", in, "-o", out, "-e", "svg")...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, msg)
	}
	return os.ReadFile(filepath.Join(dir, "out-1.svg"))
}

// renderDOT draws a DOT graph with Graphviz.
func renderDOT(t *testing.T, dot []byte) ([]byte, error) {
	bin := needTool(t, "dot", "install Debian's graphviz")
	cmd := exec.Command(bin, "-Tsvg")
	cmd.Stdin = bytes.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil && stderr.Len() > 0 {
		err = fmt.Errorf("warnings: %s", stderr.String())
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return out, nil
}

// TestReviewDiagramsDraw draws the diagram of every example's Markdown
// review in headless Chromium (mermaid-cli) and its DOT with Graphviz; the
// drawings name every host group.
func TestReviewDiagramsDraw(t *testing.T) {
	for name, rs := range exampleRulesets(t) {
		t.Run(name, func(t *testing.T) {
			svg, err := renderMermaid(t, emitString(t, "markdown", rs, Options{}))
			if err != nil {
				t.Fatalf("mermaid: %v", err)
			}
			dot, err := renderDOT(t, emitString(t, "dot", rs, Options{}))
			if err != nil {
				t.Fatalf("dot: %v", err)
			}
			for _, g := range rs.Groups {
				// Graphviz writes '-' as &#45; in SVG text.
				dotName := strings.ReplaceAll(g.Name, "-", "&#45;")
				if !bytes.Contains(svg, []byte(g.Name)) || !bytes.Contains(dot, []byte(dotName)) {
					t.Errorf("host group %s is not in the drawings", g.Name)
				}
			}
		})
	}
}

// TestReviewDiagramCheckCatches shows that the drawing checks fail on a
// broken diagram: an unclosed node in Mermaid, an unclosed graph in DOT.
func TestReviewDiagramCheckCatches(t *testing.T) {
	if _, err := renderMermaid(t, []byte("```mermaid\nflowchart LR\n  a[[\"x\" --> b\n```\n")); err == nil {
		t.Error("mermaid-cli drew a broken diagram")
	}
	if _, err := renderDOT(t, []byte("digraph g {\n  a -> \n")); err == nil {
		t.Error("dot drew a broken graph")
	}
}

// hostileGraph is a graph whose every label is hostile.
func hostileGraph() Graph {
	b := newGraphBuilder()
	for i, s := range hostile {
		from := b.node(s, false)
		to := b.node(fmt.Sprintf("group %d %s", i, s), true)
		b.g.Edges = append(b.g.Edges, GraphEdge{From: from, To: to, Label: s, Mark: []string{"", "open", "added", "removed", "changed"}[i%5]})
	}
	return b.g
}

// TestReviewHostileLabels: labels with quotes, backticks, markup, line
// breaks and the languages' own delimiters reach Mermaid and DOT only
// through their quoting, so that the diagrams still draw, as the labels
// said, and Markdown text stays text.
func TestReviewHostileLabels(t *testing.T) {
	g := hostileGraph()
	mermaid := g.Mermaid()
	for _, line := range strings.Split(strings.TrimSpace(mermaid), "\n") {
		// Every label is one quoted string with no quote inside.
		if strings.Count(line, `"`)%2 != 0 || strings.Contains(line, "`") {
			t.Errorf("mermaid line not quoted whole: %q", line)
		}
	}
	svg, err := renderMermaid(t, []byte("```mermaid\n"+mermaid+"```\n"))
	if err != nil {
		t.Fatalf("mermaid: %v\n%s", err, mermaid)
	}
	if !bytes.Contains(svg, []byte("Remove-Item C:")) || !bytes.Contains(svg, []byte("here-string")) {
		t.Errorf("the hostile labels do not show in the drawing")
	}
	dot := g.DOT(hostile[0])
	if _, err := renderDOT(t, []byte(dot)); err != nil {
		t.Fatalf("dot: %v\n%s", err, dot)
	}
	markup := regexp.MustCompile("(^|[^\\\\])[`*_\\[\\]<>|#!~&$]")
	for _, s := range hostile {
		if got := mdText(s); markup.MatchString(got) || strings.ContainsAny(got, "\r\n") {
			t.Errorf("mdText(%q) = %q: markup left unescaped", s, got)
		}
	}
}

// TestReviewNamesLargeSets reviews a synthetic site of 100 host groups,
// whose rules admit a role's members: a row names such sources by their
// set and its size rather than listing them, the set's prefixes are
// listed once at the end, every set so named is listed, and the diagram
// still draws.
func TestReviewNamesLargeSets(t *testing.T) {
	rs := resolvePolicy(t, "synthetic.yaml", synth.Site(100))
	review := string(emitString(t, "markdown", rs, Options{}))
	checkSizedSets(t, rs, review)
	if _, err := renderMermaid(t, []byte(review)); err != nil {
		t.Errorf("mermaid: %v", err)
	}
	if _, err := renderDOT(t, emitString(t, "dot", rs, Options{})); err != nil {
		t.Errorf("dot: %v", err)
	}
}

// checkSizedSets checks a review's rows and its list of source sets.
func checkSizedSets(t *testing.T, rs *policies.Ruleset, review string) {
	t.Helper()
	byLabel := map[string]*policies.SourceSet{} // the sets of the rules of the views
	for i := range rs.Groups {
		for _, r := range rs.Groups[i].ByService() {
			byLabel[r.Set.Label()] = r.Set
		}
		for _, r := range rs.Groups[i].ByScope() {
			byLabel[r.Set.Label()] = r.Set
		}
	}
	listed := map[string]bool{}
	_, sets, ok := strings.Cut(review, "\n## Source sets\n")
	if !ok {
		t.Fatal("no list of source sets")
	}
	for _, line := range strings.Split(sets, "\n") {
		item, ok := strings.CutPrefix(line, "- ")
		if !ok {
			continue
		}
		label, prefixes, _ := strings.Cut(item, ": ")
		if listed[label] {
			t.Errorf("%s: listed twice", label)
		}
		listed[label] = true
		if s := byLabel[label]; s == nil {
			t.Errorf("%s: no such set", label)
		} else if want := strings.ReplaceAll(s.String(), ",", ", "); prefixes != want {
			t.Errorf("%s: lists %.80s..., want %.80s...", label, prefixes, want)
		}
	}
	sized := regexp.MustCompile(`^[^|(]+\([\d,]+ prefixes\)`)
	rows := 0
	for _, line := range strings.Split(review, "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) < 3 || cells[2] == "From" {
			continue
		}
		rows++
		switch m := sized.FindString(cells[2]); {
		case m != "" && !listed[m]:
			t.Errorf("row %.60s...: names %q, which the review does not list", line, m)
		case m == "" && len(cells[2]) > maxSourceLabel+40:
			t.Errorf("row %.60s...: its sources take %d characters", line, len(cells[2]))
		}
	}
	if rows == 0 || len(listed) == 0 {
		t.Errorf("%d rows, %d sets listed; want a review that names sets by their size", rows, len(listed))
	}
}

// TestReviewLongNames reviews groups whose clients are twelve networks
// with long names: the rows name the networks' set, which the review
// lists, and the diagram draws.
func TestReviewLongNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("fwgen: v1\nname: longnames\nos: [\"2016\"]\nnetworks:\n")
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("client-network-with-a-long-name-%02d", i))
		fmt.Fprintf(&b, "  %s: [10.%d.0.0/16, 10.%d.0.0/16]\n", names[i], i, i+100)
	}
	b.WriteString("hosts:\n")
	for g := range 3 {
		fmt.Fprintf(&b, "  - {name: dc%d, roles: [dc], addresses: [10.200.%d.1], peers: {clients: [%s]}}\n", g, g, strings.Join(names, ", "))
	}
	rs := resolvePolicy(t, "longnames.yaml", []byte(b.String()))
	review := string(emitString(t, "markdown", rs, Options{}))
	checkSizedSets(t, rs, review)
	if !strings.Contains(review, names[11]) {
		t.Errorf("the review does not name %s", names[11])
	}
	if _, err := renderMermaid(t, []byte(review)); err != nil {
		t.Errorf("mermaid: %v", err)
	}
}

// TestReviewTooManyFlows reviews a synthetic site of 300 host groups,
// whose 660 flows are more edges than Mermaid draws: the review says so
// instead of a diagram, and the DOT graph still draws them.
func TestReviewTooManyFlows(t *testing.T) {
	rs := resolvePolicy(t, "synthetic.yaml", synth.Site(300))
	review := string(emitString(t, "markdown", rs, Options{}))
	if strings.Contains(review, "```mermaid") || !strings.Contains(review, "660 flows: too many to draw") {
		t.Errorf("a review of 660 flows has a diagram, or does not say why not:\n%.600s", review)
	}
	if g := rulesetGraph(rs, newSourceLabels(rs)); g.MermaidFits(g.Mermaid()) || len(g.Edges) != 660 {
		t.Errorf("%d edges fit Mermaid", len(g.Edges))
	}
}
