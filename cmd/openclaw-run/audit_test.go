package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
)

// The audit commands an operator uses after a crash: verify names the
// dead runners' calls, tells a torn tail (exit 2) from tampering (exit 1);
// repair says what it did and is idempotent; show prints one call.
func TestAuditVerifyRepairShow(t *testing.T) {
	state := t.TempDir()
	t.Setenv("OPENCLAW_STATE_DIR", state)
	path := filepath.Join(state, "audit", "audit.jsonl")
	l, err := audit.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ref, err := l.Intent(audit.Record{Timestamp: at, Tool: "exec", CallID: "c1", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Append(audit.Record{Timestamp: at, Action: audit.ActionToolCall, Tool: "exec", CallID: "c1", Intent: &ref, Result: &audit.Outcome{Success: true}}))
	must(l.Append(audit.Record{Timestamp: at, Action: audit.ActionProcess, Tool: "process", CallID: "c1", Parameters: map[string]any{"action": "poll"}}))
	// A gateway of another boot wrote c2's intent and died.
	must(l.Append(audit.Record{Timestamp: at, Action: audit.ActionIntent, Tool: "exec", CallID: "c2", Client: "bot", Owner: "4242:777:a-boot-long-gone"}))
	// c3 runs now, in this process.
	if _, err := l.Intent(audit.Record{Timestamp: at, Tool: "read", CallID: "c3"}); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, "audit", "verify")
	if code != 0 || !strings.Contains(out, "OK "+path+": 5 records, chain intact") ||
		!strings.Contains(out, "gateway 4242:777:a-boot-long-gone died during call c2 (exec, 2026-11-25T10:00:00Z)") ||
		!strings.Contains(out, "in flight: call c3 (read,") || strings.Contains(out, "call c1") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}

	// A crash cut the last line.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-20], 0o600)
	out, _, code = runCLI(t, "audit", "verify")
	if code != 2 || !strings.Contains(out, "TORN") || !strings.Contains(out, "after line 4") || !strings.Contains(out, "openclaw-run audit repair") || strings.Contains(out, "FAIL") {
		t.Fatalf("verify of a torn log: exit %d\n%s", code, out)
	}

	out, errOut, code = runCLI(t, "audit", "repair")
	if code != 0 || !regexp.MustCompile(`quarantined a torn tail of \d+ bytes .* to `+regexp.QuoteMeta(path)+`\.torn-`).MatchString(out) ||
		!strings.Contains(out, "recorded call c2 (exec, 2026-11-25T10:00:00Z) as abandoned: gateway 4242:777:a-boot-long-gone died during it") {
		t.Fatalf("repair: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, "audit", "repair")
	if code != 0 || !strings.Contains(out, "no torn tail") || !strings.Contains(out, "no call of a dead runner to record") {
		t.Fatalf("second repair: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "audit", "verify")
	if code != 0 || !strings.Contains(out, "1 abandoned call(s) and 1 repair(s) recorded") || strings.Contains(out, "died during") {
		t.Fatalf("verify after repair: exit %d\n%s", code, out)
	}

	out, _, code = runCLI(t, "audit", "show", "c1")
	if code != 0 || strings.Count(out, `"callId": "c1"`) != 3 {
		t.Fatalf("show c1: exit %d\n%s", code, out)
	}
	i, o, p := strings.Index(out, `"action": "intent"`), strings.Index(out, `"action": "tool_call"`), strings.Index(out, `"action": "process"`)
	if i < 0 || o < i || p < o {
		t.Errorf("show c1: not intent, outcome, process in order:\n%s", out)
	}
	out, _, _ = runCLI(t, "audit", "show", "c2")
	if !strings.Contains(out, `"action": "abandoned"`) {
		t.Errorf("show c2 lacks the abandoned record:\n%s", out)
	}
	if _, errOut, code := runCLI(t, "audit", "show", "nope"); code != 1 || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("show of an unknown call: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "audit", "show"); code != 2 || !strings.Contains(errOut, "call id") {
		t.Errorf("show without an id: exit %d, %q", code, errOut)
	}
	out, _, code = runCLI(t, "audit", "stats")
	if code != 0 || !strings.Contains(out, "abandoned calls (runner died): 1") || !regexp.MustCompile(`\s2  intent\n`).MatchString(out) {
		t.Errorf("stats: exit %d\n%s", code, out)
	}

	// An edited line is tampering: exit 1, and repair refuses.
	data, _ = os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(data, []byte(`"s1"`), []byte(`"s9"`), 1), 0o600)
	out, _, code = runCLI(t, "audit", "verify")
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "line 1") {
		t.Fatalf("verify of an edited log: exit %d\n%s", code, out)
	}
	data, _ = os.ReadFile(path)
	lines := bytes.SplitAfter(data, []byte("\n"))
	last := lines[len(lines)-2]
	os.WriteFile(path, append(bytes.TrimSuffix(data, last), bytes.Replace(last, []byte(`"seq":`), []byte(`"seq": `), 1)...), 0o600)
	if _, errOut, code := runCLI(t, "audit", "repair"); code != 1 || !strings.Contains(errOut, "edited") {
		t.Errorf("repair of a log with an edited last line: exit %d, %q", code, errOut)
	}
}

// Flag errors name the flag and print the usage line.
func TestAuditUsageErrors(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	for _, args := range [][]string{{"audit", "--bogus", "verify"}, {"audit", "-n", "many", "tail"}} {
		_, errOut, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, strings.TrimLeft(args[1], "-")) || !strings.Contains(errOut, "usage: openclaw-run audit") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if _, errOut, code := runCLI(t, "audit", "frob"); code != 2 || !strings.Contains(errOut, "usage") {
		t.Errorf("unknown subcommand: exit %d, %q", code, errOut)
	}
	if out, _, code := runCLI(t, "audit", "repair"); code != 0 || !strings.Contains(out, "nothing to repair") {
		t.Errorf("repair without a log: exit %d, %q", code, out)
	}
	if _, errOut, code := runCLI(t, "audit", "verify"); code != 1 || !strings.Contains(errOut, "no audit log") {
		t.Errorf("verify without a log: exit %d, %q", code, errOut)
	}
}
