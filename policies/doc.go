// Package policies holds fwgen's input and its resolution: the Policy (a site
// policy file or the quick-mode flags), Load, which reads and checks a site
// policy, Resolve, which turns a Policy into a Ruleset, and the Ruleset with
// the views that emitters read.
//
// # Site policy format v1
//
// A site policy is one YAML document (UTF-8, at most 64 MiB: some 200,000 host groups) that describes
// the host groups of an estate:
//
//	fwgen: v1
//	name: contoso-hq
//	os: ["2016", "2019", "2003"]     # default OS mix for groups that name none
//	networks:                        # named address sets, IPv4 and IPv6
//	  clients: [10.10.0.0/16, "fd00:10::/48"]
//	  admins: [10.99.0.0/24]
//	rpc:                             # optional
//	  range: 5000-5100               # restricted RPC range (KB 154596)
//	  static: {ntds: 38901, netlogon: 38902, frs: 38903, dfsr: 5722}
//	scenarios: [netbios]             # optional: turned on wherever a role has it
//	services:                        # optional: the estate's own services
//	  - id: contoso-erp
//	    name: Contoso ERP
//	    entries: [{protocol: tcp, ports: "8443", peers: clients}]
//	roles:                           # optional: the estate's own roles
//	  - id: erp-app
//	    services: [contoso-erp, management]
//	hosts:
//	  - name: dcs
//	    roles: [dc]
//	    addresses: [10.20.0.10, 10.20.0.11]
//	    os: ["2016"]
//	    peers: {clients: [clients], admins: [admins]}
//	  - name: hv
//	    roles: [hyperv-host, cluster-node]
//	    addresses: [10.30.0.0/24]
//	    profile: [domain]
//	    scenarios: [hyperv-replica]
//
// The keys of the top level:
//
//   - fwgen (required): the format, v1.
//   - name (required): the site's name, shown in every output; at most 64
//     characters, no control characters.
//   - os: the default OS mix, for host groups without an os of their own.
//     Windows versions in any common spelling ("2008 R2", ws2016, win10, xp);
//     quoting them ("2016") keeps YAML from reading numbers, though either
//     works. The server versions of the mix decide the RPC dynamic range the
//     servers listen on (1025-5000 before Vista and Server 2008, 49152-65535
//     after, both when both kinds are present; client versions count only
//     when the mix names no server version). The whole mix decides which
//     OS-dependent entries apply, so list the clients' versions too where
//     they matter (XP clients need ICMP for Group Policy).
//   - networks: named address lists that peers refer to. Each address is an
//     IPv4 or IPv6 address (standing for itself, /32 or /128) or a prefix.
//     A prefix with host bits set (10.0.0.5/24) is an error, not silently
//     widened to 10.0.0.0/24 or narrowed to the host: write which you mean.
//     Address ranges, zones (%eth0) and IPv4-mapped IPv6 are refused.
//     Names use lower-case letters, digits, '.', '_' and '-'.
//   - rpc: an estate that narrowed or pinned its RPC ports. range replaces
//     the OS default dynamic range (KB 154596); it has at least 100 ports,
//     as KB 154596 asks. static pins RPC interfaces to one port each (KB
//     224196, dfsrdiag StaticRPC); the interfaces are those the catalog
//     declares: dfsr, frs, netlogon, ntds. Each needs a port of its own
//     (Netlogon logs event 5809 when it shares NTDS's), outside the
//     restricted range (KB 154596), and not one the servers already serve
//     (389, 88...). The range narrows RPC only: FTP's passive ports keep the
//     OS's dynamic range.
//   - scenarios: scenarios turned on for every host group whose roles have
//     them (see Scenarios below); each must belong to some group's roles.
//   - optional: true turns on every scenario of every group.
//   - services: the estate's own services, as in the catalog: id (lower-case
//     letters, digits, '.' and '-'), name, system_service, notes, ref (a list
//     of {doc, section} citing documents of the catalog) and entries. An
//     entry has a protocol (tcp, udp, icmpv4, icmpv6, gre, esp, ah), ports
//     for tcp and udp (a number, a range 8000-8010, rpc-dynamic, a list of
//     these, or several in one string separated by commas), an icmp_type for
//     icmpv4 and icmpv6, a label, peers (one or a list of clients, members,
//     admins and role:<role id>, see Who may connect), scenario with why
//     (the entry stays closed until that scenario is turned on; a scenario
//     the catalog does not have is the policy's own), and optional with why
//     (the same, with the scenario named after the service). A service with
//     a catalog service's id is an error unless it says override: true,
//     which replaces the catalog's. A service without ref cites the site
//     policy. A peer that reaches an RPC port of the service (rpc-dynamic)
//     also reaches its endpoint mapper, 135/tcp: fwgen adds it where the
//     service does not list it, and says so.
//   - roles: the estate's own roles: id, name, notes, services, members
//     (group, the default, or site; see Who may connect) and override (as
//     for services). services lists service ids of the policy or the
//     catalog; a catalog role's name stands for all of that role's services
//     (management brings winrm). A role's id cannot be another name (alias)
//     of a catalog role.
//   - hosts (required): the host groups, each a set of servers with the same
//     roles, OS mix and peers; every output names its files after the group.
//
// The keys of a host group:
//
//   - name (required): lower-case letters, digits, '.', '_' and '-', starting
//     and ending with a letter or digit, at most 64 characters, unique in the
//     policy, and not a Windows device name (con, prn, aux, nul, com1, lpt1,
//     ...), since it names files such as <name>.ps1.
//   - roles (required, at least one): catalog roles by id or alias (dc,
//     domain-controller), or the policy's own roles.
//   - os: the group's OS mix, replacing the policy's default. A group without
//     either is an error.
//   - addresses: the servers' addresses or prefixes, as in networks. Host
//     firewall scripts need none; formats that filter traffic passing by
//     (a forward chain) say so when they are missing.
//   - peers: for each peer class (clients, members, admins), or for a role
//     whose servers connect (rd-connection-broker), the names of the
//     networks and host groups that may connect; see Who may connect. An
//     empty list is an error, and so is a name that is both a network and a
//     host group.
//   - profile: Windows Firewall profiles (domain, private, public); all when
//     left out.
//   - scenarios: scenarios of the group's roles turned on for this group.
//
// # Who may connect
//
// Every port of the catalog names its peers, the computers that connect to
// it, as Microsoft's documents describe them:
//
//   - clients: the computers and users the servers serve. A group that
//     names none admits any address, and the outputs say so.
//   - admins: administrators' workstations. They are computers of the
//     estate too, so they reach every port clients reach, and besides the
//     ports their tools use (ADWS 9389, VMConnect 2179, WinRM, the RPC of
//     the DNS, DHCP and WINS consoles, and the endpoint mapper wherever they
//     reach RPC ports). A group that names none admits the clients'
//     networks as admins (or any address, when clients are not named
//     either).
//   - members: the other servers of the same role that the servers work
//     with. Domain controllers reach each other on every port clients use
//     plus replication (KB 179442), DNS servers transfer zones, WINS servers
//     replicate, DHCP failover partners and WSUS servers synchronize, file
//     servers replicate with DFS Replication: for these roles (fwgen roles
//     shows members site) the members are the addresses of every host group
//     of the policy that holds the role. The nodes of a failover cluster or
//     Hyper-V hosts migrating virtual machines are members of their own
//     host group only (members group), so two clusters never reach each
//     other. A group that names members (networks or host groups) gets those
//     instead.
//   - the servers of another role: the RD Connection Broker connects to
//     session hosts on RDP, SMB and RPC; session hosts to the RD license
//     server and the broker; RD Web Access to the broker on 5504; Web
//     Application Proxy servers to AD FS; the Windows Admin Center gateway
//     to WinRM; Hyper-V hosts to a Replica server. These are the addresses
//     of the host groups that hold that role, or the networks the group
//     names under the role's id (peers: {rd-connection-broker: [brokers]}).
//     When no group holds the role and the group names none, no rule admits
//     them, and the group's notes say so. In quick mode they are the --from
//     addresses.
//
// # Scenarios
//
// Microsoft documents some ports for ways of using a role that not every
// deployment has: Hyper-V Replica, DFS Namespaces and DFS Replication on a
// file server, WinRM over HTTPS, SQL Server named instances, NetBIOS
// fallback, Active Directory over L2TP/IPsec, RPC over HTTPS, and others
// ('fwgen roles' lists each role's). Their ports stay closed until the
// scenario is turned on: --scenario in quick mode, scenarios for a host
// group or the whole policy, or optional: true for all. Every output says
// which scenarios were left out and what each would open.
//
// # Strictness and errors
//
// Load is strict: an unknown key is an error (with a did-you-mean for
// typos), as are a value of the wrong type, a repeated key, a repeated name
// or id, a name that does not exist, a scenario that none of the roles has,
// and RPC settings that KB 154596 or KB 224196 call broken. Merge keys (<<) are refused; plain
// aliases (*name) are allowed, within a budget of values that stops alias
// bombs: 200,000 and one more for every four bytes of the file, more than
// any policy written out without aliases has. Load reports every problem of a file in one ErrorList, sorted,
// one per line, as
//
//	site.yaml:12:9: hosts[1].roles[0]: unknown role "dcc" (did you mean "dc"?)
//
// Problems of the file as a whole (empty, too big, not UTF-8 text) have one
// line of their own; a YAML syntax error names its line and column and
// shows that line, with a caret under the column.
//
// schema.json is the format as a JSON Schema, generated from the types Load
// decodes into (go generate ./policies). A policy whose first line is
//
//	# yaml-language-server: $schema=https://raw.githubusercontent.com/fwgen/fwgen/main/policies/schema.json
//
// is checked as it is typed by editors that use yaml-language-server. The
// examples directory holds complete policies of real-world sites.
package policies
