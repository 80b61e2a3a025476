package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies"
	"github.com/fwgen/fwgen/policies/capture"
)

// groupFlags choose one host group: quick mode's roles and OS mix, or a
// site policy's group.
type groupFlags struct {
	gen   *genOptions
	group string
}

func (g *groupFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	g.gen.flags = f
	f.VarP(&g.gen.roles, "role", "r", "server role(s) of the host, as quick mode takes them")
	f.Var(&g.gen.oses, "os", "Windows version(s) of the host and of the hosts it talks to")
	f.Var(&g.gen.scenarios, "scenario", "scenarios to turn on")
	f.BoolVar(&g.gen.optional, "optional", false, "turn on every scenario")
	f.StringVar(&g.gen.rpcRange, "rpc-range", "", "restricted RPC dynamic range (KB 154596)")
	f.Var(&g.gen.staticRPC, "static-rpc", "RPC interfaces pinned to a port (KB 224196)")
	f.StringVarP(&g.gen.policyFile, "file", "f", "", "site policy YAML (with --group)")
	f.StringVar(&g.group, "group", "", "the host group of the site policy (needed when it has several)")
	completeCatalogFlags(cmd, false)
}

// ruleset resolves the chosen host group: its Ruleset (with the
// policy's networks) and the group.
func (g *groupFlags) ruleset() (*policies.Ruleset, *policies.Group, error) {
	o := g.gen
	if err := o.checkFlags(); err != nil {
		return nil, nil, err
	}
	if o.policyFile == "" {
		if len(o.roles) == 0 {
			return nil, nil, usagef("name the host's roles (--role dc --os 2016) or a site policy and group (-f site.yaml --group dcs)")
		}
		p, err := o.quickPolicy(catalog.Default())
		if err != nil {
			return nil, nil, err
		}
		rs, err := policies.Resolve(p, catalog.Default())
		if err != nil {
			return nil, nil, err
		}
		return rs, &rs.Groups[0], nil
	}
	if len(o.roles) > 0 || len(o.oses) > 0 {
		return nil, nil, usagef("with -f, the roles and OS come from the policy: name a host group with --group")
	}
	p, err := loadPolicy(o.policyFile)
	if err != nil {
		return nil, nil, err
	}
	p.Optional = p.Optional || o.optional
	full, err := policies.Resolve(p, catalog.Default())
	if err != nil {
		return nil, nil, err
	}
	name := g.group
	if name == "" && len(full.Groups) == 1 {
		name = full.Groups[0].Name
	}
	var names []string
	for _, h := range full.Groups {
		names = append(names, h.Name)
	}
	if name == "" {
		return nil, nil, usagef("%s has %d host groups: name one with --group (%s)", o.policyFile, len(full.Groups), strings.Join(names, ", "))
	}
	one := full.ForGroup(name, false)
	if one == nil {
		return nil, nil, usagef("no host group %q in %s%s; its groups: %s", name, o.policyFile, didYouMean(name, names), strings.Join(names, ", "))
	}
	return one, &one.Groups[0], nil
}

// scriptFlags are the flags of the listener and probe commands.
type scriptFlags struct {
	groupFlags
	lang     string
	perRange int
	output   string
	duration time.Duration
	timeout  time.Duration
	peer     string
	targets  listValue
	closed   listValue
	format   string
}

func newListenerCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &scriptFlags{groupFlags: groupFlags{gen: &genOptions{stdout: stdout, stderr: stderr}}}
	cmd := &cobra.Command{
		Use:   "listener --lang py|ps (--role ROLE --os VERSION | -f site.yaml --group NAME)",
		Short: "Write a script that listens on every port a host needs, to test the firewall before the roles are installed",
		Long: `listener writes a script to run on the target host before its roles are
installed: it listens on every TCP and UDP port the host group needs (ranges
sampled: the first, the last and evenly spaced ports between), and on the
--closed ports a probe checks stay closed, answers a short banner on TCP,
echoes on UDP, logs each connection, and stops after --duration or Ctrl+C. A
port another program holds is reported and skipped, never shared; the script
exits 1 when it could open no port. --lang ps writes PowerShell
(System.Net.Sockets) for Windows, --lang py Python 3 for anything else.

fwgen's Windows rules are bound to the programs of the roles (lsass.exe,
dns.exe, ...) unless generated with --bind none, so they do not admit the
script. The PowerShell script adds a temporary rule group for its own program,
on the ports the group needs from the addresses its rules admit, and removes
it when it stops; with -NoFirewallRule it leaves Windows Firewall alone, to
prove port-only rules (fwgen generate ... --bind none). Run fwgen probe's
script from a client network to test the ports.`,
		Example: `  fwgen listener --lang ps --role dc --os 2016 > listener.ps1
  fwgen listener --lang py -f site.yaml --group dcs --duration 30m --closed tcp/3389 -o listener.py`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return scriptRun(o, "listener") },
	}
	o.bind(cmd)
	o.bindScript(cmd)
	cmd.Flags().DurationVar(&o.duration, "duration", time.Hour, "how long the script listens (0: until Ctrl+C)")
	return cmd
}

func newProbeCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &scriptFlags{groupFlags: groupFlags{gen: &genOptions{stdout: stdout, stderr: stderr}}}
	cmd := &cobra.Command{
		Use:   "probe --lang py|ps (--role ROLE --os VERSION | -f site.yaml --group NAME) [--peer PEER] [--target HOST]",
		Short: "Write a script that tests, from a client network, every port of a host that peer should reach",
		Long: `probe writes a script to run from a client network: it tests every TCP and UDP
port of the host group that --peer needs (clients, members, admins, role:ID, or
a network of the site policy; every peer when left out), on --target (an IP
address, [IPv6] or a host name; resolved once) or the group's addresses. TCP is
"listening" (it answered), "not listening" (reset: the path is open, nothing
listens) or "filtered" (no answer: a firewall drops it); UDP is "listening" (an
answer: fwgen's listener echoes, DNS and NTP answer their requests), "not
listening" (ICMP port unreachable) or "listening or filtered" (silence).
--closed PROTO/PORT adds ports that must stay closed: they pass only as
filtered, so give the listener the same --closed, which listens on them; a port
the peer needs cannot be closed. UDP silence from a live server (not fwgen's
listener) on a port without a real request (CLDAP, Kerberos) is inconclusive,
not a failure. The script exits 0 when no check failed, 1 when one did, 2 when
a target does not resolve; it prints a table, or CSV, JSON or Markdown
(--format, or the script's own option).`,
		Example: `  fwgen probe --lang py --role dc --os 2016 --peer clients --target 10.0.0.10 > probe.py
  fwgen probe --lang ps -f site.yaml --group dcs --peer branch --closed tcp/3389`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return scriptRun(o, "probe") },
	}
	o.bind(cmd)
	o.bindScript(cmd)
	f := cmd.Flags()
	f.StringVar(&o.peer, "peer", "", "the peer whose ports to test: clients, members, admins, role:ID or a network of the policy (default every peer)")
	f.Var(&o.targets, "target", "host or address to test: an IP address, [IPv6] or a host name (default the group's single addresses)")
	f.DurationVar(&o.timeout, "timeout", 2*time.Second, "how long the script waits for each answer")
	f.StringVar(&o.format, "format", "table", "the script's output: table, csv, json or markdown")
	completeWith(cmd, "format", fixed("table", "csv", "json", "markdown"))
	completeWith(cmd, "peer", fixed("clients", "members", "admins"))
	return cmd
}

func (o *scriptFlags) bindScript(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.lang, "lang", "", "the script's language: py (Python 3) or ps (PowerShell)")
	f.IntVar(&o.perRange, "ports-per-range", 3, fmt.Sprintf("ports of a range the script samples: the first, the last and evenly spaced ones (2 to %d)", emit.MaxPortsPerRange))
	f.Var(&o.closed, "closed", "ports that must stay closed, e.g. tcp/3389,udp/161: the listener listens on them, a probe wants them filtered")
	f.StringVarP(&o.output, "output", "o", "", "write to this file (atomically) instead of standard output")
	completeWith(cmd, "lang", fixed("py", "ps"))
}

// checkScript checks the flags of the listener and probe commands that
// need no policy.
func (o *scriptFlags) checkScript() error {
	switch {
	case o.lang != "py" && o.lang != "ps":
		return usagef("--lang %q: want py (Python 3) or ps (PowerShell)", o.lang)
	case o.perRange < 2:
		return usagef("--ports-per-range %d: want at least 2 (the first and the last port of a range)", o.perRange)
	case o.perRange > emit.MaxPortsPerRange:
		return usagef("--ports-per-range %d: at most %d: each sampled port is a socket the listener holds open, "+
			"and a process may open only so many (1,024 files by default on Linux)", o.perRange, emit.MaxPortsPerRange)
	case o.format != "" && o.format != "table" && o.format != "csv" && o.format != "json" && o.format != "markdown":
		return usagef("--format %q: want table, csv, json or markdown", o.format)
	case o.duration < 0:
		return usagef("--duration %v: want 0 (until Ctrl+C) or more", o.duration)
	case o.timeout < 0 || o.timeout == 0 && o.flagSet("timeout"):
		return usagef("--timeout %v: want more than 0", o.timeout)
	}
	if role, ok := strings.CutPrefix(o.peer, "role:"); ok {
		if _, err := catalog.Default().Role(role); err != nil {
			return usagef("--peer %s: %v", o.peer, err)
		}
	}
	for _, t := range o.targets {
		if _, err := emit.ParseTarget(t); err != nil {
			return usagef("--%v", err)
		}
	}
	return nil
}

func (o *scriptFlags) flagSet(name string) bool {
	f := o.gen.flags.Lookup(name)
	return f != nil && f.Changed
}

func scriptRun(o *scriptFlags, kind string) error {
	if err := o.checkScript(); err != nil {
		return err
	}
	rs, g, err := o.ruleset()
	if err != nil {
		return err
	}
	opts := emit.VerifyOptions{Lang: o.lang, PortsPerRange: o.perRange, Peer: o.peer, Targets: o.targets,
		Duration: o.duration, Timeout: o.timeout, Format: o.format}
	for _, c := range o.closed {
		pc, err := emit.ParsePortCheck(c)
		if err != nil {
			return usagef("--closed %v", err)
		}
		opts.Closed = append(opts.Closed, pc)
	}
	var buf bytes.Buffer
	write := emit.Listener
	if kind == "probe" {
		write = emit.Probe
	}
	if err := write(&buf, rs, g.Name, opts); err != nil {
		return usageError{err}
	}
	if o.output == "" {
		return writeStdout(o.gen.stdout, buf.Bytes())
	}
	return writeFile(o.output, buf.Bytes())
}

// listeningFlags are the flags of fwgen listening and fwgen suggest.
type listeningFlags struct {
	groupFlags
	format string
}

func newListeningCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &listeningFlags{groupFlags: groupFlags{gen: &genOptions{stdout: stdout, stderr: stderr}}}
	cmd := &cobra.Command{
		Use:   "listening (--role ROLE --os VERSION | -f site.yaml --group NAME) CAPTURE",
		Short: "Compare what a server listens on (netstat, Get-NetTCPConnection, TCPView, CurrPorts, ss) with its rules",
		Long: `listening reads what a server reports as listening and compares it with the
host group's rules: the listening ports the rules cover (with their services),
the ones no rule covers (with the process and PID, when the capture names them,
and the group's scenario that would open the port or the catalog's services that
usually listen there), and the rules nothing listens for. It reads Windows
netstat -ano, -anob, -anoq and -anot (English), Get-NetTCPConnection -State
Listen and Get-NetUDPEndpoint (as a table, Export-Csv or ConvertTo-Json),
Sysinternals TCPView's and NirSoft CurrPorts' saved CSV, and Linux ss -ltnup,
finding the format itself; records that do not say whether they are TCP or UDP
are an error that says how to capture them. A protocol the capture does not list
is "not captured". UDP endpoints in the dynamic range (client sockets, the DNS
Server's socket pool) are counted per process, and no finding. Loopback
listeners are left out; a listener in the RPC dynamic range counts as covered
where the group opens the range. Exit status 1 when a listening port is not
covered.`,
		Example: `  netstat -ano > dc01.txt; fwgen listening --role dc --os 2016 dc01.txt
  fwgen listening -f site.yaml --group dcs dc01.csv --format markdown`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return listeningRun(o, args[0]) },
	}
	o.bind(cmd)
	cmd.Flags().StringVar(&o.format, "format", "table", "table, csv, json or markdown")
	completeWith(cmd, "format", fixed("table", "csv", "json", "markdown"))
	return cmd
}

// readCapture reads and parses a capture file, its errors at
// file:line:column.
func readCapture(path string) (*capture.Capture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ioError{err}
	}
	cp, err := capture.Parse(data)
	if err != nil {
		ce, ok := err.(*capture.Error)
		switch {
		case ok && ce.Column > 0:
			return nil, fmt.Errorf("%s:%d:%d: %s", path, ce.Line, ce.Column, ce.Msg)
		case ok && ce.Line > 0:
			return nil, fmt.Errorf("%s:%d: %s", path, ce.Line, ce.Msg)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return cp, nil
}

// warnCapture says on stderr what a capture cannot show: a capture
// without listeners is likely not what the server listens on.
func warnCapture(stderr io.Writer, path string, cp *capture.Capture) {
	if len(cp.Listeners) == 0 {
		fmt.Fprintf(stderr, "fwgen: warning: %s: no listening socket in the capture (%s): take it on the server, "+
			"elevated, with netstat -ano or Get-NetTCPConnection -State Listen and Get-NetUDPEndpoint\n", path, cp.Format)
	}
}

func listeningRun(o *listeningFlags, path string) error {
	if o.format != "table" && o.format != "csv" && o.format != "json" && o.format != "markdown" {
		return usagef("--format %q: want table, csv, json or markdown", o.format)
	}
	_, g, err := o.ruleset()
	if err != nil {
		return err
	}
	cp, err := readCapture(path)
	if err != nil {
		return err
	}
	warnCapture(o.gen.stderr, path, cp)
	r := capture.Check(cp, g, catalog.Default())
	var buf bytes.Buffer
	if err := writeReport(&buf, r, o.format); err != nil {
		return err
	}
	if err := writeStdout(o.gen.stdout, buf.Bytes()); err != nil {
		return err
	}
	if !r.OK() {
		return findingsError{fmt.Errorf("%s: %d listening ports no rule of host group %s covers", path, len(r.Uncovered), g.Name)}
	}
	return nil
}

// reportRow is one line of a listening report; an empty cell is empty in
// CSV and "-" in a table.
type reportRow struct {
	Status, Proto, Ports, Services, Processes, PIDs, Note string
}

func reportRows(r *capture.Report) []reportRow {
	var rows []reportRow
	for _, p := range r.Covered {
		note := ""
		if p.RPC {
			note = "RPC dynamic range"
		}
		rows = append(rows, reportRow{"covered", p.Proto, fmt.Sprint(p.Port), strings.Join(p.Services, ", "),
			strings.Join(p.Processes, ", "), pidList(p.PIDs), note})
	}
	for _, p := range r.Uncovered {
		rows = append(rows, reportRow{"NOT COVERED", p.Proto, fmt.Sprint(p.Port), "", strings.Join(p.Processes, ", "),
			pidList(p.PIDs), uncoveredNote(p)})
	}
	for _, e := range r.Ephemeral {
		rows = append(rows, reportRow{"ephemeral", "udp", e.Range, "", strings.Join(e.Processes, ", "), pidList(e.PIDs),
			fmt.Sprintf("%d UDP endpoints in the dynamic range: client sockets, or the DNS Server's socket pool (KB 956188); "+
				"they receive answers, which need no rule", e.Count)})
	}
	for _, i := range r.Idle {
		rows = append(rows, reportRow{"nothing listens", i.Proto, i.Ports, strings.Join(i.Services, ", "), "", "", ""})
	}
	for _, i := range r.NotCaptured {
		rows = append(rows, reportRow{"not captured", i.Proto, i.Ports, strings.Join(i.Services, ", "), "", "",
			"the capture lists no " + strings.ToUpper(i.Proto) + " sockets"})
	}
	return rows
}

// uncoveredNote says what may listen on a port no rule covers: the
// group's scenarios that would open it, or else the catalog's services.
func uncoveredNote(p capture.Port) string {
	var notes []string
	if p.RPC {
		notes = append(notes, "in the RPC dynamic range of the servers' OS: an RPC server the rules do not open it for")
	}
	switch {
	case len(p.Scenarios) == 1:
		id, _, _ := strings.Cut(p.Scenarios[0], " ")
		notes = append(notes, "turn on scenario "+p.Scenarios[0]+" (--scenario "+id+") if the group needs it")
	case len(p.Scenarios) > 1:
		notes = append(notes, "turn on the scenario that opens it if the group needs it: "+strings.Join(p.Scenarios, "; "))
	case len(p.Usual) > 0:
		notes = append(notes, "usually: "+strings.Join(p.Usual, "; "))
	}
	return strings.Join(notes, "; ")
}

// pidList is a list of process IDs, as "660, 2168".
func pidList(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

// writeReport writes a listening report as a table, CSV, JSON or
// Markdown for a change record.
func writeReport(w io.Writer, r *capture.Report, format string) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case "csv":
		var b strings.Builder
		b.WriteString("status,protocol,ports,services,processes,pids,note\n")
		for _, row := range reportRows(r) {
			b.WriteString(csvLine(row.Status, row.Proto, row.Ports, row.Services, row.Processes, row.PIDs, row.Note))
		}
		_, err := io.WriteString(w, b.String())
		return err
	case "markdown":
		fmt.Fprintf(w, "# Listening ports of host group %s\n\nRead from a %s capture of %s; %d loopback listeners left out.\n\n",
			emit.MarkdownText(r.Group), emit.MarkdownText(r.Format), capturedText(r), r.Loopback)
		fmt.Fprintln(w, "| Status | Protocol | Ports | Services | Processes | PIDs | Note |\n|---|---|---|---|---|---|---|")
		for _, row := range reportRows(r) {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", emit.MarkdownText(row.Status), row.Proto, row.Ports,
				mdEscape(row.Services), mdEscape(row.Processes), mdEscape(row.PIDs), mdEscape(row.Note))
		}
		return nil
	}
	fmt.Fprintf(w, "host group %s, from a %s capture of %s (%d loopback listeners left out):\n\n", r.Group, r.Format, capturedText(r), r.Loopback)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tPROTO\tPORTS\tSERVICES\tPROCESSES\tPIDS\tNOTE")
	for _, row := range reportRows(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Status, row.Proto, row.Ports, dash(row.Services), dash(row.Processes),
			dash(row.PIDs), dash(row.Note))
	}
	return tw.Flush()
}

// capturedText names the protocols a capture lists, as "TCP and UDP".
func capturedText(r *capture.Report) string {
	if len(r.Captured) == 0 {
		return "no TCP or UDP socket"
	}
	return strings.Join(strings.Split(strings.ToUpper(strings.Join(r.Captured, " ")), " "), " and ") + " sockets"
}

// csvLine is one CSV record of values, quoted where needed and defused
// for spreadsheets as fwgen's CSV output is.
func csvLine(values ...string) string {
	var b bytes.Buffer
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			v = "'" + v
		}
		if strings.ContainsAny(v, ",\"\n\r") {
			v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		b.WriteString(v)
	}
	b.WriteByte('\n')
	return b.String()
}

// suggestFlags are the flags of fwgen suggest.
type suggestFlags struct {
	stdout, stderr io.Writer
	oses           listValue
	format         string
}

func newSuggestCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &suggestFlags{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "suggest CAPTURE [--os VERSION]",
		Short: "Propose the roles that explain what a server listens on",
		Long: `suggest reads what a server listens on (the captures fwgen listening reads)
and proposes the catalog's roles that explain it. Only a role's distinguishing
fixed ports count: not the RPC range, not scenarios', and not the ports any
Windows server may have (135, 137-139, 445, 3389, 5985, 5986), so that Remote
Desktop and WinRM suggest no role. Among the roles with at least one and at least
half of those ports listening, the best share first, then the one that explains
the most of the rest, while one explains more. A protocol the capture does not
list (a TCP-only capture) counts neither way.`,
		Example: `  fwgen suggest dc01.txt --os 2016`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(_ *cobra.Command, args []string) error { return suggestRun(o, args[0]) },
	}
	cmd.Flags().Var(&o.oses, "os", "Windows version(s) of the server (default 2016): they decide which ports a role has")
	cmd.Flags().StringVar(&o.format, "format", "table", "table or json")
	completeWith(cmd, "format", fixed("table", "json"))
	return cmd
}

func suggestRun(o *suggestFlags, path string) error {
	if o.format != "table" && o.format != "json" {
		return usagef("--format %q: want table or json", o.format)
	}
	oses := o.oses
	if len(oses) == 0 {
		oses = listValue{"2016"}
	}
	var ids []string
	for _, name := range oses {
		v, err := catalog.Default().OS(name)
		if err != nil {
			return usageError{err}
		}
		ids = append(ids, v.ID)
	}
	cp, err := readCapture(path)
	if err != nil {
		return err
	}
	warnCapture(o.stderr, path, cp)
	ss, err := capture.Suggest(cp, ids, catalog.Default())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if o.format == "json" {
		b, err := json.MarshalIndent(ss, "", "  ")
		if err != nil {
			return err
		}
		buf.Write(append(b, '\n'))
		return writeStdout(o.stdout, buf.Bytes())
	}
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tSHOWS\tEXPLAINS\tNOT LISTENING")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%d of %d distinguishing ports\t%s\t%s\n", s.Role, len(s.Matched), len(s.Matched)+len(s.Missing),
			strings.Join(s.Explains, " "), dash(strings.Join(s.Missing, " ")))
	}
	tw.Flush()
	if len(ss) == 0 {
		buf.WriteString("no role has a distinguishing port listening, or half of them: the ports any Windows server may have " +
			"(135, 137-139, 445, 3389, 5985, 5986) suggest none, and a file server shows no others\n")
	}
	switch len(cp.Protocols) {
	case 0:
		buf.WriteString("(the capture lists no TCP or UDP socket: no port counts either way)\n")
	case 1:
		fmt.Fprintf(&buf, "(the capture lists %s only: the other protocol's ports count neither way)\n", capturedText(&capture.Report{Captured: cp.Protocols}))
	}
	return writeStdout(o.stdout, buf.Bytes())
}
