//go:build integration

package integration

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A session in use is never pruned, whatever --older-than says: neither
// one with a call running nor one with a background process. Its
// workspace is a running jail's; the call finishes and its file lands.
// An idle session of the same age is pruned.
func TestPruneKeepsSessionsInUse(t *testing.T) {
	g := startGateway(t, `{}`)
	env := g.env()
	if code, out := g.exec(t, "idle", `{"command":"true"}`); code != 200 {
		t.Fatalf("idle call: %d %s", code, out)
	}
	if code, out := g.exec(t, "bgbusy", `{"command":"sleep 30","background":true}`); code != 200 || !strings.Contains(out, "running") {
		t.Fatalf("background call: %d %s", code, out)
	}
	done := make(chan string, 1)
	go func() {
		_, out := g.exec(t, "busy", `{"command":"sleep 2; echo landed > after-prune; echo ok"}`)
		done <- out
	}()
	// The foreground call is running once its jail is listed by ps.
	if !eventually(10*time.Second, func() bool {
		r := runEnv(env, "", "ps", "--json")
		return strings.Contains(r.stdout, `"sessionId": "busy"`)
	}) {
		t.Fatal("the busy session's call did not start")
	}
	r := runEnv(env, "", "sessions", "prune", "--older-than", "0s")
	if r.code != 0 || !strings.Contains(r.stdout, "pruned 1 session(s)") {
		t.Fatalf("prune: %d %q %q", r.code, r.stdout, r.stderr)
	}
	list := runEnv(env, "", "sessions", "list").stdout
	if strings.Contains(list, "idle") || !strings.Contains(list, "busy") || !strings.Contains(list, "bgbusy") {
		t.Errorf("after prune, sessions: %q (want busy and bgbusy kept, idle gone)", list)
	}
	out := <-done
	if !strings.Contains(out, `"exitCode":0`) {
		t.Fatalf("the busy session's call: %s", out)
	}
	b, err := os.ReadFile(filepath.Join(g.state, "workspace", "busy", "after-prune"))
	if err != nil || string(b) != "landed\n" {
		t.Errorf("the busy session's file: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(g.state, "workspace", "bgbusy")); err != nil {
		t.Errorf("the background session's workspace: %v", err)
	}
}

// sessions list and prune work while the gateway runs (it holds the
// session store's lock: the CLI asks it), with the output of a stopped
// gateway; the version is on --version and, for a token holder, /health.
func TestAdminWhileGatewayRuns(t *testing.T) {
	g := startGateway(t, `{}`)
	env := g.env()
	if r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"true"},"sessionId":"admin-s1"}`); r.StatusCode != 200 {
		t.Fatalf("call: %d %s", r.StatusCode, out)
	}
	r := runEnv(env, "", "sessions", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "admin-s1") || !strings.Contains(r.stdout, "calls=1") {
		t.Fatalf("sessions list while running: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runEnv(env, "", "sessions", "prune", "--older-than", "0s"); r.code != 0 || !strings.Contains(r.stdout, "pruned 1 session(s) unused for 0s") {
		t.Fatalf("sessions prune while running: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runEnv(env, "", "sessions", "list"); r.code != 0 || strings.Contains(r.stdout, "admin-s1") {
		t.Errorf("pruned session still listed: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runEnv(env, "", "sessions", "prune", "--older-than", "soon"); r.code != 2 || !strings.Contains(r.stderr, `--older-than "soon"`) {
		t.Errorf("a bad --older-than: %d %q", r.code, r.stderr)
	}

	for _, bin := range []string{binary, gwBinary} {
		r := runEnv(env, "", "--version")
		if bin == gwBinary {
			r = runEnv(env, "", "gateway", "--version")
		}
		if r.code != 0 || !strings.Contains(r.stdout, " (commit ") || !strings.Contains(r.stdout, "runc helper: ") {
			t.Errorf("%s --version: %d %q %q", bin, r.code, r.stdout, r.stderr)
		}
	}
	health := func(token string) map[string]any {
		req, _ := http.NewRequest("GET", g.url+"/health", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	if m := health(""); m["status"] != "ok" || m["version"] != nil {
		t.Errorf("anonymous /health must not show the version: %v", m)
	}
	if m := health(g.token); m["status"] != "ok" || m["version"] == nil {
		t.Errorf("/health with the token should show the version: %v", m)
	}
}

// A gateway that cannot bind says why in logging.file too, not only on a
// stderr a service manager may drop.
func TestBindErrorInLogFile(t *testing.T) {
	workspace(t) // root check
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	state := t.TempDir()
	logFile := filepath.Join(state, "logs", "gw.log")
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(`{"logging": {"file": "`+logFile+`"}}`), 0o600)
	cmd := exec.Command(gwBinary, "start", "--foreground", "--listen", ln.Addr().String())
	cmd.Env = append(os.Environ(), "OPENCLAW_STATE_DIR="+state, "OPENCLAW_CONFIG_PATH="+filepath.Join(state, "openclaw.json"))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("a taken port: %v %s", err, out)
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "not started") || !strings.Contains(string(b), "address already in use") {
		t.Errorf("the log file should say why: %q", b)
	}
}

// ps lists a running jail with its call id, session, command, age, memory
// and CPU; kill ends it (and only a call of the registry).
func TestPsAndKill(t *testing.T) {
	ws := workspace(t)
	runDir := t.TempDir()
	env := append(os.Environ(), "OPENCLAW_RUN_DIR="+runDir, "OPENCLAW_STATE_DIR="+t.TempDir())
	cmd := exec.Command(binary, "--workspace", ws, "--session", "ps-test", "--timeout", "60s", "--", "sh", "-c", "sleep 60")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var id string
	if !eventually(10*time.Second, func() bool {
		r := runEnv(env, "", "ps", "--json")
		var list []map[string]any
		if json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 1 {
			return false
		}
		id, _ = list[0]["callId"].(string)
		return list[0]["sessionId"] == "ps-test" && list[0]["command"] == "sh -c sleep 60" &&
			(engine() == "runc" || list[0]["maxMemoryBytes"] != nil) // the runc engine's cgroup is libcontainer's
	}) {
		cmd.Process.Kill()
		t.Fatalf("ps did not list the call: %+v", runEnv(env, "", "ps"))
	}
	if r := runEnv(env, "", "ps"); !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "ps-test") || !strings.Contains(r.stdout, "MEMORY") {
		t.Errorf("ps table: %q", r.stdout)
	}
	if r := runEnv(env, "", "kill", "0123456789abcdef"); r.code != 1 || !strings.Contains(r.stderr, "no running call") {
		t.Errorf("kill of an unknown call: %d %q", r.code, r.stderr)
	}
	if r := runEnv(env, "", "kill", id); r.code != 0 {
		t.Fatalf("kill: %d %q", r.code, r.stderr)
	}
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || engine() != "runc" && ee.ExitCode() != 137 {
			t.Errorf("the killed call should exit 137 (SIGKILL): %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("kill did not end the call")
	}
	if r := runEnv(env, "", "ps", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("ps after the call ended: %q", r.stdout)
	}
}

// logging.level debug adds a line per call start and end, never the
// parameters or the output.
func TestDebugLogLines(t *testing.T) {
	state := t.TempDir()
	logFile := filepath.Join(state, "gw.log")
	g := startGateway(t, `{"logging": {"level": "debug", "file": "`+logFile+`"}}`)
	if r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"echo secret-output-42"},"sessionId":"dbg"}`); r.StatusCode != 200 {
		t.Fatalf("call: %d %s", r.StatusCode, out)
	}
	var b []byte
	if !eventually(5*time.Second, func() bool {
		b, _ = os.ReadFile(logFile)
		return strings.Contains(string(b), "call ended")
	}) {
		t.Fatalf("no debug line for the call:\n%s", b)
	}
	if !strings.Contains(string(b), `msg="call started"`) || !strings.Contains(string(b), "callId=") || strings.Contains(string(b), "secret-output-42") {
		t.Errorf("debug lines:\n%s", b)
	}
}

// A prune removes workspaces without holding up other sessions' calls: a
// large workspace takes long to remove, and a call of another session is
// answered meanwhile. A call of the session being pruned waits for the
// prune and runs in a fresh workspace (nothing of the old one left).
func TestPruneDoesNotStallOtherSessions(t *testing.T) {
	g := startGateway(t, `{}`)
	env := g.env()
	if code, out := g.exec(t, "big", `{"command":"echo old > old-file"}`); code != 200 || !strings.Contains(out, `"exitCode":0`) {
		t.Fatalf("big: %d %s", code, out)
	}
	// Kept by prune (a background process), so that its calls are not
	// the prune's.
	if code, out := g.exec(t, "other", `{"command":"sleep 30","background":true}`); code != 200 || !strings.Contains(out, "running") {
		t.Fatalf("other: %d %s", code, out)
	}
	// Many files: removing them takes long enough to see who waits.
	dir := filepath.Join(g.state, "workspace", "big", "many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60000; i++ {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	pruned := make(chan time.Time, 1)
	go func() {
		r := runEnv(env, "", "sessions", "prune", "--older-than", "0s")
		if r.code != 0 || !strings.Contains(r.stdout, "pruned 1 session(s)") {
			t.Errorf("prune: %d %q %q", r.code, r.stdout, r.stderr)
		}
		pruned <- time.Now()
	}()
	// The prune is under way once the big workspace begins to shrink.
	if !eventually(20*time.Second, func() bool {
		ents, err := os.ReadDir(dir)
		return err != nil || len(ents) < 60000
	}) {
		t.Fatal("the prune did not begin")
	}
	bigDone := make(chan string, 1)
	go func() {
		_, out := g.exec(t, "big", `{"command":"ls -A; echo new > new-file"}`)
		bigDone <- out
	}()
	code, out := g.exec(t, "other", `{"command":"echo other"}`)
	otherAnswered := time.Now()
	if code != 200 || !strings.Contains(out, `"exitCode":0`) {
		t.Fatalf("the other session's call: %d %s", code, out)
	}
	end := <-pruned
	if !otherAnswered.Before(end) {
		t.Errorf("the other session's call was answered %v after the prune ended: it waited for the prune", otherAnswered.Sub(end))
	}
	out = <-bigDone
	if !strings.Contains(out, `"exitCode":0`) || strings.Contains(out, "old-file") || strings.Contains(out, "many") {
		t.Errorf("the pruned session's call: %s (want it run in a fresh workspace)", out)
	}
	if b, err := os.ReadFile(filepath.Join(g.state, "workspace", "big", "new-file")); err != nil || string(b) != "new\n" {
		t.Errorf("the pruned session's new file: %q %v", b, err)
	}
}
