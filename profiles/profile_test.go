package profiles

import (
	"strings"
	"testing"
)

func TestBuiltinProfilesValid(t *testing.T) {
	b, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"minimal", "coding", "full"} {
		p, ok := b[name]
		if !ok {
			t.Fatalf("built-in profile %s missing", name)
		}
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
	}
	if b["minimal"].Allows("exec") || b["minimal"].ExecTier != "" {
		t.Error("minimal must not allow exec")
	}
	if !b["coding"].Allows("exec") || b["coding"].ExecTier != "coding" {
		t.Error("coding must allow exec under the coding tier")
	}
}

// Every field of a built-in profile carries a comment in its source.
func TestBuiltinSourcesAreCommented(t *testing.T) {
	for _, name := range []string{"minimal", "coding", "full"} {
		src, err := BuiltinSource(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(src), "//") < 3 {
			t.Errorf("%s: too few comments", name)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"unknown key":  `{"name":"x","tools":[],"execTier":"","fileTier":"file","network":"none","limits":{},"extra":1}`,
		"unknown tool": `{"name":"x","tools":["browser"],"fileTier":"file","network":"none"}`,
		"exec no tier": `{"name":"x","tools":["exec"],"fileTier":"file","network":"none"}`,
		"network":      `{"name":"x","tools":[],"fileTier":"file","network":"host"}`,
		"no limits":    `{"name":"x","tools":[],"fileTier":"file","network":"none"}`,
		"bad size":     `{"name":"x","tools":[],"fileTier":"file","network":"none","limits":{"memory":"lots"}}`,
	}
	for name, src := range cases {
		if _, err := Parse([]byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{"512M": 512 << 20, "1.5G": 3 << 29, "64k": 64 << 10, "100": 100, "2GiB": 2 << 30} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1M", "lots", "1X"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}
