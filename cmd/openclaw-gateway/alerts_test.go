package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
)

// TestAuditAlertsWebhook: findings are printed, posted to the configured
// webhook, and with --cursor reported once.
func TestAuditAlertsWebhook(t *testing.T) {
	state := t.TempDir()
	t.Setenv("OPENCLAW_STATE_DIR", state)
	t.Setenv("OPENCLAW_CONFIG_PATH", filepath.Join(state, "openclaw.json"))
	var posts []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		posts = append(posts, m)
	}))
	defer hook.Close()
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(`{"alerts": {"webhook": "`+hook.URL+`", "failures": 2}}`), 0o600)
	os.MkdirAll(filepath.Join(state, "audit"), 0o700)
	l, err := audit.Open(filepath.Join(state, "audit", "audit.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := 0; i < 2; i++ {
		l.Append(audit.Record{Timestamp: now, SessionID: "s", Tool: "exec", Action: "tool_call", Decision: "allow", Result: &audit.Outcome{ExitCode: 2}})
	}
	l.Append(audit.Record{Timestamp: now, SessionID: "s", Tool: "exec", Action: "denial", Decision: "deny", Reason: "denyCommands: curl"})

	cursor := filepath.Join(state, "alerts.cursor")
	var out, errb bytes.Buffer
	if code := dispatch([]string{"audit", "alerts", "--cursor", cursor}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1 (findings): %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"repeated_failures", "denials", "denyCommands: curl", "posted 2 finding(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if len(posts) != 1 || !strings.Contains(posts[0]["text"].(string), "denials session:s") || len(posts[0]["findings"].([]any)) != 2 {
		t.Fatalf("webhook got %v", posts)
	}
	out.Reset()
	if code := dispatch([]string{"audit", "alerts", "--cursor", cursor}, &out, &errb); code != 0 || len(posts) != 1 {
		t.Fatalf("second run with the cursor: exit %d, %d posts:\n%s", code, len(posts), out.String())
	}
	// A webhook that fails is an error, and the cursor stays put.
	os.Remove(cursor)
	hook.Close()
	errb.Reset()
	if code := dispatch([]string{"audit", "alerts", "--cursor", cursor}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "webhook") {
		t.Fatalf("unreachable webhook: exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(cursor); err == nil {
		b, _ := os.ReadFile(cursor)
		t.Errorf("the cursor advanced past unposted findings: %s", b)
	}
}
