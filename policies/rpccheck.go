package policies

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// minRPCRange is the fewest ports a restricted RPC dynamic range should
// have: "a minimum of 100 ports should be opened, because several system
// services rely on these RPC ports to communicate with each other" (KB
// 154596).
const minRPCRange = 100

// RPCProblem is an RPC setting that the KBs call broken. Field is "range"
// or "static.<interface>"; Msg says what conflicts and cites the KB.
type RPCProblem struct {
	Field string
	Msg   string
}

// CheckRPC checks an estate's RPC settings against what KB 154596 and KB
// 224196 require, for servers holding the roles roleIDs:
//   - a restricted range has at least 100 ports (KB 154596);
//   - every pinned interface has a port of its own: Netlogon logs event
//     5809 when it shares NTDS's, and FRS needs another port (KB 224196);
//   - a pinned port lies outside the restricted range (KB 154596);
//   - a pinned port is not a fixed port the servers already serve, such as
//     389 or 88 (KB 224196 pins each interface to an available port).
//
// It returns the problems found, sorted by field.
func CheckRPC(o RPCOptions, roleIDs []string, c *catalog.Catalog) []RPCProblem {
	var out []RPCProblem
	if r := o.Range; r != nil {
		if n := int(r.To) - int(r.From) + 1; n < minRPCRange {
			out = append(out, RPCProblem{"range", fmt.Sprintf(
				"%s has %d ports: KB 154596 asks for at least %d, since several system services rely on the RPC ports",
				r, n, minRPCRange)})
		}
		if taken := portsIn(fixedPorts(roleIDs, c), *r, "", true); len(taken) > 0 {
			out = append(out, RPCProblem{"range", fmt.Sprintf(
				"%s holds ports the servers listen on, or would with a scenario on (%s): RPC would hand them out too; "+
					"choose a range without them (KB 154596: port numbers below 5000 may be in use by other applications, and the same holds for any fixed port)", r, strings.Join(taken, ", "))})
		}
	}
	byPort := map[uint16][]string{}
	for _, iface := range slices.Sorted(maps.Keys(o.Static)) {
		port := o.Static[iface]
		byPort[port] = append(byPort[port], iface)
		field := "static." + iface
		holders := interfaceRoles(iface, roleIDs, c)
		if len(holders) == 0 {
			out = append(out, RPCProblem{field, fmt.Sprintf(
				"no service of the roles %s uses the RPC interface %s, so the pin would do nothing",
				strings.Join(roleIDs, ", "), iface)})
			continue
		}
		if r := o.Range; r != nil && r.Contains(port) {
			out = append(out, RPCProblem{field, fmt.Sprintf(
				"%s=%d is inside the restricted RPC range %s, where RPC hands the port to other services: "+
					"KB 154596 says to choose server ports outside the range", iface, port, r)})
		}
		if taken := portsIn(fixedPorts(holders, c), PortRange{From: port, To: port}, iface, false); len(taken) > 0 {
			out = append(out, RPCProblem{field, fmt.Sprintf(
				"%s=%d is already the port of %s on the servers of %s: pin the interface to an available port (KB 224196)",
				iface, port, strings.Join(taken, ", "), strings.Join(holders, ", "))})
		}
	}
	for _, port := range slices.Sorted(maps.Keys(byPort)) {
		ifaces := byPort[port]
		for _, iface := range ifaces[1:] {
			out = append(out, RPCProblem{"static." + iface, fmt.Sprintf(
				"%s and %s are both pinned to port %d: each interface needs a port of its own "+
					"(KB 224196: Netlogon logs event 5809 when it shares the NTDS port, and FRS should use a different port)",
				ifaces[0], iface, port)})
		}
	}
	slices.SortStableFunc(out, func(a, b RPCProblem) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// interfaceRoles are the roles of roleIDs with a service that has RPC
// interface iface.
func interfaceRoles(iface string, roleIDs []string, c *catalog.Catalog) []string {
	var out []string
	for _, id := range roleIDs {
		role, err := c.Role(id)
		if err != nil {
			continue
		}
		for _, rs := range role.Services {
			svc, err := c.Service(rs.ID)
			if err == nil && slices.ContainsFunc(svc.Entries, func(e catalog.Entry) bool { return e.RPC == iface }) &&
				!slices.Contains(out, role.ID) {
				out = append(out, role.ID)
			}
		}
	}
	return out
}

// portsIn names the owners of the fixed ports in r ("88/tcp of kdc
// (Kerberos)" withPort, "kdc (Kerberos)" without), but for those that are
// interface iface's own.
func portsIn(fixed map[uint16][]portOwner, r PortRange, iface string, withPort bool) []string {
	var out []string
	for _, port := range slices.Sorted(maps.Keys(fixed)) {
		if !r.Contains(port) {
			continue
		}
		for _, ow := range fixed[port] {
			if iface == "" || ow.iface != iface {
				what := ow.what
				if withPort {
					what = fmt.Sprintf("%d/tcp of %s", port, what)
				}
				out = addUnique(out, what)
			}
		}
	}
	if len(out) > 6 {
		out = append(out[:6], fmt.Sprintf("and %d more", len(out)-6))
	}
	return out
}

// portOwner is an entry that listens on a fixed port: what it is, and the
// RPC interface whose own port it is, if any (DFSR's 5722/tcp), which that
// interface may be pinned to.
type portOwner struct {
	what, iface string
}

// fixedPorts maps each TCP port that an entry of the roles' services
// listens on to the entries that own it.
func fixedPorts(roleIDs []string, c *catalog.Catalog) map[uint16][]portOwner {
	out := map[uint16][]portOwner{}
	for _, id := range roleIDs {
		role, err := c.Role(id)
		if err != nil {
			continue
		}
		for _, rs := range role.Services {
			svc, err := c.Service(rs.ID)
			if err != nil {
				continue
			}
			for _, e := range svc.Entries {
				if e.Protocol != catalog.TCP {
					continue
				}
				for _, p := range e.Ports {
					pr, err := catalog.ParsePortRange(p)
					if err != nil || pr.To-pr.From > 16 { // a symbol, or a range no one pins into
						continue
					}
					what := svc.ID
					if e.Label != "" {
						what += " (" + e.Label + ")"
					}
					ow := portOwner{what: what, iface: e.RPC}
					for port := int(pr.From); port <= int(pr.To); port++ {
						if !slices.Contains(out[uint16(port)], ow) {
							out[uint16(port)] = append(out[uint16(port)], ow)
						}
					}
				}
			}
		}
	}
	return out
}
