//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFilesystemPolicy: allowedPaths are read-only binds (":rw" writable),
// deniedPaths below them are invisible, and /etc is never the host's.
func TestFilesystemPolicy(t *testing.T) {
	ws := workspace(t)
	// Not under /tmp: the jail has a private /tmp of its own.
	base, err := os.MkdirTemp("/var/tmp", "openclaw-it-fs-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)
	// A shared mount, as systemd makes every mount: a clone of it joins its
	// peer group, so the jail's masks would show up on the host unless the
	// bind trees are made private. (Caught first by the VM suite.)
	if err := syscall.Mount(base, base, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(base, syscall.MNT_DETACH)
	if err := syscall.Mount("", base, "", syscall.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	mountsUnder := func() int {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Count(string(b), " "+base)
	}
	before := mountsUnder()
	ro := filepath.Join(base, "shared")
	rw := filepath.Join(base, "scratch")
	for _, d := range []string{ro, rw, filepath.Join(ro, "private"), filepath.Join(ro, "keys")} {
		os.MkdirAll(d, 0o777)
		os.Chmod(d, 0o777)
	}
	os.WriteFile(filepath.Join(ro, "data.txt"), []byte("SHARED-DATA"), 0o666)
	os.WriteFile(filepath.Join(ro, "private", "secret.txt"), []byte("PRIVATE"), 0o666)
	os.WriteFile(filepath.Join(ro, "keys", "a.pem"), []byte("PEM-A"), 0o666)
	os.WriteFile(filepath.Join(ro, "id.key"), []byte("KEYFILE"), 0o666)
	os.WriteFile(filepath.Join(ws, ".env"), []byte("WS-SECRET"), 0o666)
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{
  // bind two host directories; hide secrets below them and in the workspace
  "tools": {"fs": {
    "workspaceOnly": false,
    "allowedPaths": [%q, %q],
    "deniedPaths": [%q, %q, %q],
  }},
}`, ro, rw+":rw", filepath.Join(ro, "private"), filepath.Join(ro, "*.key"), filepath.Join(ws, ".env"))), 0o644)

	script := fmt.Sprintf(`cat %[1]s/data.txt; echo
echo x > %[1]s/new 2>/dev/null && echo RO-WRITABLE
echo y > %[2]s/new && echo RW-OK
cat %[1]s/private/secret.txt 2>/dev/null && echo DENIED-VISIBLE
ls %[1]s/private 2>&1 | grep -q secret && echo DENIED-LISTED
cat %[1]s/id.key 2>/dev/null | grep -q KEYFILE && echo GLOB-VISIBLE
cat %[1]s/keys/a.pem
echo
cat /workspace/.env 2>/dev/null | grep -q WS-SECRET && echo WS-DENIED-VISIBLE
grep -c . /etc/passwd`, ro, rw)
	r := runCLI(t, nil, "--config", cfg, "--workspace", ws, "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, bad := range []string{"RO-WRITABLE", "DENIED-VISIBLE", "DENIED-LISTED", "GLOB-VISIBLE", "WS-DENIED-VISIBLE"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("%s:\n%s", bad, r.stdout)
		}
	}
	for _, good := range []string{"SHARED-DATA", "RW-OK", "PEM-A"} {
		if !strings.Contains(r.stdout, good) {
			t.Errorf("missing %s:\n%s%s", good, r.stdout, r.stderr)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(rw, "new")); string(b) != "y\n" {
		t.Errorf("the :rw path was not written through")
	}
	if after := mountsUnder(); after != before {
		t.Errorf("the jail's mounts propagated to the host: %d mounts under %s, %d before", after, base, before)
	}
	if strings.TrimSpace(r.stdout[strings.LastIndex(strings.TrimSpace(r.stdout), "\n")+1:]) != "2" {
		t.Errorf("/etc/passwd in the jail should be the synthesized 2-line file:\n%s", r.stdout)
	}
}

// TestExecPolicyFromConfig: a denied command is refused before any jail,
// the denial names the rule and is audited.
func TestExecPolicyFromConfig(t *testing.T) {
	ws := workspace(t)
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	os.WriteFile(cfg, []byte(`{"tools": {"exec": {"policy": "deny", "denyCommands": ["rm", "curl", "pip install"]}}}`), 0o644)
	logf := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, argv := range [][]string{{"rm", "-rf", "/workspace"}, {"sh", "-c", "ls; /bin/rm x"}, {"python3", "-m", "pip", "install", "x"}} {
		r := runCLI(t, nil, append([]string{"--config", cfg, "--workspace", ws, "--audit-file", logf, "--"}, argv...)...)
		if r.code != 125 || !strings.Contains(r.stderr, "denied by policy") {
			t.Errorf("%v: %+v", argv, r)
		}
	}
	if r := runCLI(t, nil, "--config", cfg, "--workspace", ws, "--audit-file", logf, "--", "sh", "-c", "echo fine"); r.stdout != "fine\n" {
		t.Errorf("allowed command: %+v", r)
	}
	data, _ := os.ReadFile(logf)
	if strings.Count(string(data), `"decision":"deny"`) != 3 || !strings.Contains(string(data), `denyCommands entry \"pip install\"`) {
		t.Errorf("denials not audited with their rule:\n%s", data)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"tools": {"exec": {"denyComands": ["rm"]}}}`), 0o644)
	if r := runCLI(t, nil, "--config", bad, "--workspace", ws, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "did you mean") {
		t.Errorf("a misspelt key must refuse the call: %+v", r)
	}
}

// TestSecrets: a secret set with `secrets set` reaches only the call that
// names it, and never the audit log.
func TestSecrets(t *testing.T) {
	ws := workspace(t)
	state := t.TempDir()
	env := func(c *exec.Cmd) { c.Env = append(os.Environ(), "OPENCLAW_STATE_DIR="+state) }
	const value = "sk-live-ZYXWVUTSRQ0123456789"
	set := exec.Command(binary, "secrets", "set", "MODEL_KEY", "-")
	env(set)
	set.Stdin = strings.NewReader(value + "\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secrets set: %v %s", err, out)
	}
	if r := runCLI(t, env, "secrets", "list"); strings.TrimSpace(r.stdout) != "MODEL_KEY" || strings.Contains(r.stdout, value) {
		t.Errorf("secrets list: %+v", r)
	}
	r := runCLI(t, env, "--workspace", ws, "--secret-env", "KEY=MODEL_KEY", "--", "sh", "-c", `test "$KEY" = "`+value+`" && echo named-ok`)
	if strings.TrimSpace(r.stdout) != "named-ok" {
		t.Errorf("the naming call did not get the secret: %+v", r)
	}
	r = runCLI(t, env, "--workspace", ws, "--", "sh", "-c", `env; cat /proc/*/environ 2>/dev/null | tr '\0' '\n'`)
	if strings.Contains(r.stdout, value) || strings.Contains(r.stdout, "MODEL_KEY") {
		t.Errorf("a call that names no secret got it:\n%s", r.stdout)
	}
	filepath.Walk(state, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), value) {
				t.Errorf("the secret's value is in %s in clear", p)
			}
		}
		return nil
	})
}
