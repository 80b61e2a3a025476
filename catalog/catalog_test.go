package catalog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestDefaultLoads(t *testing.T) {
	c, err := Load(dataFS)
	if err != nil {
		t.Fatalf("embedded catalog: %v", err)
	}
	if len(c.Services) == 0 || len(c.Roles) == 0 || len(c.OSes) == 0 {
		t.Fatalf("catalog is empty: %d services, %d roles, %d OS versions", len(c.Services), len(c.Roles), len(c.OSes))
	}
}

// TestEveryKB832017Section checks that each service section of KB 832017
// "System services ports" is in the catalog and cites its section.
func TestEveryKB832017Section(t *testing.T) {
	sections := map[string]string{
		"ad": "Active Directory (local security authority)", "alg": "Application Layer Gateway service",
		"aspnet-state": "ASP.NET State Service", "certsvc": "Certificate Services", "cluster": "Cluster service",
		"browser": "Computer Browser", "dhcp-server": "Dynamic Host Configuration Protocol (DHCP) Server",
		"dfsn": "Distributed File System Namespaces", "dfsr": "Distributed File System Replication",
		"link-tracking": "Distributed Link Tracking Server", "msdtc": "Distributed Transaction Coordinator",
		"dns-server": "DNS Server", "eventlog": "Event Log", "fax": "Fax Service", "frs": "File Replication",
		"ftp": "FTP Publishing Service", "group-policy": "Group Policy", "http-ssl": "HTTP SSL",
		"hyper-v": "Hyper-V service", "ias": "Internet Authentication Service",
		"ics":  "Internet Connection Firewall (ICF)/Internet Connection Sharing",
		"ipam": "IP Address Management (IPAM)", "branchcache": "BranchCache", "isa-tmg": "ISA/TMG Server",
		"kdc": "Kerberos Key Distribution Center", "license-logging": "License Logging",
		"msmq": "Message Queuing", "exchange-mta": "Microsoft Exchange Message Transfer Agent (MTA) stacks",
		"pop3": "Microsoft POP3 service", "netlogon": "Net Logon", "netmeeting": "NetMeeting Remote Desktop Sharing",
		"nntp":          "Network News Transfer Protocol (NNTP)",
		"offline-files": "Offline Files, User Profile Service, Folder Redirection, and Primary Computer",
		"perflogs":      "Performance Logs and Alerts", "spooler": "Print Spooler", "remote-installation": "Remote Installation",
		"rpc": "Remote Procedure Call (RPC)", "rpc-locator": "Remote Procedure Call (RPC) Locator",
		"remote-storage-notification": "Remote Storage Notification", "remote-storage": "Remote Storage",
		"rras": "Routing and Remote Access", "server": "Server", "sharepoint-portal": "SharePoint Portal Server",
		"smtp": "Simple Mail Transfer Protocol (SMTP)", "simple-tcpip": "Simple TCP/IP Services",
		"snmp": "Simple Network Management Protocol (SNMP) Service", "snmp-trap": "SNMP Trap Service",
		"ssdp": "Simple Service Discovery Protocol (SSDP) Discovery Service", "tcpip-print": "TCP/IP Print Server",
		"telnet": "Telnet", "terminal-services": "Remote Desktop Services", "ts-licensing": "Licensing",
		"ts-session-directory": "Connection Broker", "tftp": "Trivial FTP Daemon", "upnp-host": "UPnP Device Host",
		"wins": "Windows Internet Name Service (WINS)", "wms": "Windows Media Services",
		"winrm": "Windows Remote Management (WinRM)", "w32time": "Windows Time",
		"w3svc": "World Wide Web Publishing Service",
	}
	c := Default()
	for id, section := range sections {
		s, err := c.Service(id)
		if err != nil {
			t.Errorf("KB 832017 section %q: %v", section, err)
			continue
		}
		cited := false
		for _, r := range s.Ref {
			cited = cited || (r.Doc == "kb832017" && strings.Contains(r.Section, section))
		}
		if !cited {
			t.Errorf("service %s does not cite KB 832017 section %q (refs %v)", id, section, s.Ref)
		}
	}
}

func TestRequiredRoles(t *testing.T) {
	c := Default()
	names := []string{"dc", "domain-controller", "dns", "dhcp", "file-server", "print-server", "cluster-node",
		"failover-cluster", "hyperv-host", "ca", "adcs", "rds-session-host", "rd-gateway", "rd-licensing",
		"rd-connection-broker", "rd-web-access", "web", "iis", "wsus", "nps", "radius", "kms", "wins",
		"management", "winrm", "adfs", "adfs-wap", "wac", "sql-server"}
	for _, n := range names {
		if _, err := c.Role(n); err != nil {
			t.Errorf("role %q: %v", n, err)
		}
	}
}

func TestOSSpellings(t *testing.T) {
	c := Default()
	for in, want := range map[string]string{
		"2016": "2016", "ws2016": "2016", "server2019": "2019", "Windows Server 2008 R2": "2008r2",
		"2008 R2": "2008r2", "2008R2": "2008r2", "win10": "10", "Windows 11": "11", "8.1": "8.1",
		"XP": "xp", "winxp": "xp", "2003r2": "2003r2", "Server 2025": "2025", "vista": "vista",
	} {
		o, err := c.OS(in)
		if err != nil {
			t.Errorf("OS(%q): %v", in, err)
			continue
		}
		if o.ID != want {
			t.Errorf("OS(%q) = %s, want %s", in, o.ID, want)
		}
	}
	_, err := c.OS("2061")
	if err == nil || !strings.Contains(err.Error(), `did you mean "2016"`) {
		t.Errorf("OS(2061) error = %v, want a did-you-mean for 2016", err)
	}
}

// TestRPCDynamicRanges checks KB 929851: 1025-5000 before Vista/2008,
// 49152-65535 from then on.
func TestRPCDynamicRanges(t *testing.T) {
	for _, o := range Default().OSes {
		want := PortRange{49152, 65535}
		if o.Build < 6000 {
			want = PortRange{1025, 5000}
		}
		if o.RPCDynamic != want {
			t.Errorf("%s: rpc_dynamic %s, want %s", o.ID, o.RPCDynamic, want)
		}
	}
}

func TestCheckFindsBrokenData(t *testing.T) {
	bad := `
documents: [{id: doc, title: A doc, url: "https://example.com/"}]
scenarios: [{id: sc, name: Sc, description: d}, {id: sc2}]
os: [{id: "2016", name: W, kind: server, build: 1, rpc_dynamic: 49152-65535, ref: [{doc: doc}]}]
services:
  - id: svc
    name: S
    entries:
      - {protocol: tcp, ports: ["0"], peers: clients}
      - {protocol: tcp, ports: ["5000-4000"], peers: clients, ref: [{doc: doc}]}
      - {protocol: udp, peers: everyone, ref: [{doc: nope}]}
      - {protocol: icmpv4, peers: clients, ref: [{doc: doc}]}
      - {protocol: tcp, ports: ["1"], peers: clients, scenario: sc, ref: [{doc: doc}]}
      - {protocol: tcp, ports: ["1"], peers: clients, when: {os_any: ["1999"]}, why: w, ref: [{doc: doc}]}
      - {protocol: tcp, ports: ["2"], peers: [role:nobody, "role:"], scenario: nope, why: w, ref: [{doc: doc}]}
  - id: svc
    name: S2
    ref: [{doc: doc}]
    entries: [{protocol: tcp, ports: ["1"], peers: clients}]
roles:
  - {id: r, name: R, services: [svc, missing], ref: [{doc: doc}]}
  - {id: r2, name: R2, aliases: [r], services: [svc], ref: [{doc: doc}]}
  - {id: r3, name: R3, members: everyone, services: [svc, {id: svc, scenario: sc3}], ref: [{doc: doc}]}
`
	_, err := Load(fstest.MapFS{"data/x.yaml": {Data: []byte(bad)}})
	if err == nil {
		t.Fatal("Load accepted broken data")
	}
	for _, want := range []string{
		`port "0": want a number from 1 to 65535`, `5000 is above 4000`, `entries[0]: no reference`,
		`peers "everyone"`, `cites unknown document "nope"`, `udp needs ports`, `icmp_type is for`,
		`scenario, conditional and any_source entries say why`, `unknown OS "1999"`, `service "svc": defined twice`,
		`unknown service "missing"`, `alias "r" is taken`, `peers: unknown role "nobody"`, `peers "role:"`,
		`unknown scenario "nope"`, `scenario "sc2": needs a name and a description`, `members "everyone"`,
		`role "r3" service "svc": listed twice`, `unknown scenario "sc3"`, `limited to a scenario or an OS says why`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	_, err := Load(fstest.MapFS{"data/x.yaml": {Data: []byte("services: [{id: a, nmae: b}]\n")}})
	if err == nil || !strings.Contains(err.Error(), "x.yaml") || !strings.Contains(err.Error(), "nmae") {
		t.Fatalf("err = %v, want the file and the unknown key", err)
	}
}

func TestMergeRanges(t *testing.T) {
	got := MergeRanges([]PortRange{{3269, 3269}, {135, 135}, {3268, 3268}, {49152, 65535}, {50000, 50010}, {136, 140}})
	want := "135-140 3268-3269 49152-65535"
	var s []string
	for _, r := range got {
		s = append(s, r.String())
	}
	if strings.Join(s, " ") != want {
		t.Errorf("MergeRanges = %v, want %s", s, want)
	}
}

// TestPortRangeJSON reads a range as the JSON outputs write it and as a
// string, and refuses ports out of range or reversed.
func TestPortRangeJSON(t *testing.T) {
	for in, want := range map[string]PortRange{
		`{"from": 1025, "to": 5000}`: {1025, 5000},
		`"445"`:                      {445, 445},
		`"49152-65535"`:              {49152, 65535},
	} {
		var got PortRange
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"+38901", " +1-5", "1-+5", "0x10"} {
		if r, err := ParsePortRange(in); err == nil {
			t.Errorf("ParsePortRange(%q) = %v, want an error", in, r)
		}
	}
	for _, in := range []string{`{"from": 0, "to": 5}`, `{"from": 6, "to": 5}`, `{"from": 70000, "to": 70001}`, `"0"`, `[1]`} {
		var got PortRange
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("%s: read as %v, want an error", in, got)
		}
	}
}

// TestBindings: the endpoint mapper, the RPC range and LDAP of a DC bind
// as Windows' predefined rules do; ICMP never binds; broken bindings are
// found.
func TestBindings(t *testing.T) {
	c := Default()
	ad, _ := c.Service("ad")
	want := map[string]string{
		"tcp 135":         `%SystemRoot%\system32\svchost.exe RpcSs`,
		"tcp rpc-dynamic": `%SystemRoot%\System32\lsass.exe `,
		"tcp 389":         `%SystemRoot%\System32\lsass.exe `,
		"tcp 445":         "System ",
		"udp 53":          `%SystemRoot%\System32\dns.exe dns`,
		"tcp 9389":        `%SystemRoot%\ADWS\Microsoft.ActiveDirectory.WebServices.exe adws`,
		"icmpv4 ":         "none",
		"udp 500":         " (port-only: IPsec's key exchange is no program of Active Directory's; the rule stays port-only.)",
	}
	for _, e := range ad.Entries {
		key := string(e.Protocol) + " " + strings.Join(e.Ports, ",")
		w, ok := want[key]
		if !ok {
			continue
		}
		got := "none"
		if b, found := c.BindingFor("ad", e, []int{14393}); found {
			got = b.Program + " " + b.WinService
			if b.Program == "" {
				got = " (port-only: " + b.Why + ")"
			}
		}
		if got != w {
			t.Errorf("ad %s: bound to %q, want %q", key, got, w)
		}
	}
	broken := *c
	broken.Bindings = append(slices.Clone(c.Bindings),
		Binding{Service: "nope", Protocol: TCP, Program: "System", Ref: []Citation{{Doc: "kb832017"}}},
		Binding{Service: "ad", Protocol: TCP, Program: `C:\evil "x".exe`, Ref: []Citation{{Doc: "kb832017"}}},
		Binding{Service: "ad", Protocol: TCP, Program: "System"},
		Binding{Service: "ad", Protocol: UDP, Program: "", WinService: "x"})
	err := broken.Check()
	for _, msg := range []string{`unknown service "nope"`, `want System or a path under %SystemRoot%`, "no reference", "says why, with no service"} {
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Check of broken bindings: no %q in %v", msg, err)
		}
	}
}

// TestBindingsByServerVersion: RDP binds to svchost.exe from Windows Server
// 2012 on and to System before; a mix of both stays port-only.
func TestBindingsByServerVersion(t *testing.T) {
	c := Default()
	rdp := Entry{Protocol: TCP, Ports: []string{"3389"}}
	for _, tc := range []struct {
		builds []int
		want   string
	}{
		{[]int{14393}, `%SystemRoot%\system32\svchost.exe`},
		{[]int{7601}, "System"},
		{[]int{7601, 14393}, "none"},
	} {
		got := "none"
		if b, ok := c.BindingFor("terminal-services", rdp, tc.builds); ok {
			got = b.Program
		}
		if got != tc.want {
			t.Errorf("RDP on builds %v: %q, want %q", tc.builds, got, tc.want)
		}
	}
}

// TestWithKeepsBindings: a site's additions keep the catalog's bindings,
// but those of a service the site replaces.
func TestWithKeepsBindings(t *testing.T) {
	c := Default()
	ad, _ := c.Service("ad")
	n, err := c.With(Additions{Services: []Service{{ID: "dns-server", Name: "DNS, the site's", Ref: ad.Ref,
		Entries: []Entry{{Protocol: TCP, Ports: []string{"53"}, Label: "DNS", Peers: Peers{"clients"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.BindingFor("ad", Entry{Protocol: TCP, Ports: []string{"389"}}, []int{14393}); !ok {
		t.Error("the additions dropped the bindings of services they do not replace")
	}
	if b, ok := n.BindingFor("dns-server", Entry{Protocol: TCP, Ports: []string{"53"}}, []int{14393}); ok {
		t.Errorf("a replaced service kept its binding: %+v", b)
	}
	if b, ok := n.BindingFor("dns-server", Entry{Protocol: TCP, Ports: []string{"135"}}, []int{14393}); !ok || b.WinService != "RpcSs" {
		t.Error("a replaced service lost the endpoint mapper's binding, every service's")
	}
}
