package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
)

// maxSummaryLines bounds the lines of a kind the summary prints; --verbose
// prints them all.
const maxSummaryLines = 5

// maxNamedGroups bounds the host groups a summary line names.
const maxNamedGroups = 3

// summarize says on stderr, once for the whole run, what a reviewer of the
// outputs must know: which rules accept any address (always, as a
// warning), which host groups have servers too old for a format (a
// warning), and which scenarios were left out or turned on (unless
// --quiet). Lines of one kind that differ only in their host groups are
// one line, so that a site of 500 groups gets a few lines, not 500;
// --verbose lists every group.
func (o *genOptions) summarize(rs *policies.Ruleset, formats []emit.Format) {
	for _, l := range o.openLines(rs) {
		fmt.Fprintln(o.stderr, "fwgen: warning: "+l)
	}
	for _, f := range formats {
		if l := oldServersLine(f, rs, o.verbose); l != "" {
			fmt.Fprintln(o.stderr, "fwgen: warning: "+l)
		}
	}
	if o.quiet {
		return
	}
	for _, l := range scenarioSummary(rs, o.verbose, o.policyFile != "") {
		fmt.Fprintln(o.stderr, "fwgen: "+l)
	}
}

// patternGroups collects host groups under the text of what they share.
type patternGroups struct {
	order  []string
	groups map[string][]string
}

func (p *patternGroups) add(pattern, group string) {
	if p.groups == nil {
		p.groups = map[string][]string{}
	}
	if _, ok := p.groups[pattern]; !ok {
		p.order = append(p.order, pattern)
	}
	if !slices.Contains(p.groups[pattern], group) {
		p.groups[pattern] = append(p.groups[pattern], group)
	}
}

// lines formats each pattern with its groups, most groups first, at most
// maxSummaryLines of them unless all.
func (p *patternGroups) lines(format func(pattern, groups string) string, all bool) []string {
	order := slices.Clone(p.order)
	slices.SortStableFunc(order, func(a, b string) int { return len(p.groups[b]) - len(p.groups[a]) })
	var out []string
	for i, pat := range order {
		if i == maxSummaryLines && !all {
			out = append(out, fmt.Sprintf("... and %d more like these (--verbose lists them all)", len(order)-i))
			break
		}
		out = append(out, format(pat, groupList(p.groups[pat], all)))
	}
	return out
}

// groupList names host groups: all of them, or the first few and a count.
func groupList(groups []string, all bool) string {
	if all || len(groups) <= maxNamedGroups {
		return strings.Join(groups, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(groups[:maxNamedGroups], ", "), len(groups)-maxNamedGroups)
}

// openLines are the warnings about rules that accept any address. Each
// item (the peers, and the protocol and ports open to them) is never left
// out, since that is what a reviewer must see; items that the same host
// groups have share a line, which names the groups (the first few, unless
// --verbose).
func (o *genOptions) openLines(rs *policies.Ruleset) []string {
	var items patternGroups
	for _, g := range rs.Groups {
		if g.SharedWith != "" {
			continue
		}
		for _, r := range g.ByScope() {
			if openToAny(r.Sources) {
				items.add(scopePeers(&g, r)+" on "+ruleText(r), g.Name)
			}
		}
	}
	var byGroups patternGroups // the items of each list of groups
	lists := map[string][]string{}
	for _, item := range items.order {
		key := strings.Join(items.groups[item], "\x00")
		lists[key] = items.groups[item]
		byGroups.add(key, item)
	}
	order := slices.Clone(byGroups.order)
	slices.SortStableFunc(order, func(a, b string) int { return len(lists[b]) - len(lists[a]) })
	var out []string
	for _, key := range order {
		out = append(out, fmt.Sprintf("open to any address in %s: %s", groupList(lists[key], o.verbose),
			strings.Join(byGroups.groups[key], "; ")))
	}
	return out
}

// openToAny reports whether sources admit any address of a family: none
// given, or 0.0.0.0/0 or ::/0 among them.
func openToAny(sources []netip.Prefix) bool {
	return len(sources) == 0 || slices.ContainsFunc(sources, func(p netip.Prefix) bool { return p.Bits() == 0 })
}

// scopePeers names the peers whose needs put ports into a scope rule
// that is open to any address.
func scopePeers(g *policies.Group, r policies.ScopeRule) string {
	var peers []string
	for _, n := range g.Needs {
		if n.Proto != r.Proto || !sameICMP(n.ICMPType, r.ICMPType) || !openToAny(n.Sources) {
			continue
		}
		if r.Proto.HasPorts() && !slices.ContainsFunc(r.Ports, func(pr policies.PortRange) bool { return pr.Contains(n.Ports.From) }) {
			continue
		}
		p := string(n.Peer)
		if id, ok := n.Peer.Role(); ok {
			p = "servers of " + id
		}
		if !slices.Contains(peers, p) {
			peers = append(peers, p)
		}
	}
	slices.Sort(peers)
	return strings.Join(peers, ", ")
}

func sameICMP(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// ruleText is "tcp 80,443" or "icmpv6 type 128".
func ruleText(r policies.ScopeRule) string {
	switch {
	case r.Proto.HasPorts():
		return string(r.Proto) + " " + emit.PortList(r.Ports)
	case r.ICMPType != nil:
		return fmt.Sprintf("%s type %d", r.Proto, *r.ICMPType)
	}
	return string(r.Proto)
}

// oldServersLine warns, for a format that runs on Windows, about the host
// groups with servers older than it supports.
func oldServersLine(f emit.Format, rs *policies.Ruleset, all bool) string {
	var p patternGroups
	for _, g := range rs.Groups {
		one := policies.Ruleset{Groups: []policies.Group{g}}
		var old []string
		for _, v := range emit.Unsupported(f, &one) {
			old = append(old, v.Name)
		}
		if len(old) > 0 {
			p.add(strings.Join(old, ", "), g.Name)
		}
	}
	if len(p.order) == 0 {
		return ""
	}
	instead := "fwgen has no script format for them; configure them by hand"
	if f.Instead != "" {
		instead = "use --emit " + f.Instead + " for those hosts"
	}
	var parts []string
	for _, l := range p.lines(func(pat, groups string) string { return pat + " (" + groups + ")" }, all) {
		parts = append(parts, l)
	}
	return fmt.Sprintf("the %s output needs %s or later, and servers run %s; %s", f.Name, f.MinOS, strings.Join(parts, "; "), instead)
}

// scenarioSummary says which scenarios of the roles were left out, and
// which --optional or the policy turned on, each once with the number of
// host groups.
func scenarioSummary(rs *policies.Ruleset, all, site bool) []string {
	var off, on, idle patternGroups
	for _, g := range rs.Groups {
		if g.SharedWith != "" {
			continue
		}
		for _, s := range g.Scenarios {
			switch {
			case s.On && len(s.Ports) == 0:
				idle.add(s.ID, g.Name)
			case s.On:
				on.add(s.ID, g.Name)
			default:
				off.add(s.ID, g.Name)
			}
		}
	}
	var out []string
	list := func(p *patternGroups) string {
		ids := slices.Clone(p.order)
		slices.Sort(ids)
		var parts []string
		for _, id := range ids {
			item := id
			if len(rs.Groups) > 1 {
				item += fmt.Sprintf(" (%s)", groupList(p.groups[id], all))
			}
			parts = append(parts, item)
		}
		return strings.Join(parts, ", ")
	}
	if len(on.order) > 0 {
		out = append(out, "scenarios turned on: "+list(&on))
	}
	if len(idle.order) > 0 {
		out = append(out, "scenarios turned on that open nothing on these servers (their notes say why): "+list(&idle))
	}
	if len(off.order) > 0 {
		how := "--scenario ID turns one on, --optional all"
		if site {
			how = "scenarios: [ID] in a host group (or the policy) turns one on, --optional all"
		}
		out = append(out, "scenarios left out: "+list(&off)+"; "+how+" "+
			"(the outputs' headers say what each opens)")
	}
	return out
}
