package policies

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// entry turns one catalog entry of a role's service into needs, or into an
// omission that says why it was left out.
func (r *resolver) entry(role string, svc *catalog.Service, e catalog.Entry) {
	omit := func(reason string) {
		r.g.Omitted = append(r.g.Omitted, Omission{Role: role, Service: svc.ID, Proto: e.Protocol,
			Ports: strings.Join(e.Ports, ","), Label: e.Label, Reason: reason})
	}
	osReason := ""
	if e.When != nil {
		ok, why := r.holds(e.When)
		if !ok {
			omit(fmt.Sprintf("not needed for this OS mix: %s (%s)", e.Why, why))
			return
		}
		osReason = fmt.Sprintf("%s (%s)", e.Why, why)
	}
	if e.Optional && !r.p.Optional {
		omit(fmt.Sprintf("optional, left out (include with --optional): %s", e.Why))
		return
	}
	base := Need{Role: role, Service: svc.ID, ServiceName: svc.Name, SystemService: svc.SystemService,
		Label: e.Label, Proto: e.Protocol, ICMPType: e.ICMPType, Peer: e.Peers,
		Sources: r.sources(role, e.Peers), Optional: e.Optional, OSReason: osReason, Notes: svc.Notes,
		Refs: r.refs(svc, e)}
	if !e.Protocol.HasPorts() {
		r.add(base)
		return
	}
	for _, p := range e.Ports {
		for _, n := range r.ports(base, p, e.RPC) {
			r.add(n)
		}
	}
}

// ports expands one port string of an entry: a number, a range, or the RPC
// dynamic range, which a static RPC port of the entry's interface replaces.
func (r *resolver) ports(base Need, p, iface string) []Need {
	if p != catalog.RPCDynamicSymbol {
		pr, err := catalog.ParsePortRange(p)
		if err != nil { // the catalog's Check rules this out
			panic(fmt.Sprintf("catalog: service %s: %v", base.Service, err))
		}
		base.Ports = pr
		return []Need{base}
	}
	base.RPCInterface = iface
	for _, s := range r.g.RPC.Static {
		if iface != "" && s.Interface == iface {
			base.RPC = "static"
			base.Ports = PortRange{From: s.Port, To: s.Port}
			return []Need{base}
		}
	}
	base.RPC = "dynamic"
	if r.p.RPC.Range != nil {
		base.RPC = "restricted"
	}
	var out []Need
	for _, pr := range r.g.RPC.Ranges {
		n := base
		n.Ports = pr
		out = append(out, n)
	}
	return out
}

// add appends a need unless an equal one is there already.
func (r *resolver) add(n Need) {
	k := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s", n.Role, n.Service, n.Proto, n.Ports, icmpKey(n.ICMPType), n.Peer, n.Label)
	if r.seen[k] {
		return
	}
	r.seen[k] = true
	r.g.Needs = append(r.g.Needs, n)
}

// refs resolves an entry's citations, or its service's when it has none.
func (r *resolver) refs(svc *catalog.Service, e catalog.Entry) []Ref {
	cites := e.Ref
	if len(cites) == 0 {
		cites = svc.Ref
	}
	var out []Ref
	for _, c := range cites {
		ref := Ref{Doc: c.Doc, Section: c.Section}
		if d := r.c.Document(c.Doc); d != nil {
			ref.Title, ref.URL = d.Title, d.URL
		}
		out = append(out, ref)
	}
	return out
}

// holds evaluates an OS condition against the group's servers (or, with
// Mix, the whole OS mix) and says why.
func (r *resolver) holds(w *catalog.Condition) (bool, string) {
	hosts, what, noun := r.listeners(), "the servers run", "server"
	if w.Mix {
		hosts, what, noun = r.oses, "the OS mix has", "host"
	}
	anyOS := func(f func(*catalog.OS) bool) bool { return slices.ContainsFunc(hosts, f) }
	names := func(f func(*catalog.OS) bool) string {
		var out []string
		for _, o := range hosts {
			if f(o) {
				out = append(out, o.Name)
			}
		}
		return strings.Join(out, ", ")
	}
	var reasons []string
	if len(w.OSAny) > 0 {
		var want []string
		for _, id := range w.OSAny {
			o, _ := r.c.OS(id)
			want = append(want, o.Name)
		}
		in := func(o *catalog.OS) bool { return slices.Contains(want, o.Name) }
		if !anyOS(in) {
			return false, "no " + noun + " runs " + strings.Join(want, " or ")
		}
		reasons = append(reasons, what+" "+names(in))
	}
	if w.Before != "" {
		limit, _ := r.c.OS(w.Before)
		older := func(o *catalog.OS) bool { return o.Build < limit.Build }
		if !anyOS(older) {
			return false, "every " + noun + " runs " + limit.Name + " or later"
		}
		reasons = append(reasons, fmt.Sprintf("%s %s, older than %s", what, names(older), limit.Name))
	}
	if w.From != "" {
		limit, _ := r.c.OS(w.From)
		newer := func(o *catalog.OS) bool { return o.Build >= limit.Build }
		if !anyOS(newer) {
			return false, "every " + noun + " is older than " + limit.Name
		}
		reasons = append(reasons, fmt.Sprintf("%s %s, %s or later", what, names(newer), limit.Name))
	}
	return true, strings.Join(reasons, "; ")
}

// sortNeeds orders needs by role, service, protocol, port, ICMP type, peer
// and label, so that output never depends on catalog order.
func sortNeeds(ns []Need) {
	slices.SortFunc(ns, func(a, b Need) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Ports.From, b.Ports.From),
			cmp.Compare(a.Ports.To, b.Ports.To), cmp.Compare(icmpKey(a.ICMPType), icmpKey(b.ICMPType)),
			cmp.Compare(a.Peer, b.Peer), cmp.Compare(a.Label, b.Label))
	})
}
