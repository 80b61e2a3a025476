package main

import (
	"github.com/spf13/cobra"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/emit"
	"github.com/fwgen/fwgen/policies/lint"
)

// completeWith makes shell completion offer values for a flag of cmd.
func completeWith(cmd *cobra.Command, flag string, values func() []string) {
	if cmd.Flags().Lookup(flag) == nil {
		return
	}
	_ = cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values(), cobra.ShellCompDirectiveNoFileComp
	})
}

func fixed(values ...string) func() []string { return func() []string { return values } }

// completeCatalogFlags offers the catalog's roles, OS versions and
// scenarios, and the formats, for the flags of cmd that take them.
func completeCatalogFlags(cmd *cobra.Command, withAll bool) {
	c := catalog.Default()
	completeWith(cmd, "role", func() []string { return roleNames(c) })
	completeWith(cmd, "os", func() []string { return osNames(c) })
	completeWith(cmd, "scenario", func() []string {
		var ids []string
		for _, s := range c.Scenarios {
			ids = append(ids, s.ID)
		}
		return ids
	})
	completeWith(cmd, "emit", func() []string {
		if withAll {
			return append(emit.Names(), "all")
		}
		return emit.Names()
	})
	completeWith(cmd, "profile", fixed("domain", "private", "public", "any"))
	completeWith(cmd, "chain", fixed("input", "forward"))
	completeWith(cmd, "bind", fixed("program", "none"))
}

// lintRuleNames are the ids of the lint rules, for --ignore.
func lintRuleNames() []string {
	var out []string
	for _, r := range lint.Rules {
		out = append(out, r.ID, r.Name)
	}
	return out
}
