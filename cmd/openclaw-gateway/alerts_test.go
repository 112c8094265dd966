package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	l.Append(audit.Record{Timestamp: now, SessionID: "s", Tool: "exec", Action: "denial", Decision: "deny", Code: "policy_denied", Reason: "denied by policy: denyCommands: curl"})
	// A missing parameter is not a policy denial (issue 25).
	l.Append(audit.Record{Timestamp: now, SessionID: "p", Tool: "read", Action: "denial", Decision: "deny", Code: "invalid_params", Reason: "read: missing path"})

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

// --since takes durations with days, today, yesterday, dates and RFC 3339
// times; a bad value says what was wrong and prints the usage line.
func TestParseSince(t *testing.T) {
	loc := time.FixedZone("X", 3*3600)
	now := time.Date(2026, 11, 25, 15, 30, 0, 0, loc)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"7d":                   now.AddDate(0, 0, -7),
		"1d12h":                now.Add(-36 * time.Hour),
		"0s":                   now,
		"today":                time.Date(2026, 11, 25, 0, 0, 0, 0, loc),
		"yesterday":            time.Date(2026, 11, 24, 0, 0, 0, 0, loc),
		"2026-11-20":           time.Date(2026, 11, 20, 0, 0, 0, 0, loc),
		"2026-11-25T10:00:00Z": time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	} {
		got, text, err := parseSince(in, now)
		if err != nil || !got.Equal(want) || text == "" {
			t.Errorf("parseSince(%q) = %v, %q, %v; want %v", in, got, text, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-24h", "-7d", "7", "d", "7days", "+7d", "7d-1h", "2026-13-01", "2027-01-01", "99999999d", "1w"} {
		if got, _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) = %v, want an error", bad, got)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("parseSince(%q): %v does not name the value", bad, err)
		}
	}
}

func TestAuditAlertsSinceFlag(t *testing.T) {
	state := t.TempDir()
	t.Setenv("OPENCLAW_STATE_DIR", state)
	t.Setenv("OPENCLAW_CONFIG_PATH", filepath.Join(state, "openclaw.json"))
	l, err := audit.Open(filepath.Join(state, "audit", "audit.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(audit.Record{Timestamp: time.Now().Add(-72 * time.Hour), SessionID: "old", Tool: "exec", Action: "denial", Decision: "deny", Code: "policy_denied", Reason: "denied by policy: x"})
	var out, errb bytes.Buffer
	if code := dispatch([]string{"audit", "alerts", "--since", "yesterday"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "since yesterday") {
		t.Fatalf("--since yesterday: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := dispatch([]string{"audit", "alerts", "--since", "7d"}, &out, &errb); code != 1 || !strings.Contains(out.String(), "denials") {
		t.Fatalf("--since 7d: exit %d\n%s%s", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := dispatch([]string{"audit", "alerts", "--since", "last week"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), `--since "last week"`) || !strings.Contains(errb.String(), "usage: openclaw-run audit alerts") {
		t.Fatalf("a bad --since: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := dispatch([]string{"audit", "alerts", "--bogus"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "bogus") || !strings.Contains(errb.String(), "usage") {
		t.Fatalf("a bad flag: exit %d, %q", code, errb.String())
	}
}
