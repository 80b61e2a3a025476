// Command sitegen writes a synthetic site policy of N host groups to
// standard output, for the bench script: go run ./.ci/sitegen 1000 > site.yaml
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/fwgen/fwgen/policies/synth"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sitegen GROUPS")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "sitegen: GROUPS: want a number from 1 up")
		os.Exit(2)
	}
	if _, err := os.Stdout.Write(synth.Site(n)); err != nil {
		fmt.Fprintln(os.Stderr, "sitegen:", err)
		os.Exit(1)
	}
}
