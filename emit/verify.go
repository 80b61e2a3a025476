package emit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fwgen/fwgen/policies"
)

// PortCheck is one port that a listener script opens and a probe script
// tests.
type PortCheck struct {
	Proto    string   `json:"proto"`    // "tcp" or "udp"
	Port     uint16   `json:"port"`     // 1-65535
	Services []string `json:"services"` // "role/service", sorted
	// Sample is the range the port stands for ("49152-65535") when it
	// samples one; empty for a port of its own.
	Sample string `json:"sample,omitempty"`
	// Expect is "open" for a port the rules allow, "closed" for one a
	// probe shows the rules do not (--closed): a probe passes a closed
	// port only when it finds it filtered, and the listener listens on it
	// too, so that only a firewall can make it so.
	Expect string `json:"expect"`
	// Sources are the remote addresses the group's rules admit to the
	// port, as prefixes ("10.30.0.0/16"), sorted; empty for any address
	// and for a closed port. The PowerShell listener's temporary rules
	// admit the same.
	Sources []string `json:"sources,omitempty"`
}

// MaxPortsPerRange is the most ports of a range the scripts sample: each
// is a socket the listener holds open, and a process may open only so
// many (1,024 files by default on Linux).
const MaxPortsPerRange = 100

// VerifyOptions are the settings of the listener and probe scripts.
type VerifyOptions struct {
	// Lang is "py" (Python 3) or "ps" (PowerShell).
	Lang string
	// PortsPerRange is how many ports of a range the scripts sample: the
	// first, the last and evenly spaced ones between; 2 to
	// MaxPortsPerRange.
	PortsPerRange int
	// Peer limits a probe to the ports one peer needs: a peer class
	// ("clients", "members", "admins", "role:dc") or a network of the
	// policy, whose addresses a need's sources must hold; empty for all.
	Peer string
	// Targets are the hosts a probe tests by default (see ParseTarget);
	// empty: the group's single addresses.
	Targets []string
	// Closed are ports a probe checks stay closed, and the listener
	// listens on too; a probe refuses one its peer needs.
	Closed []PortCheck
	// Duration is how long a listener listens; 0 until Ctrl+C.
	Duration time.Duration
	// Timeout is how long a probe waits for each answer.
	Timeout time.Duration
	// Format is the probe's default output: table, csv, json or markdown.
	Format string
}

// PortChecks lists the TCP and UDP ports of a host group that peer (see
// VerifyOptions.Peer; "" for all) needs, each once, sorted: a port range
// sampled by perRange ports. ICMP and other protocols have no ports to
// listen on and are left out. It returns an error for a peer that names
// no peer class or network the Ruleset knows, or that needs no port.
func PortChecks(rs *policies.Ruleset, g *policies.Group, peer string, perRange int) ([]PortCheck, error) {
	match, err := peerMatch(rs, peer)
	if err != nil {
		return nil, err
	}
	if perRange < 2 || perRange > MaxPortsPerRange {
		return nil, fmt.Errorf("ports per range %d: want 2 (the first and the last) to %d", perRange, MaxPortsPerRange)
	}
	type key struct {
		proto string
		port  uint16
	}
	byKey := map[key]*PortCheck{}
	anySource := map[key]bool{}
	for _, n := range g.Needs {
		if !n.Proto.HasPorts() || !match(n) {
			continue
		}
		sample := ""
		if n.Ports.From != n.Ports.To {
			sample = n.Ports.String()
		}
		for _, p := range rangeSample(n.Ports, perRange) {
			k := key{string(n.Proto), p}
			c := byKey[k]
			if c == nil {
				c = &PortCheck{Proto: k.proto, Port: p, Sample: sample, Expect: "open"}
				byKey[k] = c
			}
			svc := n.Role + "/" + n.Service
			if !slices.Contains(c.Services, svc) {
				c.Services = append(c.Services, svc)
			}
			anySource[k] = anySource[k] || n.AnySource || len(n.Sources) == 0
			for _, src := range n.Sources {
				if !slices.Contains(c.Sources, src.String()) {
					c.Sources = append(c.Sources, src.String())
				}
			}
		}
	}
	if len(byKey) == 0 {
		return nil, fmt.Errorf("host group %s: no TCP or UDP port for %s", g.Name, cmpOr(peer, "any peer"))
	}
	out := make([]PortCheck, 0, len(byKey))
	for k, c := range byKey {
		slices.Sort(c.Services)
		slices.Sort(c.Sources)
		if anySource[k] {
			c.Sources = nil
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b PortCheck) int {
		if a.Proto != b.Proto {
			return strings.Compare(a.Proto, b.Proto)
		}
		return int(a.Port) - int(b.Port)
	})
	return out, nil
}

func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// peerMatch selects the needs of a peer class or of a network's sources.
func peerMatch(rs *policies.Ruleset, peer string) (func(policies.Need) bool, error) {
	switch {
	case peer == "":
		return func(policies.Need) bool { return true }, nil
	case slices.Contains([]string{"clients", "members", "admins"}, peer) || strings.HasPrefix(peer, "role:"):
		return func(n policies.Need) bool { return string(n.Peer) == peer }, nil
	}
	i := slices.IndexFunc(rs.Networks, func(nw policies.Network) bool { return nw.Name == peer })
	if i < 0 && len(rs.Networks) == 0 {
		return nil, fmt.Errorf("peer %q: want clients, members, admins or role:ID (a network is a peer only in a site policy that names networks)", peer)
	}
	if i < 0 {
		var names []string
		for _, nw := range rs.Networks {
			names = append(names, nw.Name)
		}
		return nil, fmt.Errorf("peer %q: want clients, members, admins, role:ID or a network of the policy (%s)",
			peer, strings.Join(names, ", "))
	}
	want := rs.Networks[i].Prefixes
	return func(n policies.Need) bool {
		if n.AnySource || len(n.Sources) == 0 {
			return true
		}
		for _, p := range want {
			if !slices.ContainsFunc(n.Sources, func(s netip.Prefix) bool { return s.Contains(p.Addr()) && s.Bits() <= p.Bits() }) {
				return false
			}
		}
		return true
	}, nil
}

// rangeSample is a range's first and last port and evenly spaced ones
// between, n in all (or every port of a shorter range); one port alone.
func rangeSample(r policies.PortRange, n int) []uint16 {
	size := int(r.To) - int(r.From) + 1
	if size <= n {
		out := make([]uint16, 0, size)
		for p := int(r.From); p <= int(r.To); p++ {
			out = append(out, uint16(p))
		}
		return out
	}
	out := make([]uint16, 0, n)
	for i := range n {
		out = append(out, uint16(int(r.From)+i*(size-1)/(n-1)))
	}
	return slices.Compact(out)
}

// ParsePortCheck reads "tcp/8080" or "8080/udp" as a port a probe checks
// stays closed.
func ParsePortCheck(s string) (PortCheck, error) {
	a, b, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	if !ok {
		return PortCheck{}, fmt.Errorf("%q: want PROTO/PORT, e.g. tcp/8080", s)
	}
	if a != "tcp" && a != "udp" {
		a, b = b, a
	}
	n, err := strconv.Atoi(b)
	if (a != "tcp" && a != "udp") || err != nil || n < 1 || n > 65535 {
		return PortCheck{}, fmt.Errorf("%q: want PROTO/PORT with tcp or udp and a port from 1 to 65535", s)
	}
	return PortCheck{Proto: a, Port: uint16(n), Services: []string{}, Expect: "closed"}, nil
}

// ParseTarget checks a host a probe tests: an IP address, an IPv6 address
// in brackets ("[fd00::1]"), or a host name of letters, digits, hyphens,
// underscores and dots, its labels 1 to 63 characters, 253 in all
// (RFC 1123; a name in another script goes in its xn-- form). It
// returns the address or name as the scripts take it, without brackets.
func ParseTarget(s string) (string, error) {
	in := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
		if a, err := netip.ParseAddr(s); err != nil || !a.Is6() {
			return "", fmt.Errorf("target %q: want an IPv6 address in the brackets", in)
		}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if z := a.Zone(); z != "" && !hostLabel.MatchString(z) {
			return "", fmt.Errorf("target %q: want a zone of letters and digits after %%", in)
		}
		return a.String(), nil
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return "", fmt.Errorf("target %q: want an IP address, [IPv6] or a host name of 1 to 253 characters", in)
	}
	for _, label := range strings.Split(name, ".") {
		if !hostLabel.MatchString(label) {
			return "", fmt.Errorf("target %q: want an IP address, [IPv6] or a host name: letters, digits, hyphens and underscores "+
				"between dots, 1 to 63 of them, no hyphen first or last", in)
		}
	}
	return s, nil
}

// hostLabel is one label of a host name (RFC 1123, and the underscore
// some Windows names have).
var hostLabel = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// verifyData is what the scripts read, as one JSON document.
type verifyData struct {
	Target   string      `json:"target"`
	Targets  []string    `json:"targets"`
	Checks   []PortCheck `json:"checks"`
	Duration float64     `json:"duration"`
	Timeout  float64     `json:"timeout"`
	Format   string      `json:"format"`
}

// verifyScript is what the listener and probe templates lay out: Data is
// the JSON document as a literal of the script's language.
type verifyScript struct {
	Header   []string
	Data     string
	Duration string
	Timeout  string
	Format   string
}

// Listener writes a script that listens on every port of host group of rs
// (see PortChecks), in Python 3 or PowerShell. It returns an error for an
// unknown language or group.
func Listener(w io.Writer, rs *policies.Ruleset, group string, o VerifyOptions) error {
	return verifyRender(w, rs, group, o, "listener")
}

// Probe writes a script that tests, from a client, every port of host
// group of rs that o.Peer needs, and the ports o.Closed says stay closed.
func Probe(w io.Writer, rs *policies.Ruleset, group string, o VerifyOptions) error {
	return verifyRender(w, rs, group, o, "probe")
}

func verifyRender(w io.Writer, rs *policies.Ruleset, group string, o VerifyOptions, kind string) error {
	if o.Lang != "py" && o.Lang != "ps" {
		return fmt.Errorf("language %q: want py or ps", o.Lang)
	}
	i := slices.IndexFunc(rs.Groups, func(g policies.Group) bool { return g.Name == group && g.SharedWith == "" })
	if i < 0 {
		return fmt.Errorf("no host group %q", group)
	}
	g := &rs.Groups[i]
	if o.Duration < 0 || o.Timeout < 0 {
		return fmt.Errorf("duration %v, timeout %v: want 0 or more", o.Duration, o.Timeout)
	}
	peer := o.Peer
	if kind == "listener" {
		peer = ""
	}
	checks, err := PortChecks(rs, g, peer, o.PortsPerRange)
	if err != nil {
		return err
	}
	closed, err := closedChecks(rs, g, kind, o)
	if err != nil {
		return err
	}
	d := verifyData{Target: "host group " + g.Name, Targets: []string{}, Checks: append(checks, closed...),
		Duration: o.Duration.Seconds(), Timeout: o.Timeout.Seconds(), Format: cmpOr(o.Format, "table")}
	for _, t := range o.Targets {
		t, err := ParseTarget(t)
		if err != nil {
			return err
		}
		d.Targets = append(d.Targets, t)
	}
	if kind == "probe" && len(o.Targets) == 0 {
		for _, a := range g.Addresses {
			if a.IsSingleIP() {
				d.Targets = append(d.Targets, a.Addr().String())
			}
		}
	}
	if d.Timeout <= 0 {
		d.Timeout = 2
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return err
	}
	header := verifyHeader(rs, g, kind, peer, checks, closed, o)
	s := verifyScript{Duration: strconv.FormatFloat(d.Duration, 'f', -1, 64), Timeout: strconv.FormatFloat(d.Timeout, 'f', -1, 64)}
	switch o.Lang {
	case "py":
		// A JSON string is a Python string literal of the same text.
		lit, _ := json.Marshal(string(doc))
		s.Data = string(lit)
		for _, h := range header {
			s.Header = append(s.Header, oneLine(h))
		}
	case "ps":
		s.Data = psQuote(string(doc))
		s.Format = psQuote(d.Format)
		for _, h := range header {
			s.Header = append(s.Header, psComment(h))
		}
	}
	return render(w, kind+"-"+o.Lang+".tmpl", s)
}

// closedChecks are the ports of o.Closed a script checks stay closed: a
// probe refuses one that its peer needs; the listener leaves out one it
// already listens on as a port the group needs (for another peer).
func closedChecks(rs *policies.Ruleset, g *policies.Group, kind string, o VerifyOptions) ([]PortCheck, error) {
	peer := o.Peer
	if kind == "listener" {
		peer = ""
	}
	match, err := peerMatch(rs, peer)
	if err != nil {
		return nil, err
	}
	var out []PortCheck
	for _, c := range o.Closed {
		var needs []string
		for _, n := range g.Needs {
			if string(n.Proto) == c.Proto && n.Ports.Contains(c.Port) && match(n) && !slices.Contains(needs, n.Role+"/"+n.Service) {
				needs = append(needs, n.Role+"/"+n.Service)
			}
		}
		switch {
		case len(needs) > 0 && kind == "probe":
			return nil, fmt.Errorf("--closed %s/%d: a port host group %s needs%s (%s): it cannot also stay closed",
				c.Proto, c.Port, g.Name, peerText(peer), strings.Join(needs, ", "))
		case len(needs) > 0, slices.ContainsFunc(out, func(x PortCheck) bool { return x.Proto == c.Proto && x.Port == c.Port }):
			continue
		}
		c.Services, c.Sources, c.Expect = []string{}, nil, "closed"
		out = append(out, c)
	}
	return out, nil
}

// verifyHeader says what the script checks and where the list comes from.
func verifyHeader(rs *policies.Ruleset, g *policies.Group, kind, peer string, checks, closed []PortCheck, o VerifyOptions) []string {
	what := "Listens on"
	if kind == "probe" {
		what = "Tests"
	}
	h := []string{
		fmt.Sprintf("Generated by fwgen (%s) from %s, policy %s. DO NOT EDIT: change the input and run fwgen again.", kind, rs.Source, rs.Policy),
		fmt.Sprintf("%s the %d TCP and UDP ports host group %s (roles %s) needs%s; ranges sampled by %d ports.",
			what, len(checks), g.Name, strings.Join(g.Roles, ", "), peerText(peer), o.PortsPerRange),
	}
	if n := len(closed); n > 0 {
		if kind == "probe" {
			h = append(h, fmt.Sprintf("And %d ports that must stay closed (--closed): filtered, which only a firewall makes them, since the listener listens on them too.", n))
		} else {
			h = append(h, fmt.Sprintf("Also listens on %d ports that must stay closed (--closed), so that a probe finding them filtered proves a firewall.", n))
		}
	}
	var icmp []string
	for _, n := range g.Needs {
		if !n.Proto.HasPorts() && !slices.Contains(icmp, string(n.Proto)) {
			icmp = append(icmp, string(n.Proto))
		}
	}
	if len(icmp) > 0 {
		h = append(h, "Not tested (no port to listen on): "+strings.Join(icmp, ", ")+".")
	}
	return h
}

func peerText(peer string) string {
	if peer == "" {
		return ""
	}
	return " from " + peer
}
