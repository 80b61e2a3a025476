package capture

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// Port is a protocol and port a capture shows listening, on one or more
// addresses, by one or more processes.
type Port struct {
	Proto     string   `json:"protocol"`
	Port      uint16   `json:"port"`
	Addresses []string `json:"addresses"`
	Processes []string `json:"processes,omitempty"`
	// Services are the group's role/service pairs whose rules cover it.
	Services []string `json:"services,omitempty"`
	// RPC says the port is in the RPC dynamic range of the servers' OS,
	// where RPC servers get their ports.
	RPC bool `json:"rpc_dynamic,omitempty"`
	// Usual are the catalog's services that listen on the port, for one
	// no rule covers.
	Usual []string `json:"usual_services,omitempty"`
	Line  int      `json:"line"` // the capture's first line of it
}

// Idle is a port or range the group's rules open that nothing listens on.
type Idle struct {
	Proto    string   `json:"protocol"`
	Ports    string   `json:"ports"` // "636" or "49152-65535"
	Services []string `json:"services"`
}

// Report is what a capture shows against a host group's rules.
type Report struct {
	Group     string `json:"group"`
	Format    string `json:"format"`
	Covered   []Port `json:"covered"`
	Uncovered []Port `json:"uncovered"`
	Idle      []Idle `json:"idle"`
	// Loopback counts the listeners left out because only the host
	// itself can reach them.
	Loopback int `json:"loopback"`
}

// OK reports whether every listening port is covered by a rule.
func (r *Report) OK() bool { return len(r.Uncovered) == 0 }

// Ports merges listeners by protocol and port, leaving out loopback ones,
// and returns them sorted with the count left out.
func Ports(ls []Listener) ([]Port, int) {
	byKey := map[string]*Port{}
	loop := 0
	for _, l := range ls {
		if l.Loopback() {
			loop++
			continue
		}
		k := fmt.Sprintf("%s/%d", l.Proto, l.Port)
		p := byKey[k]
		if p == nil {
			p = &Port{Proto: l.Proto, Port: l.Port, Line: l.Line}
			byKey[k] = p
		}
		if a := l.Addr.String(); !slices.Contains(p.Addresses, a) {
			p.Addresses = append(p.Addresses, a)
		}
		if l.Process != "" && !slices.Contains(p.Processes, l.Process) {
			p.Processes = append(p.Processes, l.Process)
		}
	}
	out := make([]Port, 0, len(byKey))
	for _, p := range byKey {
		slices.Sort(p.Addresses)
		slices.Sort(p.Processes)
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Port) int { return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port)) })
	return out, loop
}

// Check compares the listeners of a capture with host group g's rules:
// the ports they cover, the ports no rule covers (with the catalog's
// services that usually listen there, from c), and the rules nothing
// listens for. A listener in the RPC dynamic range counts as covered when
// the group opens the range; loopback listeners are left out.
func Check(format string, ls []Listener, g *policies.Group, c *catalog.Catalog) *Report {
	ports, loop := Ports(ls)
	r := &Report{Group: g.Name, Format: format, Loopback: loop, Covered: []Port{}, Uncovered: []Port{}, Idle: []Idle{}}
	for _, p := range ports {
		for _, rg := range g.RPC.Ranges {
			if p.Proto == "tcp" && rg.Contains(p.Port) {
				p.RPC = true
			}
		}
		for _, n := range g.Needs {
			if string(n.Proto) == p.Proto && n.Ports.Contains(p.Port) {
				if svc := n.Role + "/" + n.Service; !slices.Contains(p.Services, svc) {
					p.Services = append(p.Services, svc)
				}
			}
		}
		slices.Sort(p.Services)
		if len(p.Services) > 0 {
			r.Covered = append(r.Covered, p)
			continue
		}
		p.Usual = usualServices(c, p.Proto, p.Port)
		r.Uncovered = append(r.Uncovered, p)
	}
	idle := map[string]*Idle{}
	var order []string
	for _, n := range g.Needs {
		if !n.Proto.HasPorts() {
			continue
		}
		heard := slices.ContainsFunc(ports, func(p Port) bool { return p.Proto == string(n.Proto) && n.Ports.Contains(p.Port) })
		if heard {
			continue
		}
		k := string(n.Proto) + " " + n.Ports.String()
		if idle[k] == nil {
			idle[k] = &Idle{Proto: string(n.Proto), Ports: n.Ports.String()}
			order = append(order, k)
		}
		if svc := n.Role + "/" + n.Service; !slices.Contains(idle[k].Services, svc) {
			idle[k].Services = append(idle[k].Services, svc)
		}
	}
	for _, k := range order {
		slices.Sort(idle[k].Services)
		r.Idle = append(r.Idle, *idle[k])
	}
	slices.SortFunc(r.Idle, func(a, b Idle) int {
		pa, _ := catalog.ParsePortRange(a.Ports)
		pb, _ := catalog.ParsePortRange(b.Ports)
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(pa.From, pb.From), cmp.Compare(pa.To, pb.To))
	})
	return r
}

// usualServices names the catalog's services with an entry on a protocol
// and port number, as "service (roles)".
func usualServices(c *catalog.Catalog, proto string, port uint16) []string {
	var out []string
	for _, s := range c.Services {
		for _, e := range s.Entries {
			if string(e.Protocol) != proto || !slices.ContainsFunc(e.Ports, func(p string) bool {
				r, err := catalog.ParsePortRange(p)
				return err == nil && r.Contains(port)
			}) {
				continue
			}
			name := s.ID
			if roles := rolesOf(c, s.ID); len(roles) > 0 {
				name += " (" + strings.Join(roles, ", ") + ")"
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// rolesOf lists the roles that have a service.
func rolesOf(c *catalog.Catalog, svc string) []string {
	var out []string
	for _, r := range c.Roles {
		if slices.Contains(r.ServiceIDs(), svc) {
			out = append(out, r.ID)
		}
	}
	return out
}

// Suggestion is a role that explains part of what a server listens on.
type Suggestion struct {
	Role string `json:"role"`
	// Explains are the listening ports the role is the first suggestion
	// to explain: each port counts for the best role only, so that ports
	// every role has (135, 445) do not make every role look present.
	Explains []string `json:"explains"`
	// Matched are the role's fixed ports the capture shows; Missing those
	// it does not.
	Matched []string `json:"matched"`
	Missing []string `json:"missing,omitempty"`
	// Score is len(Matched) / (len(Matched)+len(Missing)), from 0 to 1.
	Score float64 `json:"score"`
}

// Suggest proposes the catalog's roles that explain the listeners, for
// servers of the OS versions oses: among the roles that show at least half
// of their fixed ports (not the RPC range, not scenarios'), the one with
// the best share, and of equal shares the one that explains the most
// listening ports not yet explained, then the next, while a role explains
// a port more (NetBIOS alone does not count).
func Suggest(ls []Listener, oses []string, c *catalog.Catalog) ([]Suggestion, error) {
	ports, _ := Ports(ls)
	have := map[string]bool{}
	for _, p := range ports {
		have[fmt.Sprintf("%d/%s", p.Port, p.Proto)] = true
	}
	var candidates []Suggestion
	for _, role := range c.Roles {
		p := policies.Quick{Roles: []string{role.ID}, OS: oses}.Policy()
		rs, err := policies.Resolve(p, c)
		if err != nil {
			return nil, err
		}
		s := Suggestion{Role: role.ID}
		for _, n := range rs.Groups[0].Needs {
			if !n.Proto.HasPorts() || n.Ports.From != n.Ports.To || n.RPC != "" || n.Optional {
				continue
			}
			k := fmt.Sprintf("%d/%s", n.Ports.From, n.Proto)
			if slices.Contains(s.Matched, k) || slices.Contains(s.Missing, k) {
				continue
			}
			if have[k] {
				s.Matched = append(s.Matched, k)
			} else {
				s.Missing = append(s.Missing, k)
			}
		}
		total := len(s.Matched) + len(s.Missing)
		if total == 0 || len(s.Matched) == 0 {
			continue
		}
		s.Score = float64(len(s.Matched)) / float64(total)
		if s.Score >= 0.5 {
			candidates = append(candidates, s)
		}
	}
	// Best score first, then the most ports not yet explained; NetBIOS
	// (137-139), which many roles list and Windows opens anyway, explains
	// nothing on its own.
	netbios := func(k string) bool {
		return strings.HasPrefix(k, "137/") || strings.HasPrefix(k, "138/") || strings.HasPrefix(k, "139/")
	}
	explained := map[string]bool{}
	var out []Suggestion
	for {
		best, gain := -1, 0
		for i, s := range candidates {
			g, real := 0, false
			for _, k := range s.Matched {
				if !explained[k] {
					g++
					real = real || !netbios(k)
				}
			}
			if !real {
				continue
			}
			if best < 0 || s.Score > candidates[best].Score || s.Score == candidates[best].Score && g > gain {
				best, gain = i, g
			}
		}
		if best < 0 {
			break
		}
		s := candidates[best]
		for _, k := range s.Matched {
			if !explained[k] {
				s.Explains = append(s.Explains, k)
				explained[k] = true
			}
		}
		out = append(out, s)
		candidates = slices.Delete(candidates, best, best+1)
	}
	return out, nil
}
