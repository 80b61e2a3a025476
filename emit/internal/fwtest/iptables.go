package fwtest

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// builtinHooks are the built-in chains of the filter table.
var builtinHooks = map[string]string{"INPUT": "input", "FORWARD": "forward", "OUTPUT": "output"}

// ParseIptablesSave reads the filter table of iptables-save or
// ip6tables-save output. Like ParseNft, it refuses options it does not know.
func ParseIptablesSave(data []byte) ([]Chain, error) {
	var chains []Chain
	inFilter := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			inFilter = line == "*filter"
		case !inFilter || line == "" || strings.HasPrefix(line, "#") || line == "COMMIT":
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			c := Chain{Name: f[0], Hook: builtinHooks[f[0]]}
			if c.Hook != "" {
				c.Policy = strings.ToLower(f[1])
			}
			chains = append(chains, c)
		default:
			chain, r, err := iptRule(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: %w", n, line, err)
			}
			i := slices.IndexFunc(chains, func(c Chain) bool { return c.Name == chain })
			if i < 0 {
				return nil, fmt.Errorf("line %d: rule in undeclared chain %s", n, chain)
			}
			chains[i].Rules = append(chains[i].Rules, r)
		}
	}
	return chains, sc.Err()
}

// iptRule reads one "-A CHAIN ..." line.
func iptRule(line string) (string, Rule, error) {
	args, err := splitArgs(line)
	if err != nil {
		return "", Rule{}, err
	}
	if len(args) < 2 || args[0] != "-A" {
		return "", Rule{}, fmt.Errorf("not an -A rule")
	}
	var r Rule
	for i := 2; i < len(args); i++ {
		opt := args[i]
		if opt == "!" {
			return "", r, fmt.Errorf("negated match")
		}
		if i+1 >= len(args) {
			return "", r, fmt.Errorf("option %s without a value", opt)
		}
		i++
		if err := iptOption(&r, opt, args[i]); err != nil {
			return "", r, err
		}
	}
	return args[1], r, nil
}

// iptOption applies one option and its value to r.
func iptOption(r *Rule, opt, val string) error {
	switch opt {
	case "-m": // the options that follow say what the module matches
		if val == "ah" { // ip6tables matches AH, an extension header, this way
			return setProto(r, policies.AH)
		}
		return nil
	case "-s":
		return addrs(&r.Src, []string{val})
	case "-d":
		return addrs(&r.Dst, []string{val})
	case "-i":
		r.InIface = val
	case "-p":
		p, ok := iptProtos[val]
		if !ok {
			return fmt.Errorf("unknown protocol %q", val)
		}
		return setProto(r, p)
	case "--dport", "--dports":
		for _, v := range strings.Split(val, ",") {
			pr, err := catalog.ParsePortRange(strings.Replace(v, ":", "-", 1))
			if err != nil {
				return err
			}
			r.Ports = append(r.Ports, pr)
		}
	case "--icmp-type", "--icmpv6-type":
		t, err := strconv.Atoi(strings.Split(val, "/")[0])
		if err != nil {
			return fmt.Errorf("ICMP type %q", val)
		}
		r.ICMPTypes = append(r.ICMPTypes, t)
	case "--ctstate":
		r.CtState = slices.Sorted(slices.Values(strings.Split(strings.ToLower(val), ",")))
	case "--comment":
		r.Comment = val
	case "-j":
		r.Verdict = strings.ToLower(val)
		if val != "ACCEPT" && val != "DROP" {
			r.Verdict = "jump " + val
		}
	default:
		return fmt.Errorf("unknown option %s", opt)
	}
	return nil
}

var iptProtos = map[string]policies.Proto{"tcp": policies.TCP, "udp": policies.UDP, "icmp": policies.ICMPv4,
	"ipv6-icmp": policies.ICMPv6, "icmpv6": policies.ICMPv6, "gre": policies.GRE, "esp": policies.ESP, "ah": policies.AH}

// splitArgs splits a line as iptables-save quotes it: words, and double
// quoted strings in which a backslash escapes the next character.
func splitArgs(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord, quoted, escaped := false, false, false
	for _, c := range line {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case c == '\\':
			escaped, inWord = true, true
		case c == '"':
			quoted, inWord = !quoted, true
		case c == ' ' && !quoted:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quoted || escaped {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}
