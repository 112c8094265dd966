package tools

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/openclaw-run/openclaw-run/profiles"
)

func TestRegistryTable(t *testing.T) {
	seen := map[string]bool{}
	for _, tool := range All() {
		for _, n := range append([]string{tool.Name}, tool.Aliases...) {
			if seen[n] {
				t.Errorf("%s is named twice", n)
			}
			seen[n] = true
		}
		if tool.Description == "" || strings.Contains(tool.Description, "\n") || tool.Title == "" {
			t.Errorf("%s: needs a one-line description and a title", tool.Name)
		}
		if !slices.Contains(profiles.KnownTools, tool.Profile) {
			t.Errorf("%s is governed by %q, which profiles do not know (%v)", tool.Name, tool.Profile, profiles.KnownTools)
		}
		if tool.Schema["type"] != "object" || tool.Schema["additionalProperties"] != false {
			t.Errorf("%s: the schema must be a closed object", tool.Name)
		}
		req, _ := tool.Schema["required"].([]string)
		for _, r := range req {
			if !slices.Contains(tool.parameters(), r) {
				t.Errorf("%s requires %q, which it does not define", tool.Name, r)
			}
		}
		// The schema is valid JSON Schema.
		var s jsonschema.Schema
		b, _ := json.Marshal(tool.Schema)
		if err := json.Unmarshal(b, &s); err != nil {
			t.Errorf("%s: %v", tool.Name, err)
		} else if _, err := s.Resolve(nil); err != nil {
			t.Errorf("%s: the schema does not resolve: %v", tool.Name, err)
		}
	}
	for name, want := range map[string]string{"read": "read", "stat": "read", "ls": "ls", "write": "write", "mkdir": "write",
		"remove": "write", "rename": "write", "edit": "edit", "apply_patch": "apply_patch", "exec": "exec", "bash": "exec",
		"process": "process", "sessions_spawn": "sessions_spawn"} {
		if got, ok := Governing(name); !ok || got != want {
			t.Errorf("Governing(%s) = %q, %t; want %q", name, got, ok, want)
		}
	}
	if _, ok := Governing("frob"); ok {
		t.Error("an unknown tool has a governing profile tool")
	}
	if e, ok := Lookup("bash"); !ok || e.Name != "exec" {
		t.Errorf("Lookup(bash) = %+v", e)
	}
	wantFiles := []string{"read", "write", "edit", "apply_patch", "ls", "stat", "mkdir", "remove", "rename"}
	if !slices.Equal(Names, wantFiles) || !slices.Equal(NamesOf(KindFile), wantFiles) {
		t.Errorf("file tools %v / %v, want %v", Names, NamesOf(KindFile), wantFiles)
	}
	if !slices.Equal(NamesOf(KindGateway), []string{"process", "sessions_spawn"}) || !slices.Equal(NamesOf(KindExec), []string{"exec"}) {
		t.Errorf("gateway tools %v, exec tools %v", NamesOf(KindGateway), NamesOf(KindExec))
	}
	if !IsFileTool("stat") || IsFileTool("exec") || IsFileTool("process") || IsFileTool("frob") {
		t.Error("IsFileTool disagrees with the table")
	}
}

// Every parameter a file tool's schema names is a field Decode fills:
// the published schema and the decoder are one definition.
func TestSchemasMatchParams(t *testing.T) {
	fields := map[string]bool{}
	pt := reflect.TypeFor[Params]()
	for i := range pt.NumField() {
		if name, _, _ := strings.Cut(pt.Field(i).Tag.Get("json"), ","); name != "" {
			fields[name] = true
		}
	}
	for _, name := range NamesOf(KindFile) {
		tool, _ := Lookup(name)
		for _, p := range tool.parameters() {
			if !fields[p] {
				t.Errorf("%s: schema parameter %q is not a Params field", name, p)
			}
		}
	}
}

// Decode and the published schema agree on what they refuse: a parameter
// the schema does not name, a value of the wrong type, a negative count.
// (Decode refuses more: missing content, out-of-range lines, NUL bytes.)
func TestDecodeAgreesWithSchema(t *testing.T) {
	cases := []struct {
		tool, args string
		ok         bool
	}{
		{"read", `{"path":"a","offset":3,"limit":4}`, true},
		{"read", `{"path":"a","input":"x"}`, false},
		{"read", `{"path":"a","offset":-1}`, false},
		{"read", `{"path":"a","offset":1.5}`, false},
		{"read", `{"path":"a","offset":"3"}`, false},
		{"read", `{"path":"a","encoding":"base64"}`, true},
		{"read", `{"path":"a","encoding":"hex"}`, false},
		{"write", `{"path":"a","content":"x","mkdir":false,"exclusive":true}`, true},
		{"write", `{"path":"a","content":"x","mkdir":"no"}`, false},
		{"ls", `{"path":"a"}`, true},
		{"ls", `{"file_path":"a"}`, false},
		{"stat", `{"path":"a"}`, true},
		{"stat", `{"path":"a","follow":true}`, false},
		{"mkdir", `{"path":"a","recursive":true}`, true},
		{"remove", `{"path":"a","recursive":true,"force":true}`, true},
		{"remove", `{"path":7}`, false},
		{"rename", `{"from":"a","to":"b"}`, true},
		{"rename", `{"from":"a","to":"b","overwrite":true}`, false},
		{"edit", `{"path":"a","edits":[{"oldText":"x","newText":"y"}]}`, true},
		{"edit", `{"path":"a","edits":[{"oldText":"x"}]}`, false},
	}
	for _, c := range cases {
		tool, _ := Lookup(c.tool)
		var s jsonschema.Schema
		b, _ := json.Marshal(tool.Schema)
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		rs, err := s.Resolve(nil)
		if err != nil {
			t.Fatal(err)
		}
		var inst any
		if err := json.Unmarshal([]byte(c.args), &inst); err != nil {
			t.Fatal(err)
		}
		schemaOK := rs.Validate(inst) == nil
		_, derr := Decode(c.tool, json.RawMessage(c.args))
		if schemaOK != c.ok || (derr == nil) != c.ok {
			t.Errorf("%s %s: schema ok=%t, Decode err=%v; want ok=%t", c.tool, c.args, schemaOK, derr, c.ok)
		}
	}
}
