package policies

import (
	"fmt"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

// names indexes what a policy may name from the catalog. The catalog's own
// lookups build a did-you-mean on every miss; a fuzzed or generated policy
// can miss a hundred thousand times, so the loader looks names up here and
// asks the catalog only for what exists.
type names struct {
	roles    map[string]*catalog.Role // by id and alias, lower case
	roleList []string                 // ids and aliases, for suggestions
	services map[string]bool
	svcList  []string
	docList  []string
	oses     map[string]osName // by the name as written
}

type osName struct {
	id, name string
	err      error
}

func newNames(c *catalog.Catalog) *names {
	n := &names{roles: map[string]*catalog.Role{}, services: map[string]bool{}, oses: map[string]osName{}}
	for i := range c.Roles {
		r := &c.Roles[i]
		for _, name := range append([]string{r.ID}, r.Aliases...) {
			n.roles[strings.ToLower(name)] = r
			n.roleList = append(n.roleList, name)
		}
	}
	for _, s := range c.Services {
		n.services[s.ID] = true
		n.svcList = append(n.svcList, s.ID)
	}
	for _, d := range c.Documents {
		n.docList = append(n.docList, d.ID)
	}
	return n
}

// role returns the catalog role of that id or alias, or nil.
func (n *names) role(name string) *catalog.Role {
	return n.roles[strings.ToLower(strings.TrimSpace(name))]
}

// os resolves an OS name through the catalog once per spelling.
func (n *names) os(c *catalog.Catalog, name string) osName {
	if r, ok := n.oses[name]; ok {
		return r
	}
	var r osName
	if o, err := c.OS(name); err != nil {
		r.err = err
	} else {
		r.id, r.name = o.ID, o.Name
	}
	n.oses[name] = r
	return r
}

// set remembers strings; add reports whether s is new.
type set map[string]bool

func (s set) add(v string) bool {
	if s[v] {
		return false
	}
	s[v] = true
	return true
}

// suggestion prints as ` (did you mean "x"?)` when its name looks like a
// typo of one of the candidates, and as nothing otherwise. It does the work
// only when printed: a big file's later errors never are.
type suggestion struct {
	name       string
	candidates []string
}

func didYouMean(name string, candidates []string) suggestion { return suggestion{name, candidates} }

func (s suggestion) String() string {
	if m := Suggest(strings.ToLower(s.name), s.candidates); m != "" && m != s.name {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

// GroupSlug is the form of a host group name that firewall objects take
// (nftables tables and sets, iptables chains, Windows rule names): every
// run of '.', '_' and '-' becomes one '-'. Two groups whose names have the
// same slug are an error, so that no two groups share an object.
func GroupSlug(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range name {
		if r == '.' || r == '_' || r == '-' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}
