package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of port numbers; a single port has From == To.
type PortRange struct {
	From uint16 `json:"from"`
	To   uint16 `json:"to"`
}

// ParsePortRange parses "445" or "1025-5000".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	from, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	to := from
	if isRange {
		if to, err = parsePort(hi); err != nil {
			return PortRange{}, err
		}
	}
	if from > to {
		return PortRange{}, fmt.Errorf("port range %q: %d is above %d", s, from, to)
	}
	return PortRange{From: from, To: to}, nil
}

// parsePort reads a port of digits only: strconv.Atoi would also take
// "+38901".
func parsePort(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q: want a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// String formats the range as "445" or "1025-5000".
func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// UnmarshalText lets YAML and flags spell a range as "1025-5000".
func (r *PortRange) UnmarshalText(b []byte) error {
	v, err := ParsePortRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// UnmarshalJSON reads a range as JSON outputs write it, {"from": 1025,
// "to": 5000}, or as a string "1025-5000". It returns an error for a range
// whose ports are not from 1 to 65535 or whose end is below its start.
func (r *PortRange) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return r.UnmarshalText([]byte(s))
	}
	var v struct{ From, To uint16 }
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.From == 0 || v.To < v.From {
		return fmt.Errorf("port range {from: %d, to: %d}: want ports from 1 to 65535, from at most to", v.From, v.To)
	}
	*r = PortRange{From: v.From, To: v.To}
	return nil
}

// Single reports whether the range is one port.
func (r PortRange) Single() bool { return r.From == r.To }

// Contains reports whether port p is in the range.
func (r PortRange) Contains(p uint16) bool { return r.From <= p && p <= r.To }

// MergeRanges sorts ranges and joins those that overlap or touch.
func MergeRanges(in []PortRange) []PortRange {
	if len(in) == 0 {
		return nil
	}
	rs := append([]PortRange(nil), in...)
	sortRanges(rs)
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if uint32(r.From) <= uint32(last.To)+1 {
			last.To = max(last.To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

func sortRanges(rs []PortRange) {
	slices.SortFunc(rs, func(a, b PortRange) int {
		if a.From != b.From {
			return int(a.From) - int(b.From)
		}
		return int(a.To) - int(b.To)
	})
}
