// Command fwgen turns the Windows roles and OS versions of servers into the
// firewall rules they need: PowerShell, netsh, nftables, iptables, CSV, JSON.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
