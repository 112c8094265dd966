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
	add(time.Second, Record{UserID: "mallory", Tool: "exec", Action: "denial", Decision: "deny", Reason: "denyCommands: rm -rf"})
	add(2*time.Second, Record{SessionID: "E", Tool: "exec", Result: ok, Blocked: []map[string]any{{"syscall": "ptrace", "count": 2}}})

	got, err := Alerts(Files(path), DefaultRules(), t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"exec_burst session:A": true, "repeated_failures session:C": true, "denials user:mallory": true, "blocked_syscalls session:E": true}
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
	}
	for k := range want {
		t.Errorf("missing finding %s", k)
	}

	// An edited line is a critical finding of its own.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte(`"mallory"`), []byte(`"alice"`), 1), 0o600)
	got, _ = Alerts(Files(path), DefaultRules(), t0.Add(-time.Hour))
	if len(got) == 0 || got[0].Rule != "chain_broken" || got[0].Severity != "critical" {
		t.Fatalf("tampered log: %v", got)
	}
}
