package capture

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

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

// Suggest proposes the catalog's roles that explain the listeners of cp, for
// servers of the OS versions oses: among the roles that show at least half
// of their fixed ports (not the RPC range, not scenarios'), the one with
// the best share, and of equal shares the one that explains the most
// listening ports not yet explained, then the next, while a role explains
// a port more (NetBIOS alone does not count).
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
