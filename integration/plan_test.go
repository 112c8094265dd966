//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
)

// sharedWorkspaceGateway starts a gateway whose sessions share ws, with
// extra config (JSON members) added.
func sharedWorkspaceGateway(t *testing.T, ws, extra string) *gw {
	t.Helper()
	cfg := fmt.Sprintf(`{"sandbox": {"workspace": %q, "perSession": false}, "gateway": {"prewarm": 1} %s}`, ws, extra)
	return startGateway(t, cfg)
}

// fileCall runs a file tool through the gateway and returns its status.
func fileCall(t *testing.T, g *gw, tool string, args map[string]any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"sessionId": "s1", "args": args})
	r, out := g.post(t, "/v1/tools/"+tool, g.token, "", string(body))
	return r.StatusCode, out
}

// A deniedPaths glob is expanded when each call starts: a file that
// matches it and was created by an earlier call (after the session's first
// call, after the next pre-warmed jail was built) is masked. Policy used to
// become mounts once per runner, and pre-warmed jails ahead of time, so
// such a file stayed visible to every later call of the session.
func TestDeniedGlobExpandedPerCall(t *testing.T) {
	ws := workspace(t)
	g := sharedWorkspaceGateway(t, ws, fmt.Sprintf(`, "tools": {"fs": {"deniedPaths": [%q]}}`, ws+"/*.pem"))
	// The first call; its end builds the next pre-warmed jail, before
	// any .pem file exists.
	if out, res := execResult(t, g, "s1", "echo first"); out != "first\n" || res["exitCode"] != float64(0) {
		t.Fatalf("first call: %q %v", out, res)
	}
	// A file tool writes the key (file tools do not take the exec tier's
	// pre-warmed jail, which therefore still waits, built without a mask).
	if code, out := fileCall(t, g, "write", map[string]any{"path": "key.pem", "content": "PRIVATE-KEY-MATERIAL\n"}); code != 200 {
		t.Fatalf("write key.pem: %d %s", code, out)
	}
	for i := 0; i < 2; i++ {
		out, res := execResult(t, g, "s1", "cat key.pem; echo; ls -la key.pem; echo done")
		if strings.Contains(out, "PRIVATE-KEY-MATERIAL") {
			t.Fatalf("call %d read a denied file created after the session's first call:\n%s", i, out)
		}
		if !strings.Contains(out, "done") {
			t.Fatalf("call %d: %q %v", i, out, res)
		}
		if i == 0 && res["prewarmed"] == true {
			t.Errorf("the pre-warmed jail, built before key.pem existed, served a call whose plan masks it")
		}
	}
	// The key is intact on the host: masked, not removed.
	if b, _ := os.ReadFile(filepath.Join(ws, "key.pem")); string(b) != "PRIVATE-KEY-MATERIAL\n" {
		t.Errorf("key.pem on the host: %q", b)
	}
}

// A literal denied path inside the workspace holds against renames made by
// earlier calls: its parent directories are mount points in every jail
// (pins), so moving them fails, and the next call's plan finds the file
// where the rule names it. It used to be read by renaming its parent in
// one call and reading it in the next.
func TestDeniedPathSurvivesRenames(t *testing.T) {
	ws := workspace(t)
	os.MkdirAll(filepath.Join(ws, "secret", "deep"), 0o755)
	os.WriteFile(filepath.Join(ws, "secret", "deep", "key"), []byte("TOP-SECRET\n"), 0o644)
	filepath.Walk(ws, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, jailUID, jailUID) })
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"tools": {"fs": {"deniedPaths": [%q]}}}`, filepath.Join(ws, "secret", "deep", "key"))), 0o600)
	run := func(script string) run {
		return runCLI(t, nil, "--config", cfg, "--workspace", ws, "--", "sh", "-c", script)
	}
	r := run(`mv secret public 2>&1; mv secret/deep secret/shallow 2>&1; rm -rf secret 2>&1; mv secret/deep/key stolen 2>&1; ln secret/deep/key hard 2>&1; cat secret/deep/key; echo end`)
	if strings.Contains(r.stdout, "TOP-SECRET") || !strings.Contains(r.stdout, "end") {
		t.Fatalf("first call: %+v", r)
	}
	for _, probe := range []string{"cat public/deep/key", "cat secret/shallow/key", "cat stolen", "cat hard", "cat secret/deep/key", "find / -name key -type f 2>/dev/null | xargs cat 2>/dev/null"} {
		r := run(probe + "; echo end")
		if strings.Contains(r.stdout, "TOP-SECRET") {
			t.Errorf("%q read the denied file after a rename attempt:\n%s", probe, r.stdout)
		}
	}
	if b, err := os.ReadFile(filepath.Join(ws, "secret", "deep", "key")); err != nil || string(b) != "TOP-SECRET\n" {
		t.Errorf("the denied file moved or changed on the host: %q %v", b, err)
	}
}

// A call whose audit intent cannot be written does not run: the record
// comes before the jail. (The record used to be written after the run, so
// a write or an apply_patch happened and then its record failed.)
func TestAuditIntentBeforeTheJail(t *testing.T) {
	testutil.RequireRoot(t)
	ws := workspace(t)
	dir := filepath.Join(t.TempDir(), "audit")
	os.Mkdir(dir, 0o700)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	logf := filepath.Join(dir, "audit.jsonl")
	// Fill the file system the audit log lives on.
	filler, _ := os.Create(filepath.Join(dir, "fill"))
	io.Copy(filler, io.LimitReader(zeros{}, 1<<20))
	filler.Close()
	for _, c := range [][]string{
		{"--audit-file", logf, "--workspace", ws, "--", "sh", "-c", "touch /workspace/ran"},
		{"tools", "test", "write", "--audit-file", logf, "--workspace", ws, "--path", "ran", "--content", "x"},
	} {
		r := runCLI(t, nil, c...)
		if r.code == 0 {
			t.Errorf("%v ran with an unwritable audit log: %+v", c, r)
		}
		if !strings.Contains(r.stderr+r.stdout, "audit") {
			t.Errorf("%v: the refusal does not say why: %+v", c, r)
		}
		if _, err := os.Stat(filepath.Join(ws, "ran")); err == nil {
			t.Fatalf("%v: the command ran although its intent could not be recorded", c)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A call that was running when its gateway was killed with SIGKILL leaves
// its intent in the log, and the next start records it as abandoned;
// audit verify names it. It used to leave no trace at all.
func TestKill9LeavesARecord(t *testing.T) {
	g := startGateway(t, `{}`)
	marker := fmt.Sprintf("kill9-%d", time.Now().UnixNano())
	go func() {
		body, _ := json.Marshal(map[string]any{"args": map[string]any{"command": "echo started; sleep 60 # " + marker}})
		req, _ := http.NewRequest("POST", g.url+"/v1/tools/exec", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+g.token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	logf := filepath.Join(g.state, "audit", "audit.jsonl")
	if !eventually(10*time.Second, func() bool {
		b, _ := os.ReadFile(logf)
		return strings.Contains(string(b), marker) && len(hostProcs(marker)) > 0
	}) {
		t.Fatalf("the call did not start:\n%s", g.log)
	}
	g.cmd.Process.Kill()
	g.cmd.Wait()
	if !eventually(10*time.Second, func() bool { return len(hostProcs(marker)) == 0 }) {
		t.Errorf("the jail outlived its gateway: %v", hostProcs(marker))
	}
	b, _ := os.ReadFile(logf)
	var callID string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, marker) && strings.Contains(l, `"action":"intent"`) {
			var rec struct {
				CallID string `json:"callId"`
			}
			json.Unmarshal([]byte(l), &rec)
			callID = rec.CallID
		}
	}
	if callID == "" {
		t.Fatalf("no intent of the killed call in the audit log:\n%s", b)
	}
	env := g.env()
	// Before a restart: verify names the call whose runner died.
	v := runEnv(env, "", "audit", "verify")
	if !strings.Contains(v.stdout+v.stderr, callID) {
		t.Errorf("audit verify does not name the call that was in flight:\n%s%s", v.stdout, v.stderr)
	}
	// A restart records it as abandoned.
	g2 := startGatewayEnv(t, `{}`, "OPENCLAW_STATE_DIR="+g.state)
	_ = g2
	if !eventually(10*time.Second, func() bool {
		b, _ := os.ReadFile(logf)
		return strings.Contains(string(b), `"action":"abandoned"`) && strings.Contains(string(b), callID)
	}) {
		b, _ := os.ReadFile(logf)
		t.Fatalf("no abandoned record for %s after the restart:\n%s", callID, b)
	}
	if v := runEnv(env, "", "audit", "verify"); v.code != 0 {
		t.Errorf("audit verify after recovery: %+v", v)
	}
}

// Every profile works from a shell whose hard RLIMIT_NOFILE is below the
// profile's openFiles (full: 65536; this host's shells have 20000): the
// jail's limit is raised from the runner when it may, and clamped with a
// warning when it may not. It used to fail every call with EPERM.
func TestLowHardNofileEveryProfile(t *testing.T) {
	ws := workspace(t)
	for _, c := range []struct {
		profile string
		args    []string
	}{
		{"minimal", []string{"tools", "test", "ls", "--profile", "minimal", "--workspace", ws, "--path", "."}},
		{"coding", []string{"--profile", "coding", "--workspace", ws, "--", "sh", "-c", "ulimit -Hn"}},
		{"full", []string{"--profile", "full", "--workspace", ws, "--", "sh", "-c", "ulimit -Hn"}},
	} {
		r := runCLI(t, func(cmd *exec.Cmd) {
			cmd.Path = "/usr/bin/prlimit"
			cmd.Args = append([]string{"prlimit", "--nofile=1024:4096", binary}, c.args...)
		}, c.args...)
		if r.code != 0 {
			t.Errorf("%s under a hard nofile of 4096: %+v", c.profile, r)
		}
	}
}

// A runner installed under a name without "openclaw" keeps its calls when
// another runner starts and sweeps leftovers: liveness is by identity (pid
// and start time), not by name. Such a runner's calls used to be killed by
// the next CLI start.
func TestRunnerUnderAnotherName(t *testing.T) {
	ws := workspace(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "jailer")
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(other, b, 0o755)
	// The runc engine's helper is looked for beside the binary.
	if h, err := os.ReadFile(filepath.Join(filepath.Dir(binary), "openclaw-run-runc")); err == nil {
		os.WriteFile(filepath.Join(dir, "openclaw-run-runc"), h, 0o755)
	}
	marker := fmt.Sprintf("renamed-%d", time.Now().UnixNano())
	long := exec.Command(other, "--workspace", ws, "--", "sh", "-c", "sleep 3; echo survived # "+marker)
	out, _ := os.CreateTemp(dir, "out")
	long.Stdout, long.Stderr = out, out
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool { return len(hostProcs(marker)) > 0 }) {
		t.Fatal("the renamed runner's call did not start")
	}
	// Another runner starts (and sweeps) while the call runs.
	if r := runCLI(t, nil, "--workspace", ws, "--", "true"); r.code != 0 {
		t.Fatalf("second runner: %+v", r)
	}
	err = long.Wait()
	b, _ = os.ReadFile(out.Name())
	if err != nil || !strings.Contains(string(b), "survived") {
		t.Fatalf("the renamed runner's call was killed by the other runner's sweep: %v\n%s", err, b)
	}
}
