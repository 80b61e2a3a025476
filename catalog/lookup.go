package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// OS returns the Windows version a user named, in any common spelling.
func (c *Catalog) OS(name string) (*OS, error) {
	if o, ok := c.oses[NormalizeOS(name)]; ok {
		return o, nil
	}
	ids := make([]string, len(c.OSes))
	for i, o := range c.OSes {
		ids[i] = o.ID
	}
	return nil, &UnknownError{Kind: "OS", Name: name, Valid: ids, Suggest: Suggest(NormalizeOS(name), ids)}
}

// Role returns the role a user named by id or alias.
func (c *Catalog) Role(name string) (*Role, error) {
	if r, ok := c.roles[strings.ToLower(strings.TrimSpace(name))]; ok {
		return r, nil
	}
	var names []string
	for n := range c.roles {
		names = append(names, n)
	}
	slices.Sort(names)
	ids := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		ids[i] = r.ID
	}
	guess := Suggest(strings.ToLower(name), names)
	if guess != "" {
		guess = c.roles[guess].ID // name the role, not one of its aliases
	}
	return nil, &UnknownError{Kind: "role", Name: name, Valid: ids, Suggest: guess}
}

// Service returns the service with the given id.
func (c *Catalog) Service(id string) (*Service, error) {
	if s, ok := c.services[strings.ToLower(strings.TrimSpace(id))]; ok {
		return s, nil
	}
	ids := make([]string, len(c.Services))
	for i, s := range c.Services {
		ids[i] = s.ID
	}
	return nil, &UnknownError{Kind: "service", Name: id, Valid: ids, Suggest: Suggest(strings.ToLower(id), ids)}
}

// Scenario returns the scenario with the given id.
func (c *Catalog) Scenario(id string) (*Scenario, error) {
	if s, ok := c.scenarios[strings.ToLower(strings.TrimSpace(id))]; ok {
		return s, nil
	}
	ids := make([]string, len(c.Scenarios))
	for i, s := range c.Scenarios {
		ids[i] = s.ID
	}
	return nil, &UnknownError{Kind: "scenario", Name: id, Valid: ids, Suggest: Suggest(strings.ToLower(id), ids)}
}

// RoleScenarios lists, sorted, the scenarios a role can turn on: those of
// its services in the role and those of its services' entries.
func (c *Catalog) RoleScenarios(r *Role) []string {
	var out []string
	add := func(id string) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, rs := range r.Services {
		add(rs.Scenario)
		if s := c.services[rs.ID]; s != nil {
			for _, e := range s.Entries {
				add(e.Scenario)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Document returns the cited document with the given id, or nil.
func (c *Catalog) Document(id string) *Document { return c.docs[id] }

// RPCInterfaces lists the RPC interface names that entries declare and that
// can be pinned to a static port.
func (c *Catalog) RPCInterfaces() []string {
	var out []string
	for _, s := range c.Services {
		for _, e := range s.Entries {
			if e.RPC != "" && !slices.Contains(out, e.RPC) {
				out = append(out, e.RPC)
			}
		}
	}
	slices.Sort(out)
	return out
}

// UnknownError reports a name that is not in the catalog.
type UnknownError struct {
	Kind    string   // "role", "OS", "service", "scenario"
	Name    string   // what was asked for
	Valid   []string // the names that exist
	Suggest string   // the closest valid name, or ""
}

func (e *UnknownError) Error() string {
	msg := fmt.Sprintf("unknown %s %q", e.Kind, e.Name)
	if e.Suggest != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", e.Suggest)
	}
	return msg
}

// Suggest returns the candidate a mistyped s most likely meant, or "": a
// candidate that starts with s ("print" for print-server, "nft" for
// nftables), else the nearest within a few edits ("dcc" for dc, "2061" for
// 2016).
func Suggest(s string, candidates []string) string {
	if s == "" {
		return ""
	}
	if len(s) >= 2 {
		best := ""
		for _, c := range candidates {
			if strings.HasPrefix(c, s) && (best == "" || len(c) < len(best)) {
				best = c
			}
		}
		if best != "" {
			return best
		}
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len(s)/4) {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours ("2061" is
// one step from "2016").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
