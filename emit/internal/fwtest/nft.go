package fwtest

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fwgen/fwgen/catalog"
	"github.com/fwgen/fwgen/policies"
)

// ParseNft reads the chains of one table from `nft -j list ruleset`. It
// knows the matches fwgen writes and refuses any other, so that a rule it
// does not understand can never pass for a narrower one.
func ParseNft(data []byte, family, table string) ([]Chain, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	p := &nftParser{sets: map[string][]json.RawMessage{}}
	var chains []Chain
	for _, obj := range doc.Nftables {
		if err := p.object(obj, family, table, &chains); err != nil {
			return nil, err
		}
	}
	return chains, nil
}

type nftParser struct {
	sets map[string][]json.RawMessage
}

// object reads one top-level object; sets come before the rules that
// use them in nft's listing.
func (p *nftParser) object(obj map[string]json.RawMessage, family, table string, chains *[]Chain) error {
	for kind, raw := range obj {
		var head struct {
			Family, Table, Name, Chain, Hook, Policy, Comment string
			Elem                                              []json.RawMessage
			Expr                                              []map[string]json.RawMessage
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		if head.Family != family || head.Table != table {
			continue
		}
		switch kind {
		case "set":
			p.sets[head.Name] = head.Elem
		case "chain":
			*chains = append(*chains, Chain{Name: head.Name, Hook: head.Hook, Policy: head.Policy})
		case "rule":
			r, err := p.rule(head.Expr)
			if err != nil {
				return fmt.Errorf("chain %s: rule %q: %w", head.Chain, head.Comment, err)
			}
			r.Comment = head.Comment
			for i := range *chains {
				if (*chains)[i].Name == head.Chain {
					(*chains)[i].Rules = append((*chains)[i].Rules, r)
				}
			}
		}
	}
	return nil
}

// rule reads the expressions of a rule.
func (p *nftParser) rule(exprs []map[string]json.RawMessage) (Rule, error) {
	var r Rule
	for _, e := range exprs {
		for kind, raw := range e {
			var err error
			switch kind {
			case "match":
				err = p.match(&r, raw)
			case "accept", "drop":
				r.Verdict = kind
			case "jump":
				var j struct{ Target string }
				err = json.Unmarshal(raw, &j)
				r.Verdict = "jump " + j.Target
			case "counter":
			default:
				err = fmt.Errorf("unknown expression %s: %s", kind, raw)
			}
			if err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// match reads one match into r.
func (p *nftParser) match(r *Rule, raw json.RawMessage) error {
	var m struct {
		Op    string
		Left  map[string]struct{ Protocol, Field, Key string }
		Right json.RawMessage
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	if m.Op != "==" && m.Op != "in" {
		return fmt.Errorf("match with operator %q: %s", m.Op, raw)
	}
	vals, err := p.values(m.Right)
	if err != nil {
		return err
	}
	for kind, l := range m.Left {
		key := kind + " " + l.Protocol + " " + l.Field + l.Key
		switch key {
		case "payload ip saddr", "payload ip6 saddr":
			return addrs(&r.Src, vals)
		case "payload ip daddr", "payload ip6 daddr":
			return addrs(&r.Dst, vals)
		case "payload tcp dport", "payload udp dport":
			return ports(r, policies.Proto(l.Protocol), vals)
		case "payload icmp type", "payload icmpv6 type":
			return icmpTypes(r, l.Protocol, vals)
		case "meta  l4proto":
			return l4proto(r, vals)
		case "meta  nfproto":
			switch strings.Join(vals, ",") {
			case "ipv4":
				r.Family = 4
			case "ipv6":
				r.Family = 6
			default:
				return fmt.Errorf("meta nfproto %v", vals)
			}
			return nil
		case "meta  iif", "meta  iifname":
			r.InIface = strings.Join(vals, ",")
			return nil
		case "ct  state":
			r.CtState = slices.Sorted(slices.Values(vals))
			return nil
		}
		return fmt.Errorf("unknown match on %s", key)
	}
	return fmt.Errorf("match without a left side: %s", raw)
}

// values flattens the right side of a match: a literal, a list, an
// anonymous set or a named one ("@name"). Ranges become "a-b" and
// prefixes "addr/len".
func (p *nftParser) values(raw json.RawMessage) ([]string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if name, ok := strings.CutPrefix(s, "@"); ok {
			elems, ok := p.sets[name]
			if !ok {
				return nil, fmt.Errorf("unknown set %s", s)
			}
			return p.list(elems)
		}
		return []string{s}, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		return p.list(list)
	}
	var set struct{ Set []json.RawMessage }
	if json.Unmarshal(raw, &set) == nil && set.Set != nil {
		return p.list(set.Set)
	}
	return p.list([]json.RawMessage{raw})
}

func (p *nftParser) list(elems []json.RawMessage) ([]string, error) {
	var out []string
	for _, e := range elems {
		v, err := element(e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// element reads one set element: a number, a string, a prefix, a range,
// or an element wrapped with its options.
func element(raw json.RawMessage) (string, error) {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var o struct {
		Prefix *struct {
			Addr string
			Len  int
		}
		Range []json.RawMessage
		Elem  *struct{ Val json.RawMessage }
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", err
	}
	switch {
	case o.Prefix != nil:
		return fmt.Sprintf("%s/%d", o.Prefix.Addr, o.Prefix.Len), nil
	case len(o.Range) == 2:
		a, err := element(o.Range[0])
		if err != nil {
			return "", err
		}
		b, err := element(o.Range[1])
		return a + "-" + b, err
	case o.Elem != nil:
		return element(o.Elem.Val)
	}
	return "", fmt.Errorf("unknown set element %s", raw)
}

func addrs(dst *[]netip.Prefix, vals []string) error {
	if *dst != nil {
		return fmt.Errorf("two address matches on one side")
	}
	for _, v := range vals {
		if strings.Contains(v, "-") {
			return fmt.Errorf("address range %s", v)
		}
		p, err := Prefix(v)
		if err != nil {
			return err
		}
		*dst = append(*dst, p)
	}
	return nil
}

func ports(r *Rule, proto policies.Proto, vals []string) error {
	if err := setProto(r, proto); err != nil {
		return err
	}
	for _, v := range vals {
		pr, err := catalog.ParsePortRange(v)
		if err != nil {
			return err
		}
		r.Ports = append(r.Ports, pr)
	}
	return nil
}

// icmpNumbers are the ICMP type names nft prints, by protocol.
var icmpNumbers = map[string]map[string]int{
	"icmp": {"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5,
		"echo-request": 8, "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11,
		"parameter-problem": 12, "timestamp-request": 13, "timestamp-reply": 14, "info-request": 15,
		"info-reply": 16, "address-mask-request": 17, "address-mask-reply": 18},
	"icmpv6": {"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
		"parameter-problem": 4, "echo-request": 128, "echo-reply": 129, "mld-listener-query": 130,
		"mld-listener-report": 131, "mld-listener-done": 132, "nd-router-solicit": 133,
		"nd-router-advert": 134, "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136,
		"nd-redirect": 137, "router-renumbering": 138, "ind-neighbor-solicit": 141,
		"ind-neighbor-advert": 142, "mld2-listener-report": 143},
}

func icmpTypes(r *Rule, proto string, vals []string) error {
	p := policies.ICMPv4
	if proto == "icmpv6" {
		p = policies.ICMPv6
	}
	if err := setProto(r, p); err != nil {
		return err
	}
	for _, v := range vals {
		n, ok := icmpNumbers[proto][v]
		if !ok {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("unknown %s type %q", proto, v)
			}
		}
		r.ICMPTypes = append(r.ICMPTypes, n)
	}
	slices.Sort(r.ICMPTypes)
	return nil
}

// l4protos maps nft's protocol names to fwgen's.
var l4protos = map[string]policies.Proto{"tcp": policies.TCP, "udp": policies.UDP, "icmp": policies.ICMPv4,
	"ipv6-icmp": policies.ICMPv6, "gre": policies.GRE, "esp": policies.ESP, "ah": policies.AH}

func l4proto(r *Rule, vals []string) error {
	if len(vals) != 1 {
		return fmt.Errorf("l4proto set %v", vals)
	}
	p, ok := l4protos[vals[0]]
	if !ok {
		return fmt.Errorf("unknown protocol %q", vals[0])
	}
	return setProto(r, p)
}

// setProto records the protocol; a second, different one is an error
// (nft lists the protocol a port match depends on as a match of its own).
func setProto(r *Rule, p policies.Proto) error {
	if r.Proto != "" && r.Proto != p {
		return fmt.Errorf("protocols %s and %s in one rule", r.Proto, p)
	}
	r.Proto = p
	return nil
}
