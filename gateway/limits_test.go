package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/egress"
	"github.com/openclaw-run/openclaw-run/runner"
)

// A request that names a key twice or in another case, at any depth, is
// a 400 naming the key: the decoder is strict, and what the audit log
// shows is what ran.
func TestDecodeRequestKeys(t *testing.T) {
	for body, want := range map[string]string{
		`{"args":{"command":"ls"},"sessionId":"a","sessionId":"b"}`: `duplicate key "sessionId"`,
		`{"args":{"command":"ls"},"SessionId":"a"}`:                 `key "SessionId"`,
		`{"ARGS":{"command":"ls"}}`:                                 `key "ARGS"`,
		`{"args":{"command":"ls","command":"rm -rf ."}}`:            `duplicate key "args.command"`,
	} {
		_, err := DecodeRequest(strings.NewReader(body), 1<<20)
		he, ok := err.(*httpError)
		if !ok || he.status != http.StatusBadRequest || !strings.Contains(he.message, want) {
			t.Errorf("%s: %v, want a 400 with %q", body, err, want)
		}
	}
}

// Every number the gateway reads itself is range-checked before anything
// runs: yieldMs and background of exec, timeout, offset and limit of the
// process tool.
func TestGatewayNumbersRangeChecked(t *testing.T) {
	s := &Server{cfg: config.Defaults()}
	for _, args := range []string{
		`{"command":"true","yieldMs":9223372036854775807}`,
		`{"command":"true","yieldMs":-9223372036854775808}`,
		`{"command":"true","yieldMs":-1}`,
		`{"command":"true","yieldMs":1.5}`,
		`{"command":"true","yieldMs":"10"}`,
		`{"command":"true","yieldMs":600001}`,
		`{"command":"true","background":"yes"}`,
		`{"command":"true","background":true,"background":false}`,
	} {
		_, handled, err := s.gatewayTool(&Request{Tool: "exec", Args: json.RawMessage(args)})
		he, ok := err.(*httpError)
		if !handled || !ok || he.status != http.StatusBadRequest {
			t.Errorf("%s: handled %v, %v; want a 400", args, handled, err)
		}
	}
	for _, args := range []string{
		`{"action":"poll","processId":"p","timeout":-1}`,
		`{"action":"poll","processId":"p","timeout":30001}`,
		`{"action":"poll","processId":"p","timeout":1e300}`,
		`{"action":"log","processId":"p","offset":-1}`,
		`{"action":"log","processId":"p","limit":-5}`,
		`{"action":"poll","processId":"p","processId":"q"}`,
		`{"action":"poll","ProcessId":"p"}`,
	} {
		_, err := s.processAction(nil, "default", json.RawMessage(args), paramsOf(json.RawMessage(args)), func(e error) error { return e })
		he, ok := err.(*httpError)
		if !ok || he.status != http.StatusBadRequest {
			t.Errorf("%s: %v; want a 400", args, err)
		}
	}
	if _, err := backgroundArgsOf(`{"yieldMs":600000}`); err != nil {
		t.Errorf("yieldMs 600000: %v", err)
	}
}

func backgroundArgsOf(s string) (bool, error) {
	var m map[string]any
	json.Unmarshal([]byte(s), &m)
	bg, _, _, err := backgroundArgs(m)
	return bg, err
}

// An overloaded gateway answers 429 with Retry-After at once, before it
// reads the body or touches a session; each refusal is counted, and the
// audit log holds them aggregated: fewer records than refusals, whose
// counts add up to all of them. The queue and its limits are in /metrics.
func TestOverloadRefusalsCheapAuditedAggregated(t *testing.T) {
	dir := t.TempDir()
	alog, err := audit.Open(filepath.Join(dir, "audit.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Gateway.MaxConcurrent, cfg.Gateway.MaxQueue = 1, 1
	store := &countingStore{Store: NewMemoryStore()}
	s, err := New(Options{Config: cfg, Token: "secret-token-123456", Store: store, Audit: alog})
	if err != nil {
		t.Fatal(err)
	}
	for len(s.queue) < cap(s.queue) { // a running call and a waiting one
		s.queue <- struct{}{}
	}
	// A refusal waits overloadDelay before it is sent, so that a client
	// retrying at once cannot spin.
	post := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "http://127.0.0.1/v1/tools/exec", strings.NewReader(`{"args":{"command":"true"},"sessionId":"s1"}`))
		r.Header.Set("Authorization", "Bearer secret-token-123456")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	t0 := time.Now()
	if w := post(); w.Code != http.StatusTooManyRequests || time.Since(t0) < overloadDelay {
		t.Errorf("a refusal: %d after %s, want 429 after at least %s", w.Code, time.Since(t0), overloadDelay)
	}
	defer func(d time.Duration) { overloadDelay = d }(overloadDelay)
	overloadDelay = 0
	const n = 200
	for i := 1; i < n; i++ {
		w := post()
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "overloaded") {
			t.Fatalf("refusal %d: %d Retry-After %q %s", i, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	if store.touches.Load() != 0 {
		t.Errorf("refused calls touched the session store %d times", store.touches.Load())
	}
	if err := alog.Close(); err != nil {
		t.Fatal(err)
	}
	recs, total := 0, 0
	b, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r audit.Record
		if json.Unmarshal([]byte(line), &r) != nil || r.Action != audit.ActionRefusal {
			continue
		}
		if r.Code != "overloaded" || r.Decision != "deny" {
			t.Errorf("refusal record: %s", line)
		}
		recs++
		total += r.Count
	}
	if total != n || recs >= n/10 {
		t.Errorf("%d records standing for %d refusals; want all %d in far fewer records", recs, total, n)
	}
	mw := httptest.NewRecorder()
	mr := httptest.NewRequest("GET", "http://127.0.0.1/metrics", nil)
	mr.Header.Set("Authorization", "Bearer secret-token-123456")
	s.Handler().ServeHTTP(mw, mr)
	for _, want := range []string{
		`openclaw_denials_total{reason="overload"} 200`,
		"openclaw_max_concurrent_calls 1", "openclaw_max_queued_calls 1", "openclaw_queued_calls 0",
		`openclaw_tool_calls_total{status="exit_nonzero",tool="exec"} 0`,
	} {
		if !strings.Contains(mw.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A call whose command exits non-zero ran, but is not counted as ok.
func TestExitNonzeroCountedApart(t *testing.T) {
	s := &Server{metrics: newMetrics(1, 1)}
	s.observe("exec", runner.Event{Type: "result", Result: &runner.Result{ExitCode: 3}}, time.Now())
	s.observe("exec", runner.Event{Type: "result", Result: &runner.Result{Egress: egress.Report{Allowed: 2, Refused: 1, RefusedBy: map[string]int{"not_allowed": 1}, BytesUp: 10, BytesDown: 300}}}, time.Now())
	w := httptest.NewRecorder()
	s.metrics.handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`openclaw_tool_calls_total{status="exit_nonzero",tool="exec"} 1`, `openclaw_tool_calls_total{status="ok",tool="exec"} 1`,
		`openclaw_egress_connections_total{decision="allowed"} 2`, `openclaw_egress_connections_total{decision="refused"} 1`,
		`openclaw_egress_bytes_total{direction="down"} 300`, `openclaw_egress_refusals_total{reason="not_allowed"} 1`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

type countingStore struct {
	Store
	touches atomic.Int64
}

func (c *countingStore) Touch(s Session) (*Session, error) {
	c.touches.Add(1)
	return c.Store.Touch(s)
}
