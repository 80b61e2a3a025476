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
	// PIDs are the owning processes' IDs, sorted, where the capture names
	// them (netstat -ano, PowerShell's OwningProcess, ss -p).
	PIDs []int `json:"pids,omitempty"`
	// Services are the group's role/service pairs whose rules cover it.
	Services []string `json:"services,omitempty"`
	// RPC says the port is in the RPC dynamic range of the servers' OS,
	// where RPC servers get their ports.
	RPC bool `json:"rpc_dynamic,omitempty"`
	// Usual are the catalog's services with an entry for the port itself
	// or a narrow range (at most usualMaxRange ports) that holds it, for a
	// port no rule covers; Scenarios the group's scenarios, off, that
	// would open it.
	Usual     []string `json:"usual_services,omitempty"`
	Scenarios []string `json:"scenarios,omitempty"`
	Line      int      `json:"line"` // the capture's first line of it
}

// Idle is a port or range the group's rules open that nothing listens on,
// or that the capture does not show (a protocol it did not capture).
type Idle struct {
	Proto    string   `json:"protocol"`
	Ports    string   `json:"ports"` // "636" or "49152-65535"
	Services []string `json:"services"`
}

// Ephemeral counts the UDP endpoints of one process in the servers'
// default dynamic port range that no rule covers. Windows lists every
// bound UDP socket as a listener: the sockets clients send from, and the
// DNS Server's socket pool, 2,500 random ports of the range by default
// (KB 956188; "Configure the Socket Pool",
// https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/ee649174(v=ws.10)).
// They receive the answers to the host's own requests, which a stateful
// firewall lets in without a rule.
type Ephemeral struct {
	Range     string   `json:"range"` // the dynamic range, "49152-65535" (KB 929851)
	Count     int      `json:"count"` // ports
	Processes []string `json:"processes,omitempty"`
	PIDs      []int    `json:"pids,omitempty"`
	Line      int      `json:"line"` // the capture's first line of them
}

// Report is what a capture shows against a host group's rules.
type Report struct {
	Group  string `json:"group"`
	Format string `json:"format"`
	// Captured are the protocols the capture lists sockets of.
	Captured  []string    `json:"captured"`
	Covered   []Port      `json:"covered"`
	Uncovered []Port      `json:"uncovered"`
	Ephemeral []Ephemeral `json:"ephemeral_udp"`
	Idle      []Idle      `json:"idle"`
	// NotCaptured are the rules of a protocol the capture does not list:
	// whether anything listens there, it cannot tell.
	NotCaptured []Idle `json:"not_captured"`
	// Listeners counts the capture's listeners, loopback ones too;
	// Loopback those left out because only the host itself can reach
	// them.
	Listeners int `json:"listeners"`
	Loopback  int `json:"loopback"`
}

// OK reports whether every listening port is covered by a rule, or is a
// UDP endpoint in the dynamic range (see Ephemeral).
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
		if l.PID != 0 && !slices.Contains(p.PIDs, l.PID) {
			p.PIDs = append(p.PIDs, l.PID)
		}
	}
	out := make([]Port, 0, len(byKey))
	for _, p := range byKey {
		slices.Sort(p.Addresses)
		slices.Sort(p.Processes)
		slices.Sort(p.PIDs)
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Port) int { return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port)) })
	return out, loop
}

// Check compares the listeners of capture cp with host group g's rules:
// the ports they cover; the UDP endpoints in the dynamic range of the
// servers' OS (from c, KB 929851) that no rule covers, counted by process
// (see Ephemeral); the other ports no rule covers, with the catalog's
// services that usually listen there and the group's scenarios that would
// open them; the rules nothing listens for; and the rules of a protocol
// the capture does not list. A TCP listener in the RPC dynamic range
// counts as covered when the group opens the range; loopback listeners
// are left out.
func Check(cp *Capture, g *policies.Group, c *catalog.Catalog) *Report {
	ports, loop := Ports(cp.Listeners)
	r := &Report{Group: g.Name, Format: cp.Format, Captured: append([]string{}, cp.Protocols...), Loopback: loop,
		Listeners: len(cp.Listeners), Covered: []Port{}, Uncovered: []Port{}, Ephemeral: []Ephemeral{}, Idle: []Idle{},
		NotCaptured: []Idle{}}
	dynamic := dynamicRanges(g, c)
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
		if i := slices.IndexFunc(dynamic, func(rg catalog.PortRange) bool { return p.Proto == "udp" && rg.Contains(p.Port) }); i >= 0 {
			r.addEphemeral(dynamic[i], p)
			continue
		}
		p.Scenarios = offScenarios(g, p.Proto, p.Port)
		if len(p.Scenarios) == 0 {
			p.Usual = usualServices(c, p.Proto, p.Port)
		}
		r.Uncovered = append(r.Uncovered, p)
	}
	r.Idle, r.NotCaptured = idle(cp, g, ports)
	return r
}

// addEphemeral counts a UDP port of the dynamic range rg under its
// processes.
func (r *Report) addEphemeral(rg catalog.PortRange, p Port) {
	i := slices.IndexFunc(r.Ephemeral, func(e Ephemeral) bool {
		return e.Range == rg.String() && slices.Equal(e.Processes, p.Processes) && slices.Equal(e.PIDs, p.PIDs)
	})
	if i < 0 {
		r.Ephemeral = append(r.Ephemeral, Ephemeral{Range: rg.String(), Processes: p.Processes, PIDs: p.PIDs, Line: p.Line})
		i = len(r.Ephemeral) - 1
	}
	r.Ephemeral[i].Count++
	r.Ephemeral[i].Line = min(r.Ephemeral[i].Line, p.Line)
}

// idle lists the group's rules that no listener of the capture is heard
// on, and apart those of a protocol the capture does not list, each
// sorted by protocol and port.
func idle(cp *Capture, g *policies.Group, ports []Port) (quiet, unknown []Idle) {
	byKey := map[string]*Idle{}
	var order []string
	for _, n := range g.Needs {
		if !n.Proto.HasPorts() {
			continue
		}
		if slices.ContainsFunc(ports, func(p Port) bool { return p.Proto == string(n.Proto) && n.Ports.Contains(p.Port) }) {
			continue
		}
		k := string(n.Proto) + " " + n.Ports.String()
		if byKey[k] == nil {
			byKey[k] = &Idle{Proto: string(n.Proto), Ports: n.Ports.String()}
			order = append(order, k)
		}
		if svc := n.Role + "/" + n.Service; !slices.Contains(byKey[k].Services, svc) {
			byKey[k].Services = append(byKey[k].Services, svc)
		}
	}
	quiet, unknown = []Idle{}, []Idle{}
	for _, k := range order {
		i := byKey[k]
		slices.Sort(i.Services)
		if cp.Captured(i.Proto) {
			quiet = append(quiet, *i)
		} else {
			unknown = append(unknown, *i)
		}
	}
	for _, list := range [][]Idle{quiet, unknown} {
		slices.SortFunc(list, func(a, b Idle) int {
			pa, _ := catalog.ParsePortRange(a.Ports)
			pb, _ := catalog.ParsePortRange(b.Ports)
			return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(pa.From, pb.From), cmp.Compare(pa.To, pb.To))
		})
	}
	return quiet, unknown
}

// dynamicRanges are the default dynamic port ranges (KB 929851) of the
// OS versions of the group's servers, each once.
func dynamicRanges(g *policies.Group, c *catalog.Catalog) []catalog.PortRange {
	var out []catalog.PortRange
	for _, v := range g.Hosts() {
		if o, err := c.OS(v.ID); err == nil && !slices.Contains(out, o.RPCDynamic) {
			out = append(out, o.RPCDynamic)
		}
	}
	return out
}

// offScenarios names the group's scenarios, off, that would open a
// protocol and port, as "netbios (NetBIOS fallback)".
func offScenarios(g *policies.Group, proto string, port uint16) []string {
	var out []string
	for _, s := range g.Scenarios {
		if s.On {
			continue
		}
		for _, sp := range s.Ports {
			ports, p, ok := strings.Cut(sp, "/")
			r, err := catalog.ParsePortRange(ports)
			if ok && err == nil && p == proto && r.Contains(port) {
				out = append(out, s.ID+" ("+s.Name+")")
				break
			}
		}
	}
	return out
}

// usualMaxRange is the widest range of a catalog entry whose services
// usualServices names: a wider one (ISA Server's 1025-65535) holds nearly
// every port, and naming it for each says nothing.
const usualMaxRange = 1000

// usualServices names the catalog's services with an entry on a protocol
// and port number, or a range of at most usualMaxRange ports that holds
// it, as "service (roles)".
func usualServices(c *catalog.Catalog, proto string, port uint16) []string {
	var out []string
	for _, s := range c.Services {
		for _, e := range s.Entries {
			if string(e.Protocol) != proto || !slices.ContainsFunc(e.Ports, func(p string) bool {
				r, err := catalog.ParsePortRange(p)
				return err == nil && r.Contains(port) && int(r.To)-int(r.From) < usualMaxRange
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
