package capture

import (
	"fmt"
	"slices"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// commonPorts are the ports any Windows server may listen on whatever its
// roles, so that they tell no role apart: the RPC endpoint mapper (135)
// and the Server service with NetBIOS over TCP/IP (445, 137-139), KB
// 832017 ("Remote Procedure Call (RPC)", "Server"); Remote Desktop for
// administration (3389); and WinRM (5985, 5986), on by default from
// Windows Server 2012 (about_Remote_Troubleshooting,
// https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_remote_troubleshooting).
var commonPorts = []string{"135/tcp", "137/udp", "138/udp", "139/tcp", "445/tcp", "3389/tcp", "3389/udp", "5985/tcp", "5986/tcp"}

// Suggestion is a role that explains part of what a server listens on.
type Suggestion struct {
	Role string `json:"role"`
	// Explains are the listening ports the role is the first suggestion
	// to explain.
	Explains []string `json:"explains"`
	// Matched are the role's distinguishing fixed ports (not the RPC
	// range, not scenarios', not commonPorts) the capture shows listening;
	// Missing those it shows not listening. A port of a protocol the
	// capture does not list is neither.
	Matched []string `json:"matched"`
	Missing []string `json:"missing,omitempty"`
	// Score is len(Matched) / (len(Matched)+len(Missing)), from 0 to 1.
	Score float64 `json:"score"`
}

// Suggest proposes the catalog's roles that explain the listeners of
// capture cp, for servers of the OS versions oses. A role is a candidate
// when it shows at least one of its distinguishing fixed ports (see
// Suggestion.Matched) and at least half of them; ports every server may
// have (commonPorts) count for no role, so that Remote Desktop is no sign
// of a session host, nor WinRM of a licensing server. Then the best share
// first, of equal shares the one that explains the most listening ports
// not yet explained, then the next, while a role explains a port more.
func Suggest(cp *Capture, oses []string, c *catalog.Catalog) ([]Suggestion, error) {
	ports, _ := Ports(cp.Listeners)
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
			if !n.Proto.HasPorts() || n.Ports.From != n.Ports.To || n.RPC != "" || n.Optional || !cp.Captured(string(n.Proto)) {
				continue
			}
			k := fmt.Sprintf("%d/%s", n.Ports.From, n.Proto)
			if slices.Contains(commonPorts, k) || slices.Contains(s.Matched, k) || slices.Contains(s.Missing, k) {
				continue
			}
			if have[k] {
				s.Matched = append(s.Matched, k)
			} else {
				s.Missing = append(s.Missing, k)
			}
		}
		if len(s.Matched) == 0 {
			continue
		}
		s.Score = float64(len(s.Matched)) / float64(len(s.Matched)+len(s.Missing))
		if s.Score >= 0.5 {
			candidates = append(candidates, s)
		}
	}
	explained := map[string]bool{}
	var out []Suggestion
	for {
		best, gain := -1, 0
		for i, s := range candidates {
			g := 0
			for _, k := range s.Matched {
				if !explained[k] {
					g++
				}
			}
			if g > 0 && (best < 0 || s.Score > candidates[best].Score || s.Score == candidates[best].Score && g > gain) {
				best, gain = i, g
			}
		}
		if best < 0 {
			return out, nil
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
}
