// Package diff compares two Rulesets flow by flow, for reviews of a change
// to a site policy: which traffic it opens, which it closes, and which
// flows now admit other sources or serve other services.
package diff

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/policies"
)

// Flow is what a host group accepts from one peer on one protocol and
// port or range (or ICMP type): the sources are addresses, not the names
// of networks, and the fewest prefixes that hold them, so that renaming a
// network or writing its addresses otherwise changes no flow.
type Flow struct {
	Group    string             `json:"group"`
	Proto    policies.Proto     `json:"protocol"`
	Ports    policies.PortRange `json:"ports,omitzero"`
	ICMPType *int               `json:"icmp_type,omitempty"`
	Peer     policies.Peer      `json:"peer"`
	Sources  []netip.Prefix     `json:"sources,omitempty"`
	// From names the sources as the policy does ("clients", "any
	// address").
	From string `json:"from"`
	// Services are "role/service", sorted; Reasons the OS and scenario
	// reasons of the needs; Refs the documents they cite.
	Services []string `json:"services"`
	Reasons  []string `json:"reasons,omitempty"`
	Refs     []string `json:"refs,omitempty"`
}

// key is what identifies a flow across two Rulesets.
type key struct {
	group string
	proto policies.Proto
	ports policies.PortRange
	icmp  int
	peer  policies.Peer
}

func (f *Flow) key() key {
	icmp := -1
	if f.ICMPType != nil {
		icmp = *f.ICMPType
	}
	return key{f.Group, f.Proto, f.Ports, icmp, f.Peer}
}

// What is the traffic of a flow: "tcp 445", "tcp 49152-65535",
// "icmpv6 type 128", "esp".
func (f *Flow) What() string {
	switch {
	case f.ICMPType != nil:
		return fmt.Sprintf("%s type %d", f.Proto, *f.ICMPType)
	case f.Proto.HasPorts():
		return fmt.Sprintf("%s %s", f.Proto, f.Ports)
	}
	return string(f.Proto)
}

// Flows lists every flow of a Ruleset, sorted.
func Flows(rs *policies.Ruleset) []Flow {
	byKey := map[key]*Flow{}
	var out []*Flow
	for _, g := range rs.Groups {
		if g.SharedWith != "" {
			continue
		}
		for _, n := range g.Needs {
			f := &Flow{Group: g.Name, Proto: n.Proto, Ports: n.Ports, ICMPType: n.ICMPType, Peer: n.Peer, Sources: n.Sources}
			k := f.key()
			if prev, ok := byKey[k]; ok {
				f = prev
				f.Sources = unionPrefixes(f.Sources, n.Sources)
			} else {
				byKey[k] = f
				out = append(out, f)
			}
			f.Services = addUnique(f.Services, n.Role+"/"+n.Service)
			f.Reasons = addUnique(f.Reasons, n.OSReason)
			for _, s := range n.Scenarios {
				f.Reasons = addUnique(f.Reasons, "scenario "+s)
			}
			for _, r := range n.Refs {
				f.Refs = addUnique(f.Refs, r.String())
			}
		}
	}
	flows := make([]Flow, len(out))
	for i, f := range out {
		slices.Sort(f.Services)
		f.From = rs.SourceName(f.Sources)
		f.Sources = policies.CanonicalPrefixes(f.Sources)
		flows[i] = *f
	}
	slices.SortFunc(flows, compareFlows)
	return flows
}

func compareFlows(a, b Flow) int {
	ka, kb := a.key(), b.key()
	return cmp.Or(cmp.Compare(ka.group, kb.group), cmp.Compare(ka.proto, kb.proto), cmp.Compare(ka.ports.From, kb.ports.From),
		cmp.Compare(ka.ports.To, kb.ports.To), cmp.Compare(ka.icmp, kb.icmp), cmp.Compare(ka.peer, kb.peer))
}

// Change is a flow added, removed or changed.
type Change struct {
	Kind string `json:"change"` // "added", "removed" or "changed"
	// Old is the flow before (removed, changed), New after (added,
	// changed).
	Old *Flow `json:"old,omitempty"`
	New *Flow `json:"new,omitempty"`
	// What says what changed of a flow that is in both: its sources, its
	// services.
	What []string `json:"what,omitempty"`
}

// Flow is the flow the change is about: the new one, or the old one of a
// removal.
func (c Change) Flow() *Flow {
	if c.New != nil {
		return c.New
	}
	return c.Old
}

// NewReasons are the OS and scenario reasons of the change's flow; of a
// changed flow, only those it did not have before.
func (c Change) NewReasons() []string {
	if c.Old == nil || c.New == nil {
		return c.Flow().Reasons
	}
	var out []string
	for _, r := range c.New.Reasons {
		if !slices.Contains(c.Old.Reasons, r) {
			out = append(out, r)
		}
	}
	return out
}

// Result is the changes between two Rulesets: of host groups (added,
// removed, servers or profiles changed), sorted by name, and of flows,
// sorted by host group, protocol and port.
type Result struct {
	Old     string        `json:"old"`
	New     string        `json:"new"`
	Groups  []GroupChange `json:"groups"`
	Changes []Change      `json:"changes"`
}

// GroupChange is a host group added or removed, or whose servers'
// addresses or Windows Firewall profiles changed: a rule's destination,
// which no flow names.
type GroupChange struct {
	Group string   `json:"group"`
	Kind  string   `json:"change"` // "added", "removed" or "changed"
	What  []string `json:"what"`
}

// compareGroups finds the host groups added, removed or changed.
func compareGroups(old, new *policies.Ruleset) []GroupChange {
	before := map[string]*policies.Group{}
	for i := range old.Groups {
		if old.Groups[i].SharedWith == "" {
			before[old.Groups[i].Name] = &old.Groups[i]
		}
	}
	var out []GroupChange
	seen := map[string]bool{}
	for i := range new.Groups {
		n := &new.Groups[i]
		if n.SharedWith != "" {
			continue
		}
		seen[n.Name] = true
		o, ok := before[n.Name]
		if !ok {
			out = append(out, GroupChange{n.Name, "added", []string{"servers: " + servers(n.Addresses) + "; roles: " + strings.Join(n.Roles, ", ")}})
			continue
		}
		var what []string
		if added, removed := policies.PrefixChanges(o.Addresses, n.Addresses); len(added)+len(removed) > 0 || (len(o.Addresses) == 0) != (len(n.Addresses) == 0) {
			if len(added)+len(removed) > 0 && len(added)+len(removed) <= maxPrefixChanges {
				what = append(what, "servers: "+prefixChanges(added, removed)+" (now "+servers(n.Addresses)+")")
			} else {
				what = append(what, "servers: now "+servers(n.Addresses)+", were "+servers(o.Addresses))
			}
		}
		if !slices.Equal(o.Profiles, n.Profiles) {
			what = append(what, fmt.Sprintf("profiles: %s, were %s", profiles(n.Profiles), profiles(o.Profiles)))
		}
		if len(what) > 0 {
			out = append(out, GroupChange{n.Name, "changed", what})
		}
	}
	for name, o := range before {
		if !seen[name] {
			out = append(out, GroupChange{name, "removed", []string{"servers: " + servers(o.Addresses) + "; roles: " + strings.Join(o.Roles, ", ")}})
		}
	}
	slices.SortFunc(out, func(a, b GroupChange) int { return cmp.Compare(a.Group, b.Group) })
	return out
}

// servers names a group's addresses; none means every address of the
// hosts the rules are applied on.
func servers(addrs []netip.Prefix) string {
	if len(addrs) == 0 {
		return "any address of the hosts"
	}
	return policies.SourcesKey(policies.CanonicalPrefixes(addrs))
}

func profiles(ps []string) string {
	if len(ps) == 0 {
		return "any"
	}
	return strings.Join(ps, ", ")
}

// maxPrefixChanges bounds the prefixes a change lists as added and
// removed; a bigger change shows the addresses before and after.
const maxPrefixChanges = 4

// prefixChanges is "+10.11.0.0/16 -10.9.0.0/16".
func prefixChanges(added, removed []netip.Prefix) string {
	var parts []string
	for _, p := range added {
		parts = append(parts, "+"+p.String())
	}
	for _, p := range removed {
		parts = append(parts, "-"+p.String())
	}
	return strings.Join(parts, " ")
}

// Compare returns the changes from old to new, each labelled oldName and
// newName.
func Compare(old, new *policies.Ruleset, oldName, newName string) *Result {
	res := &Result{Old: oldName, New: newName, Groups: compareGroups(old, new), Changes: []Change{}}
	before := map[key]Flow{}
	for _, f := range Flows(old) {
		before[f.key()] = f
	}
	seen := map[key]bool{}
	for _, f := range Flows(new) {
		k := f.key()
		seen[k] = true
		o, ok := before[k]
		if !ok {
			res.Changes = append(res.Changes, Change{Kind: "added", New: &f})
			continue
		}
		if what := changes(&o, &f); len(what) > 0 {
			res.Changes = append(res.Changes, Change{Kind: "changed", Old: &o, New: &f, What: what})
		}
	}
	for k, f := range before {
		if !seen[k] {
			res.Changes = append(res.Changes, Change{Kind: "removed", Old: &f})
		}
	}
	slices.SortFunc(res.Changes, func(a, b Change) int { return compareFlows(*a.Flow(), *b.Flow()) })
	return res
}

// changes says how a flow in both Rulesets differs: its sources (by
// address, so that a renamed network is no change) and its services.
func changes(o, n *Flow) []string {
	var what []string
	if policies.SourcesKey(o.Sources) != policies.SourcesKey(n.Sources) {
		added, removed := policies.PrefixChanges(o.Sources, n.Sources)
		switch {
		case len(n.Sources) == 0:
			what = append(what, "sources: any address, were "+o.From)
		case len(o.Sources) == 0:
			what = append(what, "sources: "+n.From+", were any address")
		case len(added)+len(removed) <= maxPrefixChanges:
			what = append(what, fmt.Sprintf("sources: %s (now %s)", prefixChanges(added, removed), n.From))
		default:
			what = append(what, fmt.Sprintf("sources: now %s (%s), were %s (%s)", n.From, policies.SourcesKey(n.Sources),
				o.From, policies.SourcesKey(o.Sources)))
		}
	}
	var plus, minus []string
	for _, s := range n.Services {
		if !slices.Contains(o.Services, s) {
			plus = append(plus, "+"+s)
		}
	}
	for _, s := range o.Services {
		if !slices.Contains(n.Services, s) {
			minus = append(minus, "-"+s)
		}
	}
	if len(plus)+len(minus) > 0 {
		what = append(what, "services: "+strings.Join(append(plus, minus...), " "))
	}
	return what
}

// Empty reports whether nothing changed.
func (r *Result) Empty() bool { return len(r.Changes) == 0 && len(r.Groups) == 0 }

// GroupNames lists the host groups with changes, sorted.
func (r *Result) GroupNames() []string {
	var out []string
	for _, g := range r.Groups {
		out = addUnique(out, g.Group)
	}
	for _, c := range r.Changes {
		out = addUnique(out, c.Flow().Group)
	}
	slices.Sort(out)
	return out
}

// GroupChange returns the change of the host group itself, if any.
func (r *Result) GroupChange(group string) *GroupChange {
	for i := range r.Groups {
		if r.Groups[i].Group == group {
			return &r.Groups[i]
		}
	}
	return nil
}

func addUnique(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func unionPrefixes(a, b []netip.Prefix) []netip.Prefix {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	out := slices.Concat(a, b)
	slices.SortFunc(out, func(x, y netip.Prefix) int {
		return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Bits(), y.Bits()))
	})
	return slices.Compact(out)
}

// Text writes the changes for a terminal or a log: per host group, a line
// a flow, "+" added, "-" removed, "~" changed, with its services and why.
func (r *Result) Text(w io.Writer) {
	if r.Empty() {
		fmt.Fprintf(w, "no changes from %s to %s\n", r.Old, r.New)
		return
	}
	fmt.Fprintf(w, "changes from %s to %s:\n", r.Old, r.New)
	for _, group := range r.GroupNames() {
		fmt.Fprintf(w, "\nhost group %s:\n", group)
		if gc := r.GroupChange(group); gc != nil {
			for _, what := range gc.What {
				fmt.Fprintf(w, "  %s %s\n", map[string]string{"added": "+", "removed": "-", "changed": "~"}[gc.Kind], what)
			}
		}
		for _, c := range r.Changes {
			f := c.Flow()
			if f.Group != group {
				continue
			}
			sign := map[string]string{"added": "+", "removed": "-", "changed": "~"}[c.Kind]
			fmt.Fprintf(w, "  %s %s from %s (%s): %s\n", sign, f.What(), f.From, f.Peer, strings.Join(f.Services, ", "))
			for _, what := range c.What {
				fmt.Fprintf(w, "      %s\n", what)
			}
			for _, why := range c.NewReasons() {
				fmt.Fprintf(w, "      why: %s\n", why)
			}
		}
	}
}
