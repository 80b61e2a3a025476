package fwtest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// Chain is a chain read back from the kernel.
type Chain struct {
	Name   string
	Hook   string // "input", "forward", ...; "" for a chain only jumped to
	Policy string // "accept" or "drop"; "" for a chain without a hook
	Rules  []Rule
}

// Rule is a rule read back from the kernel, reduced to what it matches.
// A nil slice matches anything.
type Rule struct {
	Verdict   string // "accept", "drop" or "jump CHAIN"
	Comment   string
	Proto     policies.Proto // "" for any protocol
	Ports     []policies.PortRange
	ICMPTypes []int
	Src, Dst  []netip.Prefix
	CtState   []string // sorted
	InIface   string
	// Family is the IP version a rule without addresses is limited to
	// (meta nfproto), or 0.
	Family int
}

// Flow is what a rule accepts, but for the ports: a protocol, an ICMP
// type (-1 for none or any), one source and one destination prefix ("" for
// any address).
type Flow struct {
	Proto    policies.Proto
	ICMPType int
	Src, Dst string
}

// Flows maps each flow to the destination ports accepted for it. A
// protocol without ports has the single range 0-0.
type Flows map[Flow][]policies.PortRange

// noPorts stands for the ports of a protocol that has none.
var noPorts = []policies.PortRange{{}}

// Add records that ports are accepted for f.
func (fs Flows) Add(f Flow, ports []policies.PortRange) {
	if !f.Proto.HasPorts() {
		ports = noPorts
	}
	fs[f] = catalog.MergeRanges(append(fs[f], ports...))
}

// Flows lists what an accept rule lets through. A rule that matches
// connection state or an interface has no flows of its own: the caller
// decides what such rules mean.
func (r Rule) Flows() (Flows, error) {
	if r.Verdict != "accept" || r.CtState != nil || r.InIface != "" {
		return nil, fmt.Errorf("rule %q: not a plain accept rule", r.Comment)
	}
	if r.Proto == "" {
		return nil, fmt.Errorf("rule %q accepts every protocol", r.Comment)
	}
	ports := r.Ports
	if ports == nil {
		ports = []policies.PortRange{{From: 0, To: 65535}}
	}
	fs := Flows{}
	src := prefixStrings(r.Src)
	if len(src) == 0 && r.Family != 0 {
		src = []string{AnyOf(r.Family)}
	}
	for _, t := range orAny(r.ICMPTypes, -1) {
		for _, s := range orAny(src, "") {
			for _, d := range orAny(prefixStrings(r.Dst), "") {
				fs.Add(Flow{Proto: r.Proto, ICMPType: t, Src: s, Dst: d}, ports)
			}
		}
	}
	return fs, nil
}

// AnyOf is the source of a flow from any address of IP version fam only.
func AnyOf(fam int) string {
	if fam == 6 {
		return "::/0"
	}
	return "0.0.0.0/0"
}

// Merge adds every flow of o to fs.
func (fs Flows) Merge(o Flows) {
	for f, ports := range o {
		fs.Add(f, ports)
	}
}

// Normalize removes what a wider flow already accepts: ports of a flow
// whose source and destination lie inside those of another flow of the same
// protocol and ICMP type. Two sets of rules that accept the same traffic
// through differently nested prefixes then compare equal.
func (fs Flows) Normalize() Flows {
	out := Flows{}
	for f, ports := range fs {
		for g, wider := range fs {
			if g != f && g.Proto == f.Proto && g.ICMPType == f.ICMPType && within(f.Src, g.Src) && within(f.Dst, g.Dst) {
				ports = subtract(ports, wider)
			}
		}
		if len(ports) > 0 {
			out[f] = ports
		}
	}
	return out
}

// Strings lists the flows, one a line, sorted: "tcp 53,88 10.0.0.0/8 ->
// any". Test failures print them.
func (fs Flows) Strings() []string {
	var out []string
	for f, ports := range fs {
		what := string(f.Proto)
		if f.ICMPType >= 0 {
			what += fmt.Sprintf(" type %d", f.ICMPType)
		}
		if f.Proto.HasPorts() {
			s := make([]string, len(ports))
			for i, p := range ports {
				s[i] = p.String()
			}
			what += " " + strings.Join(s, ",")
		}
		out = append(out, fmt.Sprintf("%s %s -> %s", what, orWord(f.Src), orWord(f.Dst)))
	}
	slices.Sort(out)
	return out
}

func orWord(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

func orAny[T any](s []T, anyValue T) []T {
	if len(s) == 0 {
		return []T{anyValue}
	}
	return s
}

func prefixStrings(ps []netip.Prefix) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Masked().String()
	}
	return s
}

// within reports whether prefix a ("" for any) lies inside prefix b.
func within(a, b string) bool {
	if b == "" {
		return true
	}
	if a == "" {
		return false
	}
	pa, pb := netip.MustParsePrefix(a), netip.MustParsePrefix(b)
	return pb.Bits() <= pa.Bits() && pb.Contains(pa.Addr())
}

// subtract removes the ports of b from a; both are merged and sorted.
func subtract(a, b []policies.PortRange) []policies.PortRange {
	var out []policies.PortRange
	for _, r := range a {
		for _, x := range b {
			if x.To < r.From || x.From > r.To || r.From > r.To {
				continue
			}
			if x.From > r.From {
				out = append(out, policies.PortRange{From: r.From, To: x.From - 1})
			}
			if x.To == 65535 {
				r.From, r.To = 1, 0 // nothing left
				break
			}
			r.From = max(r.From, x.To+1)
		}
		if r.From <= r.To {
			out = append(out, r)
		}
	}
	return out
}

// Prefix parses an address or a prefix; a bare address is a host prefix.
func Prefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
