package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
)

func newRolesCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "roles",
		Short: "List the server roles fwgen knows, with their aliases and services",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return rolesRun(stdout, catalog.Default())
		},
	}
}

func rolesRun(w io.Writer, c *catalog.Catalog) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tALIASES\tNAME\tMEMBERS\tSERVICES\tSCENARIOS (--scenario)")
	for _, r := range c.Roles {
		var services []string
		for _, rs := range r.Services {
			s := rs.ID
			if rs.Scenario != "" {
				s += " [" + rs.Scenario + "]"
			}
			services = append(services, s)
		}
		members := r.Members
		if members == "" {
			members = catalog.MembersGroup
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, dash(strings.Join(r.Aliases, ", ")), r.Name, members,
			strings.Join(services, ", "), dash(strings.Join(c.RoleScenarios(&r), ", ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nScenarios are off until asked for (--scenario ID, or hosts[].scenarios in a site policy; --optional turns on all):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var used []string
	for i := range c.Roles {
		used = append(used, c.RoleScenarios(&c.Roles[i])...)
	}
	for _, sc := range c.Scenarios {
		if slices.Contains(used, sc.ID) {
			fmt.Fprintf(tw, "  %s\t%s\n", sc.ID, sc.Name)
		}
	}
	return tw.Flush()
}

func newServicesCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "services [ID]",
		Short: "List the services of the catalog and their ports, as KB 832017 does; with an ID, one service in full",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				return serviceRun(stdout, catalog.Default(), args[0])
			}
			return servicesRun(stdout, catalog.Default())
		},
	}
}

func servicesRun(w io.Writer, c *catalog.Catalog) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tNAME\tSYSTEM SERVICE\tPORTS")
	for _, s := range c.Services {
		var ports []string
		for _, e := range s.Entries {
			ports = append(ports, entryPorts(e))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Name, dash(s.SystemService), strings.Join(dedup(ports), " "))
	}
	return tw.Flush()
}

func serviceRun(w io.Writer, c *catalog.Catalog, id string) error {
	s, err := c.Service(id)
	if err != nil {
		return usageError{fmt.Errorf("%w; 'fwgen services' lists them", err)}
	}
	fmt.Fprintf(w, "%s: %s\nsystem service: %s\n", s.ID, s.Name, dash(s.SystemService))
	for _, ref := range s.Ref {
		fmt.Fprintf(w, "reference: %s\n", citation(c, ref))
	}
	if s.Notes != "" {
		fmt.Fprintf(w, "notes: %s\n", s.Notes)
	}
	fmt.Fprintf(w, "roles: %s\n", dash(serviceRoles(c, s.ID)))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPROTOCOL/PORTS\tLABEL\tPEERS\tCONDITION\tREFERENCE")
	for _, e := range s.Entries {
		refs := e.Ref
		if len(refs) == 0 {
			refs = s.Ref
		}
		var cites []string
		for _, r := range refs {
			cites = append(cites, citation(c, r))
		}
		peers := make([]string, len(e.Peers))
		for i, p := range e.Peers {
			peers[i] = string(p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", entryPorts(e), dash(e.Label), strings.Join(peers, ","), dash(condition(e)), strings.Join(cites, "; "))
	}
	return tw.Flush()
}

func entryPorts(e catalog.Entry) string {
	switch {
	case e.ICMPType != nil:
		return fmt.Sprintf("%s/type-%d", e.Protocol, *e.ICMPType)
	case len(e.Ports) == 0:
		return string(e.Protocol)
	}
	return strings.Join(e.Ports, ",") + "/" + string(e.Protocol)
}

func condition(e catalog.Entry) string {
	var parts []string
	if e.Scenario != "" {
		parts = append(parts, "scenario "+e.Scenario)
	}
	if e.AnySource {
		parts = append(parts, "any source")
	}
	if w := e.When; w != nil {
		if len(w.OSAny) > 0 {
			parts = append(parts, "only with "+strings.Join(w.OSAny, "/"))
		}
		if w.Before != "" {
			parts = append(parts, "only with hosts before "+w.Before)
		}
		if w.From != "" {
			parts = append(parts, "only with hosts from "+w.From+" on")
		}
	}
	return strings.Join(parts, ", ")
}

func citation(c *catalog.Catalog, r catalog.Citation) string {
	s := r.Doc
	if d := c.Document(r.Doc); d != nil {
		s = d.Title
	}
	if r.Section != "" {
		s += " (" + r.Section + ")"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dedup(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print fwgen's version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(stdout, "fwgen %s\n", fwgenVersion())
		},
	}
}

// fwgenVersion is the module version fwgen was built from, or "(devel)".
func fwgenVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
