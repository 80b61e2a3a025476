package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/fwgen/fwgen/catalog"
)

// TestSchemaJSON checks that schema.json is what Schema generates
// (go generate ./policies, or go test ./policies -update, rewrites it).
func TestSchemaJSON(t *testing.T) {
	got := Schema(catalog.Default())
	if *update {
		if err := os.WriteFile("schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatalf("%v (go generate ./policies writes it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("schema.json is out of date; run go generate ./policies (-want +got):\n%s", diff)
	}
}

// TestSchemaDescribesEveryKey checks that an editor has something to show
// for every key of the format.
func TestSchemaDescribesEveryKey(t *testing.T) {
	var walk func(s map[string]any, path string)
	walk = func(s map[string]any, path string) {
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			p := p.(map[string]any)
			if p["description"] == nil {
				t.Errorf("%s%s has no description in schemaDescriptions", path, name)
			}
			walk(p, path+name+".")
			if items, ok := p["items"].(map[string]any); ok {
				walk(items, path+name+".")
			}
		}
	}
	walk(loadSchema(t), "")
}

// TestExamplesMatchSchema checks every example against schema.json, and
// that each names the schema for yaml-language-server on its first line.
func TestExamplesMatchSchema(t *testing.T) {
	s := loadSchema(t)
	for _, file := range exampleFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(string(data), "\n"); first != "# yaml-language-server: $schema=../schema.json" {
			t.Errorf("%s: first line is %q, want the yaml-language-server schema comment", file, first)
		}
		for _, problem := range checkSchema(t, s, yamlValue(t, data), "") {
			t.Errorf("%s: %s", file, problem)
		}
	}
}

// TestSchemaRejectsBadPolicies shows that the schema check can fail: the
// broken policies whose mistake is one of shape fail it too.
func TestSchemaRejectsBadPolicies(t *testing.T) {
	s := loadSchema(t)
	for _, name := range []string{
		"control-characters", "group-name-case", "group-name-reserved", "host-key-typo", "list-document",
		"missing-name", "missing-version", "network-empty", "network-name", "no-hosts", "no-roles",
		"peers-class", "profile", "roles-not-a-list", "rpc-static", "scalar-document", "service-entries",
		"service-unknown-doc", "top-key-typo", "unknown-key", "wrong-type-bool", "wrong-type-mapping",
		"wrong-version",
	} {
		data, err := os.ReadFile(filepath.Join(badDir, name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if problems := checkSchema(t, s, yamlValue(t, data), ""); len(problems) == 0 {
			t.Errorf("%s.yaml passes the schema", name)
		}
	}
}

// TestDecoderAgreesWithYAML checks that the loader's own walk of the node
// tree decodes every example exactly as yaml.v3 does with KnownFields(true).
func TestDecoderAgreesWithYAML(t *testing.T) {
	for _, file := range exampleFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		l := newLoader(file, catalog.Default())
		var got rawPolicy
		l.decode(l.parse(data), reflect.ValueOf(&got).Elem(), "")
		if len(l.errs) > 0 {
			t.Fatalf("%s: %v", file, l.errs)
		}
		var want rawPolicy
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%s: yaml.v3: %v", file, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: decoded (-yaml.v3 +loader):\n%s", file, diff)
		}
	}
}

func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("want at least five examples, found %d (%v)", len(files), err)
	}
	return files
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlValue decodes YAML into the plain values that a JSON Schema
// validator sees: maps, lists, strings, numbers, booleans and null.
func yamlValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkSchema validates v against s with the subset of JSON Schema
// draft-07 that Schema generates. A keyword it does not know fails the
// test, so that the schema cannot grow past what is checked here.
func checkSchema(t *testing.T, s map[string]any, v any, path string) []string {
	t.Helper()
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s", orTop(path), fmt.Sprintf(format, args...)))
	}
	for _, kw := range slices.Sorted(maps.Keys(s)) {
		arg := s[kw]
		switch kw {
		case "$schema", "title", "description":
		case "type":
			if !typeIs(arg, v) {
				add("want type %v, got %T", arg, v)
				return problems // the other keywords assume the type
			}
		case "enum":
			if !slices.ContainsFunc(arg.([]any), func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
				add("%v is not one of %v", v, arg)
			}
		case "properties", "additionalProperties", "required", "propertyNames":
			problems = append(problems, checkObject(t, kw, s, v, path)...)
		case "items":
			for i, e := range asList(v) {
				problems = append(problems, checkSchema(t, arg.(map[string]any), e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		case "minItems":
			if l, ok := v.([]any); ok && len(l) < int(arg.(float64)) {
				add("fewer than %v items", arg)
			}
		case "minLength", "maxLength", "pattern":
			problems = append(problems, checkString(kw, arg, v, add)...)
		case "minimum", "maximum":
			if n, ok := number(v); ok && (kw == "minimum" && n < arg.(float64) || kw == "maximum" && n > arg.(float64)) {
				add("%v is out of range (%s %v)", v, kw, arg)
			}
		case "anyOf":
			if !slices.ContainsFunc(arg.([]any), func(alt any) bool { return len(checkSchema(t, alt.(map[string]any), v, path)) == 0 }) {
				add("matches none of anyOf")
			}
		case "not":
			if len(checkSchema(t, arg.(map[string]any), v, path)) == 0 {
				add("matches what is ruled out: %v", arg)
			}
		default:
			t.Fatalf("schema keyword %q at %s: the test's validator does not know it", kw, path)
		}
	}
	return problems
}

func checkObject(t *testing.T, kw string, s map[string]any, v any, path string) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	props, _ := s["properties"].(map[string]any)
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		child := strings.TrimPrefix(path+"."+k, ".")
		switch {
		case kw == "properties" && props[k] != nil:
			problems = append(problems, checkSchema(t, props[k].(map[string]any), m[k], child)...)
		case kw == "additionalProperties" && props[k] == nil:
			if extra, ok := s[kw].(map[string]any); ok {
				problems = append(problems, checkSchema(t, extra, m[k], child)...)
			} else if s[kw] == false {
				problems = append(problems, child+": not allowed")
			}
		case kw == "propertyNames":
			problems = append(problems, checkSchema(t, s[kw].(map[string]any), k, child)...)
		}
	}
	if kw == "required" {
		for _, r := range s[kw].([]any) {
			if _, ok := m[r.(string)]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %v is required", orTop(path), r))
			}
		}
	}
	return problems
}

func checkString(kw string, arg, v any, add func(string, ...any)) []string {
	str, ok := v.(string)
	if !ok {
		return nil
	}
	switch kw {
	case "minLength":
		if len([]rune(str)) < int(arg.(float64)) {
			add("shorter than %v", arg)
		}
	case "maxLength":
		if len([]rune(str)) > int(arg.(float64)) {
			add("longer than %v", arg)
		}
	case "pattern":
		if !regexp.MustCompile(arg.(string)).MatchString(str) {
			add("%q does not match %s", str, arg)
		}
	}
	return nil
}

func typeIs(want, v any) bool {
	if list, ok := want.([]any); ok {
		return slices.ContainsFunc(list, func(w any) bool { return typeIs(w, v) })
	}
	n, isNumber := number(v)
	switch want {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		return isNumber
	case "integer":
		return isNumber && n == float64(int64(n))
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func orTop(path string) string {
	if path == "" {
		return "(top)"
	}
	return path
}
