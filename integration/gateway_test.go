//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/openclaw-run/openclaw-run/cgroups"
)

type gw struct {
	url, token, state string
	cmd               *exec.Cmd
	log               *bytes.Buffer
}

// startGateway runs openclaw-gateway on a free loopback port with cfg as
// openclaw.json and its own state dir.
func startGateway(t *testing.T, cfg string) *gw {
	t.Helper()
	return startGatewayEnv(t, cfg)
}

// startGatewayEnv is startGateway with extra environment (a shared token).
func startGatewayEnv(t *testing.T, cfg string, env ...string) *gw {
	t.Helper()
	workspace(t) // root check
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	state := t.TempDir()
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(cfg), 0o600)
	g := &gw{url: "http://" + addr, state: state, log: &bytes.Buffer{}}
	g.cmd = exec.Command(gwBinary, "start", "--foreground", "--listen", addr, "--drain", "3s")
	g.cmd.Env = append(append(os.Environ(), "OPENCLAW_STATE_DIR="+state, "OPENCLAW_CONFIG_PATH="+filepath.Join(state, "openclaw.json")), env...)
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { g.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			g.cmd.Process.Kill()
		}
	})
	if !eventually(10*time.Second, func() bool {
		r, err := http.Get(g.url + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == 200
	}) {
		t.Fatalf("gateway did not start:\n%s", g.log)
	}
	b, _ := os.ReadFile(filepath.Join(state, "gateway.token"))
	g.token = strings.TrimSpace(string(b))
	for _, kv := range env {
		if t, ok := strings.CutPrefix(kv, "OPENCLAW_GATEWAY_TOKEN="); ok {
			g.token = t
		}
	}
	return g
}

// env is the environment of a CLI command that works on g's state (its
// state directory and openclaw.json).
func (g *gw) env() []string {
	return append(os.Environ(), "OPENCLAW_STATE_DIR="+g.state, "OPENCLAW_CONFIG_PATH="+filepath.Join(g.state, "openclaw.json"))
}

// exec posts an exec call of session with args (a JSON object) and
// returns the status and the NDJSON.
func (g *gw) exec(t *testing.T, session, args string) (int, string) {
	t.Helper()
	r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"sessionId":"`+session+`","args":`+args+`}`)
	return r.StatusCode, out
}

func (g *gw) post(t *testing.T, path, token, origin, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestGatewayAuthOriginsAndBadInput(t *testing.T) {
	g := startGateway(t, `{"gateway": {"allowOrigins": ["http://192.168.1.*"], "authFailures": 3, "lockoutSeconds": 60}}`)
	body := `{"args":{"command":"echo ok"}}`
	if r, _ := g.post(t, "/v1/tools/exec", "", "", body); r.StatusCode != 401 {
		t.Errorf("missing token: %d", r.StatusCode)
	}
	if r, _ := g.post(t, "/v1/tools/exec", g.token, "", body); r.StatusCode != 200 {
		t.Errorf("right token: %d", r.StatusCode)
	}
	if r, out := g.post(t, "/v1/tools/exec", g.token, "http://192.168.1.20", body); r.StatusCode != 200 || !strings.Contains(out, `"data":"ok\n"`) {
		t.Errorf("allowed origin: %d %s", r.StatusCode, out)
	}
	if r, _ := g.post(t, "/v1/tools/exec", g.token, "http://evil.example", body); r.StatusCode != 403 {
		t.Errorf("denied origin: %d", r.StatusCode)
	}
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/v1/tools/exec", strings.Repeat("x", 9<<20), 413},
		{"/v1/tools/exec", `{"args":`, 400},
		{"/v1/tools/exec", `{"args":{},"bogus":true}`, 400},
		{"/v1/tools/frobnicate", `{"args":{}}`, 404},
		{"/v1/tools/exec", `{"args":{"command":"ls","nope":1}}`, 400},
		{"/v1/tools/read", `{"args":{"path":"missing"}}`, 404},
	} {
		if r, out := g.post(t, c.path, g.token, "", c.body); r.StatusCode != c.status || !strings.Contains(out, "message") {
			t.Errorf("%s %.40s: %d %.200s, want %d", c.path, c.body, r.StatusCode, out, c.status)
		}
	}
	// Lockout: three wrong tokens lock the address, even the right token.
	for i := 0; i < 3; i++ {
		g.post(t, "/v1/tools/exec", "wrong-token", "", body)
	}
	if r, _ := g.post(t, "/v1/tools/exec", g.token, "", body); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Errorf("after 3 failures: %d, want 429 with Retry-After", r.StatusCode)
	}
	// Health needs no token; metrics do.
	if r, err := http.Get(g.url + "/health"); err != nil || r.StatusCode != 200 {
		t.Errorf("/health: %v", err)
	}
	if r, err := http.Get(g.url + "/metrics"); err != nil || r.StatusCode != 401 && r.StatusCode != 429 {
		t.Errorf("/metrics without a token: %v %d", err, r.StatusCode)
	}
}

func TestGatewayChannelsMetricsAndIsolation(t *testing.T) {
	g := startGateway(t, `{"channels": {"feishu": {"enabled": true, "mode": "allowlist", "allowlist": ["chat_ok"]}}}`)
	if r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"true"},"channel":"feishu","chatId":"chat_evil"}`); r.StatusCode != 403 || !strings.Contains(out, "allowlist") {
		t.Errorf("feishu chat not on the allowlist: %d %s", r.StatusCode, out)
	}
	if r, _ := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"true"},"channel":"feishu","chatId":"chat_ok"}`); r.StatusCode != 200 {
		t.Errorf("allowed feishu chat: %d", r.StatusCode)
	}
	if r, _ := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"true"},"channel":"slack"}`); r.StatusCode != 403 {
		t.Errorf("unknown channel: %d", r.StatusCode)
	}
	// A jailed command cannot reach the gateway's port: it has its own
	// network namespace.
	port := g.url[strings.LastIndex(g.url, ":")+1:]
	_, out := g.post(t, "/v1/tools/exec", g.token, "", fmt.Sprintf(`{"args":{"command":"python3 -c \"import socket; s=socket.socket(); s.settimeout(2); s.connect(('127.0.0.1', %s)); print('REACHED')\" 2>&1 | tail -1"}}`, port))
	if strings.Contains(out, "REACHED") || !strings.Contains(out, "refused") {
		t.Errorf("jail reached the gateway: %s", out)
	}
	req, _ := http.NewRequest("GET", g.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`openclaw_tool_calls_total{status="ok",tool="exec"} 2`, `openclaw_requests_total{code="403",route="/v1/tools"} 2`,
		"openclaw_call_duration_seconds_bucket", "openclaw_jail_setup_seconds_count", "openclaw_sessions 1"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestGatewayConcurrentStreams: 50 concurrent streaming calls, each gets
// exactly its own output, in order.
func TestGatewayConcurrentStreams(t *testing.T) {
	g := startGateway(t, `{"gateway": {"maxConcurrent": 8, "maxQueue": 100}}`)
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"args":{"command":"for n in 1 2 3 4 5; do echo call%d-$n; done"},"sessionId":"s%d"}`, i, i%5)
			req, _ := http.NewRequest("POST", g.url+"/v1/tools/exec", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+g.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var got strings.Builder
			sc := bufio.NewScanner(resp.Body)
			last := ""
			for sc.Scan() {
				var e struct{ Type, Data string }
				json.Unmarshal(sc.Bytes(), &e)
				if e.Type == "stdout" {
					got.WriteString(e.Data)
				}
				last = e.Type
				if e.Type == "error" || e.Type == "result" {
					last = sc.Text() // the whole event says why
				}
			}
			want := ""
			for n := 1; n <= 5; n++ {
				want += fmt.Sprintf("call%d-%d\n", i, n)
			}
			if got.String() != want || !strings.Contains(last, `"type":"result"`) {
				errs <- fmt.Sprintf("call %d got %q (last %s)", i, got.String(), last)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestGatewayDisconnectKillsJail: a client that goes away takes its jail
// with it.
func TestGatewayDisconnectKillsJail(t *testing.T) {
	// No pre-warming: the only cgroup of this gateway is the call's.
	g := startGateway(t, `{"gateway": {"prewarm": 0}}`)
	marker := fmt.Sprintf("1000.%d", time.Now().UnixNano()%100000+11)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", g.url+"/v1/tools/exec", strings.NewReader(`{"args":{"command":"echo started; sleep `+marker+`"}}`))
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(resp.Body).ReadString('\n') // start event
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) > 0 }) {
		t.Fatal("jailed sleep never started")
	}
	bases, _ := cgroups.Bases()
	gwCgroups := func() []string {
		var out []string
		for _, b := range bases {
			m, _ := filepath.Glob(filepath.Join(b, fmt.Sprint(g.cmd.Process.Pid)+"-*"))
			out = append(out, m...)
		}
		return out
	}
	if len(gwCgroups()) == 0 {
		t.Error("the running call has no cgroup")
	}
	cancel()
	resp.Body.Close()
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
		t.Errorf("the jail outlived its client: %v", hostProcs("sleep "+marker))
	}
	if !eventually(5*time.Second, func() bool { return len(gwCgroups()) == 0 }) {
		t.Errorf("the call's cgroup outlived its client: %v", gwCgroups())
	}
}

// TestGatewayLifecycle: start in the background, status, the call client,
// sessions list and prune, stop; and a non-loopback host without a token
// does not start.
func TestGatewayLifecycle(t *testing.T) {
	workspace(t)
	state := t.TempDir()
	env := append(os.Environ(), "OPENCLAW_STATE_DIR="+state, "OPENCLAW_GATEWAY_TOKEN=")
	// openclaw-run hands these to openclaw-gateway.
	gwRun := func(args ...string) run { return runEnv(env, "", args...) }
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(`{"gateway": {"host": "0.0.0.0"}}`), 0o600)
	if r := gwRun("gateway", "start", "--foreground"); r.code == 0 || !strings.Contains(r.stderr, "authToken") {
		t.Errorf("a non-loopback gateway without a token started: %+v", r)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(fmt.Sprintf(`{"gateway": {"port": %d}}`, port)), 0o600)
	if r := gwRun("gateway", "start"); r.code != 0 {
		t.Fatalf("background start: %+v", r)
	}
	defer gwRun("gateway", "stop")
	if r := gwRun("gateway", "status"); r.code != 0 || !strings.Contains(r.stdout, "running") {
		t.Errorf("status: %+v", r)
	}
	if r := gwRun("call", "--session", "life", "exec", "--command", "echo from-call; exit 4"); r.code != 4 || r.stdout != "from-call\n" {
		t.Errorf("call: %+v", r)
	}
	if r := gwRun("gateway", "stop"); r.code != 0 {
		t.Errorf("stop: %+v", r)
	}
	if r := gwRun("gateway", "status"); r.code != 3 {
		t.Errorf("status after stop: %+v", r)
	}
	if r := gwRun("sessions", "list"); !strings.Contains(r.stdout, "life") {
		t.Errorf("sessions list: %+v", r)
	}
	ws := filepath.Join(state, "workspace", "life")
	if _, err := os.Stat(ws); err != nil {
		t.Fatalf("session workspace: %v", err)
	}
	if r := gwRun("sessions", "prune", "--older-than", "0s"); r.code != 0 || !strings.Contains(r.stdout, "pruned 1") {
		t.Errorf("prune: %+v", r)
	}
	if _, err := os.Stat(ws); !os.IsNotExist(err) {
		t.Errorf("pruned session's workspace still there")
	}
	if r := gwRun("audit", "verify"); r.code != 0 {
		t.Errorf("audit after prune: %+v", r)
	}
}

// TestGatewaySIGTERMDrains: SIGTERM lets a running call finish within the
// drain deadline, refuses new connections, and leaves no jail behind.
func TestGatewaySIGTERMDrains(t *testing.T) {
	g := startGateway(t, `{}`)
	done := make(chan string, 1)
	go func() {
		_, out := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"sleep 1; echo finished # drain-marker"}}`)
		done <- out
	}()
	// The call is running: its jail's shell is on the host.
	eventually(5*time.Second, func() bool { return len(hostProcs("drain-marker")) > 0 })
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case out := <-done:
		if !strings.Contains(out, "finished") || !strings.Contains(out, `"type":"result"`) {
			t.Errorf("the running call did not drain: %s", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("drain hung")
	}
	g.cmd.Wait()
	if _, err := http.Get(g.url + "/healthz"); err == nil {
		t.Error("still accepting after SIGTERM")
	}
}

// TestGatewayWebSocketAndInvoke: tools.call streams events and a result;
// tools.cancel kills a call; /tools/invoke returns the final result.
func TestGatewayWebSocketAndInvoke(t *testing.T) {
	g := startGateway(t, `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(g.url, "http", "ws", 1)+"/v1/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + g.token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	wsjson.Write(ctx, c, map[string]any{"type": "req", "id": "a", "method": "tools.call", "params": map[string]any{"tool": "exec", "args": map[string]any{"command": "echo via-ws"}}})
	wsjson.Write(ctx, c, map[string]any{"type": "req", "id": "b", "method": "tools.call", "params": map[string]any{"tool": "exec", "args": map[string]any{"command": "sleep 30; echo # ws-cancel-marker"}}})
	eventually(5*time.Second, func() bool { return len(hostProcs("ws-cancel-marker")) > 0 })
	wsjson.Write(ctx, c, map[string]any{"type": "req", "id": "c", "method": "tools.cancel", "params": map[string]any{"id": "b"}})
	res := map[string]map[string]any{}
	sawData := false
	for len(res) < 3 {
		var f map[string]any
		if err := wsjson.Read(ctx, c, &f); err != nil {
			t.Fatalf("read: %v (got %v)", err, res)
		}
		if f["type"] == "event" {
			if p, _ := f["payload"].(map[string]any); p["data"] == "via-ws\n" {
				sawData = true
			}
		}
		if f["type"] == "res" {
			res[f["id"].(string)] = f
		}
	}
	if res["a"]["ok"] != true || !sawData {
		t.Errorf("call a: %v (data seen %v)", res["a"], sawData)
	}
	// The canceled call ends with its result: canceled, killed.
	bp, _ := res["b"]["payload"].(map[string]any)
	br, _ := bp["result"].(map[string]any)
	if br["canceled"] != true || br["signal"] != "SIGKILL" || res["c"]["ok"] != true {
		t.Errorf("cancel: b %v, c %v", res["b"], res["c"])
	}
	r, out := g.post(t, "/tools/invoke", g.token, "", `{"tool":"exec","args":{"command":"echo invoked"},"sessionKey":"k1"}`)
	if r.StatusCode != 200 || !strings.Contains(out, `"stdout":"invoked\n"`) || !strings.Contains(out, `"ok":true`) {
		t.Errorf("/tools/invoke: %d %s", r.StatusCode, out)
	}
	if r, out := g.post(t, "/v1/tools/sessions_spawn", g.token, "", `{"args":{}}`); r.StatusCode != 200 || !strings.Contains(out, `"sessionId":"s-`) {
		t.Errorf("sessions_spawn: %d %s", r.StatusCode, out)
	}
}

// TestGatewayBackgroundProcess: exec in the background returns a process
// at once; the process tool polls it, writes to its stdin and kills it.
func TestGatewayBackgroundProcess(t *testing.T) {
	g := startGateway(t, `{}`)
	marker := fmt.Sprintf("1000.%d", time.Now().UnixNano()%100000+21)
	call := func(tool, args string) map[string]any { t.Helper(); return bgCall(t, g, tool, args) }
	p := call("exec", `{"command":"echo ready; read line; echo got:$line; sleep `+marker+`","background":true}`)
	id, _ := p["processId"].(string)
	if p["status"] != "running" || id == "" {
		t.Fatalf("background exec: %v", p)
	}
	if l := call("process", `{"action":"list"}`); !strings.Contains(fmt.Sprint(l), id) {
		t.Errorf("list: %v", l)
	}
	call("process", `{"action":"write","processId":"`+id+`","data":"hello\n"}`)
	var seen string
	eventually(10*time.Second, func() bool {
		o := call("process", `{"action":"poll","processId":"`+id+`","timeout":1000}`)
		seen += fmt.Sprint(o["output"])
		return strings.Contains(seen, "got:hello")
	})
	if !strings.Contains(seen, "ready") || !strings.Contains(seen, "got:hello") {
		t.Fatalf("poll never showed the output: %q", seen)
	}
	if lg := call("process", `{"action":"log","processId":"`+id+`"}`); !strings.Contains(fmt.Sprint(lg["log"]), "got:hello") {
		t.Errorf("log: %v", lg)
	}
	// Another session cannot see or touch it.
	if r, _ := g.post(t, "/v1/tools/process", g.token, "", `{"sessionId":"other","args":{"action":"kill","processId":"`+id+`"}}`); r.StatusCode != 404 {
		t.Errorf("another session reached the process: %d", r.StatusCode)
	}
	k := call("process", `{"action":"kill","processId":"`+id+`"}`)
	if k["status"] != "killed" {
		t.Errorf("kill: %v", k)
	}
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
		t.Errorf("the killed process's jail is still there")
	}
	// yieldMs: a quick command finishes within the yield and answers at once.
	if y := call("exec", `{"command":"echo quick","yieldMs":5000}`); y["status"] != "exited" || !strings.Contains(fmt.Sprint(y["output"]), "quick") {
		t.Errorf("yieldMs: %v", y)
	}
}
