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

// netshAddRule is one "add rule" command: the rule's name and its
// arguments.
type netshAddRule struct{ Name, Args string }

// netshRulesOf returns the commands that add r: one, or when its ports,
// local and remote addresses would make the line too long, one for each
// share of them, named <name>-part<N>. Each part opens the ports of its
// share to the addresses of its shares, so that together they open what r
// opens, and no more. taken holds the script's names; the parts' names are
// added to it.
func netshRulesOf(r winRule, taken map[string]bool, addrs addressCache) ([]netshAddRule, error) {
	lists := [3][]string{netshPorts(r), addrs.get(r.Locals), addrs.get(r.Sources)}
	desc := netshDescription(r.Description)
	if args := netshArgs(r, r.Name, desc, lists); netshAround+len(args) <= maxNetshLine {
		return []netshAddRule{{r.Name, args}}, nil
	}
	free := maxNetshLine - netshAround - netshReserve - netshListKeys - len(netshArgs(r, r.Name, desc, [3][]string{}))
	shares := shareOut(lists, free)
	n := len(shares[0]) * len(shares[1]) * len(shares[2])
	var out []netshAddRule
	for _, ports := range shares[0] {
		for _, locals := range shares[1] {
			for _, remotes := range shares[2] {
				name := uniqueName(taken, r.Name+"-part"+strconv.Itoa(len(out)+1))
				note := fmt.Sprintf(" Part %d of %d of one rule, split to keep each netsh command short.", len(out)+1, n)
				args := netshArgs(r, name, desc+note, [3][]string{ports, locals, remotes})
				if netshAround+len(args) > maxNetshLine {
					return nil, fmt.Errorf("rule %s: a part's netsh command has %d characters, more than %d", r.Name, netshAround+len(args), maxNetshLine)
				}
				out = append(out, netshAddRule{name, args})
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
// item longer than n is a run of its own.
func chunk(items []string, n int) [][]string {
	out := [][]string{nil}
	size := 0 // the joined length of the last run
	for _, it := range items {
		if last := out[len(out)-1]; len(last) > 0 && size+1+len(it) > n {
			out, size = append(out, nil), 0
		}
		if len(out[len(out)-1]) > 0 {
			size++ // the comma
		}
		out[len(out)-1] = append(out[len(out)-1], it)
		size += len(it)
	}
	return out
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

// netshArgs is the "add rule" command of a rule with the given name,
// description (raw) and lists of local ports, local and remote addresses,
// without the leading "netsh advfirewall firewall add rule".
func netshArgs(r winRule, name, desc string, lists [3][]string) string {
	args := []string{"name=" + netshQuote(name), "dir=in", "action=allow", "protocol=" + netshProtocol(r.Proto, r.ICMPType)}
	if r.Proto.HasPorts() {
		args = append(args, "localport="+strings.Join(lists[0], ","))
	}
	if len(lists[1]) > 0 {
		args = append(args, "localip="+strings.Join(lists[1], ","))
	}
	if len(lists[2]) > 0 {
		args = append(args, "remoteip="+strings.Join(lists[2], ","))
	}
	profile := "any"
	if len(r.Profiles) > 0 {
		profile = strings.ToLower(strings.Join(r.Profiles, ","))
	}
	if r.Program != "" {
		args = append(args, "program="+netshQuote(r.Program))
	}
	if r.Service != "" {
		args = append(args, "service="+netshQuote(r.Service))
	}
	return strings.Join(append(args, "profile="+profile, "description="+netshQuote(desc)), " ")
}
