package policies

import (
	"encoding/json"
	"maps"
	"reflect"
	"strconv"
	"strings"

	"github.com/fwgen/fwgen/catalog"
)

//go:generate go test -run ^TestSchemaJSON$ -update .

// Schema returns the JSON Schema (draft-07) of the policy format, generated
// from the types Load decodes into, their validator tags, and the RPC
// interfaces of catalog c. policies/schema.json holds its output, for
// editors: a policy that starts with
//
//	# yaml-language-server: $schema=<path or URL of schema.json>
//
// is checked as it is typed. The schema checks the shape of a policy; Load
// checks more (names that exist, addresses, ports).
func Schema(c *catalog.Catalog) []byte {
	g := &schemaGen{overrides: schemaOverrides(c)}
	root := g.typ(reflect.TypeFor[rawPolicy](), "")
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["title"] = "fwgen site policy " + Version
	root["description"] = "A site policy: the host groups of an estate, their Windows roles and OS versions, " +
		"and the networks that may reach them. See the documentation of package policies."
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		panic(err) // only maps, slices, strings and numbers: cannot fail
	}
	return append(b, '\n')
}

type schema = map[string]any

// schemaGen builds schemas from types. Paths name a property as in a
// policy with the indexes left out (hosts.roles); "[]" stands for a
// list's items (os[]) and ".*" for a mapping's values (networks.*).
type schemaGen struct {
	overrides map[string]schema
}

func (g *schemaGen) typ(t reflect.Type, path string) schema {
	s := g.kind(t, path)
	maps.Copy(s, g.overrides[path])
	return s
}

func (g *schemaGen) kind(t reflect.Type, path string) schema {
	if t == nameListType {
		one := schema{"type": "string", "minLength": 1}
		return schema{"anyOf": []schema{one, {"type": "array", "minItems": 1, "items": one}}}
	}
	if t == portListType {
		one := schema{"type": []string{"string", "integer"}}
		return schema{"anyOf": []schema{one, {"type": "array", "minItems": 1, "items": one}}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.kind(t.Elem(), path)
	case reflect.Struct:
		return g.object(t, path)
	case reflect.Slice:
		return schema{"type": "array", "items": g.typ(t.Elem(), path+"[]")}
	case reflect.Map:
		return schema{"type": "object", "additionalProperties": g.typ(t.Elem(), path+".*")}
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int:
		return schema{"type": "integer"}
	}
	return schema{"type": "string"}
}

func (g *schemaGen) object(t reflect.Type, path string) schema {
	props := schema{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		p := strings.TrimPrefix(strings.ReplaceAll(path, "[]", "")+"."+name, ".")
		s := g.typ(f.Type, p)
		applyTags(s, f.Tag.Get("validate"))
		if d := schemaDescriptions[p]; d != "" {
			s["description"] = d
		}
		props[name] = s
		if strings.HasPrefix(f.Tag.Get("validate"), "required") {
			required = append(required, name)
		}
	}
	out := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// applyTags turns validator tags into schema keywords: those before "dive"
// apply to the field, those after it to a list's items.
func applyTags(s schema, tags string) {
	field, items, dive := strings.Cut(tags, ",dive")
	if !dive && strings.HasPrefix(tags, "dive") {
		field, items, dive = "", strings.TrimPrefix(tags, "dive"), true
	}
	tagKeywords(s, field)
	if it, ok := s["items"].(schema); ok && dive {
		tagKeywords(it, strings.TrimPrefix(items, ","))
	}
}

func tagKeywords(s schema, tags string) {
	isArray := s["type"] == "array"
	for _, tag := range strings.Split(tags, ",") {
		name, param, _ := strings.Cut(tag, "=")
		n, _ := strconv.Atoi(param)
		switch {
		case name == "required" && s["type"] == "string":
			s["minLength"] = 1
		case name == "min" && isArray:
			s["minItems"] = n
		case name == "min":
			s["minimum"] = n
		case name == "max" && s["type"] == "string":
			s["maxLength"] = n
		case name == "max":
			s["maximum"] = n
		case name == "oneof":
			s["enum"] = strings.Fields(param)
		case name == "id":
			s["pattern"], s["maxLength"] = idPattern.String(), maxNameLen
		case name == "group":
			s["pattern"], s["maxLength"] = namePattern.String(), maxNameLen
			s["not"] = schema{"pattern": `^((con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?|` + SiteFiles + `)$`}
		case name == "nocontrol":
			s["pattern"] = `^[^\x00-\x1f\x7f-\x9f]*$`
		case name == "sitename":
			s["pattern"] = `^[^\x00-\x1f\x7f-\x9f|]*$`
		}
	}
}

// schemaOverrides are the keywords that the Go types cannot say: YAML
// reads 2016 as a number, names follow patterns, and so on.
func schemaOverrides(c *catalog.Catalog) map[string]schema {
	osName := schema{"type": []string{"string", "number"}, "minLength": 1}
	peerName := schema{"type": "string", "pattern": `^(clients|members|admins|role:[a-z0-9][a-z0-9.-]*)$`}
	return map[string]schema{
		"fwgen":                  {"enum": []string{Version}},
		"os[]":                   osName,
		"hosts.os[]":             osName,
		"networks":               {"propertyNames": schema{"pattern": namePattern.String(), "maxLength": maxNameLen}},
		"networks.*":             {"minItems": 1, "items": schema{"type": "string", "minLength": 1}},
		"rpc.range":              {"type": []string{"string", "integer"}, "pattern": `^[0-9]+(-[0-9]+)?$`},
		"rpc.static":             {"propertyNames": schema{"enum": c.RPCInterfaces()}},
		"rpc.static.*":           {"minimum": 1, "maximum": 65535},
		"hosts.peers":            {"propertyNames": schema{"pattern": idPattern.String()}},
		"services.entries.peers": {"anyOf": []schema{peerName, {"type": "array", "minItems": 1, "items": peerName}}},
		"hosts.peers.*":          {"minItems": 1, "items": schema{"type": "string", "minLength": 1}},
	}
}

// schemaDescriptions document every key of the format, for editors that
// show them on hover. The schema test checks that none is missing.
var schemaDescriptions = map[string]string{
	"fwgen":    "The policy format; always v1.",
	"name":     "The site's name, shown in every output (rule group names, comments).",
	"os":       "The default OS mix for host groups without their own: Windows versions such as 2016, 2008r2, xp, 10.",
	"networks": "Named address sets that host groups' peers refer to: IPv4 and IPv6 addresses and prefixes.",
	"rpc":      "An estate that narrowed or pinned its RPC ports says so here.",
	"rpc.range": "The restricted RPC dynamic range set in the registry (KB 154596), e.g. 5000-5100; " +
		"it replaces the OS default range.",
	"rpc.static": "RPC interfaces pinned to one port each (KB 224196, dfsrdiag StaticRPC): ntds, netlogon, frs, dfsr.",
	"optional":   "Turn on every scenario of the host groups' roles (NetBIOS fallback, Hyper-V Replica, WinRM over HTTPS, ...).",
	"scenarios": "Scenarios turned on for every host group that has them, such as hyperv-replica or dfs-namespaces; " +
		"'fwgen roles' lists each role's.",
	"services":                  "The estate's own services, such as a line-of-business application.",
	"services.id":               "The service's id; a catalog service's id only with override: true.",
	"services.name":             "The display name; the id when left out.",
	"services.system_service":   "The Windows service name, if there is one.",
	"services.notes":            "What an administrator should know about the service.",
	"services.override":         "Replace the catalog service with this id.",
	"services.ref":              "Documents of the catalog that describe the service; the site policy itself when left out.",
	"services.ref.doc":          "A document id of the catalog, e.g. kb832017.",
	"services.ref.section":      "The section of the document.",
	"services.entries":          "The protocols and ports the service listens on.",
	"services.entries.protocol": "tcp, udp, icmpv4, icmpv6, gre, esp or ah.",
	"services.entries.ports": "Ports for tcp and udp: a number, a range (8000-8010), rpc-dynamic, " +
		"a list of these, or several separated by commas.",
	"services.entries.icmp_type": "The ICMP type of an icmpv4 or icmpv6 entry (8: echo request, 128: ICMPv6 echo request).",
	"services.entries.label":     "The application protocol, e.g. HTTPS.",
	"services.entries.peers": "Who connects: clients, members (other servers of the same role), admins, " +
		"or role:<role id> (the servers of that role); one, or a list.",
	"services.entries.scenario": "The scenario the entry belongs to: it stays closed until the scenario is turned on.",
	"services.entries.optional": "The entry belongs to a scenario named after its service (or to scenario, if given).",
	"services.entries.why":      "Why the entry belongs to a scenario; required for scenario and optional entries.",
	"roles":                     "The estate's own roles: named sets of services.",
	"roles.id":                  "The role's id; a catalog role's id only with override: true.",
	"roles.name":                "The display name; the id when left out.",
	"roles.notes":               "What an administrator should know about the role.",
	"roles.override":            "Replace the catalog role with this id.",
	"roles.members": "Who the role's members are: group (the host group's own servers, the default) or " +
		"site (every host group that holds the role).",
	"roles.services": "Service ids of the policy or the catalog; a catalog role's name stands for its services.",
	"hosts":          "Host groups: servers with the same roles, OS mix and peers. One output file each.",
	"hosts.name": "The group's name: lower-case letters, digits, '.', '_' and '-'. " +
		"It names the group's output files and firewall groups.",
	"hosts.roles":     "Roles of the catalog (dc, file-server, hyperv-host, ...) or of the policy.",
	"hosts.os":        "The group's OS mix, replacing the policy's default.",
	"hosts.addresses": "The servers' addresses or prefixes; may be left out for host firewall scripts.",
	"hosts.peers": "Networks and host groups allowed per peer class (clients, members, admins) or per role whose " +
		"servers connect (rd-connection-broker). A class left out may connect from any address; members left " +
		"out are the role's members; a role left out is the host groups that hold it.",
	"hosts.profile":   "Windows Firewall profiles the rules apply to (domain, private, public); all when left out.",
	"hosts.scenarios": "Scenarios of the group's roles turned on for this group, such as hyperv-replica.",
}
