package main

import (
	"errors"
	"strings"
)

// addressList is the value of --from and --to: addresses or CIDRs,
// repeatable or comma-separated. Unlike a plain string slice it refuses an
// empty element, so that --from "$UNSET" or --from a,,b is an error rather
// than "any address", which leaving the flag out means.
type addressList []string

func (l *addressList) String() string { return "[" + strings.Join(*l, ",") + "]" }

// Type names the value in cobra's help: "addrs".
func (l *addressList) Type() string { return "addrs" }

// Set appends the comma-separated elements of one flag value.
func (l *addressList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			if strings.TrimSpace(v) == "" {
				return errors.New("empty; name addresses or CIDRs, or leave the flag out to allow any address")
			}
			return errors.New("an empty address in " + `"` + v + `"` + "; name addresses or CIDRs, or leave the flag out to allow any address")
		}
		*l = append(*l, s)
	}
	return nil
}
