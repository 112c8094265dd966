package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
)

// Issue 20: what a token holder, a crafted parameter or a web page can
// do at the gateway's edge. These tests run no jail: they use the
// gateway's own tools (sessions_spawn, process on a planted process) and
// its refusals, which happen before any runner runs.

const opToken = "operator-token-0123456789"

// secServer is a gateway over a fresh state: config mutated by edit,
// named clients from its gateway.auth.clients, an audit log to read.
type secServer struct {
	*Server
	ts        *httptest.Server
	auditPath string
}

func newSecServer(t *testing.T, edit func(c *config.Config)) *secServer {
	t.Helper()
	dir := t.TempDir()
	c := config.Defaults()
	c.Tools.Profile = "coding"
	c.Sandbox.Workspace = filepath.Join(dir, "ws")
	os.Mkdir(c.Sandbox.Workspace, 0o755) // a configured root must exist (docs/config.md)
	c.Sandbox.Staging = "off"
	c.Tools.Exec.DenyCommands = []string{"rm"}
	zero := 0
	c.Gateway.Prewarm = &zero
	if edit != nil {
		edit(c)
	}
	known, err := profiles.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(filepath.Join(dir, "audit.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	clients, err := ResolveClients(c, func(string) (string, error) { return "", os.ErrNotExist })
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: c, Profiles: known, Token: opToken, Clients: clients, Store: NewMemoryStore(), Audit: alog,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RunnerOptions: func(p *profiles.Profile) (runner.Options, error) {
			o, err := setup.RunnerOptions(c, p)
			o.Audit = alog
			return o, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Shutdown() })
	return &secServer{Server: s, ts: ts, auditPath: filepath.Join(dir, "audit.jsonl")}
}

// do sends a request with a token ("" none) and a Host ("" the server's).
func (g *secServer) do(t *testing.T, method, path, token, host, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, g.ts.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// records reads the audit log (refusals aggregated within a second are
// flushed by Close: the tests read what was written at once).
func (g *secServer) records(t *testing.T) []audit.Record {
	t.Helper()
	f, err := os.Open(g.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// plant adds a background process to a session without a jail: its
// output is given, its stdin is a pipe the test reads.
func (g *secServer) plant(t *testing.T, session, command, output string) (*bgProc, *io.PipeReader) {
	t.Helper()
	pr, pw := io.Pipe()
	p := &bgProc{ID: "p-test" + session, Session: session, Command: command, Started: time.Now(), status: "running",
		changed: make(chan struct{}), done: make(chan struct{}), stdin: pw, cancel: func() {}}
	p.append([]byte(output))
	if _, err := g.procs.add(p); err != nil {
		t.Fatal(err)
	}
	return p, pr
}

// Item 1: a negative or overflowing offset or limit of the process log is
// a 400; so is every other out-of-range number of the process tool; no
// value ends the gateway.
func TestProcessParamsAreValidated(t *testing.T) {
	g := newSecServer(t, nil)
	g.plant(t, "s1", "cat", "a\nb\nc\n")
	for args, want := range map[string]int{
		`{"action":"log","processId":"p-tests1"}`:                                     200,
		`{"action":"log","processId":"p-tests1","offset":1,"limit":1}`:                200,
		`{"action":"log","processId":"p-tests1","offset":-1}`:                         400,
		`{"action":"log","processId":"p-tests1","limit":-5}`:                          400,
		`{"action":"log","processId":"p-tests1","offset":9223372036854775807}`:        400,
		`{"action":"log","processId":"p-tests1","offset":2,"limit":9223372036854775}`: 400,
		`{"action":"log","processId":"p-tests1","offset":1e300}`:                      400,
		`{"action":"poll","processId":"p-tests1","timeout":-1}`:                       400,
		`{"action":"poll","processId":"p-tests1","timeout":99999999999}`:              400,
		`{"action":"nonsense","processId":"p-tests1"}`:                                400,
	} {
		code, body := g.do(t, "POST", "/v1/tools/process", opToken, "", `{"sessionId":"s1","args":`+args+`}`)
		if code != want {
			t.Errorf("%s: %d %s, want %d", args, code, body, want)
		}
	}
	// exec's yieldMs is bounded too.
	code, body := g.do(t, "POST", "/v1/tools/exec", opToken, "", `{"args":{"command":"true","yieldMs":-5}}`)
	if code != 400 || !strings.Contains(body, "yieldMs") {
		t.Errorf("yieldMs -5: %d %s", code, body)
	}
	if code, _ := g.do(t, "GET", "/healthz", "", "", ""); code != 200 {
		t.Error("the gateway is gone")
	}
}

// FuzzProcessArgs: no argument of the process tool panics it (its
// goroutine is the MCP library's when the call comes over /mcp).
func FuzzProcessArgs(f *testing.F) {
	for _, s := range []string{`{"action":"log","offset":-1}`, `{"action":"log","offset":9223372036854775807,"limit":9223372036854775807}`,
		`{"action":"poll","timeout":-9}`, `{"action":"write","data":"rm -rf /\n","eof":true}`, `{"action":"list"}`, `{"action":"kill"}`,
		`{"action":"remove"}`, `{"action":"log","limit":1}`, `null`, `[]`, `{"action":"log","offset":"x"}`} {
		f.Add(s)
	}
	g := &secServer{}
	f.Fuzz(func(t *testing.T, args string) {
		if g.Server == nil {
			g = newSecServer(t, nil)
		}
		g.procs.mu.Lock()
		g.procs.procs = nil
		g.procs.mu.Unlock()
		p, pr := g.plant(t, "fz", "cat", "one\ntwo\n")
		go io.Copy(io.Discard, pr)
		// Ended: kill and poll do not wait for a goroutine a planted
		// process lacks.
		p.finish("exited", 0, "")
		var a map[string]any
		if json.Unmarshal([]byte(args), &a) == nil && a != nil {
			a["processId"] = p.ID
			b, _ := json.Marshal(a)
			args = string(b)
		}
		// The server outlives the first input's temporary directory: the
		// workspace root a configured gateway needs is made again.
		os.MkdirAll(g.cfg.Sandbox.Workspace, 0o755)
		ws, err := g.workspace("fz")
		if err != nil {
			t.Fatal(err)
		}
		rn, err := g.runner(g.o.Profiles["coding"], ws)
		if err != nil {
			t.Fatal(err)
		}
		// Without recovery: a panic fails the fuzz test.
		g.processAction(rn, "fz", json.RawMessage(args), map[string]any{}, func(check error) error { return check })
	})
}

// Item 1: a panic in a handler is a 500 for that request, in a call (the
// MCP tool handlers' entry) an error; the gateway goes on.
func TestPanicsAreRecovered(t *testing.T) {
	g := newSecServer(t, nil)
	h := g.edge(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal") {
		t.Errorf("handler panic: %d %s", rec.Code, rec.Body)
	}
	g.o.RunnerOptions = func(*profiles.Profile) (runner.Options, error) { panic("runner options") }
	var events []runner.Event
	err := g.Call(context.Background(), &Request{Tool: "read", Args: json.RawMessage(`{"path":"a"}`), SessionID: "p1"},
		func(e runner.Event) error { events = append(events, e); return nil })
	if err == nil {
		t.Fatalf("a panicking call returned no error; events %+v", events)
	}
	if code, _ := g.do(t, "GET", "/healthz", "", "", ""); code != 200 {
		t.Error("the gateway is gone")
	}
}

// Item 9: every route checks Host; a rebound name is refused (421), the
// gateway's own names and addresses, allowedHosts and a trusted proxy's
// requests pass.
func TestHostHeaderOnEveryRoute(t *testing.T) {
	g := newSecServer(t, func(c *config.Config) { c.Gateway.AllowedHosts = []string{"gw.internal", "*.corp.example"} })
	mcp := g.Guard("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	routes := []struct{ method, path, token string }{
		{"GET", "/health", ""}, {"GET", "/healthz", ""}, {"GET", "/readyz", ""}, {"GET", "/metrics", opToken},
		{"POST", "/v1/tools/sessions_spawn", opToken}, {"POST", "/tools/invoke", opToken}, {"GET", "/v1/ws", opToken},
		{"POST", "/v1/admin/reset", opToken}, {"GET", "/nosuch", ""},
	}
	for _, rt := range routes {
		for host, ok := range map[string]bool{"evil.example": false, "evil.example:18789": false, "127.0.0.1.nip.example": false,
			"127.0.0.1:18789": true, "localhost:18789": true, "[::1]:18789": true, "gw.internal": true, "a.corp.example:443": true, "a.b.corp.example": false} {
			code, body := g.do(t, rt.method, rt.path, rt.token, host, `{"args":{}}`)
			if (code == http.StatusMisdirectedRequest) == ok {
				t.Errorf("%s %s Host %s: %d %s", rt.method, rt.path, host, code, body)
			}
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "http://evil.example/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+opToken)
	mcp.ServeHTTP(rec, req)
	if rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("/mcp with Host evil.example: %d", rec.Code)
	}
	// Behind a trusted proxy, its server_name decides.
	p := newSecServer(t, func(c *config.Config) { c.Gateway.TrustedProxies = []string{"127.0.0.1"} })
	if code, _ := p.do(t, "GET", "/readyz", "", "openclaw.example.com", ""); code == http.StatusMisdirectedRequest {
		t.Error("a trusted proxy's Host refused")
	}
	found := false
	for _, r := range g.records(t) {
		if r.Action == audit.ActionRefusal && r.Code == "host_denied" {
			found = true
		}
	}
	if !found {
		t.Error("Host refusals are not audited")
	}
}

// Item 8: requests without a credential never lock anyone out; wrong
// tokens do, except from loopback with exemptLoopback; the admin reset
// ends a lockout and says what it cleared.
func TestLockoutIsNotADenialOfService(t *testing.T) {
	g := newSecServer(t, func(c *config.Config) { c.Gateway.AuthFailures = 3 })
	for i := 0; i < 20; i++ {
		if code, _ := g.do(t, "POST", "/v1/tools/sessions_spawn", "", "", `{}`); code != 401 {
			t.Fatalf("no token: %d", code)
		}
	}
	if code, body := g.do(t, "POST", "/v1/tools/sessions_spawn", opToken, "", `{}`); code != 200 {
		t.Fatalf("after 20 requests without a token, the right token gets %d %s", code, body)
	}
	for i := 0; i < 3; i++ {
		g.do(t, "POST", "/v1/tools/sessions_spawn", "wrong-token-0123456789", "", `{}`)
	}
	if code, _ := g.do(t, "POST", "/v1/tools/sessions_spawn", opToken, "", `{}`); code != 429 {
		t.Fatalf("3 wrong tokens did not lock the address: %d", code)
	}
	// The reset route is behind the lockout too: a locked operator resets
	// from another address, or with exemptLoopback; here the lockout
	// itself is cleared directly and the route tested after.
	g.o.Lockout.(Resetter).Reset()
	for i := 0; i < 3; i++ {
		g.do(t, "POST", "/v1/tools/sessions_spawn", "wrong-token-0123456789", "", `{}`)
	}
	g.cfg.Gateway.Auth.RateLimit.ExemptLoopback = true
	code, body := g.do(t, "POST", "/v1/admin/reset", opToken, "", "")
	if code != 200 {
		t.Fatalf("reset: %d %s", code, body)
	}
	var out map[string]any
	json.Unmarshal([]byte(body), &out)
	if out["lockoutsCleared"] != 1.0 || out["prewarmedExpired"] == nil || out["leftoversSwept"] == nil {
		t.Errorf("reset answered %s", body)
	}
	g.cfg.Gateway.Auth.RateLimit.ExemptLoopback = false
	if code, _ := g.do(t, "POST", "/v1/tools/sessions_spawn", opToken, "", `{}`); code != 200 {
		t.Errorf("after the reset: %d", code)
	}
	// exemptLoopback: wrong tokens from loopback never lock it.
	g.cfg.Gateway.Auth.RateLimit.ExemptLoopback = true
	for i := 0; i < 10; i++ {
		g.do(t, "POST", "/v1/tools/sessions_spawn", "wrong-token-0123456789", "", `{}`)
	}
	if code, _ := g.do(t, "POST", "/v1/tools/sessions_spawn", opToken, "", `{}`); code != 200 {
		t.Errorf("exemptLoopback: the right token gets %d", code)
	}
	// The unauthorized refusals are audited, aggregated.
	n, count := 0, 0
	for _, r := range g.records(t) {
		if r.Action == audit.ActionRefusal && r.Code == "unauthorized" {
			n++
			count += r.Count
		}
	}
	if n == 0 || n > 10 {
		t.Errorf("%d unauthorized refusal records (want some, aggregated)", n)
	}
}

// Items 3 and 5: named clients. Each uses only its sessions and its
// profiles; the operator's token every session and the configured
// profile; the audit record names the client; the admin route is the
// operator's.
func TestNamedClients(t *testing.T) {
	g := newSecServer(t, func(c *config.Config) {
		c.Gateway.Auth.Clients = []config.Client{
			{Name: "alice", Token: "alice-token-0123456789", Profiles: []string{"full"}},
			{Name: "ci", Token: "ci-token-0123456789ab", Sessions: "prefix", SessionPrefix: "ci-", Profiles: []string{"coding", "full"}},
		}
	})
	const alice, ci = "alice-token-0123456789", "ci-token-0123456789ab"
	code, body := g.do(t, "POST", "/v1/tools/sessions_spawn", alice, "", `{}`)
	var spawned struct {
		Output struct {
			SessionID string `json:"sessionId"`
		} `json:"output"`
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, "sessionId") {
			json.Unmarshal([]byte(line), &spawned)
		}
	}
	sid := spawned.Output.SessionID
	if code != 200 || sid == "" {
		t.Fatalf("alice spawns: %d %s", code, body)
	}
	g.plant(t, sid, "cat", "alice's output\n")
	list := `{"sessionId":"` + sid + `","args":{"action":"list"}}`
	for _, tc := range []struct {
		who, token, body string
		want             int
	}{
		{"alice, her session", alice, list, 200},
		{"ci, alice's session", ci, list, 403},
		{"operator, alice's session", opToken, list, 200},
		{"ci, outside its prefix", ci, `{"sessionId":"other","args":{"action":"list"}}`, 403},
		{"ci, its prefix", ci, `{"sessionId":"ci-7","args":{"action":"list"}}`, 200},
		{"ci, no session: its own default", ci, `{"args":{"action":"list"}}`, 200},
		{"alice, a profile not hers", alice, `{"sessionId":"` + sid + `","profile":"minimal","args":{"action":"list"}}`, 403},
		{"alice, the configured profile, not hers", alice, `{"sessionId":"` + sid + `","profile":"coding","args":{"action":"list"}}`, 403},
		{"ci, a listed profile", ci, `{"sessionId":"ci-7","profile":"full","args":{"action":"list"}}`, 200},
		{"operator, another profile", opToken, `{"sessionId":"x","profile":"full","args":{"action":"list"}}`, 403},
	} {
		code, body := g.do(t, "POST", "/v1/tools/process", tc.token, "", tc.body)
		if code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.who, code, body, tc.want)
		}
	}
	// A session another client created first stays its own.
	g.do(t, "POST", "/v1/tools/process", opToken, "", `{"sessionId":"shared","args":{"action":"list"}}`)
	if code, _ := g.do(t, "POST", "/v1/tools/process", alice, "", `{"sessionId":"shared","args":{"action":"list"}}`); code != 403 {
		t.Errorf("alice used the operator's session: %d", code)
	}
	// /tools/invoke and the WebSocket carry the client too.
	if code, body := g.do(t, "POST", "/tools/invoke", ci, "", `{"tool":"process","args":{"action":"list"},"sessionKey":"`+sid+`"}`); code != 403 {
		t.Errorf("ci through /tools/invoke on alice's session: %d %s", code, body)
	}
	// The WebSocket too: a session or a profile the client may not use is
	// refused in the call's answer.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(g.ts.URL, "http", "ws", 1)+"/v1/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + ci}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for id, params := range map[string]string{
		"other-session": `{"tool":"process","sessionId":"` + sid + `","args":{"action":"list"}}`,
		"other-profile": `{"tool":"process","sessionId":"ci-1","profile":"minimal","args":{"action":"list"}}`,
	} {
		if err := wsjson.Write(ctx, ws, Frame{Type: "req", ID: id, Method: "tools.call", Params: json.RawMessage(params)}); err != nil {
			t.Fatal(err)
		}
		var f Frame
		if err := wsjson.Read(ctx, ws, &f); err != nil {
			t.Fatal(err)
		}
		if f.OK == nil || *f.OK || !strings.Contains(fmt.Sprint(f.Error), "_denied") {
			t.Errorf("ws %s: %+v", id, f)
		}
	}
	if code, _ := g.do(t, "POST", "/v1/admin/reset", alice, "", ""); code != 403 {
		t.Errorf("alice reached the admin route: %d", code)
	}
	var named, refused bool
	for _, r := range g.records(t) {
		if r.Action == audit.ActionProcess && r.Client == "alice" && r.SessionID == sid {
			named = true
		}
		if r.Action == audit.ActionRefusal && r.Client == "ci" && r.Code == "session_denied" {
			refused = true
		}
	}
	if !named || !refused {
		t.Errorf("audit: a process record naming alice %v, ci's session refusal %v", named, refused)
	}
}

// Item 6: every process action is audited; data written to a process
// that runs its input as commands is checked by the exec policy (a
// denied command is refused, and never reaches the process), and is
// redacted in the record like a parameter.
func TestProcessWritesAreCheckedAndAudited(t *testing.T) {
	g := newSecServer(t, nil)
	_, shIn := g.plant(t, "w", "sh", "")
	got := make(chan string, 4)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := shIn.Read(b)
			if err != nil {
				return
			}
			got <- string(b[:n])
		}
	}()
	write := func(data string) (int, string) {
		b, _ := json.Marshal(map[string]any{"sessionId": "w", "args": map[string]any{"action": "write", "processId": "p-testw", "data": data}})
		return g.do(t, "POST", "/v1/tools/process", opToken, "", string(b))
	}
	if code, body := write("rm -rf /workspace/victim\n"); code != 403 || !strings.Contains(body, "rm") {
		t.Errorf("rm written to sh: %d %s", code, body)
	}
	if code, body := write("ls\n"); code != 200 {
		t.Errorf("ls written to sh: %d %s", code, body)
	}
	select {
	case d := <-got:
		if d != "ls\n" {
			t.Errorf("the process read %q", d)
		}
	case <-time.After(10 * time.Second):
		t.Error("the allowed write never reached the process")
	}
	// xargs sh -c, the same.
	_, xIn := g.plant(t, "x", "xargs sh -c", "")
	go io.Copy(io.Discard, xIn)
	b, _ := json.Marshal(map[string]any{"sessionId": "x", "args": map[string]any{"action": "write", "processId": "p-testx", "data": "'rm -rf /'\n"}})
	if code, body := g.do(t, "POST", "/v1/tools/process", opToken, "", string(b)); code != 403 {
		t.Errorf("rm written to xargs sh -c: %d %s", code, body)
	}
	g.do(t, "POST", "/v1/tools/process", opToken, "", `{"sessionId":"w","args":{"action":"poll","processId":"p-testw"}}`)
	g.do(t, "POST", "/v1/tools/process", opToken, "", `{"sessionId":"w","args":{"action":"log","processId":"p-testw"}}`)
	actions := map[string]string{}
	for _, r := range g.records(t) {
		if r.Action == audit.ActionProcess {
			a, _ := r.Parameters["action"].(string)
			data, _ := r.Parameters["data"].(string)
			actions[a+":"+data] = r.Decision
		}
	}
	for _, want := range []string{"write:rm -rf /workspace/victim\n=deny", "write:ls\n=allow", "poll:=allow", "log:=allow"} {
		k, d, _ := strings.Cut(want, "=")
		if actions[k] != d {
			t.Errorf("audit of %q: %q (have %v)", k, actions[k], actions)
		}
	}
}

// Item 7: background processes are bounded per session and in total;
// the next one is refused with a clear error; finished ones expire.
func TestBackgroundProcessesAreBounded(t *testing.T) {
	defer func(a, b int, k time.Duration) { procsPerSession, procsTotal, keepFinished = a, b, k }(procsPerSession, procsTotal, keepFinished)
	procsPerSession, procsTotal = 3, 5
	g := newSecServer(t, nil)
	var ps []*bgProc
	for i := 0; i < 3; i++ {
		p := &bgProc{ID: "p-a" + string(rune('0'+i)), Session: "a", status: "running", changed: make(chan struct{}), done: make(chan struct{})}
		if _, err := g.procs.add(p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	_, err := g.procs.add(&bgProc{ID: "p-a9", Session: "a", status: "running"})
	if code, msg := ErrorCode(err); code != "too_many_processes" || !strings.Contains(msg, "session") {
		t.Fatalf("a 4th process in a session: %v", err)
	}
	for i := 0; i < 2; i++ {
		if _, err := g.procs.add(&bgProc{ID: "p-b" + string(rune('0'+i)), Session: "b", status: "running"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = g.procs.add(&bgProc{ID: "p-c0", Session: "c", status: "running"})
	if code, msg := ErrorCode(err); code != "too_many_processes" || !strings.Contains(msg, "gateway") {
		t.Fatalf("a process beyond the total: %s %s", code, msg)
	}
	// A finished one expires after keepFinished: then there is room.
	ps[0].finish("exited", 0, "")
	if _, err := g.procs.add(&bgProc{ID: "p-c1", Session: "c", status: "running"}); err == nil {
		t.Fatal("a finished process not yet expired made room")
	}
	keepFinished = 0
	if gone, err := g.procs.add(&bgProc{ID: "p-c2", Session: "c", status: "running"}); err != nil || len(gone) != 1 {
		t.Fatalf("an expired process still counts: %v (expired %d)", err, len(gone))
	}
}

// Item 13: the gateway's own refusals are audited with their reason:
// channel, invalid session id, a tool the profile lacks, origin.
func TestGatewayRefusalsAreAudited(t *testing.T) {
	g := newSecServer(t, func(c *config.Config) { c.Tools.Profile = "minimal" })
	g.do(t, "POST", "/v1/tools/exec", opToken, "", `{"channel":"slack","args":{"command":"ls"}}`)
	g.do(t, "POST", "/v1/tools/exec", opToken, "", `{"sessionId":"../etc","args":{"command":"ls"}}`)
	g.do(t, "POST", "/v1/tools/process", opToken, "", `{"sessionId":"m","args":{"action":"list"}}`)
	req, _ := http.NewRequest("POST", g.ts.URL+"/v1/tools/exec", bytes.NewReader([]byte(`{"args":{"command":"ls"}}`)))
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Authorization", "Bearer "+opToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	codes := map[string]bool{}
	for _, r := range g.records(t) {
		if r.Action == audit.ActionRefusal && r.Decision == "deny" && r.Reason != "" {
			codes[r.Code] = true
		}
	}
	for _, want := range []string{"channel_denied", "invalid_params", "policy_denied", "origin_denied"} {
		if !codes[want] {
			t.Errorf("no refusal record with code %s (have %v)", want, codes)
		}
	}
}

// Items 5 and 8: a request that names its client (X-OpenClaw-Client) has
// a lockout of its own: guesses at one client's token, or anonymous ones,
// do not lock out another client at the same address; a made-up name
// counts with the anonymous guesses; the token must be the named client's.
func TestPerClientLockout(t *testing.T) {
	g := newSecServer(t, func(c *config.Config) {
		c.Gateway.AuthFailures = 3
		c.Gateway.Auth.Clients = []config.Client{{Name: "alice", Token: "alice-token-0123456789"}, {Name: "bob", Token: "bob-token-0123456789ab"}}
	})
	send := func(name, token string) int {
		req, _ := http.NewRequest("POST", g.ts.URL+"/v1/tools/sessions_spawn", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+token)
		if name != "" {
			req.Header.Set(ClientHeader, name)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// bob's token claimed as alice's is a wrong one, counted for alice.
	if code := send("alice", "bob-token-0123456789ab"); code != 401 {
		t.Errorf("bob's token named alice: %d", code)
	}
	for i := 0; i < 2; i++ {
		send("alice", "guess-0123456789abcdef")
	}
	for who, want := range map[[2]string]int{
		{"alice", "alice-token-0123456789"}: 429, // alice is locked out here
		{"bob", "bob-token-0123456789ab"}:   200,
		{"", opToken}:                       200,
		{"", "alice-token-0123456789"}:      200, // not naming herself: the anonymous counter
	} {
		if code := send(who[0], who[1]); code != want {
			t.Errorf("%q after 3 failures for alice: %d, want %d", who[0], code, want)
		}
	}
	// Anonymous guesses, and guesses under a made-up name, lock the
	// anonymous counter only.
	send("", "guess-0123456789abcdef")
	send("mallory", "guess-0123456789abcdef")
	send("nobody", "guess-0123456789abcdef")
	for who, want := range map[[2]string]int{
		{"", opToken}:                       429,
		{"mallory", opToken}:                429,
		{"operator", opToken}:               200,
		{"bob", "bob-token-0123456789ab"}:   200,
		{"alice", "alice-token-0123456789"}: 429,
	} {
		if code := send(who[0], who[1]); code != want {
			t.Errorf("%q after anonymous guesses: %d, want %d", who[0], code, want)
		}
	}
}
