package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/runner"
)

func TestOriginPatterns(t *testing.T) {
	pats := []string{"http://192.168.1.*", "http://localhost:18789"}
	for origin, want := range map[string]bool{
		"http://192.168.1.7":       true,
		"http://192.168.1.7:8080":  true,
		"http://localhost:18789":   true,
		"http://192.168.2.7":       false,
		"http://evil.example":      false,
		"http://192.168.1.7/x":     false,
		"https://localhost:18789":  false,
		"http://192.168.1.evil.io": false, // "*" is one label, not a suffix
		"http://localhost:9999":    false, // the pattern names a port
	} {
		if got := originAllowed(origin, pats); got != want {
			t.Errorf("%s: %v, want %v", origin, got, want)
		}
	}
}

func TestLockout(t *testing.T) {
	l := NewLockout(3, time.Minute, time.Hour)
	for i := 0; i < 2; i++ {
		if now, _ := l.Fail("1.2.3.4"); now {
			t.Fatal("locked too early")
		}
	}
	if now, _ := l.Fail("1.2.3.4"); !now {
		t.Fatal("not locked after 3 failures")
	}
	if locked, _, _ := l.Locked("1.2.3.4"); !locked {
		t.Error("Locked says no")
	}
	if locked, _, _ := l.Locked("5.6.7.8"); locked {
		t.Error("another address locked")
	}
}

func TestCheckToken(t *testing.T) {
	s, err := New(Options{Config: config.Defaults(), Token: "secret-token-123456"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	r := httptest.NewRequest("POST", "/", nil)
	if c, presented := s.authenticate(r); c != nil || presented {
		t.Error("no header accepted")
	}
	r.Header.Set("Authorization", "Bearer wrong")
	if c, presented := s.authenticate(r); c != nil || !presented {
		t.Error("wrong token accepted")
	}
	r.Header.Set("Authorization", "Bearer secret-token-123456")
	if c, _ := s.authenticate(r); c != s.operator {
		t.Error("right token refused")
	}
}

func TestChannels(t *testing.T) {
	c := config.Defaults()
	c.Channels.Feishu = &config.Feishu{Enabled: true, Mode: "allowlist", Allowlist: []string{"chat_ok"}, Denylist: []string{"chat_bad"}}
	c.Channels.Telegram = &config.Telegram{Enabled: true, AllowedUsers: []int64{42}, AllowedChats: []int64{-100}}
	s := &Server{cfg: c}
	for _, tc := range []struct {
		req  Request
		deny bool
	}{
		{Request{}, false},
		{Request{Channel: "feishu", ChatID: "chat_ok"}, false},
		{Request{Channel: "feishu", ChatID: "chat_other"}, true},
		{Request{Channel: "feishu", ChatID: "chat_bad"}, true},
		{Request{Channel: "telegram", UserID: "42"}, false},
		{Request{Channel: "telegram", ChatID: "-100", UserID: "7"}, false},
		{Request{Channel: "telegram", UserID: "7"}, true},
		{Request{Channel: "slack"}, true},
	} {
		err := s.checkChannel(&tc.req)
		if (err != nil) != tc.deny {
			t.Errorf("%+v: %v", tc.req, err)
		}
	}
}

func TestDecodeRequest(t *testing.T) {
	if _, err := DecodeRequest(strings.NewReader(`{"args":{"command":"ls"},"sessionId":"a"}`), 1024); err != nil {
		t.Fatal(err)
	}
	for body, status := range map[string]int{
		`{"args":{},"bogus":1}`:   400,
		`{"args":`:                400,
		`{"args":[]}`:             400,
		`{"args":{}} {"args":{}}`: 400,
		strings.Repeat(" ", 2000): 413,
	} {
		_, err := DecodeRequest(strings.NewReader(body), 1024)
		he, ok := err.(*httpError)
		if !ok || he.status != status {
			t.Errorf("%.30q: %v, want %d", body, err, status)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"args":{"command":"ls"}}`, `{"args":{},"sessionId":"x","channel":"feishu","chatId":"c"}`, `{`, `[]`, `{"args":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(bytes.NewReader(b), 4096)
		if err == nil && len(req.Args) > 0 && req.Args[0] != '{' && string(req.Args) != "null" {
			t.Fatalf("accepted non-object args %q", req.Args)
		}
	})
}

func TestValidSessionID(t *testing.T) {
	for id, ok := range map[string]bool{"abc": true, "s-1.2:x_y": true, "": false, "../x": false, "a/b": false, ".hidden": false, strings.Repeat("a", 129): false} {
		if ValidSessionID(id) != ok {
			t.Errorf("%q", id)
		}
	}
}

// TestSessionSnapshot: the backup route needs the token and returns a
// store that opens with its sessions.
func TestSessionSnapshot(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenBolt(filepath.Join(dir, "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Touch(Session{ID: "snap", Workspace: "/w/snap"})
	s, err := New(Options{Config: config.Defaults(), Token: "0123456789abcdef0123", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(tok string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/admin/backup/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := get("wrong-token-wrong-token"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %s", r.Status)
	}
	r := get("0123456789abcdef0123")
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 {
		t.Fatalf("%s: %s", r.Status, b)
	}
	copyPath := filepath.Join(dir, "copy.db")
	os.WriteFile(copyPath, b, 0o600)
	c, err := OpenBolt(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.Get("snap"); err != nil || got.Workspace != "/w/snap" {
		t.Fatalf("snapshot lacks the session: %+v %v", got, err)
	}
}

// TestClientAddrBehindProxy: X-Real-IP counts only from a trusted proxy.
func TestClientAddrBehindProxy(t *testing.T) {
	trusted, err := ParseProxies([]string{"127.0.0.1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ remote, real, want string }{
		{"127.0.0.1:5000", "203.0.113.9", "203.0.113.9"},
		{"10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{"198.51.100.7:5000", "203.0.113.9", "198.51.100.7"}, // not a proxy: the header is a lie
		{"127.0.0.1:5000", "not-an-ip", "127.0.0.1"},
		{"127.0.0.1:5000", "", "127.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.real != "" {
			r.Header.Set("X-Real-IP", c.real)
		}
		if got := clientAddr(r, trusted); got != c.want {
			t.Errorf("%s with X-Real-IP %q: %s, want %s", c.remote, c.real, got, c.want)
		}
	}
	if got := clientAddr(&http.Request{RemoteAddr: "127.0.0.1:1", Header: http.Header{"X-Real-Ip": {"203.0.113.9"}}}, nil); got != "127.0.0.1" {
		t.Errorf("no trusted proxies: %s", got)
	}
	if _, err := ParseProxies([]string{"nginx"}); err == nil {
		t.Error("a host name was accepted as a proxy")
	}
}

// appendOutput encodes output events exactly as encoding/json decodes
// them back, for every byte value and multi-byte characters.
func TestAppendOutputRoundTrip(t *testing.T) {
	var all []byte
	for c := 0; c < 0x80; c++ {
		all = append(all, byte(c))
	}
	all = append(all, "é漢字🙂<>&\u2028"...)
	e := runner.Event{Type: "stdout", CallID: "abc", Data: string(all)}
	line := appendOutput(nil, &e)
	var back runner.Event
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	if back != e || line[len(line)-1] != '\n' {
		t.Fatalf("round trip: %+v from %q", back, line)
	}
	// Characters that need escaping at every offset of a run of plain bytes.
	for _, special := range []string{"\"", "\\", "\n", "\x00", "\x1f", "é"} {
		for at := 0; at < 40; at++ {
			d := strings.Repeat("abcdefgh", 5)
			d = d[:at] + special + d[at:]
			e := runner.Event{Type: "stderr", CallID: "x", Data: d}
			var back runner.Event
			if err := json.Unmarshal(appendOutput(nil, &e), &back); err != nil || back.Data != d {
				t.Fatalf("%q at %d: %q %v", special, at, back.Data, err)
			}
		}
	}
}

// BenchmarkAppendOutput encodes 256 KiB of the text the streaming
// benchmark sends (a newline every 76 bytes).
func BenchmarkAppendOutput(b *testing.B) {
	line := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-openclaw-run\n"
	e := runner.Event{Type: "stdout", CallID: "0123456789abcdef", Data: strings.Repeat(line, 256<<10/len(line))}
	var buf []byte
	b.SetBytes(int64(len(e.Data)))
	for i := 0; i < b.N; i++ {
		buf = appendOutput(buf[:0], &e)
	}
}

// admit refuses a call prepared before a prune took its session out,
// whether the prune is still under way or over: the call would run in a
// removed workspace. A call prepared after the prune is admitted. The
// refusals free their queue places, and nothing of the bookkeeping stays.
func TestAdmitRefusesACallOfAPrunedSession(t *testing.T) {
	s, err := New(Options{Config: config.Defaults(), Token: "0123456789abcdef0123", Store: NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	call := runner.Call{Tool: "exec", SessionID: "s1"}
	admit := func(req *Request) error {
		release, err := s.admit(t.Context(), req, &call)
		if err == nil {
			release()
		}
		return err
	}
	mark := func(on bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if on {
			s.pruning["s1"] = true
			s.pruneGen["s1"]++
			return
		}
		delete(s.pruning, "s1")
		if s.preparing["s1"] == 0 {
			delete(s.pruneGen, "s1")
		}
	}
	req := &Request{Tool: "exec", SessionID: "s1"}
	s.prepareSession(req, "s1")
	if err := admit(req); err != nil {
		t.Fatalf("no prune: %v", err)
	}
	s.prepareSession(req, "s1")
	mark(true)
	if err := admit(req); ErrorCodeOf(err) != "session_pruned" {
		t.Errorf("prepared before a prune under way: %v, want session_pruned", err)
	}
	mark(false)
	s.prepareSession(req, "s1")
	mark(true)
	mark(false)
	if err := admit(req); ErrorCodeOf(err) != "session_pruned" {
		t.Errorf("prepared before a prune that is over: %v, want session_pruned", err)
	}
	s.prepareSession(req, "s1")
	if err := admit(req); err != nil {
		t.Errorf("prepared after the prune: %v", err)
	}
	// A call refused for overload is no longer being prepared either.
	for len(s.queue) < cap(s.queue) {
		s.queue <- struct{}{}
	}
	s.prepareSession(req, "s1")
	if err := admit(req); ErrorCodeOf(err) != "overloaded" {
		t.Errorf("a full queue: %v, want overloaded", err)
	}
	for len(s.queue) > 0 {
		<-s.queue
	}
	if len(s.queue) != 0 || len(s.inUse) != 0 || len(s.preparing) != 0 || len(s.pruneGen) != 0 || len(s.pruning) != 0 {
		t.Errorf("left behind: %d queue places, inUse %v, preparing %v, pruneGen %v, pruning %v",
			len(s.queue), s.inUse, s.preparing, s.pruneGen, s.pruning)
	}
}

// ErrorCodeOf is the code of a gateway error, "" for nil.
func ErrorCodeOf(err error) string {
	if err == nil {
		return ""
	}
	code, _ := ErrorCode(err)
	return code
}

// DeleteTrash removes only what a prune renamed aside: directories named
// #pruned-<session>-<12 hex> right below the root, and nothing at all when
// sessions share the root (its names are then the jails').
func TestDeleteTrashOnlyItsOwn(t *testing.T) {
	root := t.TempDir()
	names := map[string]bool{"#pruned-s1-0123456789ab": false, "#pruned-other": true, "#pruned-s2-0123456789ab.txt": true, "s3": true}
	mkdirs := func() {
		for n := range names {
			os.Mkdir(filepath.Join(root, n), 0o755)
		}
	}
	mkdirs()
	os.WriteFile(filepath.Join(root, "#pruned-f-0123456789ab"), nil, 0o644) // a file, not a workspace
	cfg := config.Defaults()
	cfg.Sandbox.Workspace = root
	shared := false
	cfg.Sandbox.PerSession = &shared
	if err := DeleteTrash(cfg, nil); err != nil {
		t.Fatal(err)
	}
	for n := range names {
		if _, err := os.Stat(filepath.Join(root, n)); err != nil {
			t.Errorf("shared workspace root: %s removed", n)
		}
	}
	cfg.Sandbox.PerSession = nil
	if err := DeleteTrash(cfg, nil); err != nil {
		t.Fatal(err)
	}
	for n, keep := range names {
		if _, err := os.Stat(filepath.Join(root, n)); (err == nil) != keep {
			t.Errorf("%s: kept %v, want %v", n, err == nil, keep)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "#pruned-f-0123456789ab")); err != nil {
		t.Errorf("a file with a trash name was removed")
	}
}
