package policies

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
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

// TestExamplesMatchSchema checks every example against schema.json with a
// JSON Schema validator (santhosh-tekuri/jsonschema, which implements the
// draft-07 of the schema as editors do), and that each example names the
// schema for yaml-language-server on its first line.
func TestExamplesMatchSchema(t *testing.T) {
	s := compileSchema(t)
	for _, file := range exampleFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(string(data), "\n"); first != "# yaml-language-server: $schema=../schema.json" {
			t.Errorf("%s: first line is %q, want the yaml-language-server schema comment", file, first)
		}
		if err := validate(s, data); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

// TestSchemaRejectsBadPolicies shows that the schema check can fail: the
// broken policies whose mistake is one of shape fail it too.
func TestSchemaRejectsBadPolicies(t *testing.T) {
	s := compileSchema(t)
	for _, name := range []string{
		"control-characters", "group-name-case", "group-name-reserved", "group-name-site", "host-key-typo", "list-document",
		"missing-name", "missing-version", "network-empty", "network-name", "no-hosts", "no-roles",
		"peers-class", "profile", "roles-not-a-list", "rpc-static", "scalar-document", "service-entries",
		"service-unknown-doc", "top-key-typo", "unknown-key", "wrong-type-bool", "wrong-type-mapping",
		"wrong-version", "scenarios", "peers-roles", "site-name-pipe",
	} {
		data, err := os.ReadFile(filepath.Join(badDir, name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(s, data); err == nil {
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
		l.budget = nodeBudget(len(data))
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

// compileSchema compiles schema.json with the validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema.json does not compile: %v", err)
	}
	return s
}

// validate checks a YAML policy against the schema as yaml-language-server
// does: the YAML's values, as JSON.
func validate(s *jsonschema.Schema, data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err // a mapping with a key that is not a string: no JSON document
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	return s.Validate(doc)
}
