package emit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
)

// oneLine makes s a single line of valid UTF-8: every control character
// (CR, LF, NUL, tab, ...) and every line or paragraph separator becomes a
// space. A name or description that spans lines could end a comment or a
// command in the scripts.
func oneLine(s string) string {
	if printableASCII(s) {
		return s // nearly every name and description: nothing to replace
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// printableASCII reports whether s is printable ASCII only.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// asciiOnly replaces every character outside printable ASCII with '?'.
func asciiOnly(s string) string {
	if printableASCII(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s)
}

// psQuote returns a PowerShell expression whose value is s, written in
// printable ASCII only.
//
// Printable ASCII goes into single-quoted strings, where nothing is special
// but the quote, which is doubled. Every other character is spelled
// [char]0xNNNN and joined with +, so that no byte above 0x7F reaches the
// script: Windows PowerShell 5.1 reads a script without a byte order mark in
// the ANSI code page, where the bytes of a UTF-8 character can turn into one
// of the characters PowerShell also takes for a single quote (U+2018 to
// U+201B; 0x91 and 0x92 in Windows-1252), and a raw quote of that kind would
// end the string. Control characters become spaces (see oneLine).
func psQuote(s string) string {
	if printableASCII(s) && !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	s = oneLine(s)
	var parts []string
	var lit strings.Builder
	flush := func() {
		parts = append(parts, "'"+lit.String()+"'")
		lit.Reset()
	}
	for _, r := range s {
		if r >= ' ' && r <= '~' {
			if r == '\'' {
				lit.WriteByte('\'')
			}
			lit.WriteRune(r)
			continue
		}
		if lit.Len() > 0 || len(parts) == 0 {
			flush() // a leading '' keeps the expression a string, not a [char]
		}
		for _, u := range utf16.Encode([]rune{r}) {
			parts = append(parts, fmt.Sprintf("[char]0x%04X", u))
		}
	}
	if lit.Len() > 0 || len(parts) == 0 {
		flush()
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " + ") + ")"
}

// psComment makes s safe to follow "# " in a PowerShell line comment: one
// line of printable ASCII (see psQuote for why ASCII).
func psComment(s string) string {
	return asciiOnly(oneLine(s))
}

// netshQuote returns s as one double-quoted argument of a netsh command in a
// batch file.
//
// cmd has no escape for a double quote inside double quotes, so " becomes
// '. Percent signs are expanded even inside quotes, so % is doubled; the
// script turns delayed expansion off, so ! is plain. ^ & | < > are literal
// inside quotes. Backslashes before the closing quote are doubled, because
// netsh splits its command line by the C runtime's rules, where \" is a
// quote character. The text is made one line of printable ASCII: cmd reads
// a batch file in the OEM code page, so other characters would be mangled.
func netshQuote(s string) string {
	return netshClose(`"` + netshEscape(s))
}

// netshClose ends a quoted string that netshEscape made, after the
// opening quote: as netshQuote does, it doubles the backslashes at the end,
// which would otherwise escape the closing quote.
func netshClose(open string) string {
	trimmed := strings.TrimRight(open, `\`)
	return open + open[len(trimmed):] + `"`
}

// netshEscape is what netshQuote puts between its quotes, but for the
// backslashes it doubles at the end: it works character by character, so
// netshEscape(a+b) is netshEscape(a)+netshEscape(b).
func netshEscape(s string) string {
	s = asciiOnly(oneLine(s))
	s = strings.ReplaceAll(s, `"`, "'")
	return strings.ReplaceAll(s, "%", "%%")
}

// cmdComment makes s safe to follow "rem " in a batch file. REM ignores the
// rest of its line, but cmd still expands % in it (a stray %~ stops the
// script) and a ^ at the end of the line continues the comment onto the
// next line. Comments are for people, so rather than escape, cmdComment
// keeps letters, digits, spaces and punctuation that means nothing to cmd,
// and writes ? for anything else.
func cmdComment(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune(" .,:;/()_+-=#@'?*[]{}~$\\", r):
			return r
		}
		return '?'
	}, oneLine(s))
}

// slug turns s into lower-case ASCII letters and digits joined by single
// dashes, at most n bytes long, for use in a rule name.
func slug(s string, n int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > n {
		out = strings.TrimRight(out[:n], "-")
	}
	return out
}

// validRuleName reports whether name is a rule name as fwgen writes them,
// ^fwgen(-[a-z0-9]+)*--[a-z0-9]+(-[a-z0-9]+)*$: a prefix that
// validRulePrefix takes, then dash-joined words of lower-case letters and
// digits. Nothing in such a name is special to PowerShell, cmd, netsh,
// findstr or a wildcard match. (A script checks each of its thousands of
// names: by hand, not by a regular expression.)
func validRuleName(name string) bool {
	i := strings.Index(name, "--")
	return i >= 0 && validRulePrefix(name[:i+2]) && dashWords(name[i+2:])
}

// validRulePrefix reports whether prefix is the start of a rule group's
// names, ^fwgen(-[a-z0-9]+)*--$: "fwgen", the group's words, and the one
// double dash of the name.
func validRulePrefix(prefix string) bool {
	words, ok := strings.CutSuffix(prefix, "--")
	if !ok || !strings.HasPrefix(words, "fwgen") {
		return false
	}
	words = words[len("fwgen"):]
	return words == "" || words[0] == '-' && dashWords(words[1:])
}

// dashWords reports whether s is words of lower-case letters and digits
// joined by single dashes, ^[a-z0-9]+(-[a-z0-9]+)*$.
func dashWords(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// maxRuleName bounds a rule name, well below what Windows Firewall accepts.
const maxRuleName = 200

// checkRuleName reports whether name is a valid rule name.
func checkRuleName(name string) error {
	if len(name) > maxRuleName || !validRuleName(name) {
		return fmt.Errorf("rule name %q: want \"fwgen-\", the group, \"--\" and lower-case letters, digits and single dashes, at most %d characters", name, maxRuleName)
	}
	return nil
}

// checkRulePrefix reports whether prefix is a valid start of rule names.
func checkRulePrefix(prefix string) error {
	if !validRulePrefix(prefix) {
		return fmt.Errorf("rule name prefix %q: want \"fwgen\", dash-joined lower-case words and \"--\"", prefix)
	}
	return nil
}
