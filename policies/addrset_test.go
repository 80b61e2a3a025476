package policies

import (
	"net/netip"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestAddressSets(t *testing.T) {
	if got := SourcesKey(CanonicalPrefixes(prefixes("10.10.128.0/17", "10.10.0.0/17", "10.10.3.0/24"))); got != "10.10.0.0/16" {
		t.Errorf("canonical: %s", got)
	}
	if CanonicalPrefixes(nil) != nil {
		t.Error("no prefixes should stay none (any address)")
	}
	if !CoversFamily(prefixes("0.0.0.0/1", "128.0.0.0/1"), 4) || CoversFamily(prefixes("0.0.0.0/1"), 4) ||
		CoversFamily(prefixes("0.0.0.0/0"), 6) || !CoversFamily(prefixes("::/0", "10.0.0.0/8"), 6) ||
		!CoversFamily(prefixes("128.0.0.0/1", "64.0.0.0/2", "::/1", "0.0.0.0/2"), 4) ||
		CoversFamily(prefixes("128.0.0.0/1", "64.0.0.0/2", "0.0.0.1/32"), 4) || CoversFamily(prefixes("::/1", "0.0.0.0/0"), 6) {
		t.Error("CoversFamily")
	}
	added, removed := PrefixChanges(prefixes("10.10.0.0/16"), prefixes("10.10.0.0/15"))
	if SourcesKey(added) != "10.11.0.0/16" || len(removed) != 0 {
		t.Errorf("widening: +%v -%v", added, removed)
	}
}
