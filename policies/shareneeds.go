package policies

import (
	"hash/maphash"
	"slices"
	"unsafe"
)

// needsShare lets host groups whose needs come out the same share one
// slice of them, and the views worked out from it: the groups of a role,
// with the same OS mix and peers, are most of an estate, and a group's
// needs and views are most of a Ruleset's memory. A Ruleset's groups are
// read-only once resolved; nothing writes a group's needs in place.
type needsShare struct {
	seed   maphash.Seed
	groups map[uint64][]*Group
}

func newNeedsShare() *needsShare {
	return &needsShare{seed: maphash.MakeSeed(), groups: map[uint64][]*Group{}}
}

// share gives g the needs and views of a group resolved before it whose
// needs equal g's, or keeps g's for the groups after it.
func (s *needsShare) share(g *Group) {
	var h maphash.Hash
	h.SetSeed(s.seed)
	for i := range g.Needs {
		n := &g.Needs[i]
		h.WriteString(n.Role)
		h.WriteString(n.Service)
		h.WriteString(n.Label)
		h.WriteString(string(n.Peer))
		h.WriteString(string(n.Proto))
		h.WriteByte(byte(n.Ports.From))
		h.WriteByte(byte(n.Ports.From >> 8))
		h.WriteByte(byte(n.Ports.To))
		h.WriteByte(byte(n.Ports.To >> 8))
		p := uintptr(unsafe.Pointer(n.set))
		for range 8 {
			h.WriteByte(byte(p))
			p >>= 8
		}
	}
	key := h.Sum64()
	for _, o := range s.groups[key] {
		if slices.EqualFunc(o.Needs, g.Needs, needEqual) {
			g.Needs, g.views = o.Needs, o.views
			return
		}
	}
	s.groups[key] = append(s.groups[key], g)
}

// needEqual reports whether two needs are the same in every field, their
// source sets the same set. TestNeedEqualSeesEveryField keeps it whole.
func needEqual(a, b Need) bool {
	return a.Role == b.Role && a.Service == b.Service && a.ServiceName == b.ServiceName &&
		a.SystemService == b.SystemService && a.Label == b.Label && a.Proto == b.Proto && a.Ports == b.Ports &&
		(a.ICMPType == nil) == (b.ICMPType == nil) && (a.ICMPType == nil || *a.ICMPType == *b.ICMPType) &&
		a.Peer == b.Peer && slices.Equal(a.Sources, b.Sources) && a.SourceSet == b.SourceSet &&
		a.AnySource == b.AnySource && a.Family == b.Family && a.RPC == b.RPC && a.RPCInterface == b.RPCInterface &&
		a.Optional == b.Optional && slices.Equal(a.Scenarios, b.Scenarios) && a.OSReason == b.OSReason &&
		a.Notes == b.Notes && slices.Equal(a.Refs, b.Refs) && a.Program == b.Program && a.WinService == b.WinService &&
		slices.Equal(a.BindRefs, b.BindRefs) && a.BindNote == b.BindNote && a.set == b.set
}
