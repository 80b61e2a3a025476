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
	Scenarios []Scenario `yaml:"scenarios"`
	Services  []Service  `yaml:"services"`
	Roles     []Role     `yaml:"roles"`
	Bindings  []Binding  `yaml:"bindings"`

	docs      map[string]*Document
	oses      map[string]*OS // by id and by every alias, normalised
	scenarios map[string]*Scenario
	services  map[string]*Service
	roles     map[string]*Role // by id and by every alias
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
	// Ports lists numbers ("389"), ranges ("3268-3269"), the symbol
	// "rpc-dynamic" (the RPC dynamic range of the host's OS, or the range
	// or static port the estate configured) and the symbol "os-ephemeral"
	// (the OS's default dynamic port range, KB 929851, for ports that the
	// OS hands out but RPC does not: FTP's passive data ports). Empty for
	// protocols without ports.
	Ports []string `yaml:"ports"`
	// ICMPType is the ICMP type for icmpv4 and icmpv6 entries.
	ICMPType *int `yaml:"icmp_type"`
	// Label is the application protocol as the article names it, e.g. "LDAP".
	Label string `yaml:"label"`
	// Peers are who connects to the port (see Peer): clients, members,
	// admins or the servers of another role. Administrators' workstations
	// are computers of the estate too, so an entry for clients admits
	// admins as well.
	Peers Peers `yaml:"peers"`
	// AnySource keeps the entry open to any address whatever scope the
	// peers have, for protocols whose senders have no address of their
	// own yet (DHCP clients send from 0.0.0.0 or a link-local address).
	// Why says so.
	AnySource bool `yaml:"any_source"`
	// Family limits the entry to one IP version, 4 or 6, for a protocol
	// that exists in one (DHCP on 67 is IPv4's, DHCPv6 on 547 IPv6's); 0
	// for both. ICMPv4 and ICMPv6 entries have theirs by protocol.
	Family int `yaml:"family"`
	// Scenario names the Scenario the entry belongs to: the entry is left
	// out until that scenario is asked for.
	Scenario string `yaml:"scenario"`
	// Why explains a scenario entry, an OS condition or AnySource.
	Why string `yaml:"why"`
	// When limits the entry to OS mixes.
	When *Condition `yaml:"when"`
	// RPC names the RPC interface ("ntds", "netlogon", "frs", "dfsr") of
	// an rpc-dynamic entry, which a static port can replace (KB 224196,
	// dfsrdiag StaticRPC), or of a fixed port that is that interface's
	// own (DFSR's 5722/tcp on Windows Server 2008 domain controllers).
	RPC string     `yaml:"rpc"`
	Ref []Citation `yaml:"ref"` // overrides the service's citation
}

// Binding is the program and Windows service that listen on some entries'
// ports, as Windows' own predefined inbound rules bind them (data
// bindings.yaml). A Windows Firewall rule bound to them admits only what
// reaches that program: the RPC dynamic range bound to lsass.exe does not
// reach the Service Control Manager.
type Binding struct {
	// Service is the id of the service whose entries it binds; empty for
	// a binding of every service's entries that match (the endpoint
	// mapper, SMB and NetBIOS).
	Service string `yaml:"service"`
	// Protocol and, when given, Ports (as entries write them: "135",
	// "rpc-dynamic") select the entries: every port of an entry must be
	// one of Ports.
	Protocol Proto    `yaml:"protocol"`
	Ports    []string `yaml:"ports"`
	// Program is the listening program's path as Windows Firewall stores
	// it ("%SystemRoot%\System32\lsass.exe"), or "System" for the kernel
	// (SMB, NetBIOS, HTTP.sys). Empty keeps the entries port-only on
	// purpose, and Why says why.
	Program string `yaml:"program"`
	// WinService is the Windows service short name the rule binds
	// ("RpcSs"); empty when the rule binds no service.
	WinService string `yaml:"win_service"`
	// ServersFrom and ServersBefore limit the binding to groups whose
	// every server runs that version or later, or one older than it: the
	// program that listens changed between them (RDP moved from the
	// kernel to svchost.exe with Windows Server 2012).
	ServersFrom   string     `yaml:"servers_from"`
	ServersBefore string     `yaml:"servers_before"`
	Why           string     `yaml:"why"`
	Ref           []Citation `yaml:"ref"`
}

// matches reports whether b selects entry e of the service svc.
func (b *Binding) matches(svc string, e Entry) bool {
	if b.Service != "" && b.Service != svc || b.Protocol != e.Protocol || !e.Protocol.HasPorts() || len(e.Ports) == 0 {
		return false
	}
	for _, p := range e.Ports {
		if len(b.Ports) > 0 && !slices.Contains(b.Ports, p) {
			return false
		}
	}
	return true
}

// BindingFor returns the binding of entry e of service svc on servers
// whose builds are servers: one of the service with ports, else one of
// every service with ports, else one of the service without; false when
// none applies (the rule stays port-only). A binding whose ServersFrom or
// ServersBefore the servers do not all meet is passed over, and so is the
// rest of its service's: a mix of versions whose listeners differ stays
// port-only. ICMP is never bound: the network stack answers it.
func (c *Catalog) BindingFor(svc string, e Entry, servers []int) (Binding, bool) {
	fits := func(b *Binding) bool {
		for _, build := range servers {
			if from, err := c.OS(b.ServersFrom); b.ServersFrom != "" && (err != nil || build < from.Build) {
				return false
			}
			if before, err := c.OS(b.ServersBefore); b.ServersBefore != "" && (err != nil || build >= before.Build) {
				return false
			}
		}
		return true
	}
	passedOver := false
	for n, pass := range []func(*Binding) bool{
		func(b *Binding) bool { return b.Service == svc && len(b.Ports) > 0 },
		func(b *Binding) bool { return b.Service == "" && len(b.Ports) > 0 },
		func(b *Binding) bool { return b.Service == svc && len(b.Ports) == 0 },
	} {
		if n == 2 && passedOver {
			break // the service's own binding of these ports did not fit the servers
		}
		for i := range c.Bindings {
			b := &c.Bindings[i]
			if !pass(b) || !b.matches(svc, e) {
				continue
			}
			if !fits(b) {
				passedOver = passedOver || b.Service == svc
				continue
			}
			return *b, true
		}
	}
	return Binding{}, false
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
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Aliases []string `yaml:"aliases"`
	// Members is how far the role's members reach (see Members values):
	// MembersSite for servers that replicate across the estate, such as
	// domain controllers, or MembersGroup (the default) for servers that
	// form one cluster with their own host group.
	Members MembersExtent `yaml:"members"`
	// MembersAreClients says the role's members use each other as clients
	// do, besides what the entries name members for: domain controllers
	// reach each other on every port clients reach (KB 179442).
	MembersAreClients bool          `yaml:"members_are_clients"`
	Services          []RoleService `yaml:"services"`
	Notes             string        `yaml:"notes"`
	Ref               []Citation    `yaml:"ref"`
}

// RoleService is a service of a role, with what limits it in that role:
// a scenario that must be asked for, or an OS condition (a domain
// controller runs FRS only up to Windows Server 2016). In YAML a plain
// service id stands for a RoleService without limits.
type RoleService struct {
	ID       string     `yaml:"id"`
	Scenario string     `yaml:"scenario"`
	When     *Condition `yaml:"when"`
	Why      string     `yaml:"why"`
	Ref      []Citation `yaml:"ref"`
}

// ServiceIDs lists the ids of the role's services, in order.
func (r *Role) ServiceIDs() []string {
	out := make([]string, len(r.Services))
	for i, s := range r.Services {
		out[i] = s.ID
	}
	return out
}

// MembersExtent says which servers are members of a role.
type MembersExtent string

// Possible MembersExtent values.
const (
	// MembersGroup: the other servers of the same host group (the nodes
	// of one failover cluster).
	MembersGroup MembersExtent = "group"
	// MembersSite: the servers of every host group of the site policy
	// that holds the role (domain controllers, DNS servers, WINS
	// replication partners).
	MembersSite MembersExtent = "site"
)

// Scenario is a way of using a role that Microsoft documents with ports
// of its own, which not every deployment has: Hyper-V Replica, DFS
// Namespaces on a file server, WinRM over HTTPS, NetBIOS fallback. Its
// entries stay closed until a policy asks for the scenario by id.
type Scenario struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Description says what the scenario is and why it is not on by
	// default.
	Description string     `yaml:"description"`
	Ref         []Citation `yaml:"ref"`
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

// Port symbols of entries.
const (
	// RPCDynamicSymbol stands for the ports RPC hands out: the OS's RPC
	// dynamic range (KB 929851), or what the estate restricted it to (KB
	// 154596) or pinned an interface to (KB 224196).
	RPCDynamicSymbol = "rpc-dynamic"
	// EphemeralSymbol stands for the OS's default dynamic port range (KB
	// 929851) where something other than RPC hands the ports out, such as
	// FTP's passive data ports; a restricted RPC range does not narrow it.
	EphemeralSymbol = "os-ephemeral"
)

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

// Additions are what a site policy adds to the catalog.
type Additions struct {
	Documents []Document
	Scenarios []Scenario
	Services  []Service
	Roles     []Role
}

// With returns a copy of c with the additions of a site policy. A
// scenario, service or role whose id c already has replaces it. It
// returns the problems Check finds in the result.
func (c *Catalog) With(add Additions) (*Catalog, error) {
	if len(add.Documents) == 0 && len(add.Scenarios) == 0 && len(add.Services) == 0 && len(add.Roles) == 0 {
		return c, nil
	}
	docs, services, roles := add.Documents, add.Services, add.Roles
	n := &Catalog{OSes: c.OSes}
	// The bindings stay, but those of a service the site replaces: its
	// entries are the site's, and no source says what listens on them.
	for _, b := range c.Bindings {
		if b.Service == "" || !slices.ContainsFunc(services, func(s Service) bool { return s.ID == b.Service }) {
			n.Bindings = append(n.Bindings, b)
		}
	}
	n.Scenarios = replaceByID(c.Scenarios, add.Scenarios, func(s Scenario) string { return s.ID })
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
