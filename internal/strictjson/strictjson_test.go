package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

type inner struct {
	Memory string `json:"memory,omitempty"`
}

type params struct {
	Command string            `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	Limits  *inner            `json:"limits,omitempty"`
	List    []inner           `json:"list,omitempty"`
	Args    json.RawMessage   `json:"args,omitempty"`
	Plain   int
}

// Every way of naming a value twice, or a field in another case, is
// refused, at any depth; equal keys in different objects and map keys
// that differ in case (environment variables) are not.
func TestKeys(t *testing.T) {
	bad := map[string]string{
		`{"command":"ls","command":"rm -rf ."}`:                   `duplicate key "command"`,
		`{"command":"ls","Command":"rm -rf ."}`:                   `key "Command": the parameter is "command"`,
		`{"COMMAND":"ls"}`:                                        `key "COMMAND"`,
		`{"command":"ls","env":{"A":"1","A":"2"}}`:                `duplicate key "env.A"`,
		`{"command":"ls","limits":{"Memory":"1G"}}`:               `key "limits.Memory"`,
		`{"command":"ls","limits":{"memory":"1G","memory":"2G"}}`: `duplicate key "limits.memory"`,
		`{"command":"ls","list":[{},{"MEMORY":"1"}]}`:             `key "list[1].MEMORY"`,
		`{"command":"ls","args":{"x":{"y":1,"y":2}}}`:             `duplicate key "args.x.y"`,
		`{"command":"ls","plain":1}`:                              `key "plain": the parameter is "Plain"`,
	}
	for in, want := range bad {
		var p params
		err := Decode([]byte(in), &p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
	good := []string{
		`{"command":"ls","env":{"A":"1","a":"2"}}`,
		`{"command":"ls","list":[{"memory":"1"},{"memory":"2"}]}`,
		`{"command":"ls","args":{"x":{"y":1},"z":{"y":2},"Y":3}}`,
		`{"command":"ls","Plain":1}`,
	}
	for _, in := range good {
		var p params
		if err := Decode([]byte(in), &p); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	// The decoder's own errors stay the decoder's.
	var p params
	if err := Decode([]byte(`{"command":"ls","other":1}`), &p); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("unknown field: %v", err)
	}
	if err := Decode([]byte(`{"command":`), &p); err == nil {
		t.Error("truncated JSON accepted")
	}
	if err := Decode([]byte(`{"command":"a"} {}`), &p); err == nil {
		t.Error("two values accepted")
	}
	deep := strings.Repeat(`{"args":`, 20000) + "1" + strings.Repeat("}", 20000)
	if err := Decode([]byte(deep), &p); err == nil {
		t.Error("20000 levels of nesting accepted")
	}
}

// Decode never panics, and what it accepts encoding/json accepts too.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"command":"ls","env":{"A":"1"}}`, `{"command":"a","command":"b"}`, `{"Command":"x"}`, `[`, `{"list":[{"memory":"1"}]}`, `{"args":{"a":[{"b":1,"b":2}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p params
		if Decode(b, &p) != nil {
			return
		}
		var q params
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", b, err)
		}
	})
}
