package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/seccomp"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestProfilesCommands(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	out, _, code := runCLI(t, "profiles", "list")
	if code != 0 || !strings.Contains(out, "minimal") || !strings.Contains(out, "coding") || !strings.Contains(out, "full") {
		t.Fatalf("profiles list: %d %q", code, out)
	}
	out, _, code = runCLI(t, "profiles", "show", "coding")
	if code != 0 || !strings.Contains(out, "// coding: the recommended default") || !strings.Contains(out, `"execTier": "coding"`) {
		t.Errorf("profiles show coding should print the commented source: %q", out)
	}
	out, _, code = runCLI(t, "profiles", "show", "coding", "--json")
	var p profiles.Profile
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Name != "coding" || p.Limits.Memory != 1<<30 {
		t.Errorf("profiles show --json: %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, "profiles", "show", "nope"); code == 0 || !strings.Contains(errOut, "unknown profile") {
		t.Errorf("unknown profile: %d %q", code, errOut)
	}
}

func TestCustomProfileIsListed(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENCLAW_STATE_DIR", dir)
	os.MkdirAll(filepath.Join(dir, "profiles"), 0o755)
	os.WriteFile(filepath.Join(dir, "profiles", "review.jsonc"), []byte(`{"name":"review","tools":["read"],"fileTier":"file","network":"none",
	"limits":{"memory":"64M","cpus":1,"pids":8,"timeout":"5s","maxOutput":"1M","tmpSize":"8M","fileSize":"8M","openFiles":64}}`), 0o644)
	out, _, code := runCLI(t, "profiles", "list")
	if code != 0 || !strings.Contains(out, "review") {
		t.Errorf("custom profile not listed: %q", out)
	}
}

func TestSeccompDump(t *testing.T) {
	out, _, code := runCLI(t, "seccomp", "dump", "coding")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"# tier coding", "i386 and x32 calls -> EPERM", "ptrace ", "EPERM", "clone3 ", "ENOSYS", "socket ", "arg0&0xffffffff==0x1", "*                      ENOSYS"} {
		if !strings.Contains(out, want) {
			t.Errorf("seccomp dump coding lacks %q", want)
		}
	}
	// Every rule line carries its reason.
	for _, line := range strings.Split(out, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(line, "  # ") {
			t.Errorf("rule without a reason: %q", line)
		}
	}
	bpf, _, code := runCLI(t, "seccomp", "dump", "coding", "--bpf")
	prog, _ := seccomp.Compile("coding")
	if code != 0 || strings.Count(bpf, "\n") != len(prog.Filter) {
		t.Errorf("--bpf printed %d lines for %d instructions", strings.Count(bpf, "\n"), len(prog.Filter))
	}
	if _, _, code := runCLI(t, "seccomp", "dump", "nope"); code == 0 {
		t.Error("unknown tier accepted")
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	for _, args := range [][]string{
		{},                                  // no command
		{"--profile", "nope", "--", "true"}, // unknown profile
		{"--env", "NOEQUALS", "--", "true"}, // bad env
		{"--memory", "lots", "--", "true"},  // bad size
		{"frobnicate"},                      // unknown subcommand
	} {
		if _, _, code := runCLI(t, args...); code != exitSetup {
			t.Errorf("%v: code %d, want %d", args, code, exitSetup)
		}
	}
	if out, _, code := runCLI(t, "--help"); code != 0 && out == "" {
		t.Errorf("--help: %d", code)
	}
}

func TestDoctor(t *testing.T) {
	testutil.RequireRoot(t) // doctor's cgroup check creates the calls' base cgroups
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	t.Setenv("OPENCLAW_STATE_DIR", dir)
	t.Setenv("OPENCLAW_CONFIG_PATH", "")
	t.Setenv("OPENCLAW_BACKUP_DIR", filepath.Join(dir, "backups"))
	out, _, code := runCLI(t, "doctor")
	if code != 0 || !strings.Contains(out, "PASS  kernel") || !strings.Contains(out, "gateway on loopback") ||
		!strings.Contains(out, "PASS  build     version") || !strings.Contains(out, "WARN  checklist backups present and recent") {
		t.Fatalf("doctor on defaults: %d\n%s", code, out)
	}
	// A config named explicitly but absent is a FAIL, naming it.
	t.Setenv("OPENCLAW_CONFIG_PATH", filepath.Join(dir, "typo.json"))
	if out, _, code := runCLI(t, "doctor"); code != 1 || !strings.Contains(out, "FAIL  config    load") || !strings.Contains(out, "OPENCLAW_CONFIG_PATH "+filepath.Join(dir, "typo.json")) {
		t.Errorf("doctor on a missing explicit config: %d\n%s", code, out)
	}
	t.Setenv("OPENCLAW_CONFIG_PATH", filepath.Join(dir, "openclaw.json"))
	// The guide wants info or debug; error hides the refusals.
	for level, want := range map[string]string{"debug": "PASS", "info": "PASS", "error": "WARN", "warn": "WARN"} {
		os.WriteFile(filepath.Join(dir, "openclaw.json"), []byte(`{"logging": {"level": "`+level+`"}}`), 0o600)
		if out, _, _ := runCLI(t, "doctor"); !strings.Contains(out, want+"  checklist log level info or debug") {
			t.Errorf("log level %s: want %s\n%s", level, want, out)
		}
	}
	// A torn audit tail (a crash, a full disk) WARNs with the repair; the
	// chain before it is intact.
	alog, err := audit.Open(setup.AuditPath(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	alog.Append(audit.Record{Tool: "exec", Action: "tool_call", Decision: "allow"})
	alog.Close()
	f, _ := os.OpenFile(setup.AuditPath(""), os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString(`{"seq":2,"half a rec`)
	f.Close()
	if out, _, _ := runCLI(t, "doctor"); !strings.Contains(out, "WARN  checklist audit log verified now") || !strings.Contains(out, "fix: openclaw-run audit repair") {
		t.Errorf("a torn tail:\n%s", out)
	}
	// The staging stores' usage, past the retention size: WARN.
	store := filepath.Join(dir, "workspace", "s1", ".openclaw-run")
	os.MkdirAll(store, 0o700)
	os.WriteFile(filepath.Join(dir, "openclaw.json"), []byte(`{"sandbox": {"undoRetention": {"size": "1M"}}}`), 0o600)
	os.WriteFile(filepath.Join(store, "blob"), make([]byte, 2<<20), 0o600)
	if out, _, _ := runCLI(t, "doctor"); !strings.Contains(out, "WARN  checklist staging store usage") || !strings.Contains(out, store) {
		t.Errorf("a store past its retention:\n%s", out)
	}
	os.WriteFile(filepath.Join(dir, "openclaw.json"), []byte(`{}`), 0o600)
	if out, _, _ := runCLI(t, "doctor"); !strings.Contains(out, "PASS  checklist staging store usage") || !strings.Contains(out, "1 store(s)") {
		t.Errorf("a store within its retention:\n%s", out)
	}
	// A backup made now is recent.
	os.MkdirAll(filepath.Join(dir, "backups"), 0o700)
	os.WriteFile(filepath.Join(dir, "backups", "openclaw-backup-2026-12-03_07-00-00.tar.gz"), nil, 0o600)
	if out, _, _ := runCLI(t, "doctor"); !strings.Contains(out, "PASS  checklist backups present and recent") {
		t.Errorf("a fresh backup:\n%s", out)
	}
	// The guide's "wrong way": a key in the config file, readable by others.
	os.WriteFile(filepath.Join(dir, "openclaw.json"), []byte(`{"systemPrompt": "use sk-1234567890abcdefXYZ"}`), 0o644)
	os.Chmod(filepath.Join(dir, "openclaw.json"), 0o644)
	out, _, code = runCLI(t, "doctor", "--json")
	var fs []finding
	json.Unmarshal([]byte(out), &fs)
	fails := map[string]bool{}
	for _, f := range fs {
		if f.Status == "FAIL" {
			fails[f.Check] = true
		}
	}
	if code != 1 || !fails["no API keys in files"] || !fails["config file 0600"] {
		t.Errorf("doctor should FAIL on a key in a world-readable config: %d %v", code, fails)
	}
}

func TestLogLevelFlag(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	if _, errOut, code := runCLI(t, "--log-level", "loud", "--", "true"); code != exitSetup || !strings.Contains(errOut, "want error, warn, info or debug") {
		t.Errorf("bad --log-level: %d %q", code, errOut)
	}
}

// With a provider other than the store, set, list and rm (which manage the
// local store) refuse and say where the provider's secrets live, so that
// they cannot disagree with get and the calls.
func TestSecretsFollowTheProvider(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENCLAW_STATE_DIR", dir)
	t.Setenv("OPENCLAW_CONFIG_PATH", "")
	cfg := filepath.Join(dir, "openclaw.json")
	os.WriteFile(cfg, []byte(`{"secrets": {"provider": "aws-secrets-manager", "region": "eu-west-1", "prefix": "openclaw/"}}`), 0o600)
	for _, args := range [][]string{{"secrets", "set", "K", "v"}, {"secrets", "list"}, {"secrets", "rm", "K"}} {
		_, errOut, code := runCLI(t, args...)
		if code != 1 || !strings.Contains(errOut, `secrets.provider is "aws-secrets-manager"`) || !strings.Contains(errOut, "openclaw/<NAME> in eu-west-1") {
			t.Errorf("%q: exit %d, %q", args, code, errOut)
		}
	}
	os.WriteFile(cfg, []byte(`{}`), 0o600)
	if _, errOut, code := runCLI(t, "secrets", "set", "K", "v"); code != 0 {
		t.Fatalf("store set: %d %q", code, errOut)
	}
	if out, _, code := runCLI(t, "secrets", "list"); code != 0 || out != "K\n" {
		t.Errorf("store list: %d %q", code, out)
	}
	if out, _, code := runCLI(t, "secrets", "get", "K"); code != 0 || out != "v\n" {
		t.Errorf("store get: %d %q", code, out)
	}
}
