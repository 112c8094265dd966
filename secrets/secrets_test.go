package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreRoundTripAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	t.Setenv("OPENCLAW_SECRETS_KEY", "")
	os.Unsetenv("OPENCLAW_SECRETS_KEY")
	s := Open(dir)
	if err := s.Set("DASHSCOPE_API_KEY", "sk-very-secret-value"); err != nil {
		t.Fatal(err)
	}
	s.Set("OTHER", "x")
	names, err := s.Names()
	if err != nil || strings.Join(names, ",") != "DASHSCOPE_API_KEY,OTHER" {
		t.Fatalf("names %v %v", names, err)
	}
	for _, f := range []string{"secrets.age", "secrets.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode(), err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "secrets.age"))
	if strings.Contains(string(raw), "sk-very-secret-value") || !strings.HasPrefix(string(raw), "age-encryption.org/v1") {
		t.Error("the store is not encrypted")
	}
	r := &Resolver{Store: s}
	if v, err := r.Get("DASHSCOPE_API_KEY"); err != nil || v != "sk-very-secret-value" {
		t.Errorf("get: %q %v", v, err)
	}
	t.Setenv("OPENCLAW_DASHSCOPE_API_KEY", "from-env")
	if v, _ := r.Get("DASHSCOPE_API_KEY"); v != "from-env" {
		t.Errorf("OPENCLAW_<NAME> should win: %q", v)
	}
	if err := s.Remove("OTHER"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("OTHER"); err == nil {
		t.Error("removed secret still readable")
	}
	if err := s.Set("bad name", "x"); err == nil {
		t.Error("invalid name accepted")
	}
	os.Chmod(filepath.Join(dir, "secrets.key"), 0o644)
	if _, err := r.Get("DASHSCOPE_API_KEY"); err == nil {
		os.Unsetenv("OPENCLAW_DASHSCOPE_API_KEY")
	}
	os.Unsetenv("OPENCLAW_DASHSCOPE_API_KEY")
	if _, err := r.Get("DASHSCOPE_API_KEY"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable key must be refused: %v", err)
	}
}

func TestProviders(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s.json")
	os.WriteFile(f, []byte(`{"A": "from-file"}`), 0o600)
	if v, err := (&Resolver{Provider: "file", File: f}).Get("A"); err != nil || v != "from-file" {
		t.Errorf("file: %q %v", v, err)
	}
	// exec: a command prints the value (vault kv get -field=..., aws ...).
	if v, err := (&Resolver{Provider: "exec", Command: []string{"sh", "-c", `echo "value-of-$0"`}}).Get("B"); err != nil || v != "value-of-B" {
		t.Errorf("exec: %q %v", v, err)
	}
	if _, err := (&Resolver{Provider: "env"}).Get("NOT_SET_ANYWHERE"); err == nil {
		t.Error("env: missing secret found")
	}
}

// TestForCall: a call resolves only the names the operator declared
// (secrets.names, or present in the store or file), never the gateway's
// own credentials, whatever the environment holds (issue 20, item 2).
func TestForCall(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENCLAW_SECRETS_KEY", "")
	os.Unsetenv("OPENCLAW_SECRETS_KEY")
	s := Open(dir)
	if err := s.Set("MODEL_KEY", "sk-model"); err != nil {
		t.Fatal(err)
	}
	s.Set("REDIS_PASSWORD", "redis-pass")
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "gw-token-0123456789")
	t.Setenv("OPENCLAW_HOME_STUFF", "not-a-secret")
	t.Setenv("OPENCLAW_DECLARED_ENV", "declared-value")
	r := &Resolver{Store: s, Declared: []string{"DECLARED_ENV"}, Reserved: []string{"REDIS_PASSWORD"}}
	for name, want := range map[string]string{"MODEL_KEY": "sk-model", "DECLARED_ENV": "declared-value"} {
		if v, err := r.ForCall(name); err != nil || v != want {
			t.Errorf("%s: %q %v, want %q", name, v, err, want)
		}
	}
	for _, name := range []string{"GATEWAY_TOKEN", "gateway_token", "SECRETS_KEY", "REDIS_PASSWORD", "HOME_STUFF", "NOT_ANYWHERE", "../x", ""} {
		if v, err := r.ForCall(name); err == nil {
			t.Errorf("%q resolved for a call: %q", name, v)
		}
	}
	// Declaring the gateway's own credential does not make it resolve.
	r.Declared = append(r.Declared, "GATEWAY_TOKEN", "SECRETS_KEY")
	for _, name := range []string{"GATEWAY_TOKEN", "SECRETS_KEY"} {
		if _, err := r.ForCall(name); err == nil || !strings.Contains(err.Error(), "own credentials") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The operator's own lookup still reaches the reserved ones.
	if v, err := r.Get("REDIS_PASSWORD"); err != nil || v != "redis-pass" {
		t.Errorf("Get: %q %v", v, err)
	}
	// Providers without a list of their own need secrets.names.
	e := &Resolver{Provider: "exec", Command: []string{"sh", "-c", `echo "value-of-$0"`}}
	if _, err := e.ForCall("B"); err == nil {
		t.Error("exec provider: an undeclared name resolved")
	}
	e.Declared = []string{"B"}
	if v, err := e.ForCall("B"); err != nil || v != "value-of-B" {
		t.Errorf("exec provider, declared: %q %v", v, err)
	}
}
