package profiles

import (
	"os"
	"path/filepath"
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

func TestLoadCustomProfiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := `// a reviewer's profile: read-only file tools, tiny limits
{"name": "review", "tools": ["read", "ls"], "execTier": "", "fileTier": "file", "network": "none",
 "limits": {"memory": "64M", "cpus": 0.5, "pids": 8, "timeout": "10s", "maxOutput": "1M",
            "tmpSize": "8M", "fileSize": "16M", "openFiles": 64},}`
	write("review.jsonc", good)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m["review"] == nil || m["coding"] == nil || m["review"].Limits.Memory != 64<<20 {
		t.Fatalf("custom profile not loaded next to the built-ins: %v", Names(m))
	}

	write("coding.jsonc", strings.Replace(good, `"review"`, `"coding"`, 1))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("a custom profile may not replace a built-in: %v", err)
	}
	os.Remove(filepath.Join(dir, "coding.jsonc"))

	write("other.jsonc", good)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "must be named") {
		t.Errorf("file and profile names must agree: %v", err)
	}
	os.Remove(filepath.Join(dir, "other.jsonc"))

	write("bad.json", `{"name": "bad", "tools": ["exec"], "fileTier": "file", "network": "none", "limits": {}}`)
	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "exec-tier") {
		t.Errorf("an invalid custom profile must fail, naming the file and the check: %v", err)
	}

	if m, err := Load(filepath.Join(dir, "missing")); err != nil || len(m) != 3 {
		t.Errorf("a missing profile directory means the built-ins only: %v", err)
	}
}
