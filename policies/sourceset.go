package policies

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// SourceSet is a list of source addresses that many rules share: the
// addresses of a peer as the policy names it ("members of role dc",
// "clients-01 + clients-02", "host group dcs (IPv6)"). Outputs that have
// address objects (nftables sets, iptables chains, the JSON Ruleset) write
// a set once and refer to it by name, so that a site's outputs grow with
// its groups, not with the square of them.
//
// A Ruleset holds one SourceSet per list of prefixes of its needs: needs
// whose peers have the same addresses share it, and its Name is the first
// name the resolver gave it. A set made from others (a rule's sources,
// the union of its peers') is named after its parts, joined with " + ".
type SourceSet struct {
	// Name says what the addresses are, as the policy names them; it is
	// unique within a Ruleset.
	Name string `json:"name"`
	// Prefixes are the addresses, masked, sorted and without repeats.
	Prefixes []netip.Prefix `json:"prefixes"`

	parts []string // the names Name joins, sorted

	outer [2]struct { // per IP version (4, 6): see Outer
		once sync.Once
		ps   []netip.Prefix
	}
	text struct { // see String
		once sync.Once
		s    string
	}
}

// Len is the number of prefixes of the set; 0 for a nil set (any address).
func (s *SourceSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Prefixes)
}

// Outer returns the prefixes of IP version fam (4 or 6) that no other
// prefix of the set holds, sorted: the set as a firewall matches it, whose
// interval sets refuse overlapping elements. It is worked out once per
// set; callers must not change the slice.
func (s *SourceSet) Outer(fam int) []netip.Prefix {
	if s == nil {
		return nil
	}
	o := &s.outer[0]
	if fam == 6 {
		o = &s.outer[1]
	}
	o.once.Do(func() { o.ps = outerOf(OfFamily(s.Prefixes, fam)) })
	return o.ps
}

// String is the set's prefixes as SourcesKey writes them, worked out once.
func (s *SourceSet) String() string {
	if s == nil {
		return ""
	}
	s.text.once.Do(func() { s.text.s = SourcesKey(s.Prefixes) })
	return s.text.s
}

// Label names the set for a comment: its name and, for up to four
// prefixes, the prefixes ("clients (10.1.0.0/16, 10.2.0.0/16)"), or else
// how many there are ("members of role dc (1,000 prefixes)"); "any" for a
// nil set, any address.
func (s *SourceSet) Label() string {
	switch {
	case s == nil:
		return "any"
	case s.Name == s.String():
		return s.Name
	case len(s.Prefixes) <= 4:
		return s.Name + " (" + strings.ReplaceAll(s.String(), ",", ", ") + ")"
	}
	return s.Name + " (" + thousands(len(s.Prefixes)) + " prefixes)"
}

// thousands writes n with a comma every three digits: 12,345.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// NewSourceSet makes a source set of prefixes, for a Ruleset built by
// hand; Resolve makes those of a policy. It returns nil, any address, for
// no prefixes.
func NewSourceSet(name string, ps []netip.Prefix) *SourceSet {
	if len(ps) == 0 {
		return nil
	}
	return &SourceSet{Name: name, Prefixes: sortPrefixes(ps), parts: nameParts(name)}
}

// outerOf drops the prefixes of a sorted list that another prefix of it
// holds.
func outerOf(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		// Sorted by address, then by length: a prefix that holds p is the
		// last one kept, if any.
		if n := len(out); n > 0 && out[n-1].Bits() <= p.Bits() && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// sourceTable interns the source sets of a Ruleset. The resolver adds the
// sets of the needs, one group after the other, by content; the views add
// the sets made from them (unions, one IP version) by name, from any
// goroutine. A set's name says what makes it up, so that one name is one
// list of prefixes, and whichever goroutine makes a set first, it is the
// same.
type sourceTable struct {
	mu     sync.Mutex
	seed   maphash.Seed
	byHash map[uint64][]*SourceSet
	byName map[string]*SourceSet
	unions map[[2]*SourceSet]*SourceSet
}

func newSourceTable() *sourceTable {
	return &sourceTable{seed: maphash.MakeSeed(), byHash: map[uint64][]*SourceSet{},
		byName: map[string]*SourceSet{}, unions: map[[2]*SourceSet]*SourceSet{}}
}

// intern returns the set of the prefixes ps (sorted, masked, without
// repeats), named name unless the table has them under another name. It
// returns nil for no prefixes (any address).
func (t *sourceTable) intern(name string, ps []netip.Prefix) *SourceSet {
	if len(ps) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.byName[name]; ok {
		return s
	}
	h := t.hash(ps)
	for _, s := range t.byHash[h] {
		if slices.Equal(s.Prefixes, ps) {
			t.byName[name] = s
			return s
		}
	}
	s := &SourceSet{Name: name, Prefixes: ps, parts: nameParts(name)}
	t.byHash[h] = append(t.byHash[h], s)
	t.byName[name] = s
	return s
}

// named returns the set of that name, making its prefixes with build
// when the table has none.
func (t *sourceTable) named(name string, build func() []netip.Prefix) *SourceSet {
	t.mu.Lock()
	s, ok := t.byName[name]
	t.mu.Unlock()
	if ok {
		return s
	}
	ps := build() // outside the lock: a union of two large sets takes a while
	if len(ps) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.byName[name]; ok {
		return s // another goroutine made it meanwhile, the same
	}
	s = &SourceSet{Name: name, Prefixes: ps, parts: nameParts(name)}
	t.byName[name] = s
	return s
}

func (t *sourceTable) hash(ps []netip.Prefix) uint64 { return hashPrefixes(t.seed, ps) }

// hashPrefixes hashes a list of prefixes with seed, without allocating;
// equal lists hash the same, and callers compare the lists of one hash.
func hashPrefixes(seed maphash.Seed, ps []netip.Prefix) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, p := range ps {
		a := p.Addr().As16()
		h.Write(a[:])
		h.WriteByte(byte(p.Bits()))
		h.WriteByte(byte(p.Addr().BitLen())) // 10.0.0.0/8 and ::ffff:10.0.0.0/8 differ
	}
	return h.Sum64()
}

// union returns the set of the addresses of a and b, named after the
// names of both ("clients-01 + members of role dc"); nil, any address,
// when either is nil.
func (t *sourceTable) union(a, b *SourceSet) *SourceSet {
	switch {
	case a == nil || b == nil:
		return nil
	case a == b:
		return a
	}
	if a.Name > b.Name {
		a, b = b, a
	}
	key := [2]*SourceSet{a, b}
	t.mu.Lock()
	s, ok := t.unions[key]
	t.mu.Unlock()
	if ok {
		return s
	}
	s = t.named(joinParts(a.parts, b.parts), func() []netip.Prefix { return mergePrefixes(a.Prefixes, b.Prefixes) })
	t.mu.Lock()
	t.unions[key] = s
	t.mu.Unlock()
	return s
}

// family returns the set of the prefixes of s of IP version fam, each
// part of its name marked ("branch (IPv4) + clients (IPv4)"); s itself
// when it has no others, and false when it has none.
func (t *sourceTable) family(s *SourceSet, fam int) (*SourceSet, bool) {
	ps := OfFamily(s.Prefixes, fam)
	switch {
	case len(ps) == 0:
		return nil, false
	case len(ps) == len(s.Prefixes):
		return s, true
	}
	parts := make([]string, len(s.parts))
	for i, p := range s.parts {
		parts[i] = p + familySuffix(fam)
	}
	return t.intern(joinParts(parts, nil), ps), true
}

func familySuffix(fam int) string {
	if fam == 6 {
		return " (IPv6)"
	}
	return " (IPv4)"
}

// nameParts splits a set's name into the names it joins.
func nameParts(name string) []string {
	parts := strings.Split(name, " + ")
	slices.Sort(parts)
	return slices.Compact(parts)
}

// joinParts is the name of the union of two sets' parts.
func joinParts(a, b []string) string {
	parts := slices.Concat(a, b)
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), " + ")
}

// mergePrefixes merges two sorted lists of prefixes without repeats.
func mergePrefixes(a, b []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := comparePrefixes(a[i], b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// comparePrefixes orders prefixes by address, then by length, as
// sortPrefixes does.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// listSets lists the source sets that the needs of rs refer to, sorted by
// name.
func (rs *Ruleset) listSets() []*SourceSet {
	seen := map[*SourceSet]bool{}
	var out []*SourceSet
	for i := range rs.Groups {
		for j := range rs.Groups[i].Needs {
			if s := rs.Groups[i].Needs[j].set; s != nil && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b *SourceSet) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// UnmarshalJSON reads a Ruleset of schema v2 (RulesetSchema) or v1
// (RulesetSchemaV1), and links each need to its source set, as Resolve
// does. It returns an error for a need that names a set the Ruleset does
// not list, or a set listed twice.
func (rs *Ruleset) UnmarshalJSON(b []byte) error {
	type plain Ruleset // without the method, so as not to recurse
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*rs = Ruleset(v)
	return rs.link()
}

// UnmarshalJSON reads a need, and the sources that a need of schema v1
// lists itself.
func (n *Need) UnmarshalJSON(b []byte) error {
	type plain Need
	var v struct {
		plain
		Sources []netip.Prefix `json:"sources"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = Need(v.plain)
	n.Sources = v.Sources
	return nil
}

// link gives a Ruleset read from JSON its table of source sets.
func (rs *Ruleset) link() error {
	t := newSourceTable()
	for _, s := range rs.SourceSets {
		if s == nil || s.Name == "" {
			return errors.New("source_sets: a set without a name")
		}
		if _, dup := t.byName[s.Name]; dup {
			return fmt.Errorf("source_sets: %q is listed twice", s.Name)
		}
		s.Prefixes = sortPrefixes(s.Prefixes)
		s.parts = nameParts(s.Name)
		t.byName[s.Name] = s
		h := t.hash(s.Prefixes)
		t.byHash[h] = append(t.byHash[h], s)
	}
	for i := range rs.Groups {
		g := &rs.Groups[i]
		g.sets, g.views = t, &viewCache{}
		for j := range g.Needs {
			n := &g.Needs[j]
			if n.SourceSet != "" && len(n.Sources) > 0 {
				return fmt.Errorf("host group %q: a need of %s has both source_set %q and sources: a need names its sources once", g.Name, n.Service, n.SourceSet)
			}
			switch {
			case n.SourceSet != "":
				s, ok := t.byName[n.SourceSet]
				if !ok {
					return fmt.Errorf("host group %q: a need of %s names the source set %q, which source_sets does not list", g.Name, n.Service, n.SourceSet)
				}
				n.setSources(s)
			case len(n.Sources) > 0: // schema v1
				ps := sortPrefixes(n.Sources)
				n.setSources(t.intern(SourcesKey(ps), ps))
			}
		}
	}
	rs.sources = t
	rs.index = &groupIndex{}
	rs.names = newSourceNames()
	if rs.Schema == RulesetSchemaV1 {
		rs.SourceSets = rs.listSets()
	}
	return nil
}
