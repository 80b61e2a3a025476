package emit

import (
	"regexp"
	"strings"
	"testing"
)

func TestPSQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "'plain'"},
		{"it's", "'it''s'"},
		{"$(x) `y` \"z\" ; & |", "'$(x) `y` \"z\" ; & |'"},
		{"a\r\nb\x00c", "'a  b c'"},
		{"é", "('' + [char]0x00E9)"},
		{"a\u2019b", "('a' + [char]0x2019 + 'b')"},
		{"\u2018\u201B", "('' + [char]0x2018 + [char]0x201B)"},
		{"x\U0001F525", "('x' + [char]0xD83D + [char]0xDD25)"},
		{"\xff", "('' + [char]0xFFFD)"},
	}
	for _, tc := range tests {
		if got := psQuote(tc.in); got != tc.want {
			t.Errorf("psQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestPSQuoteRoundTrip reads psQuote's output back by PowerShell's rules:
// every hostile string comes back whole, but for its line breaks.
func TestPSQuoteRoundTrip(t *testing.T) {
	for _, s := range append(hostile, "", "'", "''", "'''", "\u2019", "a\u2019'\u2018b") {
		q := psQuote(s)
		checkASCII(t, q+"\n", "\n")
		got, err := psEval(q)
		if err != nil {
			t.Errorf("psQuote(%q) = %s: %v", s, q, err)
			continue
		}
		if want := oneLine(s); got != want {
			t.Errorf("psQuote(%q) = %s reads back as %q, want %q", s, q, got, want)
		}
	}
}

func TestNetshQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{`say "hi"`, `"say 'hi'"`},
		{"100% %PATH% !x!", `"100%% %%PATH%% !x!"`},
		{"a & b | c < d > e ^ f", `"a & b | c < d > e ^ f"`},
		{"one\r\ntwo\x00", `"one  two "`},
		{`C:\dir\`, `"C:\dir\\"`},
		{"é‘", `"??"`},
	}
	for _, tc := range tests {
		if got := netshQuote(tc.in); got != tc.want {
			t.Errorf("netshQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestNetshQuoteRoundTrip puts each hostile string into a netsh command
// line and reads it back by cmd's and the C runtime's rules: it must stay
// one argument, with the command ending where the script ends it.
func TestNetshQuoteRoundTrip(t *testing.T) {
	for _, s := range append(hostile, "", `\\`, `"`, `\"`, "%", "%%", "^") {
		line := "netsh x description=" + netshQuote(s) + " name=" + netshQuote("n") + " || goto :fail"
		args, rest, err := cmdArgs(line)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		want := strings.ReplaceAll(asciiOnly(oneLine(s)), `"`, "'")
		if len(args) != 4 || args[2] != "description="+want || args[3] != "name=n" || rest != "|| goto :fail" {
			t.Errorf("%q: args %q, rest %q; want description=%q", s, args, rest, want)
		}
	}
}

// TestNetshPartNote checks that a split rule's part may write its
// description as netshEscape(desc), its note and a quote: what netshQuote
// makes of the two together.
func TestNetshPartNote(t *testing.T) {
	for _, s := range append(hostile, "", `\`, `C:\dir\`, "\xff\xfe", "%", "\r") {
		note := netshPartNote(3, 12)
		if got, want := `"`+netshEscape(s)+note+`"`, netshQuote(s+note); got != want {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
}

func TestComments(t *testing.T) {
	for _, s := range hostile {
		ps := psComment(s)
		if strings.ContainsAny(ps, "\r\n\x00") || strings.ContainsFunc(ps, func(r rune) bool { return r > '~' }) {
			t.Errorf("psComment(%q) = %q", s, ps)
		}
		cmd := "rem " + cmdComment(s)
		if !remLine.MatchString(cmd) {
			t.Errorf("cmdComment(%q) = %q", s, cmd)
		}
	}
}

func TestSlugAndNames(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"fwgen: Contoso DCs", 48, "fwgen-contoso-dcs"},
		{"  $(a)--b__C ", 48, "a-b-c"},
		{"é", 48, ""},
		{"abc-def-ghi", 8, "abc-def"},
	}
	for _, tc := range tests {
		if got := slug(tc.in, tc.n); got != tc.want {
			t.Errorf("slug(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	for _, name := range []string{"fwgen-dc--dc-ad-tcp", "fwgen--a1", "fwgen-a-b--c-d-2"} {
		if err := checkRuleName(name); err != nil {
			t.Errorf("checkRuleName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", "fwgen", "fwgen-", "fwgen--", "fwgen-a", "fwgen-dc-dc-ad-tcp", "fwgen-a--b--c",
		"fwgen---a", "fwgen-a--b-", "fwgen-a--b--", "fwgen-A--a", "dc--ad", "fwgen-a--b*", "fwgen-a--b c",
		"fwgen--" + strings.Repeat("a", 200)} {
		if checkRuleName(name) == nil {
			t.Errorf("checkRuleName(%q) = nil, want an error", name)
		}
	}
}

// TestRulePrefix checks the start of a group's rule names, by which a
// netsh script finds its rules: valid, and never the start of another
// group's names, even where one group's name starts another's, two long
// names differ only at the end, or two names have the same slug.
func TestRulePrefix(t *testing.T) {
	long := strings.Repeat("Contoso Server Firewall ", 3)
	// The hashes are `printf %s GROUP | sha256sum | cut -c1-8`.
	tests := []struct{ group, want string }{
		{"fwgen: dc", "fwgen-dc-89eb09b0--"},
		{"dc", "fwgen-dc-abecdf35--"},
		{"fwgen: dc east", "fwgen-dc-east-506e1e61--"},
		{"fwgen", "fwgen-9bf0a8c9--"},
		{"é", "fwgen-4a99557e--"},
		{"fwgenx", "fwgen-fwgenx-e52031ee--"},
		{long + "A", "fwgen-contoso-server-firewall-contoso-server-3030aebd--"},
	}
	for _, tc := range tests {
		got := rulePrefix(tc.group)
		if got != tc.want || checkRulePrefix(got) != nil {
			t.Errorf("rulePrefix(%q) = %q (%v), want %q", tc.group, got, checkRulePrefix(got), tc.want)
		}
	}
	groups := []string{"dc", "dc east", "dc-east-2", "fwgen", "e", "east", long + "A", long + "B", hostile[0], hostile[1],
		"fwgen: hq/east-dcs", "fwgen: hq-east/dcs", "Contoso HQ", "contoso-hq"}
	for _, a := range groups {
		for _, b := range groups {
			pa, pb := rulePrefix(a), rulePrefix(b)
			name := pb + "dc-ad-tcp"
			if a != b && strings.HasPrefix(name, pa) {
				t.Errorf("the prefix %q of %q starts %q of %q", pa, a, name, b)
			}
		}
	}
}

// TestRuleNameGrammar checks validRuleName and validRulePrefix against
// the regular expressions of their grammar, on every string of up to 9
// characters made of fwgen's letters, another letter, a digit, the dash,
// and an upper-case letter, after "fwgen".
func TestRuleNameGrammar(t *testing.T) {
	name := regexp.MustCompile(`^fwgen(-[a-z0-9]+)*--[a-z0-9]+(-[a-z0-9]+)*$`)
	prefix := regexp.MustCompile(`^fwgen(-[a-z0-9]+)*--$`)
	alphabet := []string{"a", "9", "-", "Z", "_"}
	var walk func(s string, n int)
	checked := 0
	walk = func(s string, n int) {
		for _, cand := range []string{s, "fwgen" + s, "fwge" + s} {
			if got, want := validRuleName(cand), name.MatchString(cand); got != want {
				t.Errorf("validRuleName(%q) = %v, want %v", cand, got, want)
			}
			if got, want := validRulePrefix(cand), prefix.MatchString(cand); got != want {
				t.Errorf("validRulePrefix(%q) = %v, want %v", cand, got, want)
			}
			checked++
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			walk(s+c, n-1)
		}
	}
	walk("", 9)
	if checked < 1e6 {
		t.Errorf("%d strings checked", checked)
	}
}
