package policies

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The decoder walks the node tree against the raw types itself, instead of
// leaving the structure to yaml.Decoder with KnownFields(true), because
// yaml.v3 reports a wrong type or an unknown key with a line but no column
// and no path, and drops list items it cannot decode, which would shift
// every later index. The walk is just as strict (an unknown key is an
// error) and hands each scalar to yaml.v3, so values mean what YAML says.

// decode fills v from node n, recording positions and problems under path.
func (l *loader) decode(n *yaml.Node, v reflect.Value, path string) {
	if !l.spend(1) {
		return
	}
	l.vals[path] = n
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	switch {
	case v.Type() == portListType:
		l.decodePorts(n, v, path)
	case v.Type() == nameListType:
		l.decodeNames(n, v, path)
	case v.Kind() == reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		l.decodeValue(n, v.Elem(), path)
	default:
		l.decodeValue(n, v, path)
	}
}

func (l *loader) decodeValue(n *yaml.Node, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Struct:
		l.decodeStruct(n, v, path)
	case reflect.Slice:
		l.decodeSlice(n, v, path)
	case reflect.Map:
		l.decodeMap(n, v, path)
	default:
		l.decodeScalar(n, v, path)
	}
}

// spend counts n more values against the loader's budget and reports
// whether there is any left.
func (l *loader) spend(n int) bool {
	l.nodes += n
	return l.nodes <= l.budget
}

func (l *loader) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		l.mismatch(n, path, v.Type())
		return
	}
	fields := yamlFields(v.Type())
	l.eachKey(n, path, func(name string, k, val *yaml.Node, child string) {
		i, ok := fields[name]
		if !ok {
			l.unknownKey(k, path, name, fields)
			return
		}
		l.decode(val, v.Field(i), child)
	})
}

// unknownKey reports a key the type does not have. When it looks like a
// typo of a known key, that key's own "missing" error would only repeat the
// news, so validate is told to keep quiet about it.
func (l *loader) unknownKey(k *yaml.Node, path, name string, fields map[string]int) {
	known := slices.Sorted(maps.Keys(fields))
	msg := fmt.Sprintf("unknown key %q", name)
	if s := Suggest(strings.ToLower(name), known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
		l.quiet[joinKey(path, s)] = true
	} else {
		msg += "; known keys: " + strings.Join(known, ", ")
	}
	l.add(&Error{File: l.file, Line: k.Line, Col: k.Column, Path: path, Msg: msg})
}

func (l *loader) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		l.mismatch(n, path, v.Type())
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	l.eachKey(n, path, func(name string, _, val *yaml.Node, child string) {
		e := reflect.New(v.Type().Elem()).Elem()
		l.decode(val, e, child)
		m.SetMapIndex(reflect.ValueOf(name), e)
	})
	v.Set(m)
}

// eachKey calls f for every key of a mapping that is a plain name, once:
// other keys and repeated ones are reported.
func (l *loader) eachKey(n *yaml.Node, path string, f func(name string, k, val *yaml.Node, child string)) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			k = k.Alias
		}
		switch {
		case k.Kind != yaml.ScalarNode:
			l.add(&Error{File: l.file, Line: k.Line, Col: k.Column, Path: path, Msg: "a key must be a name, not " + describe(k)})
			continue
		case k.Tag == "!!merge":
			l.add(&Error{File: l.file, Line: k.Line, Col: k.Column, Path: path,
				Msg: "merge keys (<<) are not supported: write the keys out, or alias the whole value"})
			l.quiet[path] = true
			continue
		}
		child := joinKey(path, k.Value)
		if first := seen[k.Value]; first != nil {
			l.add(&Error{File: l.file, Line: k.Line, Col: k.Column, Path: child,
				Msg: fmt.Sprintf("key repeated (first at line %d)", first.Line)})
			l.bad[child] = true
			continue
		}
		seen[k.Value] = k
		l.keys[child] = k
		f(k.Value, k, val, child)
	}
}

func (l *loader) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		l.mismatch(n, path, v.Type())
		return
	}
	// Check the budget before allocating, so that a list of a million
	// aliases costs nothing.
	if l.nodes+len(n.Content) > l.budget {
		l.spend(len(n.Content))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		l.decode(e, s.Index(i), path+"["+strconv.Itoa(i)+"]")
	}
	v.Set(s)
}

// decodeScalar hands a scalar to yaml.v3, which knows what YAML means by
// 0x1F, ~ or true. A plain string is the common case and is set directly,
// as yaml.v3 would, because an alias bomb makes it the hot path.
func (l *loader) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && v.Kind() == reflect.String && n.ShortTag() == "!!str" {
		v.SetString(n.Value)
		return
	}
	if n.Kind != yaml.ScalarNode || n.Decode(v.Addr().Interface()) != nil {
		l.mismatch(n, path, v.Type())
	}
}

// portList is the ports of a site service's entry: a list, or a single
// scalar that may hold several ports separated by commas ("80,443").
type portList []string

var portListType = reflect.TypeFor[portList]()

func (l *loader) decodePorts(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode {
		v.Set(reflect.ValueOf(splitPorts(n.Value)))
		return
	}
	var ss []string
	l.decodeSlice(n, reflect.ValueOf(&ss).Elem(), path)
	v.Set(reflect.ValueOf(portList(ss)))
}

// UnmarshalYAML decodes a portList the way the loader does, for callers
// that decode the raw types with yaml.v3 alone.
func (p *portList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = splitPorts(n.Value)
		return nil
	}
	var ss []string
	err := n.Decode(&ss)
	*p = ss
	return err
}

// nameList is a list of names that may be written as a single scalar
// when it has one name ("peers: clients").
type nameList []string

var nameListType = reflect.TypeFor[nameList]()

func (l *loader) decodeNames(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode {
		v.Set(reflect.ValueOf(nameList{n.Value}))
		return
	}
	var ss []string
	l.decodeSlice(n, reflect.ValueOf(&ss).Elem(), path)
	v.Set(reflect.ValueOf(nameList(ss)))
}

// UnmarshalYAML decodes a nameList the way the loader does.
func (p *nameList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = nameList{n.Value}
		return nil
	}
	var ss []string
	err := n.Decode(&ss)
	*p = ss
	return err
}

func splitPorts(s string) portList {
	var out portList
	for _, f := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// mismatch reports a value of the wrong kind for type t.
func (l *loader) mismatch(n *yaml.Node, path string, t reflect.Type) {
	msg := fmt.Sprintf("want %s, got %s", wantOf(t), describe(n))
	if path == "" {
		msg = fmt.Sprintf("not a policy: want a mapping that starts with \"fwgen: %s\", got %s", Version, describe(n))
	}
	if t.Kind() == reflect.Slice && n.Kind == yaml.ScalarNode && simpleValue.MatchString(n.Value) {
		msg += fmt.Sprintf(" (a list of one is [%s])", n.Value)
	}
	l.add(&Error{File: l.file, Line: n.Line, Col: n.Column, Path: path, Msg: msg})
	l.bad[path] = true
}

var simpleValue = regexp.MustCompile(`^[A-Za-z0-9._/:-]{1,40}$`)

func wantOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping (key: value)"
	case reflect.Slice:
		return "a list"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Uint16:
		return "a whole number"
	}
	return "a string"
}

// describe names what a node holds, for messages: its kind, or a scalar's
// value, quoted and cut short.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:37]) + "..."
	}
	return strconv.Quote(v)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// yamlFields maps a struct's YAML key names to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		out[yamlName(t.Field(i))] = i
	}
	return out
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// plainKey reports whether a mapping key is a plain name,
// ^[A-Za-z0-9_-]+$, which a path writes after a dot.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return key != ""
}

// joinKey is the path of a mapping's value: hosts[0].roles, or
// networks["odd key"] for a key that is not a plain name.
func joinKey(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
