//go:build integration && openclaw

// The real OpenClaw (the npm openclaw package, pinned in the Makefile) runs
// its own built-in tools in our jails through the plugin in
// integrations/openclaw, driven by the scripted mock model in
// integrations/openclaw/test/mock-llm.mjs: embedded agent turns
// (`openclaw agent --local`) and turns through `openclaw gateway run`.
//
//	make openclaw-check      (installs Node and OpenClaw into /var/cache/openclaw-run)
//	OPENCLAW_BENCH=1 make openclaw-check   (adds the speed comparison)
//
// What the agent reads back from inside the jail is checked in its final
// reply (the mock quotes every tool result); what happened outside is read
// from the workspace, /proc and our audit log.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
)

// The marker set in OpenClaw's own environment: it must never reach a jail.
const ocHostMarker = "OPENCLAW_RUN_TEST_HOST_MARKER"

// step is one tool call of a mock script.
type step struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
}

// ocSuite is what every scenario shares: OpenClaw, node and the mock model.
type ocSuite struct {
	node, openclaw string // binaries
	pluginDir      string
	scripts        string // the mock's script directory
	mockURL        string
	mockLog        string
	// compileCache is Node's compile cache for OpenClaw, shared by every
	// turn (and kept between runs by make openclaw-check): without it,
	// each turn compiles OpenClaw's modules again.
	compileCache string
}

func TestOpenClaw(t *testing.T) {
	testutil.RequireRoot(t)
	s := startOpenClawSuite(t)
	leftovers := snapshotOpenClawTmp()
	t.Cleanup(func() { leftovers.cleanup(t) })

	// The gateway takes tens of seconds to start: it starts first and the
	// embedded turns run meanwhile.
	gw := s.newHome(t, "gateway", s.pluginConfig(t, nil))
	gwProc := gw.startGateway(t)

	t.Run("Embedded", func(t *testing.T) { s.embedded(t) })
	// Two OpenClaws whose plugin cannot reach a jail, side by side.
	t.Run("FailClosed", func(t *testing.T) {
		t.Run("WrongPluginConfig", func(t *testing.T) {
			t.Parallel()
			s.failClosed(t, map[string]any{"binary": binary, "extraArgs": []any{"--profile", "full"}},
				"openclaw-run sandbox: invalid plugin config (plugins.entries.openclaw-run.config): extraArgs[0]")
		})
		t.Run("MissingBinary", func(t *testing.T) {
			t.Parallel()
			s.failClosed(t, map[string]any{"binary": "/nonexistent/openclaw-run"},
				"openclaw-run sandbox: the openclaw-run binary /nonexistent/openclaw-run does not exist or is not executable")
		})
	})
	t.Run("SharedConfigKeys", func(t *testing.T) { s.sharedConfigKeys(t) })
	t.Run("Gateway", func(t *testing.T) { s.throughGateway(t, gw, gwProc) })
	t.Run("ThroughOpenclawRunGateway", func(t *testing.T) { s.throughOurGateway(t) })
	if os.Getenv("OPENCLAW_BENCH") == "1" {
		t.Run("Bench", func(t *testing.T) { s.bench(t) })
	}
}

// startOpenClawSuite finds node and OpenClaw (installed by make
// openclaw-check) and starts the mock model on loopback.
func startOpenClawSuite(t *testing.T) *ocSuite {
	t.Helper()
	s := &ocSuite{node: os.Getenv("OPENCLAW_NODE"), openclaw: os.Getenv("OPENCLAW_CLI"), compileCache: os.Getenv("OPENCLAW_COMPILE_CACHE")}
	if s.node == "" || s.openclaw == "" {
		t.Fatal("OPENCLAW_NODE and OPENCLAW_CLI are not set: run `make openclaw-check`, which installs Node and OpenClaw and sets them")
	}
	if s.compileCache == "" {
		s.compileCache = t.TempDir()
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	s.pluginDir = filepath.Join(repo, "integrations", "openclaw")
	dir := t.TempDir()
	s.scripts = filepath.Join(dir, "scripts")
	s.mockLog = filepath.Join(dir, "mock.jsonl")
	if err := os.Mkdir(s.scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	mock := exec.Command(s.node, filepath.Join(s.pluginDir, "test", "mock-llm.mjs"))
	mock.Env = append(os.Environ(), "MOCK_SCRIPTS="+s.scripts, "MOCK_LOG="+s.mockLog, "MOCK_PORT=0")
	out, err := mock.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	mock.Stderr = os.Stderr
	if err := mock.Start(); err != nil {
		t.Fatalf("start the mock model: %v", err)
	}
	t.Cleanup(func() { mock.Process.Kill(); mock.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	var hello struct{ Port int }
	if err != nil || json.Unmarshal([]byte(line), &hello) != nil || hello.Port == 0 {
		t.Fatalf("the mock model did not say its port: %q %v", line, err)
	}
	s.mockURL = fmt.Sprintf("http://127.0.0.1:%d/v1", hello.Port)
	return s
}

// script writes a mock script and returns the message that selects it.
func (s *ocSuite) script(t *testing.T, name string, steps []step) string {
	t.Helper()
	b, err := json.MarshalIndent(steps, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.scripts, name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "script:" + name
}

// pluginConfig is the plugin's config: our binary, and a state dir of the
// test's own (so that the audit log is the test's).
func (s *ocSuite) pluginConfig(t *testing.T, extra map[string]any) map[string]any {
	c := map[string]any{"binary": binary, "stateDir": t.TempDir()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// ocHome is one isolated OpenClaw installation: home, state, config,
// workspace (owned by jailUID, so jail root maps to it).
type ocHome struct {
	s                      *ocSuite
	dir, state, config, ws string
	runState, trace, logs  string
	gatewayPort            int
	gatewayToken           string
	pluginCfg              map[string]any
	sandboxOff             bool
}

func (s *ocSuite) newHome(t *testing.T, name string, pluginCfg map[string]any) *ocHome {
	t.Helper()
	dir := t.TempDir()
	h := &ocHome{s: s, dir: dir, state: filepath.Join(dir, "home", ".openclaw"), ws: filepath.Join(dir, "ws"),
		trace: filepath.Join(dir, "plugin-trace.jsonl"), logs: filepath.Join(dir, "logs"), pluginCfg: pluginCfg,
		gatewayToken: "test-token-" + name + "-0123456789abcdef"}
	h.config = filepath.Join(h.state, "openclaw.json")
	if sd, ok := pluginCfg["stateDir"].(string); ok {
		h.runState = sd
	}
	for _, d := range []string{h.state, h.ws, h.logs, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(h.ws, jailUID, jailUID); err != nil {
		t.Fatal(err)
	}
	h.gatewayPort = freePort(t)
	h.writeConfig(t)
	return h
}

// writeConfig writes the OpenClaw user's openclaw.json, which openclaw-run
// reads too (OPENCLAW_CONFIG_PATH): the shared config.
func (h *ocHome) writeConfig(t *testing.T) {
	t.Helper()
	sandbox := map[string]any{"mode": "all", "backend": "openclaw-run", "scope": "session", "workspaceAccess": "rw"}
	if h.sandboxOff {
		sandbox = map[string]any{"mode": "off"}
	}
	cfg := map[string]any{
		"gateway": map[string]any{"mode": "local", "port": h.gatewayPort, "bind": "loopback",
			"auth": map[string]any{"mode": "token", "token": h.gatewayToken}},
		"agents": map[string]any{"defaults": map[string]any{
			"workspace": h.ws, "model": map[string]any{"primary": "mock/scripted"}, "sandbox": sandbox}},
		"models": map[string]any{"mode": "merge", "providers": map[string]any{"mock": map[string]any{
			"baseUrl": h.s.mockURL, "apiKey": "sk-mock", "api": "openai-completions",
			"models": []any{map[string]any{"id": "scripted", "name": "Scripted mock", "reasoning": false, "input": []any{"text"},
				"cost":          map[string]any{"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
				"contextWindow": 120000, "maxTokens": 8192}}}}},
		"plugins": map[string]any{"load": map[string]any{"paths": []any{h.s.pluginDir}},
			"entries": map[string]any{"openclaw-run": map[string]any{"enabled": true, "config": h.pluginCfg}}},
		"tools":   map[string]any{"profile": "coding"},
		"logging": map[string]any{"file": filepath.Join(h.logs, "openclaw.log")},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(h.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// env is OpenClaw's environment: its own home, state and config, a
// private TMPDIR, node on PATH, the plugin trace, and the host marker.
func (h *ocHome) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "TMPDIR", "PATH", "NODE_COMPILE_CACHE", "OPENCLAW_STATE_DIR", "OPENCLAW_CONFIG_PATH", "OPENCLAW_RUN_STATE_DIR", "OPENCLAW_RUN_CONFIG", "OPENCLAW_GATEWAY_TOKEN":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+filepath.Join(h.dir, "home"), "TMPDIR="+filepath.Join(h.dir, "tmp"),
		"PATH="+filepath.Dir(h.s.node)+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"NODE_COMPILE_CACHE="+h.s.compileCache, "OPENCLAW_STATE_DIR="+h.state, "OPENCLAW_CONFIG_PATH="+h.config,
		"OPENCLAW_RUN_PLUGIN_TRACE="+h.trace, ocHostMarker+"=host-marker-7f3a9c")
}

// turn runs one agent turn of script (embedded, or through the running
// gateway) and returns the tool results the mock quoted in its final reply.
func (h *ocHome) turn(t *testing.T, session, message string, viaGateway bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"agent", "--session-id", session, "--message", message, "--json"}
	if !viaGateway {
		args = append([]string{"agent", "--local"}, args[1:]...)
	}
	cmd := exec.CommandContext(ctx, h.s.openclaw, args...)
	cmd.Env = h.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	end := time.Now()
	// Where a turn's time goes: OpenClaw's start (to the first model
	// request), the tool calls (to the final request), and its finish.
	var first, last int64
	readJSONL(t, h.s.mockLog, func(b []byte) {
		var e struct {
			T      int64
			Script string
		}
		if json.Unmarshal(b, &e) == nil && "script:"+e.Script == message && e.T >= start.UnixMilli() {
			if first == 0 {
				first = e.T
			}
			last = e.T
		}
	})
	t.Logf("agent turn %s (%s) took %s: start %s, tool calls %s, finish %s", session, message, end.Sub(start).Round(time.Millisecond),
		time.Duration(first-start.UnixMilli())*time.Millisecond, time.Duration(last-first)*time.Millisecond, time.Duration(end.UnixMilli()-last)*time.Millisecond)
	if err != nil {
		t.Fatalf("openclaw agent: %v\nstderr: %s\nstdout: %.2000s", err, tail(errb.String(), 3000), out.String())
	}
	// The reply's payloads: at the top embedded, under "result" through a
	// gateway; the final text is found wherever it is.
	var reply any
	if err := json.Unmarshal(out.Bytes(), &reply); err != nil {
		t.Fatalf("openclaw agent --json: %v: %.2000s", err, out.String())
	}
	if final, ok := findFinal(reply); ok {
		return splitResults(final)
	}
	t.Fatalf("no final reply from the mock model: %.3000s\nstderr: %s", out.String(), tail(errb.String(), 3000))
	return nil
}

// findFinal returns the first "text" string starting with FINAL.
func findFinal(v any) (string, bool) {
	switch v := v.(type) {
	case map[string]any:
		if s, ok := v["text"].(string); ok && strings.HasPrefix(s, "FINAL\n") {
			return s, true
		}
		for _, k := range sortedMapKeys(v) {
			if s, ok := findFinal(v[k]); ok {
				return s, true
			}
		}
	case []any:
		for _, e := range v {
			if s, ok := findFinal(e); ok {
				return s, true
			}
		}
	}
	return "", false
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var resultHeader = regexp.MustCompile(`(?m)^--- tool result (\d+) ---(?:\n|$)`)

// splitResults cuts the mock's final reply into the tool results, in order.
func splitResults(final string) []string {
	idx := resultHeader.FindAllStringIndex(final, -1)
	out := make([]string, len(idx))
	for i, loc := range idx {
		end := len(final)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		out[i] = strings.TrimSuffix(final[loc[1]:end], "\n")
	}
	return out
}

// The embedded turn: OpenClaw's built-in tools through our backend, the
// posture from inside, escapes, and the books kept outside.
func (s *ocSuite) embedded(t *testing.T) {
	h := s.newHome(t, "embedded", s.pluginConfig(t, nil))
	if err := os.MkdirAll(filepath.Join(h.ws, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(filepath.Join(h.ws, "sub"), jailUID, jailUID)
	// A symlink planted in the workspace, pointing at the host's /etc.
	if err := os.Symlink("/etc", filepath.Join(h.ws, "etc-link")); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(h.dir, "escaped.txt") // ../escaped.txt from the workspace
	steps := []step{
		/* 0 */ {"exec", map[string]any{"command": `grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; echo "UIDMAP $(cat /proc/self/uid_map)"; ` +
			`echo "PIDS $(ls /proc | grep -c '^[0-9]')"; for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline; echo; done | sed 's/^/PROC /'; ` +
			`echo "PWD=$(pwd)"; test -e /etc/shadow && echo SHADOW-VISIBLE || echo SHADOW-ABSENT; echo "MARKER=${` + ocHostMarker + `:-absent}"`}},
		/* 1 */ {"exec", map[string]any{"command": `echo "WD=$(pwd)"; echo "V=$OCR_TEST_VAR"`, "workdir": "/workspace/sub", "env": map[string]any{"OCR_TEST_VAR": "from-openclaw"}}},
		/* 2 */ {"write", map[string]any{"path": "notes/a.txt", "content": "alpha\nbeta\n"}},
		/* 3 */ {"edit", map[string]any{"path": "notes/a.txt", "oldText": "beta", "newText": "gamma"}},
		/* 4 */ {"read", map[string]any{"path": "notes/a.txt"}},
		/* 5 */ {"apply_patch", map[string]any{"input": "*** Begin Patch\n*** Add File: patched.txt\n+patched line\n*** End Patch"}},
		/* 6 */ {"exec", map[string]any{"command": "echo started; sleep 31; echo NEVER-PRINTED", "timeoutSeconds": 2}},
		/* 7 */ {"exec", map[string]any{"command": "test -t 0 && test -t 1 && echo TTY-YES; tty", "pty": true}},
		/* 8 */ {"exec", map[string]any{"command": "echo bg-started; sleep 61", "background": true}},
		/* 9 */ {"process", map[string]any{"action": "poll", "sessionId": "$SESSION_ID", "timeout": 2000}},
		/* 10 */ {"process", map[string]any{"action": "kill", "sessionId": "$SESSION_ID"}},
		/* 11 */ {"exec", map[string]any{"command": "cat /etc/shadow; echo rc=$?"}},
		/* 12 */ {"exec", map[string]any{"command": "tr '\\0' '\\n' < /proc/1/environ | grep -c " + ocHostMarker + "; cat /proc/1/cmdline | tr '\\0' ' '"}},
		/* 13 */ {"write", map[string]any{"path": "../escaped.txt", "content": "out of the workspace\n"}},
		/* 14 */ {"read", map[string]any{"path": "etc-link/shadow"}},
		/* 15 */ {"write", map[string]any{"path": "etc-link/openclaw-run-escape", "content": "x\n"}},
		/* 16 */ {"ls", map[string]any{"path": "."}},
	}
	msg := s.script(t, "embedded", steps)
	res := h.turn(t, "embedded", msg, false)
	if len(res) != len(steps) {
		t.Fatalf("%d tool results for %d steps:\n%s", len(res), len(steps), strings.Join(res, "\n---\n"))
	}
	lat := s.stepLatencies(t, "embedded")
	for i, r := range res {
		took := time.Duration(0)
		if i < len(lat) {
			took = lat[i]
		}
		t.Logf("tool result %d (%s, %s): %.600s", i, steps[i].Name, took, r)
	}
	// Inside the jail.
	posture := res[0]
	for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2", "CapEff:\t0000000000000000", "PWD=/workspace", "SHADOW-ABSENT", "MARKER=absent"} {
		if !strings.Contains(posture, want) {
			t.Errorf("posture: no %q in\n%s", want, posture)
		}
	}
	if m := regexp.MustCompile(`UIDMAP\s+0\s+(\d+)\s+1`).FindStringSubmatch(posture); m == nil || m[1] == "0" {
		t.Errorf("uid_map: jail root must map to a non-root host uid:\n%s", posture)
	}
	// The jail's own: its init, the shell, and what the shell runs.
	if m := regexp.MustCompile(`PIDS (\d+)`).FindStringSubmatch(posture); m == nil || atoi(m[1]) > 6 {
		t.Errorf("host processes visible from the jail:\n%s", posture)
	}
	if strings.Contains(posture, "PROC node") || strings.Contains(posture, "openclaw-gateway") || strings.Contains(posture, "systemd") {
		t.Errorf("a host process in the jail's /proc:\n%s", posture)
	}
	mustContain(t, "workdir and env", res[1], "WD=/workspace/sub", "V=from-openclaw")
	mustContain(t, "read back", res[4], "alpha", "gamma")
	mustContain(t, "timeout", res[6], "started")
	if strings.Contains(res[6], "NEVER-PRINTED") || !regexp.MustCompile(`(?i)time(d)? ?out`).MatchString(res[6]) {
		t.Errorf("exec with timeoutSeconds 2 did not time out: %s", res[6])
	}
	// OpenClaw 2026.9.6 never asks a sandbox backend for a pty
	// (bash-tools: `usePty = params.pty === true && !sandbox`): the command
	// runs without one. Should a later OpenClaw ask, the jail's own pty
	// must show.
	if h.tracedTTY(t) {
		mustContain(t, "pty", res[7], "TTY-YES", "/dev/pts/")
	} else {
		mustContain(t, "pty: true, which OpenClaw does not pass to sandboxes", res[7], "not a tty")
		t.Log("OpenClaw asked for no pty for exec with pty: true (its sandboxed exec never does)")
	}
	mustContain(t, "background", res[8], "Command still running")
	mustContain(t, "process poll", res[9], "bg-started")
	mustContain(t, "cat /etc/shadow", res[11], "No such file")
	if !strings.HasPrefix(strings.TrimSpace(res[12]), "0") {
		t.Errorf("the host's environment in the jail's /proc/1/environ: %s", res[12])
	}
	for i, what := range map[int]string{13: "write ../", 14: "read through a symlink to /etc", 15: "write through a symlink to /etc"} {
		if !regexp.MustCompile(`(?i)error|escape|outside|not found|no such|denied|read-only`).MatchString(res[i]) {
			t.Errorf("%s was not refused: %s", what, res[i])
		}
	}
	mustContain(t, "ls", res[16], "notes", "patched.txt")

	// Outside the jail.
	mustFile(t, filepath.Join(h.ws, "notes", "a.txt"), "alpha\ngamma\n", jailUID)
	mustFile(t, filepath.Join(h.ws, "patched.txt"), "patched line\n", jailUID)
	for _, p := range []string{escape, "/etc/openclaw-run-escape"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists: a write escaped the workspace", p)
		}
	}
	noneLeftRunning(t, h.ws, "sleep 61", "sleep 31")
	s.checkBooks(t, h, "agent:main:explicit:embedded")
}

// failClosed: with a plugin that cannot reach a jail, the agent sees our
// message and nothing runs on the host.
func (s *ocSuite) failClosed(t *testing.T, pluginCfg map[string]any, want string) {
	h := s.newHome(t, "fail", pluginCfg)
	hostFile := filepath.Join(h.dir, "ran-on-the-host")
	msg := s.script(t, strings.ReplaceAll(t.Name(), "/", "-"), []step{
		{"exec", map[string]any{"command": "touch " + hostFile + "; echo RAN"}},
		{"read", map[string]any{"path": "anything.txt"}},
	})
	res := h.turn(t, "fail", msg, false)
	if len(res) != 2 {
		t.Fatalf("want 2 tool results, got %q", res)
	}
	for i, r := range res {
		if !strings.Contains(r, want) {
			t.Errorf("tool result %d does not name the cause %q:\n%s", i, want, r)
		}
		if strings.Contains(r, "RAN") && !strings.Contains(r, "echo RAN") {
			t.Errorf("the command ran: %s", r)
		}
	}
	if _, err := os.Stat(hostFile); err == nil {
		t.Errorf("the command ran on the host (%s exists)", hostFile)
	}
}

// throughGateway: the same backend under `openclaw gateway run`.
func (s *ocSuite) throughGateway(t *testing.T, h *ocHome, proc *exec.Cmd) {
	h.waitHealthy(t, proc)
	msg := s.script(t, "gateway", []step{
		{"exec", map[string]any{"command": `grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; echo "UIDMAP $(cat /proc/self/uid_map)"; echo "MARKER=${` + ocHostMarker + `:-absent}"`}},
		{"write", map[string]any{"path": "gw.txt", "content": "through the gateway\n"}},
		{"read", map[string]any{"path": "gw.txt"}},
	})
	res := h.turn(t, "gw", msg, true)
	if len(res) != 3 {
		t.Fatalf("want 3 tool results, got %q", res)
	}
	mustContain(t, "posture", res[0], "NoNewPrivs:\t1", "Seccomp:\t2", "MARKER=absent")
	mustContain(t, "read back", res[2], "through the gateway")
	mustFile(t, filepath.Join(h.ws, "gw.txt"), "through the gateway\n", jailUID)
	noneLeftRunning(t, h.ws)
	s.checkBooks(t, h, "agent:main:explicit:gw")
}

// throughOurGateway: the plugin's gateway mode, with an openclaw-run
// gateway of its own on loopback (pre-warmed jails, its own audit log).
func (s *ocSuite) throughOurGateway(t *testing.T) {
	state := t.TempDir()
	ws := filepath.Join(state, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(ws, jailUID, jailUID)
	port := freePort(t)
	token := "our-gateway-token-0123456789abcdef"
	tokenFile := filepath.Join(state, "token")
	os.WriteFile(tokenFile, []byte(token), 0o600)
	gwCfg := filepath.Join(state, "openclaw-run.json")
	os.WriteFile(gwCfg, []byte(fmt.Sprintf(`{"gateway": {"port": %d}, "sandbox": {"workspace": %q, "perSession": false}}`, port, ws)), 0o600)
	gw := exec.Command(gwBinary, "start", "--foreground")
	gw.Env = append(os.Environ(), "OPENCLAW_RUN_STATE_DIR="+state, "OPENCLAW_STATE_DIR="+state, "OPENCLAW_RUN_CONFIG="+gwCfg,
		"OPENCLAW_CONFIG_PATH="+gwCfg, "OPENCLAW_GATEWAY_TOKEN="+token)
	gw.Stdout, gw.Stderr = os.Stderr, os.Stderr
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Process.Signal(os.Interrupt); gw.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	if !eventually(20*time.Second, func() bool {
		r, err := http.Get(url + "/healthz")
		return err == nil && r.Body.Close() == nil && r.StatusCode == 200
	}) {
		t.Fatal("the openclaw-run gateway did not become healthy")
	}
	h := s.newHome(t, "ours", map[string]any{"binary": binary, "gateway": map[string]any{"url": url, "tokenFile": tokenFile}})
	h.ws = ws
	h.writeConfig(t)
	msg := s.script(t, "ours", []step{
		{"exec", map[string]any{"command": `grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; echo "MARKER=${` + ocHostMarker + `:-absent}"`}},
		{"write", map[string]any{"path": "ours.txt", "content": "through our gateway\n"}},
		{"read", map[string]any{"path": "ours.txt"}},
	})
	res := h.turn(t, "ours", msg, false)
	if len(res) != 3 {
		t.Fatalf("want 3 tool results, got %q", res)
	}
	mustContain(t, "posture", res[0], "NoNewPrivs:\t1", "Seccomp:\t2", "MARKER=absent")
	mustContain(t, "read back", res[2], "through our gateway")
	mustFile(t, filepath.Join(ws, "ours.txt"), "through our gateway\n", jailUID)
	h.runState = state
	s.checkBooks(t, h, "agent:main:explicit:ours")
}

// tracedTTY reports whether the plugin was ever asked for a pty.
func (h *ocHome) tracedTTY(t *testing.T) bool {
	tty := false
	readJSONL(t, h.trace, func(b []byte) {
		var c struct{ TTY bool }
		if json.Unmarshal(b, &c) == nil && c.TTY {
			tty = true
		}
	})
	return tty
}

// checkBooks: our audit log has exactly one record per openclaw-run call
// the plugin made (the plugin's trace), each carrying OpenClaw's session
// key: an OpenClaw file operation cost exactly one jail.
func (s *ocSuite) checkBooks(t *testing.T, h *ocHome, sessionKey string) {
	t.Helper()
	type traced struct{ Kind, Tool, Session string }
	var calls []traced
	readJSONL(t, h.trace, func(b []byte) {
		var c traced
		if json.Unmarshal(b, &c) == nil {
			calls = append(calls, c)
		}
	})
	if len(calls) == 0 {
		t.Fatal("the plugin made no openclaw-run call")
	}
	type record struct {
		CallID, SessionID, Tool, Action string
	}
	byCall := map[string][]record{}
	readJSONL(t, filepath.Join(h.runState, "audit", "audit.jsonl"), func(b []byte) {
		var r record
		if json.Unmarshal(b, &r) == nil && r.CallID != "" {
			byCall[r.CallID] = append(byCall[r.CallID], r)
		}
	})
	want, got := map[string]int{}, map[string]int{}
	for _, c := range calls {
		if c.Session != sessionKey {
			t.Errorf("plugin call with session %q, want %q", c.Session, sessionKey)
		}
		tool := c.Tool
		if c.Kind != "tool" {
			tool = "exec"
		}
		want[tool]++
	}
	for id, recs := range byCall {
		r := recs[len(recs)-1]
		if r.SessionID != sessionKey {
			t.Errorf("audit record %s carries session %q, want OpenClaw's %q", id, r.SessionID, sessionKey)
		}
		got[r.Tool]++
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("openclaw-run calls by tool: the plugin made %v, the audit log has %v (one record, one jail, per call)", want, got)
	}
	t.Logf("openclaw-run calls (one jail each): %v", want)
}

// startGateway starts `openclaw gateway run` on loopback with token auth.
func (h *ocHome) startGateway(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(h.s.openclaw, "gateway", "run", "--port", fmt.Sprint(h.gatewayPort), "--bind", "loopback")
	cmd.Env = h.env()
	logf, err := os.Create(filepath.Join(h.logs, "gateway.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("openclaw gateway run: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	return cmd
}

// waitHealthy waits for the gateway's /health (it takes tens of seconds).
func (h *ocHome) waitHealthy(t *testing.T, proc *exec.Cmd) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/health", h.gatewayPort)
	start := time.Now()
	healthy := eventually(4*time.Minute, func() bool {
		if proc.ProcessState != nil {
			return true // exited: fail below
		}
		r, err := http.Get(url)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	if !healthy || proc.ProcessState != nil {
		out, _ := os.ReadFile(filepath.Join(h.logs, "gateway.out"))
		t.Fatalf("openclaw gateway did not become healthy: %s", tail(string(out), 3000))
	}
	t.Logf("openclaw gateway healthy after %s", time.Since(start).Round(time.Second))
}

// noneLeftRunning: after a turn, no openclaw-run process of this
// workspace and no jailed process named by markers is left.
func noneLeftRunning(t *testing.T, ws string, markers ...string) {
	t.Helper()
	var left []string
	gone := eventually(15*time.Second, func() bool {
		left = nil
		for _, m := range append([]string{ws}, markers...) {
			left = append(left, procsWith(m)...)
		}
		return len(left) == 0
	})
	if !gone {
		t.Errorf("left running after the turn: %v", left)
	}
}

// procsWith lists the processes whose command line contains s.
func procsWith(s string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	self := fmt.Sprint(os.Getpid())
	for _, e := range entries {
		if e.Name() == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		line := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(line, s) {
			out = append(out, e.Name()+": "+line)
		}
	}
	return out
}

// tmpLeftovers remembers whether OpenClaw's hard-coded /tmp/openclaw and
// /tmp/openclaw-state-locks-UID existed before the suite: those it made,
// and only those, are removed afterwards.
type tmpLeftovers map[string]bool

func snapshotOpenClawTmp() tmpLeftovers {
	l := tmpLeftovers{}
	for _, p := range []string{"/tmp/openclaw", fmt.Sprintf("/tmp/openclaw-state-locks-%d", os.Getuid())} {
		_, err := os.Lstat(p)
		l[p] = err == nil
	}
	return l
}

func (l tmpLeftovers) cleanup(t *testing.T) {
	for p, existed := range l {
		if !existed {
			if err := os.RemoveAll(p); err != nil {
				t.Errorf("remove %s: %v", p, err)
			}
		}
	}
}

func readJSONL(t *testing.T, path string, each func([]byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			each(line)
		}
	}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: no %q in:\n%s", what, w, got)
		}
	}
}

func mustFile(t *testing.T, path, content string, uid int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != content {
		t.Errorf("%s: %q, %v; want %q", path, b, err, content)
		return
	}
	// Jail root maps to the workspace owner: that is who owns the file.
	if st, err := os.Stat(path); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != uid {
		t.Errorf("%s: not owned by uid %d (jail root's host uid): %v", path, uid, err)
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// sharedConfigKeys: OpenClaw's config schema is closed, so a file both
// read may hold only keys OpenClaw accepts. openclaw-run's "config
// validate" warns about exactly the keys the real OpenClaw refuses: none
// in the suite's shared config, sandbox and gateway.auth.clients once
// they are added.
func (s *ocSuite) sharedConfigKeys(t *testing.T) {
	h := s.newHome(t, "keys", s.pluginConfig(t, nil))
	validate := func() (theirs, ours run) {
		cmd := exec.Command(s.openclaw, "config", "validate")
		cmd.Env = h.env()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		theirs = run{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
		if err != nil && cmd.ProcessState == nil {
			t.Fatalf("openclaw config validate: %v", err)
		}
		return theirs, runEnv(h.env(), "", "config", "validate")
	}
	theirs, ours := validate()
	if theirs.code != 0 || ours.code != 0 || strings.Contains(ours.stdout, "warning") {
		t.Fatalf("the shared config: OpenClaw %+v; openclaw-run %+v", theirs, ours)
	}
	b, _ := os.ReadFile(h.config)
	var cfg map[string]any
	json.Unmarshal(b, &cfg)
	cfg["sandbox"] = map[string]any{"staging": "auto"}
	cfg["gateway"].(map[string]any)["auth"].(map[string]any)["clients"] = []any{map[string]any{"name": "ci", "tokenFile": "/etc/ci.token"}}
	b, _ = json.Marshal(cfg)
	os.WriteFile(h.config, b, 0o600)
	theirs, ours = validate()
	both := theirs.stdout + theirs.stderr
	if theirs.code == 0 || !strings.Contains(both, `"sandbox"`) || !strings.Contains(both, `"clients"`) {
		t.Errorf("OpenClaw should refuse sandbox and gateway.auth.clients: %+v", theirs)
	}
	if ours.code != 0 || strings.Count(ours.stdout, "warning") != 2 ||
		!strings.Contains(ours.stdout, "warning: sandbox: ") || !strings.Contains(ours.stdout, "warning: gateway.auth.clients: ") {
		t.Errorf("openclaw-run config validate should warn about exactly those keys: %+v", ours)
	}
}
