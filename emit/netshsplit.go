package emit

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// maxNetshLine bounds a line of a netsh script, well under cmd's limit of
// 8191 characters, past which cmd does not run a line as written.
const maxNetshLine = 4096

// maxNetshDescription bounds a rule's description as quoted.
const maxNetshDescription = 2000

// netshAround is the length of what surrounds a rule's arguments on its
// line, and netshListKeys the length of the keys of its lists.
var (
	netshAround   = len("netsh advfirewall firewall add rule ") + len(" || goto :fail")
	netshListKeys = len(" localport= localip= remoteip=")
)

// netshReserve keeps room on a line for a part's name suffix and the note
// in its description.
const netshReserve = 100

// netshRuleText is the text that the commands of one rule share: what
// comes between the name and the lists, and after the lists, up to the
// description; and the rule's description, cut to fit and quoted.
type netshRuleText struct {
	proto string // " dir=in action=allow protocol=..."
	ports bool   // the protocol has ports: localport= is written
	tail  string // " program=... service=... profile=..."
	desc  string // quoted
	// open is the quoted description without its closing quote (nor the
	// backslashes doubled before it), for a part's note to follow.
	open string
}

func netshRuleTextOf(r winRule) *netshRuleText {
	open := `"` + netshEscape(netshDescription(r.Description))
	t := &netshRuleText{proto: " dir=in action=allow protocol=" + netshProtocol(r.Proto, r.ICMPType), ports: r.Proto.HasPorts(),
		desc: netshClose(open), open: open}
	if r.Program != "" {
		t.tail += " program=" + netshQuote(r.Program)
	}
	if r.Service != "" {
		t.tail += " service=" + netshQuote(r.Service)
	}
	profile := "any"
	if len(r.Profiles) > 0 {
		profile = strings.ToLower(strings.Join(r.Profiles, ","))
	}
	t.tail += " profile=" + profile
	return t
}

// netshCommand is one "add rule" command of a rule: its name, its share
// of the rule's lists (local ports, local and remote addresses), and, when
// the rule was split, which part it is of how many.
type netshCommand struct {
	text        *netshRuleText
	name        string // quoted
	lists       [3][]string
	part, parts int // 0 and 0 for a rule that was not split
}

// netshPartNote ends the description of a part of a split rule. It has
// only letters, digits, spaces and punctuation that netshEscape keeps, and
// ends in neither a quote nor a backslash: netshQuote(desc + note) is
// netshEscape(desc) + note, quoted.
func netshPartNote(part, parts int) string {
	return fmt.Sprintf(" Part %d of %d of one rule, split to keep each netsh command short.", part, parts)
}

// len is the length of the command's arguments (args), reckoned without
// making them.
func (c netshCommand) len() int {
	n := len("name=") + len(c.name) + len(c.text.proto) + len(c.text.tail) + len(" description=") + len(c.text.desc)
	if c.parts > 0 {
		n += len(c.text.open) + len(netshPartNote(c.part, c.parts)) + len(`"`) - len(c.text.desc)
	}
	if c.text.ports {
		n += len(" localport=") + joinedLen(c.lists[0])
	}
	if len(c.lists[1]) > 0 {
		n += len(" localip=") + joinedLen(c.lists[1])
	}
	if len(c.lists[2]) > 0 {
		n += len(" remoteip=") + joinedLen(c.lists[2])
	}
	return n
}

// args is the command's arguments, without the leading "netsh advfirewall
// firewall add rule"; a site's script has hundreds of thousands, so each
// is made in one piece when it is written.
func (c netshCommand) args() string {
	var b strings.Builder
	b.Grow(c.len())
	b.WriteString("name=")
	b.WriteString(c.name)
	b.WriteString(c.text.proto)
	list := func(key string, items []string) {
		b.WriteString(key)
		for i, it := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(it)
		}
	}
	if c.text.ports {
		list(" localport=", c.lists[0])
	}
	if len(c.lists[1]) > 0 {
		list(" localip=", c.lists[1])
	}
	if len(c.lists[2]) > 0 {
		list(" remoteip=", c.lists[2])
	}
	b.WriteString(c.text.tail)
	b.WriteString(" description=")
	if c.parts > 0 {
		b.WriteString(c.text.open) // netshQuote(desc + note)
		b.WriteString(netshPartNote(c.part, c.parts))
		b.WriteByte('"')
	} else {
		b.WriteString(c.text.desc)
	}
	return b.String()
}

// netshCommandsOf returns the commands that add r: one, or when its ports,
// local and remote addresses would make the line too long, one for each
// share of them, named <name>-part<N>. Each part opens the ports of its
// share to the addresses of its shares, so that together they open what r
// opens, and no more. taken holds the script's names; the parts' names are
// added to it. The commands' text is made when it is written (args).
func netshCommandsOf(r winRule, taken map[string]bool, addrs addressCache) ([]netshCommand, error) {
	text := netshRuleTextOf(r)
	whole := netshCommand{text: text, name: netshQuote(r.Name), lists: [3][]string{netshPorts(r), addrs.get(r.Locals), addrs.get(r.Sources)}}
	if netshAround+whole.len() <= maxNetshLine {
		return []netshCommand{whole}, nil
	}
	free := maxNetshLine - netshAround - netshReserve - netshListKeys - (netshCommand{text: text, name: whole.name}).len()
	shares := shareOut(whole.lists, free)
	n := len(shares[0]) * len(shares[1]) * len(shares[2])
	var out []netshCommand
	for _, ports := range shares[0] {
		for _, locals := range shares[1] {
			for _, remotes := range shares[2] {
				c := netshCommand{text: text, name: netshQuote(uniqueName(taken, r.Name+"-part"+strconv.Itoa(len(out)+1))),
					lists: [3][]string{ports, locals, remotes}, part: len(out) + 1, parts: n}
				if size := netshAround + c.len(); size > maxNetshLine {
					return nil, fmt.Errorf("rule %s: a part's netsh command has %d characters, more than %d", r.Name, size, maxNetshLine)
				}
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// netshPorts spells a rule's local ports as netsh's localport= takes them.
func netshPorts(r winRule) []string {
	switch {
	case r.Kind == portEPMap:
		return []string{"RPC-EPMap"}
	case r.Kind == portRPC:
		return []string{"RPC"}
	}
	return winPorts(r.Ports)
}

// netshDescription cuts a description so that quoted it has at most
// maxNetshDescription characters: as long a start as fits, and "...".
// Quoting doubles each %, so the cut is found by trying.
func netshDescription(desc string) string {
	fits := func(d string) bool { return len(netshQuote(d)) <= maxNetshDescription }
	if fits(desc) {
		return desc
	}
	cut := sort.Search(len(desc), func(n int) bool { return !fits(desc[:n+1] + "...") })
	return desc[:cut] + "..."
}

// shareOut splits lists into shares whose joined lengths, one share of
// each list on a line, add up to at most free: the shortest list first,
// each list getting an even part of what the shorter ones left. An empty
// list has one empty share.
func shareOut(lists [3][]string, free int) [3][][]string {
	order := []int{0, 1, 2}
	slices.SortStableFunc(order, func(a, b int) int { return joinedLen(lists[a]) - joinedLen(lists[b]) })
	var shares [3][][]string
	for k, i := range order {
		shares[i] = chunk(lists[i], free/(len(order)-k))
		longest := 0
		for _, s := range shares[i] {
			longest = max(longest, joinedLen(s))
		}
		free -= longest
	}
	return shares
}

// chunk cuts items into runs whose comma-joined length is at most n; an
// item longer than n is a run of its own. The runs are parts of items, not
// copies: the rules of a site share a few long lists.
func chunk(items []string, n int) [][]string {
	var out [][]string
	start, size := 0, 0 // the last run is items[start:i], its joined length size
	for i, it := range items {
		if i > start && size+1+len(it) > n {
			out = append(out, items[start:i:i])
			start, size = i, 0
		}
		if i > start {
			size++ // the comma
		}
		size += len(it)
	}
	return append(out, items[start:len(items):len(items)])
}

// joinedLen is the length of items joined by commas.
func joinedLen(items []string) int {
	n := max(len(items)-1, 0)
	for _, it := range items {
		n += len(it)
	}
	return n
}

// uniqueName returns name, or name with a number when taken has it, and
// adds it to taken.
func uniqueName(taken map[string]bool, name string) string {
	for i, base := 2, name; taken[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	taken[name] = true
	return name
}
