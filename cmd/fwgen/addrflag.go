package main

import (
	"errors"
	"strings"
)

// listValue is the value of a repeatable, comma-separated flag (--role,
// --os, --from, ...). Unlike a plain string slice it refuses an empty
// element, so that --from "$UNSET" or --role dc, is an error rather than
// nothing, which for --from would mean "any address".
type listValue []string

func (l *listValue) String() string { return "[" + strings.Join(*l, ",") + "]" }

// Type names the value in cobra's help: "strings".
func (l *listValue) Type() string { return "strings" }

// Set appends the comma-separated elements of one flag value.
func (l *listValue) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			if strings.TrimSpace(v) == "" {
				return errors.New("empty; name a value, or leave the flag out")
			}
			return errors.New(`an empty element in "` + v + `"; name a value between every two commas`)
		}
		*l = append(*l, s)
	}
	return nil
}

// addressList is the value of --from and --to, a listValue whose messages
// say what an empty value would have meant.
type addressList []string

func (l *addressList) String() string { return (*listValue)(l).String() }

// Type names the value in cobra's help: "addrs".
func (l *addressList) Type() string { return "addrs" }

// Set appends the comma-separated addresses of one flag value.
func (l *addressList) Set(v string) error {
	if err := (*listValue)(l).Set(v); err != nil {
		return errors.New(strings.Replace(err.Error(), "name a value", "name addresses or CIDRs", 1) +
			" (leaving the flag out allows any address)")
	}
	return nil
}
