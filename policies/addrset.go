package policies

import (
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// ipSet is the set of addresses of prefixes.
func ipSet(ps []netip.Prefix) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	s, _ := b.IPSet() // prefixes from the loader are valid
	return s
}

// CanonicalPrefixes returns the fewest prefixes, sorted, that hold exactly
// the addresses of ps: 10.10.0.0/17 and 10.10.128.0/17 become 10.10.0.0/16,
// and a prefix inside another goes. Two lists of the same addresses give
// the same result however they were written. An empty list stays empty
// (a rule's "any address").
func CanonicalPrefixes(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return nil
	}
	return ipSet(ps).Prefixes()
}

// CoversFamily reports whether the addresses of ps include every address
// of IP version fam (4 or 6): 0.0.0.0/0, or 0.0.0.0/1 with 128.0.0.0/1.
func CoversFamily(ps []netip.Prefix, fam int) bool {
	all := netip.MustParsePrefix("0.0.0.0/0")
	if fam == 6 {
		all = netip.MustParsePrefix("::/0")
	}
	// Most lists do not hold the version's first address: no set to
	// build for them (a role's members are thousands of prefixes).
	if !slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(all.Addr()) }) {
		return false
	}
	return ipSet(OfFamily(ps, fam)).ContainsPrefix(all)
}

// PrefixChanges returns the addresses of new that old lacks and those of
// old that new lacks, each as the fewest prefixes.
func PrefixChanges(old, new []netip.Prefix) (added, removed []netip.Prefix) {
	o, n := ipSet(old), ipSet(new)
	var b netipx.IPSetBuilder
	b.AddSet(n)
	b.RemoveSet(o)
	a, _ := b.IPSet()
	b = netipx.IPSetBuilder{}
	b.AddSet(o)
	b.RemoveSet(n)
	r, _ := b.IPSet()
	return a.Prefixes(), r.Prefixes()
}
