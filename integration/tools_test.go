//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type event struct {
	Type    string          `json:"type"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Data    string          `json:"data"`
	Output  json.RawMessage `json:"output"`
	Result  *struct {
		ExitCode int `json:"exitCode"`
	} `json:"result"`
}

// tool runs `openclaw-run tools test TOOL --params JSON --json` and returns
// its events.
func tool(t *testing.T, ws, name string, params any, extra ...string) []event {
	t.Helper()
	raw, _ := json.Marshal(params)
	args := append([]string{"tools", "test", name, "--workspace", ws, "--json", "--params", string(raw)}, extra...)
	r := runCLI(t, nil, args...)
	var evs []event
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e event
		if json.Unmarshal([]byte(line), &e) == nil {
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 || evs[0].Type != "start" {
		t.Fatalf("%s: no event stream: %+v", name, r)
	}
	return evs
}

func last(evs []event) event { return evs[len(evs)-1] }

// TestFileToolsEndToEnd: every tool through a fresh jail.
func TestFileToolsEndToEnd(t *testing.T) {
	ws := workspace(t)
	if e := last(tool(t, ws, "write", map[string]any{"path": "dir/a.txt", "content": "one\ntwo\n"})); e.Type != "result" {
		t.Fatalf("write: %+v", e)
	}
	if st, err := os.Stat(filepath.Join(ws, "dir/a.txt")); err != nil || st.Sys() == nil {
		t.Fatalf("write did not reach the workspace: %v", err)
	}
	e := last(tool(t, ws, "read", map[string]any{"path": "dir/a.txt"}))
	if e.Type != "result" || !strings.Contains(string(e.Output), `"content":"one\ntwo\n"`) {
		t.Errorf("read: %+v %s", e, e.Output)
	}
	e = last(tool(t, ws, "edit", map[string]any{"file_path": "dir/a.txt", "old_string": "two", "new_string": "2"}))
	if b, _ := os.ReadFile(filepath.Join(ws, "dir/a.txt")); e.Type != "result" || string(b) != "one\n2\n" {
		t.Errorf("edit: %+v %q", e, b)
	}
	patch := "*** Begin Patch\n*** Update File: dir/a.txt\n-one\n+1\n*** Add File: b.txt\n+bee\n*** End Patch\n"
	e = last(tool(t, ws, "apply_patch", map[string]any{"input": patch}))
	if b, _ := os.ReadFile(filepath.Join(ws, "dir/a.txt")); e.Type != "result" || string(b) != "1\n2\n" {
		t.Errorf("apply_patch: %+v %q", e, b)
	}
	e = last(tool(t, ws, "ls", map[string]any{"path": "."}))
	if e.Type != "result" || !strings.Contains(string(e.Output), `"name":"b.txt"`) {
		t.Errorf("ls: %+v", e)
	}
	evs := tool(t, ws, "exec", map[string]any{"command": "echo out; echo err >&2; exit 7", "workdir": "dir"})
	if e := last(evs); e.Type != "result" || e.Result.ExitCode != 7 {
		t.Errorf("exec: %+v", evs)
	}
	// Bad input: clear, specific, no jail needed.
	for _, c := range []struct {
		tool   string
		params any
		code   string
	}{
		{"read", map[string]any{}, "invalid_params"},
		{"read", map[string]any{"path": "x", "bogus": 1}, "invalid_params"},
		{"read", map[string]any{"path": "missing.txt"}, "not_found"},
		{"exec", map[string]any{"command": "ls", "workdir": "../etc"}, "invalid_params"},
		{"frobnicate", map[string]any{}, "invalid_params"},
		{"edit", map[string]any{"path": "b.txt", "oldText": "zzz", "newText": "y"}, "not_found"},
	} {
		if e := last(tool(t, ws, c.tool, c.params)); e.Type != "error" || e.Code != c.code {
			t.Errorf("%s %v: got %+v, want error %s", c.tool, c.params, e, c.code)
		}
	}
	// minimal refuses exec and edit by policy.
	if e := last(tool(t, ws, "edit", map[string]any{"path": "b.txt", "oldText": "bee", "newText": "b"}, "--profile", "minimal")); e.Code != "policy_denied" {
		t.Errorf("minimal edit: %+v", e)
	}
}

// TestFileToolEscapes: symlinks planted in the workspace (absolute,
// relative ../.., a directory link) lead nowhere outside through read,
// write, edit or apply_patch, and the host files stay untouched.
func TestFileToolEscapes(t *testing.T) {
	ws := workspace(t)
	outside, err := os.MkdirTemp("/var/tmp", "openclaw-it-outside-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outside)
	os.Chmod(outside, 0o777)
	canary := filepath.Join(outside, "canary")
	os.WriteFile(canary, []byte("HOST-CANARY\n"), 0o666)
	rel, _ := filepath.Rel(ws, canary)
	links := map[string]string{"abs": canary, "rel": rel, "dir": outside, "shadow": "/etc/shadow"}
	for name, target := range links {
		os.Symlink(target, filepath.Join(ws, name))
		os.Lchown(filepath.Join(ws, name), jailUID, jailUID)
	}
	calls := []struct {
		tool   string
		params map[string]any
	}{
		{"read", map[string]any{"path": "abs"}},
		{"read", map[string]any{"path": "rel"}},
		{"read", map[string]any{"path": "dir/canary"}},
		{"read", map[string]any{"path": "shadow"}},
		{"read", map[string]any{"path": "/workspace/../" + canary}},
		{"write", map[string]any{"path": "abs", "content": "PWNED"}},
		{"write", map[string]any{"path": "rel", "content": "PWNED"}},
		{"write", map[string]any{"path": "dir/canary", "content": "PWNED"}},
		{"write", map[string]any{"path": "dir/new", "content": "PWNED"}},
		{"write", map[string]any{"path": canary, "content": "PWNED"}},
		{"edit", map[string]any{"path": "abs", "oldText": "HOST", "newText": "PWNED"}},
		{"edit", map[string]any{"path": "dir/canary", "oldText": "HOST", "newText": "PWNED"}},
		{"apply_patch", map[string]any{"input": "*** Begin Patch\n*** Update File: rel\n-HOST-CANARY\n+PWNED\n*** End Patch"}},
		{"apply_patch", map[string]any{"input": "*** Begin Patch\n*** Add File: dir/added\n+PWNED\n*** End Patch"}},
		{"apply_patch", map[string]any{"input": "*** Begin Patch\n*** Delete File: dir/canary\n*** End Patch"}},
		{"ls", map[string]any{"path": "dir"}},
	}
	for _, c := range calls {
		evs := tool(t, ws, c.tool, c.params)
		for _, e := range evs {
			if strings.Contains(string(e.Output), "HOST-CANARY") || strings.Contains(string(e.Output), "canary") && c.tool == "ls" {
				t.Errorf("%s %v reached the host file: %s", c.tool, c.params, e.Output)
			}
		}
	}
	b, err := os.ReadFile(canary)
	if err != nil || string(b) != "HOST-CANARY\n" {
		t.Errorf("host canary changed: %q %v", b, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("something was created outside the workspace: %v", entries)
	}
}

// TestSymlinkSwapRace: while writes go on, another process swaps a
// workspace directory for a symlink to the outside in a tight loop. Nothing
// is ever written outside: the link resolves inside the jail.
func TestSymlinkSwapRace(t *testing.T) {
	ws := workspace(t)
	outside, err := os.MkdirTemp("/var/tmp", "openclaw-it-race-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outside)
	os.Chmod(outside, 0o777)
	d := filepath.Join(ws, "d")
	os.Mkdir(d, 0o777)
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // bounded: stops when told, or after 30 s
		defer wg.Done()
		deadline := time.Now().Add(30 * time.Second)
		tmp := filepath.Join(ws, "d.tmp")
		for time.Now().Before(deadline) {
			select {
			case <-stop:
				return
			default:
			}
			os.RemoveAll(tmp)
			os.Symlink(outside, tmp)
			os.Rename(tmp, d) // d becomes a symlink (rename over a dir fails while it is one; then retry)
			os.Remove(d)
			os.Mkdir(d, 0o777)
			swaps.Add(1)
		}
	}()
	end := time.Now().Add(4 * time.Second)
	calls := 0
	for time.Now().Before(end) {
		tool(t, ws, "write", map[string]any{"path": fmt.Sprintf("d/f%d", calls), "content": "RACE"})
		calls++
	}
	close(stop)
	wg.Wait()
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("written outside the workspace during the race: %v", entries)
	}
	t.Logf("%d writes during %d swaps; nothing outside", calls, swaps.Load())
}

// TestThousandCallsAuditVerifies: 1,000 calls, one audit line each, a
// verifiable chain, and a configured secret nowhere in the file.
func TestThousandCallsAuditVerifies(t *testing.T) {
	ws := workspace(t)
	logf := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	const secret = "tok-SUPERSECRET-0123456789"
	os.WriteFile(cfg, []byte(`{"gateway": {"authToken": "`+secret+`"}}`), 0o600)
	var wg sync.WaitGroup
	var failed atomic.Int64
	sem := make(chan struct{}, 4)
	calls := 1000
	if os.Getenv("OPENCLAW_TEST_VM") != "" {
		calls = 150 // vm-tests.sh: emulated, a second a call
	}
	for i := 0; i < calls; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			var r run
			switch i % 3 {
			case 0:
				r = runCLI(t, nil, "--config", cfg, "--workspace", ws, "--audit-file", logf, "--", "sh", "-c", "echo "+secret+" >/dev/null")
			case 1:
				raw, _ := json.Marshal(map[string]any{"path": fmt.Sprintf("f%d", i%10), "content": "key " + secret})
				r = runCLI(t, nil, "tools", "test", "write", "--config", cfg, "--workspace", ws, "--audit-file", logf, "--params", string(raw))
			default:
				r = runCLI(t, nil, "tools", "test", "ls", "--config", cfg, "--workspace", ws, "--audit-file", logf, "--path", ".")
			}
			if r.code != 0 {
				failed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d calls failed", n, calls)
	}
	data, _ := os.ReadFile(logf)
	// Each call: its intent, recorded before its jail, and its outcome,
	// pointing at that intent.
	if n := strings.Count(string(data), "\n"); n != 2*calls {
		t.Errorf("%d audit lines for %d calls, want %d", n, calls, 2*calls)
	}
	intents := map[uint64]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Seq    uint64 `json:"seq"`
			Action string `json:"action"`
			CallID string `json:"callId"`
			Intent *struct {
				Seq uint64 `json:"seq"`
			} `json:"intent"`
		}
		json.Unmarshal([]byte(line), &rec)
		switch rec.Action {
		case "intent":
			intents[rec.Seq] = rec.CallID
		case "tool_call":
			if rec.Intent == nil || intents[rec.Intent.Seq] != rec.CallID {
				t.Errorf("outcome of %s does not point at its intent: %s", rec.CallID, line)
				continue
			}
			delete(intents, rec.Intent.Seq)
		}
	}
	if len(intents) != 0 {
		t.Errorf("%d intents without an outcome", len(intents))
	}
	if strings.Contains(string(data), "SUPERSECRET") {
		t.Errorf("the configured secret reached the audit file")
	}
	if v := runCLI(t, nil, "audit", "verify", "--file", logf); v.code != 0 || !strings.Contains(v.stdout, fmt.Sprintf("%d records", 2*calls)) {
		t.Errorf("audit verify: %+v", v)
	}
}
