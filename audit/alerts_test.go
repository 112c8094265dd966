package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAlerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	add := func(at time.Duration, r Record) {
		r.Timestamp = t0.Add(at)
		if r.Action == "" {
			r.Action = "tool_call"
		}
		if r.Decision == "" {
			r.Decision = "allow"
		}
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	ok := &Outcome{Success: true}
	// Old history before --since: a burst that must not count.
	for i := 0; i < 50; i++ {
		add(-2*time.Hour+time.Duration(i)*time.Second, Record{SessionID: "old", Tool: "exec", Result: ok})
	}
	// A: 40 execs in 40 s, a burst. B: 20 execs spread over 20 minutes, none.
	for i := 0; i < 40; i++ {
		add(time.Duration(i)*time.Second, Record{SessionID: "A", Tool: "exec", Result: ok})
	}
	for i := 0; i < 20; i++ {
		add(time.Duration(i)*time.Minute, Record{SessionID: "B", Tool: "exec", Result: ok})
	}
	// C: 5 failures within a minute; D: 4 (below the threshold).
	for i := 0; i < 5; i++ {
		add(time.Duration(i)*time.Second, Record{SessionID: "C", Tool: "read", Result: &Outcome{ExitCode: 1}})
		if i < 4 {
			add(time.Duration(i)*time.Second, Record{SessionID: "D", Tool: "read", Result: &Outcome{ExitCode: 1}})
		}
	}
	add(time.Second, Record{UserID: "mallory", Tool: "exec", Action: "denial", Decision: "deny", Code: "policy_denied", Reason: "denied by policy: denyCommands: rm -rf"})
	// A denial of a log written before the code field: the runner's text.
	add(time.Second, Record{UserID: "trudy", Tool: "exec", Action: "denial", Decision: "deny", Reason: "denied by policy: profile \"minimal\" does not allow exec"})
	// Parameter errors are not policy denials, with or without a code.
	for i := 0; i < 3; i++ {
		add(time.Second, Record{UserID: "clumsy", Tool: "read", Action: "denial", Decision: "deny", Code: "invalid_params", Reason: "read: missing path"})
		add(time.Second, Record{UserID: "clumsy2", Tool: "exec", Action: "denial", Decision: "deny", Reason: "exec: json: unknown field \"cmd\""})
	}
	// Gateway refusals are not policy denials either.
	add(time.Second, Record{UserID: "anon", Action: "refusal", Decision: "deny", Reason: "overloaded", Count: 40})
	add(2*time.Second, Record{SessionID: "E", Tool: "exec", Result: ok, Blocked: []map[string]any{{"syscall": "ptrace", "count": 2}}})
	// F: 20 calls, each an intent and its outcome: the intents must not
	// double the exec count past the burst threshold.
	for i := 0; i < 20; i++ {
		add(time.Duration(i)*time.Second, Record{SessionID: "F", Tool: "exec", Action: "intent", Decision: "allow"})
		add(time.Duration(i)*time.Second, Record{SessionID: "F", Tool: "exec", Result: ok})
	}
	// G: a call whose jailed program tried two hosts that egress refused.
	add(3*time.Second, Record{SessionID: "G", Tool: "exec", CallID: "c-egress", Result: ok, Egress: map[string]any{"connections": []map[string]any{
		{"host": "pypi.org", "port": 443, "allowed": true},
		{"host": "evil.example", "port": 443, "allowed": false, "reason": "not_allowed"},
		{"host": "169.254.169.254", "port": 80, "allowed": false, "reason": "address_refused"},
	}}})
	// H: a call whose runner died.
	add(4*time.Second, Record{SessionID: "H", Tool: "exec", CallID: "c-dead", Action: "abandoned", Intent: &IntentRef{Seq: 1, Hash: "x"},
		Reason: "runner 1:2:b died during call c-dead (crash, OOM or kill -9); its outcome is unknown"})

	got, err := Alerts(Files(path), DefaultRules(), t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"exec_burst session:A": true, "repeated_failures session:C": true, "denials user:mallory": true, "denials user:trudy": true,
		"blocked_syscalls session:E": true, "egress_refused session:G": true, "abandoned_call session:H": true}
	for _, f := range got {
		key := f.Rule + " " + f.Who
		if !want[key] {
			t.Errorf("unexpected finding: %s", f)
		}
		delete(want, key)
		if key == "exec_burst session:A" && f.Count != 40 {
			t.Errorf("burst count %d, want 40", f.Count)
		}
		if key == "blocked_syscalls session:E" && (f.Count != 2 || !strings.Contains(f.Detail, "ptrace")) {
			t.Errorf("blocked: %s", f)
		}
		if key == "egress_refused session:G" && (f.Count != 2 || f.Severity != "high" || !strings.Contains(f.Detail, "evil.example:443 (not_allowed)") ||
			!strings.Contains(f.Detail, "169.254.169.254:80") || strings.Contains(f.Detail, "pypi.org")) {
			t.Errorf("egress: %s", f)
		}
		if key == "abandoned_call session:H" && !strings.Contains(f.Detail, "died during call c-dead") {
			t.Errorf("abandoned: %s", f)
		}
	}
	for k := range want {
		t.Errorf("missing finding %s", k)
	}

	// A torn tail is a warning of its own, not tampering.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(append([]byte(nil), b...), `{"seq":999,"timest`...), 0o600)
	got, err = Alerts(Files(path), DefaultRules(), t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Rule != "torn_tail" || got[0].Severity != "warning" || !strings.Contains(got[0].Detail, "audit repair") {
		t.Fatalf("torn log: %v", got)
	}
	for _, f := range got {
		if f.Rule == "chain_broken" {
			t.Errorf("a torn tail reported as tampering: %s", f)
		}
	}

	// An edited line is a critical finding of its own.
	os.WriteFile(path, bytes.Replace(b, []byte(`"mallory"`), []byte(`"alice"`), 1), 0o600)
	got, _ = Alerts(Files(path), DefaultRules(), t0.Add(-time.Hour))
	if len(got) == 0 || got[0].Rule != "chain_broken" || got[0].Severity != "critical" {
		t.Fatalf("tampered log: %v", got)
	}
}
