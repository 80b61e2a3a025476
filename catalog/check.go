package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// Check verifies the catalog's integrity: unique ids, known references,
// well-formed ports and conditions, and a citation for every entry. It
// reports every problem, one per line.
// validProgram and validWinService bound what a binding may name: every
// program of the data is System or under %SystemRoot%, and service short
// names are words, so that nothing in them needs more than the formats'
// quoting.
var (
	validProgram    = regexp.MustCompile(`^(System|%SystemRoot%(\\[A-Za-z0-9._]+)+\.exe)$`)
	validWinService = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
)

func (c *Catalog) Check() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	seen := map[string]string{}
	unique := func(kind, id string) {
		if !idPattern.MatchString(id) {
			add("%s %q: id must be lower-case letters, digits, '.' and '-'", kind, id)
		}
		if prev, dup := seen[kind+"/"+id]; dup {
			add("%s %q: defined twice (%s)", kind, id, prev)
		}
		seen[kind+"/"+id] = kind
	}
	for _, d := range c.Documents {
		unique("document", d.ID)
		if d.Title == "" || (d.URL != "" && !strings.HasPrefix(d.URL, "https://")) {
			add("document %q: needs a title, and an https url if any", d.ID)
		}
	}
	checkRefs := func(where string, refs []Citation, required bool) {
		if required && len(refs) == 0 {
			add("%s: no reference", where)
		}
		for _, r := range refs {
			if c.docs[r.Doc] == nil {
				add("%s: cites unknown document %q", where, r.Doc)
			}
		}
	}
	for _, o := range c.OSes {
		unique("os", o.ID)
		if o.Kind != "server" && o.Kind != "client" {
			add("os %q: kind must be server or client", o.ID)
		}
		if o.RPCDynamic.From == 0 {
			add("os %q: no rpc_dynamic range", o.ID)
		}
		checkRefs("os "+o.ID, o.Ref, true)
	}
	for _, sc := range c.Scenarios {
		unique("scenario", sc.ID)
		if sc.Name == "" || sc.Description == "" {
			add("scenario %q: needs a name and a description", sc.ID)
		}
		checkRefs("scenario "+sc.ID, sc.Ref, false)
	}
	for _, s := range c.Services {
		unique("service", s.ID)
		if s.Name == "" {
			add("service %q: no name", s.ID)
		}
		if len(s.Entries) == 0 {
			add("service %q: no entries", s.ID)
		}
		checkRefs("service "+s.ID, s.Ref, false)
		for i, e := range s.Entries {
			where := fmt.Sprintf("service %q entries[%d]", s.ID, i)
			errs = append(errs, c.checkEntry(where, e)...)
			refs := e.Ref
			if len(refs) == 0 {
				refs = s.Ref
			}
			checkRefs(where, refs, true)
		}
	}
	aliases := map[string]string{}
	for _, r := range c.Roles {
		unique("role", r.ID)
		aliases[r.ID] = r.ID
	}
	for _, r := range c.Roles {
		if len(r.Services) == 0 {
			add("role %q: no services", r.ID)
		}
		for _, a := range r.Aliases {
			if other, dup := aliases[strings.ToLower(a)]; dup {
				add("role %q: alias %q is taken by role %q", r.ID, a, other)
			}
			aliases[strings.ToLower(a)] = r.ID
		}
		switch r.Members {
		case "", MembersGroup, MembersSite:
		default:
			add("role %q: members %q: want group or site", r.ID, r.Members)
		}
		seenSvc := map[string]bool{}
		for _, rs := range r.Services {
			where := fmt.Sprintf("role %q service %q", r.ID, rs.ID)
			switch {
			case c.services[rs.ID] == nil:
				add("role %q: unknown service %q", r.ID, rs.ID)
			case seenSvc[rs.ID]:
				add("%s: listed twice", where)
			}
			seenSvc[rs.ID] = true
			if rs.Scenario != "" && c.scenarios[rs.Scenario] == nil {
				add("%s: unknown scenario %q", where, rs.Scenario)
			}
			if (rs.Scenario != "" || rs.When != nil) && rs.Why == "" {
				add("%s: a service limited to a scenario or an OS says why", where)
			}
			errs = append(errs, c.checkCondition(where, rs.When)...)
			checkRefs(where, rs.Ref, false)
		}
		checkRefs("role "+r.ID, r.Ref, true)
	}
	for i, b := range c.Bindings {
		where := fmt.Sprintf("binding %d (%s %s %s)", i, b.Service, b.Protocol, strings.Join(b.Ports, ","))
		if b.Service != "" && c.services[b.Service] == nil {
			add("%s: unknown service %q", where, b.Service)
		}
		if !b.Protocol.HasPorts() {
			add("%s: binds tcp or udp entries only", where)
		}
		switch {
		case b.Program == "" && (b.Why == "" || b.WinService != ""):
			add("%s: a binding without a program keeps entries port-only and says why, with no service", where)
		case b.Program != "" && !validProgram.MatchString(b.Program):
			add("%s: program %q: want System or a path under %%SystemRoot%%", where, b.Program)
		case b.WinService != "" && !validWinService.MatchString(b.WinService):
			add("%s: service %q: want a Windows service short name", where, b.WinService)
		}
		for _, v := range []string{b.ServersFrom, b.ServersBefore} {
			if _, err := c.OS(v); v != "" && err != nil {
				add("%s: %v", where, err)
			}
		}
		checkRefs(where, b.Ref, b.Program != "")
	}
	return errors.Join(errs...)
}

func (c *Catalog) checkEntry(where string, e Entry) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(where+": "+format, args...))
	}
	if e.Protocol.Number() == 0 {
		add("unknown protocol %q", e.Protocol)
	}
	switch {
	case e.Protocol.HasPorts() && len(e.Ports) == 0:
		add("%s needs ports", e.Protocol)
	case !e.Protocol.HasPorts() && len(e.Ports) > 0:
		add("%s has no ports", e.Protocol)
	}
	for _, p := range e.Ports {
		if p == RPCDynamicSymbol || p == EphemeralSymbol {
			continue
		}
		if _, err := ParsePortRange(p); err != nil {
			add("%v", err)
		}
	}
	isICMP := e.Protocol == ICMPv4 || e.Protocol == ICMPv6
	if isICMP != (e.ICMPType != nil) {
		add("icmp_type is for icmpv4 and icmpv6 entries, and they need one")
	}
	if e.ICMPType != nil && (*e.ICMPType < 0 || *e.ICMPType > 255) {
		add("icmp_type %d is not 0-255", *e.ICMPType)
	}
	if len(e.Peers) == 0 {
		add("peers: name who connects (clients, members, admins or role:<id>)")
	}
	for _, p := range e.Peers {
		if id, isRole := p.Role(); isRole {
			if c.roles[id] == nil {
				add("peers: unknown role %q", id)
			}
		} else if !p.IsClass() {
			add("peers %q: want clients, members, admins or role:<id>", p)
		}
	}
	if e.Family != 0 && e.Family != 4 && e.Family != 6 {
		add("family %d: want 4 or 6", e.Family)
	}
	if e.RPC != "" && len(e.Ports) == 0 {
		add("rpc %q on an entry without ports", e.RPC)
	}
	if e.Scenario != "" && c.scenarios[e.Scenario] == nil {
		add("unknown scenario %q", e.Scenario)
	}
	if (e.Scenario != "" || e.When != nil || e.AnySource) && e.Why == "" {
		add("scenario, conditional and any_source entries say why")
	}
	errs = append(errs, c.checkCondition(where, e.When)...)
	return errs
}

// checkCondition checks an OS condition: every OS it names exists, and it
// names at least one.
func (c *Catalog) checkCondition(where string, w *Condition) []error {
	if w == nil {
		return nil
	}
	var errs []error
	for _, id := range append(append([]string{}, w.OSAny...), w.Before, w.From) {
		if id != "" && c.oses[NormalizeOS(id)] == nil {
			errs = append(errs, fmt.Errorf("%s: when: unknown OS %q", where, id))
		}
	}
	if len(w.OSAny) == 0 && w.Before == "" && w.From == "" {
		errs = append(errs, fmt.Errorf("%s: when: empty condition", where))
	}
	return errs
}
