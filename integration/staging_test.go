//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// stagedRun runs a command with --result-file and returns the result
// document (its changes among it).
func stagedRun(t *testing.T, ws string, flags []string, script string) (run, map[string]any) {
	t.Helper()
	rf := filepath.Join(t.TempDir(), "result.json")
	r := jailed(t, ws, append([]string{"--result-file", rf}, flags...), script)
	var doc map[string]any
	b, _ := os.ReadFile(rf)
	json.Unmarshal(b, &doc)
	return r, doc
}

func changesOf(doc map[string]any) map[string]any {
	c, _ := doc["changes"].(map[string]any)
	return c
}

func freeBytes(t *testing.T, p string) int64 {
	var s syscall.Statfs_t
	if err := syscall.Statfs(p, &s); err != nil {
		t.Fatal(err)
	}
	return int64(s.Bavail) * s.Bsize
}

// A disk bomb in the workspace stops at the call's disk limit with ENOSPC
// inside the jail, the result says so, and the host's disk never receives
// the bytes; many small files stop at the inode limit.
func TestStagingDiskAndInodeLimits(t *testing.T) {
	ws := workspace(t)
	before := freeBytes(t, ws)
	// The bomb then hangs on until its timeout: an aborted call, whose
	// changes are discarded (onAbort's default).
	r, doc := stagedRun(t, ws, []string{"--disk", "8M", "--timeout", "2s"},
		`dd if=/dev/zero of=bomb bs=1M count=100000 2>&1; ls -l bomb | cut -d' ' -f5; sleep 30`)
	if !strings.Contains(r.stdout, "No space left on device") || r.code != 124 {
		t.Fatalf("the bomb did not meet ENOSPC: %+v", r)
	}
	c := changesOf(doc)
	if c == nil || c["diskLimitHit"] != true || c["state"] != "discarded" {
		t.Errorf("the result does not report the disk limit: %v", doc["changes"])
	}
	// Other processes share this disk, so free space moves a little; an
	// uncontained bomb (dd at ~1 GB/s for two seconds) would take gigabytes.
	if after := freeBytes(t, ws); before-after > 512<<20 {
		t.Errorf("the host's free space fell by %d bytes", before-after)
	}
	if _, err := os.Stat(filepath.Join(ws, "bomb")); err == nil {
		t.Error("the bomb's file reached the workspace")
	}
	r, doc = stagedRun(t, ws, []string{"--disk-inodes", "100"},
		`i=0; while [ $i -lt 1000 ]; do touch f$i 2>/dev/null || { echo "stopped at $i"; break; }; i=$((i+1)); done`)
	if !strings.Contains(r.stdout, "stopped at") {
		t.Fatalf("1000 files under an inode limit of 100: %+v", r)
	}
	if c := changesOf(doc); c == nil || c["inodeLimitHit"] != true {
		t.Errorf("the result does not report the inode limit: %v", doc["changes"])
	}
}

// The change list of a call: adds, edits, deletes, renames, directories,
// symlinks and mode changes, as committed.
func TestStagingChangeList(t *testing.T) {
	ws := workspace(t)
	for p, c := range map[string]string{"edit.txt": "old", "gone.txt": "x", "mv.txt": "m", "tree/a.txt": "a"} {
		os.MkdirAll(filepath.Join(ws, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(ws, p), []byte(c), 0o644)
	}
	filepath.Walk(ws, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, jailUID, jailUID) })
	r, doc := stagedRun(t, ws, nil, `echo new > new.txt; echo changed > edit.txt; rm gone.txt; mv mv.txt moved.txt;
rm -r tree; mkdir -p d/e; ln -s new.txt link; chmod 600 new.txt`)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	got := map[string]string{}
	for _, f := range changesOf(doc)["files"].([]any) {
		m := f.(map[string]any)
		got[m["path"].(string)] = m["op"].(string)
	}
	for p, op := range map[string]string{"new.txt": "added", "edit.txt": "modified", "gone.txt": "deleted", "mv.txt": "deleted",
		"moved.txt": "added", "tree": "deleted", "d": "added", "d/e": "added", "link": "added"} {
		if got[p] != op {
			t.Errorf("%s: %q, want %q (all: %v)", p, got[p], op, got)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "edit.txt")); string(b) != "changed\n" {
		t.Errorf("edit.txt: %q", b)
	}
	if st, err := os.Lstat(filepath.Join(ws, "new.txt")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new.txt: %v %v", st, err)
	}
	if l, _ := os.Readlink(filepath.Join(ws, "link")); l != "new.txt" {
		t.Errorf("link: %q", l)
	}
	for _, p := range []string{"gone.txt", "mv.txt", "tree"} {
		if _, err := os.Lstat(filepath.Join(ws, p)); err == nil {
			t.Errorf("%s still exists", p)
		}
	}
}

// hold: the workspace is unchanged until approve; reject drops; undo
// restores, and is refused when a later call changed the same file.
func TestStagingHoldApproveRejectUndo(t *testing.T) {
	ws := workspace(t)
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	os.WriteFile(cfg, []byte(`{"sandbox": {"review": "hold"}}`), 0o600)
	_, doc := stagedRun(t, ws, []string{"--config", cfg}, "echo approved > a.txt")
	_, doc2 := stagedRun(t, ws, []string{"--config", cfg}, "echo rejected > r.txt")
	if changesOf(doc)["state"] != "held" || changesOf(doc2)["state"] != "held" {
		t.Fatalf("held changes: %v %v", doc["changes"], doc2["changes"])
	}
	for _, f := range []string{"a.txt", "r.txt"} {
		if _, err := os.Stat(filepath.Join(ws, f)); err == nil {
			t.Fatalf("%s reached the workspace before approval", f)
		}
	}
	if r := runCLI(t, nil, "changes", "approve", doc["callId"].(string), "--workspace", ws); r.code != 0 {
		t.Fatalf("approve: %+v", r)
	}
	if r := runCLI(t, nil, "changes", "reject", doc2["callId"].(string), "--workspace", ws); r.code != 0 {
		t.Fatalf("reject: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "a.txt")); string(b) != "approved\n" {
		t.Errorf("approved a.txt: %q", b)
	}
	if _, err := os.Stat(filepath.Join(ws, "r.txt")); err == nil {
		t.Error("a rejected change reached the workspace")
	}
	// Undo, with a conflict first.
	_, c1 := stagedRun(t, ws, nil, "echo one > u.txt")
	_, c2 := stagedRun(t, ws, nil, "echo two > u.txt")
	r := runCLI(t, nil, "undo", c1["callId"].(string), "--workspace", ws)
	if r.code == 0 || !strings.Contains(r.stderr, c2["callId"].(string)) || !strings.Contains(r.stderr, "u.txt") {
		t.Errorf("undo under a later change: %+v", r)
	}
	for _, c := range []map[string]any{c2, c1} {
		if r := runCLI(t, nil, "undo", c["callId"].(string), "--workspace", ws); r.code != 0 {
			t.Fatalf("undo %s: %+v", c["callId"], r)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, "u.txt")); err == nil {
		t.Error("u.txt survived the undo of the calls that made it")
	}
	// Every decision is in the audit log, the refused undo too.
	b, _ := os.ReadFile(filepath.Join(os.Getenv("OPENCLAW_STATE_DIR"), "audit", "audit.jsonl"))
	for _, want := range []string{`"callId":"` + doc["callId"].(string) + `"`, `"action":"review","tool":"reject"`,
		`"action":"review","tool":"undo","parameters":null`, `"decision":"requested"`, `"decision":"deny","reason":"conflict: cannot undo`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the audit log lacks %s", want)
		}
	}
}

// A call that times out is aborted: its changes are discarded (onAbort's
// default); a call that exits non-zero keeps them.
func TestStagingAbortedCallsDiscard(t *testing.T) {
	ws := workspace(t)
	r, doc := stagedRun(t, ws, []string{"--timeout", "1s"}, "echo partial > half.txt; sleep 30")
	if r.code != 124 || changesOf(doc)["state"] != "discarded" {
		t.Fatalf("timed-out call: %+v %v", r, doc["changes"])
	}
	if _, err := os.Stat(filepath.Join(ws, "half.txt")); err == nil {
		t.Error("a timed-out call's change reached the workspace")
	}
	r, doc = stagedRun(t, ws, nil, "echo log > failed.log; exit 3")
	if r.code != 3 || changesOf(doc)["state"] != "committed" {
		t.Fatalf("failing call: %+v %v", r, doc["changes"])
	}
	if _, err := os.Stat(filepath.Join(ws, "failed.log")); err != nil {
		t.Error("a call that exited non-zero lost its changes")
	}
}

// Through the gateway the result event lists the changes, and file
// tools are staged too.
func TestStagingThroughTheGateway(t *testing.T) {
	ws := workspace(t)
	g := sharedWorkspaceGateway(t, ws, "")
	out, res := execResult(t, g, "s1", "echo hi > g.txt")
	c, _ := res["changes"].(map[string]any)
	if c == nil || c["added"] != float64(1) {
		t.Fatalf("gateway result without changes: %v %s", res, out)
	}
	if code, body := fileCall(t, g, "write", map[string]any{"path": "w.txt", "content": "written"}); code != 200 || !strings.Contains(body, `"changes"`) {
		t.Errorf("file tool: %d %s", code, body)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "w.txt")); string(b) != "written" {
		t.Errorf("w.txt: %q", b)
	}
	logf := filepath.Join(g.state, "audit", "audit.jsonl")
	b, _ := os.ReadFile(logf)
	if !strings.Contains(string(b), `"changes":{`) {
		t.Errorf("the audit records lack the changes:\n%s", b)
	}
}

// The review routes of the gateway: a held call is listed, approved with
// the token (not without), undone; an unknown call is 404, a session that
// never ran is 404, and every decision is in the audit log.
func TestStagingReviewThroughTheGateway(t *testing.T) {
	root := t.TempDir()
	g := startGateway(t, fmt.Sprintf(`{"sandbox": {"workspace": %q, "review": "hold"}}`, root))
	r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"sessionId": "rev1", "args": {"command": "echo held > h.txt"}}`)
	var start struct{ CallID string }
	json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &start)
	call := start.CallID
	if r.StatusCode != 200 || call == "" || !strings.Contains(out, `"state":"held"`) {
		t.Fatalf("held call: %d %s", r.StatusCode, out)
	}
	ws := filepath.Join(root, "rev1")
	if _, err := os.Stat(filepath.Join(ws, "h.txt")); err == nil {
		t.Fatal("h.txt reached the workspace before approval")
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", g.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+g.token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	if code, body := get("/v1/admin/changes?session=rev1"); code != 200 || !strings.Contains(body, call) || !strings.Contains(body, `"held"`) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := get("/v1/admin/changes/" + call + "?session=rev1"); code != 200 || !strings.Contains(body, "h.txt") {
		t.Fatalf("show: %d %s", code, body)
	}
	for _, c := range []struct {
		path, token string
		code        int
	}{
		{"/v1/admin/changes/" + call + "/approve?session=rev1", "", 401},
		{"/v1/admin/changes/" + call + "/approve?session=nosuch", g.token, 404},
		{"/v1/admin/changes/" + call + "/approve", g.token, 400},
		{"/v1/admin/changes/" + call + "/explode?session=rev1", g.token, 404},
		{"/v1/admin/changes/0123456789abcdef/approve?session=rev1", g.token, 404},
		{"/v1/admin/changes/..%2f..%2fetc/approve?session=rev1", g.token, 400},
		{"/v1/admin/changes/" + call + "/undo?session=rev1", g.token, 409}, // held, not committed
	} {
		if r, body := g.post(t, c.path, c.token, "", ""); r.StatusCode != c.code {
			t.Errorf("POST %s: %d %s, want %d", c.path, r.StatusCode, body, c.code)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, "h.txt")); err == nil {
		t.Fatal("a refused request changed the workspace")
	}
	if r, body := g.post(t, "/v1/admin/changes/"+call+"/approve?session=rev1", g.token, "", ""); r.StatusCode != 200 {
		t.Fatalf("approve: %d %s", r.StatusCode, body)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "h.txt")); string(b) != "held\n" {
		t.Fatalf("h.txt after approve: %q", b)
	}
	if r, body := g.post(t, "/v1/admin/changes/"+call+"/undo?session=rev1", g.token, "", ""); r.StatusCode != 200 {
		t.Fatalf("undo: %d %s", r.StatusCode, body)
	}
	if _, err := os.Stat(filepath.Join(ws, "h.txt")); err == nil {
		t.Fatal("h.txt is still there after undo")
	}
	b, _ := os.ReadFile(filepath.Join(g.state, "audit", "audit.jsonl"))
	for _, want := range []string{`"action":"review","tool":"approve"`, `"action":"review","tool":"undo"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the audit log lacks %s", want)
		}
	}
}
