// Package policies holds fwgen's input and its resolution: the Policy (a site
// policy file or the quick-mode flags), Load, which reads and checks a site
// policy, Resolve, which turns a Policy into a Ruleset, and the Ruleset with
// the views that emitters read.
//
// # Site policy format v1
//
// A site policy is one YAML document (UTF-8, at most 1 MiB) that describes
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
//     the OS default dynamic range (KB 154596). static pins RPC interfaces to
//     one port each (KB 224196, dfsrdiag StaticRPC); the interfaces are those
//     the catalog declares: dfsr, frs, netlogon, ntds.
//   - optional: true includes the entries that the catalog marks optional
//     (NetBIOS where SMB suffices, and the like); they are left out, and the
//     outputs say so, otherwise.
//   - services: the estate's own services, as in the catalog: id (lower-case
//     letters, digits, '.' and '-'), name, system_service, notes, ref (a list
//     of {doc, section} citing documents of the catalog) and entries. An
//     entry has a protocol (tcp, udp, icmpv4, icmpv6, gre, esp, ah), ports
//     for tcp and udp (a number, a range 8000-8010, rpc-dynamic, a list of
//     these, or several in one string separated by commas), an icmp_type for
//     icmpv4 and icmpv6, a label, peers (clients, members or admins), and
//     optional with why. A service with a catalog service's id is an error
//     unless it says override: true, which replaces the catalog's. A service
//     without ref cites the site policy.
//   - roles: the estate's own roles: id, name, notes, services and override
//     (as for services). services lists service ids of the policy or the
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
//   - peers: for each peer class (clients, members, admins), the names of the
//     networks that may connect. A class left out may connect from any
//     address, and the outputs say so; an empty list is an error. Members
//     left out are the group's own addresses and those of every other group
//     that holds one of its roles (other DCs, other cluster nodes).
//   - profile: Windows Firewall profiles (domain, private, public); all when
//     left out.
//
// # Strictness and errors
//
// Load is strict: an unknown key is an error (with a did-you-mean for
// typos), as are a value of the wrong type, a repeated key, a repeated name
// or id, and a name that does not exist. Merge keys (<<) are refused; plain
// aliases (*name) are allowed, within a budget of values that stops alias
// bombs. Load reports every problem of a file in one ErrorList, sorted,
// one per line, as
//
//	site.yaml:12:9: hosts[1].roles[0]: unknown role "dcc" (did you mean "dc"?)
//
// Problems of the file as a whole (empty, too big, not UTF-8 text, not
// YAML) have one line of their own; a YAML syntax error names its line but
// not a column, because the YAML parser does not say.
//
// schema.json is the format as a JSON Schema, generated from the types Load
// decodes into (go generate ./policies). A policy whose first line is
//
//	# yaml-language-server: $schema=https://raw.githubusercontent.com/fwgen/fwgen/main/policies/schema.json
//
// is checked as it is typed by editors that use yaml-language-server. The
// examples directory holds complete policies of real-world sites.
package policies
