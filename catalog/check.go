package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// Check verifies the catalog's integrity: unique ids, known references,
// well-formed ports and conditions, and a citation for every entry. It
// reports every problem, one per line.
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
		for _, id := range r.Services {
			if c.services[id] == nil {
				add("role %q: unknown service %q", r.ID, id)
			}
		}
		checkRefs("role "+r.ID, r.Ref, true)
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
		if p == RPCDynamicSymbol {
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
	if !slices.Contains([]Peer{Clients, Members, Admins}, e.Peers) {
		add("peers %q: want clients, members or admins", e.Peers)
	}
	if e.RPC != "" && !slices.Contains(e.Ports, RPCDynamicSymbol) {
		add("rpc %q on an entry without rpc-dynamic", e.RPC)
	}
	if (e.Optional || e.When != nil) && e.Why == "" {
		add("optional and conditional entries say why")
	}
	if e.When != nil {
		for _, id := range append(append([]string{}, e.When.OSAny...), e.When.Before, e.When.From) {
			if id != "" && c.oses[NormalizeOS(id)] == nil {
				add("when: unknown OS %q", id)
			}
		}
		if len(e.When.OSAny) == 0 && e.When.Before == "" && e.When.From == "" {
			add("when: empty condition")
		}
	}
	return errs
}
