package policies

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// ServiceRule is a rule of the by-service view: the ports one role's service
// needs for one protocol from one set of sources. Windows admins and the KB
// think this way; CSV, PowerShell and netsh use it.
type ServiceRule struct {
	Role          string         `json:"role"`
	Service       string         `json:"service"`
	ServiceName   string         `json:"service_name"`
	SystemService string         `json:"system_service,omitempty"`
	Proto         Proto          `json:"protocol"`
	Ports         []PortRange    `json:"ports,omitempty"`
	ICMPType      *int           `json:"icmp_type,omitempty"`
	Sources       []netip.Prefix `json:"sources,omitempty"`
	Peers         []Peer         `json:"peers"`
	Labels        []string       `json:"labels,omitempty"`
	RPC           []string       `json:"rpc,omitempty"`
	// Optional marks a rule of optional entries only: optional ports get
	// rules of their own, so that a reader sees which ports are optional.
	Optional  bool     `json:"optional,omitempty"`
	OSReasons []string `json:"os_reasons,omitempty"`
	Notes     string   `json:"notes,omitempty"`
	Refs      []Ref    `json:"refs"`
}

// ScopeRule is a rule of the by-scope view: every port of one protocol that
// one set of sources may reach, with the services and roles that need them.
// It makes the fewest rules; nftables and iptables use it.
type ScopeRule struct {
	Sources  []netip.Prefix `json:"sources,omitempty"`
	Proto    Proto          `json:"protocol"`
	Ports    []PortRange    `json:"ports,omitempty"`
	ICMPType *int           `json:"icmp_type,omitempty"`
	Services []string       `json:"services"`
	Roles    []string       `json:"roles"`
}

// PortRule is a row of the by-port view: a protocol and port (or range)
// with every service that needs it.
type PortRule struct {
	Proto    Proto     `json:"protocol"`
	Ports    PortRange `json:"ports,omitzero"`
	ICMPType *int      `json:"icmp_type,omitempty"`
	Services []string  `json:"services"`
	Roles    []string  `json:"roles"`
	Peers    []Peer    `json:"peers"`
	Labels   []string  `json:"labels,omitempty"`
}

// ByService groups the needs by (role, service, protocol, ICMP type,
// sources, optional).
func (g *Group) ByService() []ServiceRule {
	byKey := map[string]*ServiceRule{}
	var keys []string
	ranges := map[string][]PortRange{}
	for _, n := range g.Needs {
		k := strings.Join([]string{n.Role, n.Service, string(n.Proto), icmpKey(n.ICMPType), SourcesKey(n.Sources),
			fmt.Sprint(n.Optional)}, "|")
		r, ok := byKey[k]
		if !ok {
			r = &ServiceRule{Role: n.Role, Service: n.Service, ServiceName: n.ServiceName,
				SystemService: n.SystemService, Proto: n.Proto, ICMPType: n.ICMPType,
				Sources: n.Sources, Optional: n.Optional, Notes: n.Notes}
			byKey[k] = r
			keys = append(keys, k)
		}
		if n.Proto.HasPorts() {
			ranges[k] = append(ranges[k], n.Ports)
		}
		r.Peers = addUnique(r.Peers, n.Peer)
		r.Labels = addUnique(r.Labels, n.Label)
		r.RPC = addUnique(r.RPC, n.RPC)
		r.OSReasons = addUnique(r.OSReasons, n.OSReason)
		for _, ref := range n.Refs {
			r.Refs = addUnique(r.Refs, ref)
		}
	}
	out := make([]ServiceRule, 0, len(keys))
	for _, k := range keys {
		r := byKey[k]
		r.Ports = catalog.MergeRanges(ranges[k])
		slices.Sort(r.Peers)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ServiceRule) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(icmpKey(a.ICMPType), icmpKey(b.ICMPType)),
			cmp.Compare(SourcesKey(a.Sources), SourcesKey(b.Sources)), boolCmp(a.Optional, b.Optional))
	})
	return out
}

// boolCmp orders false before true.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ByScope groups the needs by (sources, protocol, ICMP type) and merges
// their ports.
func (g *Group) ByScope() []ScopeRule {
	byKey := map[string]*ScopeRule{}
	var keys []string
	ranges := map[string][]PortRange{}
	for _, n := range g.Needs {
		k := strings.Join([]string{SourcesKey(n.Sources), string(n.Proto), icmpKey(n.ICMPType)}, "|")
		r, ok := byKey[k]
		if !ok {
			r = &ScopeRule{Sources: n.Sources, Proto: n.Proto, ICMPType: n.ICMPType}
			byKey[k] = r
			keys = append(keys, k)
		}
		if n.Proto.HasPorts() {
			ranges[k] = append(ranges[k], n.Ports)
		}
		r.Services = addUnique(r.Services, n.Service)
		r.Roles = addUnique(r.Roles, n.Role)
	}
	out := make([]ScopeRule, 0, len(keys))
	for _, k := range keys {
		r := byKey[k]
		r.Ports = catalog.MergeRanges(ranges[k])
		slices.Sort(r.Services)
		slices.Sort(r.Roles)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ScopeRule) int {
		return cmp.Or(cmp.Compare(SourcesKey(a.Sources), SourcesKey(b.Sources)),
			cmp.Compare(a.Proto, b.Proto), cmp.Compare(icmpKey(a.ICMPType), icmpKey(b.ICMPType)))
	})
	return out
}

// ByPort groups the needs by (protocol, port or range, ICMP type).
func (g *Group) ByPort() []PortRule {
	byKey := map[string]*PortRule{}
	var keys []string
	for _, n := range g.Needs {
		k := fmt.Sprintf("%s|%05d|%05d|%s", n.Proto, n.Ports.From, n.Ports.To, icmpKey(n.ICMPType))
		r, ok := byKey[k]
		if !ok {
			r = &PortRule{Proto: n.Proto, Ports: n.Ports, ICMPType: n.ICMPType}
			byKey[k] = r
			keys = append(keys, k)
		}
		r.Services = addUnique(r.Services, n.Service)
		r.Roles = addUnique(r.Roles, n.Role)
		r.Peers = addUnique(r.Peers, n.Peer)
		r.Labels = addUnique(r.Labels, n.Label)
	}
	slices.Sort(keys)
	out := make([]PortRule, 0, len(keys))
	for _, k := range keys {
		r := byKey[k]
		slices.Sort(r.Services)
		slices.Sort(r.Roles)
		slices.Sort(r.Peers)
		out = append(out, *r)
	}
	return out
}

// SourcesKey is a stable text form of a source list; "" means any address.
func SourcesKey(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func icmpKey(t *int) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("%03d", *t)
}

// addUnique appends v unless it is zero or already present, keeping order.
func addUnique[T comparable](s []T, v T) []T {
	var zero T
	if v == zero || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
