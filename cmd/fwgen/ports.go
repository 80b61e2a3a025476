package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

func newPortsCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "ports PORT[-PORT][/tcp|/udp]...",
		Short: "Which services and roles use a port, with references (KB 832017's port-sorted table, from the catalog)",
		Long: `ports lists the catalog's services that listen on a port or range, as KB
832017's "Ports and protocols" table does: the entry, who connects, the roles that
have the service (and the scenario or OS condition it needs there), and the
documents that say so. The RPC dynamic range counts as 1025-5000 and 49152-65535.`,
		Example: `  fwgen ports 445
  fwgen ports 49152-65535/tcp
  fwgen ports 53/udp 88`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return portsRun(stdout, catalog.Default(), args)
		},
	}
}

// portQuery is one argument of fwgen ports.
type portQuery struct {
	proto catalog.Proto // "" for tcp and udp
	ports catalog.PortRange
}

func parsePortQuery(s string) (portQuery, error) {
	var q portQuery
	ports, proto, hasProto := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	if hasProto {
		q.proto = catalog.Proto(proto)
		if q.proto != catalog.TCP && q.proto != catalog.UDP {
			return q, usagef("%q: the protocol is tcp or udp", s)
		}
	}
	pr, err := catalog.ParsePortRange(ports)
	if err != nil {
		return q, usagef("%q: %v", s, err)
	}
	q.ports = pr
	return q, nil
}

// entryRanges are the port ranges an entry stands for; the RPC dynamic and
// ephemeral symbols stand for both OS ranges (KB 929851).
func entryRanges(c *catalog.Catalog, e catalog.Entry) []catalog.PortRange {
	var out []catalog.PortRange
	for _, p := range e.Ports {
		if p == catalog.RPCDynamicSymbol || p == catalog.EphemeralSymbol {
			for _, o := range c.OSes {
				if !slices.Contains(out, o.RPCDynamic) {
					out = append(out, o.RPCDynamic)
				}
			}
			continue
		}
		if pr, err := catalog.ParsePortRange(p); err == nil {
			out = append(out, pr)
		}
	}
	return out
}

func portsRun(w io.Writer, c *catalog.Catalog, args []string) error {
	var qs []portQuery
	for _, arg := range args {
		for _, a := range strings.Split(arg, ",") {
			q, err := parsePortQuery(strings.TrimSpace(a))
			if err != nil {
				return err
			}
			qs = append(qs, q)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	found := 0
	for _, s := range c.Services {
		for _, e := range s.Entries {
			if !matches(c, e, qs) {
				continue
			}
			if found == 0 {
				fmt.Fprintln(tw, "PORTS\tSERVICE\tLABEL\tPEERS\tROLES\tCONDITION\tREFERENCE")
			}
			found++
			refs := e.Ref
			if len(refs) == 0 {
				refs = s.Ref
			}
			var cites []string
			for _, r := range refs {
				cites = append(cites, shortCitation(c, r))
			}
			peers := make([]string, len(e.Peers))
			for i, p := range e.Peers {
				peers[i] = string(p)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", entryPorts(e), s.ID, dash(e.Label), strings.Join(peers, ","),
				dash(serviceRoles(c, s.ID)), dash(condition(e)), strings.Join(cites, "; "))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if found == 0 {
		fmt.Fprintf(w, "no service of the catalog listens on %s\n", strings.Join(args, ", "))
	}
	return nil
}

// shortCitation is a citation as the rules cite it: "KB 832017 (Server)",
// a page's title for other documents.
func shortCitation(c *catalog.Catalog, r catalog.Citation) string {
	ref := policies.Ref{Doc: r.Doc, Section: r.Section}
	if d := c.Document(r.Doc); d != nil {
		ref.Title = d.Title
	}
	return ref.String()
}

// matches reports whether an entry has a port of any query.
func matches(c *catalog.Catalog, e catalog.Entry, qs []portQuery) bool {
	if !e.Protocol.HasPorts() {
		return false
	}
	for _, q := range qs {
		if q.proto != "" && q.proto != e.Protocol {
			continue
		}
		for _, r := range entryRanges(c, e) {
			if r.From <= q.ports.To && q.ports.From <= r.To {
				return true
			}
		}
	}
	return false
}

// serviceRoles names the roles that have a service, with the scenario or
// OS condition it needs in each.
func serviceRoles(c *catalog.Catalog, id string) string {
	var out []string
	for _, r := range c.Roles {
		for _, rs := range r.Services {
			if rs.ID != id {
				continue
			}
			role := r.ID
			if rs.Scenario != "" {
				role += " (scenario " + rs.Scenario + ")"
			}
			if rs.When != nil {
				role += " (" + condition(catalog.Entry{When: rs.When}) + ")"
			}
			out = append(out, role)
		}
	}
	return strings.Join(out, ", ")
}
