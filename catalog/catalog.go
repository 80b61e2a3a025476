// Package catalog holds fwgen's reference data: the Windows services and the
// ports they listen on (KB 832017 and the articles it leans on), the roles that
// group them, and the Windows versions with their RPC dynamic port ranges.
//
// The data lives in data/*.yaml, embedded in the binary and parsed once.
// Catalog is a leaf package: it knows nothing of policies or output formats.
package catalog

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
	"sync"
)

//go:embed data/*.yaml
var dataFS embed.FS

// Catalog is the parsed reference data.
type Catalog struct {
	Documents []Document `yaml:"documents"`
	OSes      []OS       `yaml:"os"`
	Services  []Service  `yaml:"services"`
	Roles     []Role     `yaml:"roles"`

	docs     map[string]*Document
	oses     map[string]*OS // by id and by every alias, normalised
	services map[string]*Service
	roles    map[string]*Role // by id and by every alias
}

// Document is an article that catalog entries cite.
type Document struct {
	ID    string `yaml:"id"`    // short key, e.g. "kb832017"
	Title string `yaml:"title"` // the article's title
	URL   string `yaml:"url"`
}

// Citation points at a document and, optionally, a section of it.
type Citation struct {
	Doc     string `yaml:"doc" json:"doc"`
	Section string `yaml:"section,omitempty" json:"section,omitempty"`
}

// OS is a Windows version.
type OS struct {
	ID      string   `yaml:"id"`      // canonical id, e.g. "2008r2"
	Name    string   `yaml:"name"`    // e.g. "Windows Server 2008 R2"
	Aliases []string `yaml:"aliases"` // other spellings people type
	Kind    string   `yaml:"kind"`    // "server" or "client"
	// Build is the NT build number of the release; it orders versions.
	Build int `yaml:"build"`
	// RPCDynamic is the default dynamic port range for RPC (KB 929851).
	RPCDynamic PortRange  `yaml:"rpc_dynamic"`
	Ref        []Citation `yaml:"ref"`
}

// Service is a Windows system service (a section of KB 832017 "System
// services ports") or another Microsoft product that listens on the network.
type Service struct {
	ID            string     `yaml:"id"`
	Name          string     `yaml:"name"`           // display name, as the article heads it
	SystemService string     `yaml:"system_service"` // Windows service name, e.g. "LSASS"; may be empty
	Notes         string     `yaml:"notes"`
	Ref           []Citation `yaml:"ref"`
	Entries       []Entry    `yaml:"entries"`
}

// Entry is one protocol and port set a service listens on.
type Entry struct {
	Protocol Proto `yaml:"protocol"`
	// Ports lists numbers ("389"), ranges ("3268-3269") and the symbol
	// "rpc-dynamic" (the RPC dynamic range of the host's OS). Empty for
	// protocols without ports.
	Ports []string `yaml:"ports"`
	// ICMPType is the ICMP type for icmpv4 and icmpv6 entries.
	ICMPType *int `yaml:"icmp_type"`
	// Label is the application protocol as the article names it, e.g. "LDAP".
	Label string `yaml:"label"`
	Peers Peer   `yaml:"peers"`
	// Optional entries are left out unless asked for.
	Optional bool `yaml:"optional"`
	// Why explains an optional entry or an OS condition.
	Why string `yaml:"why"`
	// When limits the entry to OS mixes.
	When *Condition `yaml:"when"`
	// RPC names the RPC interface of an rpc-dynamic entry ("ntds",
	// "netlogon", "frs", "dfsr") that can be pinned to a static port.
	RPC string     `yaml:"rpc"`
	Ref []Citation `yaml:"ref"` // overrides the service's citation
}

// Condition keeps an entry only for some OS mixes. Every field set must hold.
type Condition struct {
	// OSAny keeps the entry when any host of the mix runs one of these.
	OSAny []string `yaml:"os_any"`
	// Before keeps the entry when any host runs a version older than this.
	Before string `yaml:"before"`
	// From keeps the entry when any host runs this version or a later one.
	From string `yaml:"from"`
	// Mix tests the whole OS mix, clients included, for conditions on the
	// computers that connect (XP clients need Group Policy's ICMP). Without
	// it a condition tests the servers' own versions only, as what a server
	// listens on depends on its own version.
	Mix bool `yaml:"mix"`
}

// Role is a named set of services a server runs, such as a domain controller.
type Role struct {
	ID       string     `yaml:"id"`
	Name     string     `yaml:"name"`
	Aliases  []string   `yaml:"aliases"`
	Services []string   `yaml:"services"`
	Notes    string     `yaml:"notes"`
	Ref      []Citation `yaml:"ref"`
}

// Proto is an IP protocol as the catalog and the rules name it.
type Proto string

// Possible Proto values.
const (
	TCP    Proto = "tcp"
	UDP    Proto = "udp"
	ICMPv4 Proto = "icmpv4"
	ICMPv6 Proto = "icmpv6"
	GRE    Proto = "gre"
	ESP    Proto = "esp"
	AH     Proto = "ah"
)

// HasPorts reports whether the protocol has port numbers.
func (p Proto) HasPorts() bool { return p == TCP || p == UDP }

// Number is the IANA protocol number.
func (p Proto) Number() int {
	return map[Proto]int{TCP: 6, UDP: 17, ICMPv4: 1, ICMPv6: 58, GRE: 47, ESP: 50, AH: 51}[p]
}

// Peer is the class of hosts that connect to a port.
type Peer string

// Possible Peer values.
const (
	Clients Peer = "clients" // computers and users served by the host
	Members Peer = "members" // other hosts of the same role (DCs, cluster nodes)
	Admins  Peer = "admins"  // administrators' workstations and tools
)

// RPCDynamicSymbol is the port symbol for the OS's RPC dynamic range.
const RPCDynamicSymbol = "rpc-dynamic"

var (
	defaultOnce = sync.OnceValues(func() (*Catalog, error) { return Load(dataFS) })
)

// Default returns the embedded catalog. It panics if the embedded data is
// broken, which the package's tests rule out.
func Default() *Catalog {
	c, err := defaultOnce()
	if err != nil {
		panic("catalog: embedded data: " + err.Error())
	}
	return c
}

// Load parses every data/*.yaml file of fsys and checks the result.
func Load(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{}
	if err := c.decode(fsys); err != nil {
		return nil, err
	}
	c.index()
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}

// With returns a copy of c with more documents, services and roles, as a
// site policy defines them. A service or role whose id c already has replaces it.
func (c *Catalog) With(docs []Document, services []Service, roles []Role) (*Catalog, error) {
	if len(docs) == 0 && len(services) == 0 && len(roles) == 0 {
		return c, nil
	}
	n := &Catalog{OSes: c.OSes}
	n.Documents = replaceByID(c.Documents, docs, func(d Document) string { return d.ID })
	n.Services = replaceByID(c.Services, services, func(s Service) string { return s.ID })
	n.Roles = replaceByID(c.Roles, roles, func(r Role) string { return r.ID })
	n.index()
	if err := n.Check(); err != nil {
		return nil, err
	}
	return n, nil
}

func replaceByID[T any](base, more []T, id func(T) string) []T {
	out := make([]T, 0, len(base)+len(more))
	replaced := map[string]bool{}
	for _, m := range more {
		replaced[id(m)] = true
	}
	for _, b := range base {
		if !replaced[id(b)] {
			out = append(out, b)
		}
	}
	out = append(out, more...)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return out
}
