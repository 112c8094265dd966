//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bgCall posts a call in session "bg" and returns the last event's output.
func bgCall(t *testing.T, g *gw, tool, args string) map[string]any {
	t.Helper()
	r, out := g.post(t, "/v1/tools/"+tool, g.token, "", `{"sessionId":"bg","args":`+args+`}`)
	if r.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", tool, args, r.StatusCode, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var e struct {
		Output map[string]any `json:"output"`
	}
	json.Unmarshal([]byte(lines[len(lines)-1]), &e)
	return e.Output
}

// A background process that a restart of its gateway killed is reported
// as killed, saying so, by poll and list after the restart, whether the
// gateway stopped (SIGTERM) or died (kill -9), never as not_found.
func TestBackgroundProcessAcrossRestart(t *testing.T) {
	g := startGateway(t, `{}`)
	for _, stop := range []string{"SIGTERM", "kill -9"} {
		marker := fmt.Sprintf("1000.%d", time.Now().UnixNano()%100000+37)
		p := bgCall(t, g, "exec", `{"command":"echo up; sleep `+marker+`","background":true}`)
		id, _ := p["processId"].(string)
		if p["status"] != "running" || id == "" {
			t.Fatalf("background exec: %v", p)
		}
		if !eventually(10*time.Second, func() bool { return len(hostProcs("sleep "+marker)) > 0 }) {
			t.Fatalf("the process did not start")
		}
		if stop == "SIGTERM" {
			g.cmd.Process.Signal(syscall.SIGTERM)
		} else {
			g.cmd.Process.Kill()
		}
		g.cmd.Wait()
		if !eventually(10*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
			t.Fatalf("%s: the process outlived its gateway", stop)
		}
		state, tok := g.state, g.token
		g = startGatewayEnv(t, `{}`, "OPENCLAW_STATE_DIR="+state, "OPENCLAW_GATEWAY_TOKEN="+tok)
		g.state = state
		poll := bgCall(t, g, "process", `{"action":"poll","processId":"`+id+`"}`)
		if poll["status"] != "killed" || !strings.Contains(fmt.Sprint(poll["error"]), "gateway") {
			t.Errorf("%s: poll after the restart: %v", stop, poll)
		}
		list := bgCall(t, g, "process", `{"action":"list"}`)
		procs, _ := list["processes"].([]any)
		found := false
		for _, x := range procs {
			if m, _ := x.(map[string]any); m["processId"] == id {
				found = true
				if m["status"] != "killed" {
					t.Errorf("%s: list after the restart: %v", stop, m)
				}
			}
		}
		if !found {
			t.Errorf("%s: list after the restart lacks %s: %v", stop, id, list)
		}
		if rm := bgCall(t, g, "process", `{"action":"remove","processId":"`+id+`"}`); rm["removed"] != true {
			t.Errorf("%s: remove: %v", stop, rm)
		}
	}
}

// rssKiB is a process's resident set.
func rssKiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var n int
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &n)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// The gateway's memory stays flat under load: a call, its pre-warmed
// jail and their buffers are released when the call ends. 8 clients,
// each its own session (and pre-warmed jail), make calls; the RSS after
// many more calls stays within a ratio of the RSS after the first ones.
// When a used pre-warmed jail was kept for its idle minute with its
// 256 KiB buffer (about 300 KB per call), 1200 calls grew it by ~350 MB.
func TestGatewayMemoryFlatUnderLoad(t *testing.T) {
	g := startGateway(t, `{"gateway": {"maxConcurrent": 8}}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	calls := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n/8; i++ {
					req, _ := http.NewRequest("POST", g.url+"/v1/tools/exec", strings.NewReader(fmt.Sprintf(`{"sessionId":"mem-%d","args":{"command":"echo x"}}`, c)))
					req.Header.Set("Authorization", "Bearer "+g.token)
					resp, err := client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if !strings.Contains(string(b), `"type":"result"`) {
						errs <- fmt.Errorf("%d %s", resp.StatusCode, b)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	warmup, n := 200, 1200
	if os.Getenv("OPENCLAW_TEST_VM") != "" {
		warmup, n = 50, 300 // vm-tests.sh: emulated; 300 calls still show a leak of the old 300 KB a call
	}
	calls(warmup) // every session and its pre-warmed jail exist; the heap has grown to its working size
	base := rssKiB(t, g.cmd.Process.Pid)
	calls(n)
	after := rssKiB(t, g.cmd.Process.Pid)
	t.Logf("gateway RSS: %d KiB after the first calls, %d KiB after %d more (%.2fx, %+.1f KB per call)", base, after, n, float64(after)/float64(base), float64(after-base)*1.024/float64(n))
	if float64(after) > 1.5*float64(base) {
		t.Errorf("the gateway's RSS grew from %d to %d KiB over %d calls: per-call state is kept", base, after, n)
	}
}

// A call that times out while its client has stopped reading records
// the time its jail lived, not the time the client took to come back for
// the output: the client here stalls several times the call's timeout.
func TestTimedOutCallToStalledClientRecordsItsDuration(t *testing.T) {
	g := startGateway(t, `{}`)
	marker := fmt.Sprintf("stall-%d", time.Now().UnixNano())
	// A small receive buffer, set before connecting (shrunk after, the
	// window already advertised would make the sender back off instead).
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"args":{"command":"yes ` + marker + ` | head -c 200000000; sleep 30","timeoutSeconds":1}}`
	fmt.Fprintf(conn, "POST /v1/tools/exec HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", g.token, len(body), body)
	// Not reading: the call's output fills the socket and the pipes,
	// and its timeout kills the jail meanwhile.
	const stall = 6 * time.Second
	logf := filepath.Join(g.state, "audit", "audit.jsonl")
	time.Sleep(stall)
	go io.Copy(io.Discard, conn)
	var rec struct {
		Action     string `json:"action"`
		DurationMs int64  `json:"duration"`
		Usage      struct {
			TimedOut bool `json:"timedOut"`
		} `json:"usage"`
		Parameters map[string]any `json:"parameters"`
	}
	if !eventually(30*time.Second, func() bool {
		b, _ := os.ReadFile(logf)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, marker) && strings.Contains(l, `"action":"tool_call"`) {
				return json.Unmarshal([]byte(l), &rec) == nil
			}
		}
		return false
	}) {
		b, _ := os.ReadFile(logf)
		t.Fatalf("no outcome record of the call:\n%s\n%s", b, g.log)
	}
	if !rec.Usage.TimedOut || rec.DurationMs >= stall.Milliseconds()/2 {
		t.Errorf("outcome: timed out %v, duration %d ms for a 1 s timeout while the client stalled %s", rec.Usage.TimedOut, rec.DurationMs, stall)
	}
}

// A full state disk makes the gateway refuse calls, unready: every call
// gets 503 with Retry-After and nothing runs, /readyz says 503 with the
// reason, the log says it at error; when space returns it serves again
// without a restart.
func TestGatewayFullStateDisk(t *testing.T) {
	workspace(t)
	state := t.TempDir()
	adir := filepath.Join(state, "audit")
	os.Mkdir(adir, 0o700)
	if err := syscall.Mount("tmpfs", adir, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(adir, syscall.MNT_DETACH)
	const tok = "full-disk-test-token-0123456789"
	g := startGatewayEnv(t, `{}`, "OPENCLAW_STATE_DIR="+state, "OPENCLAW_GATEWAY_TOKEN="+tok)
	call := func(what string) (*http.Response, string) {
		return g.post(t, "/v1/tools/exec", tok, "", `{"args":{"command":"echo ran-`+what+`"}}`)
	}
	ready := func() (int, string) {
		r, err := http.Get(g.url + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		return r.StatusCode, string(b)
	}
	if r, out := call("before"); r.StatusCode != 200 || !strings.Contains(out, "ran-before") {
		t.Fatalf("before: %d %s", r.StatusCode, out)
	}
	filler, _ := os.Create(filepath.Join(adir, "fill"))
	io.Copy(filler, io.LimitReader(zeros{}, 8<<20)) // to ENOSPC
	filler.Close()
	// readyz probes now; a call probes when the last probe is a second
	// old (so that a call costs no statfs).
	if code, body := ready(); code != 503 || !strings.Contains(body, "audit") {
		t.Errorf("readyz on a full disk: %d %s", code, body)
	}
	r, out := call("full")
	if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" || !strings.Contains(out, "audit_unavailable") || strings.Contains(out, "ran-full") {
		t.Errorf("a call on a full disk: %d Retry-After %q %s", r.StatusCode, r.Header.Get("Retry-After"), out)
	}
	if !strings.Contains(g.log.String(), "level=ERROR") || !strings.Contains(g.log.String(), "audit") {
		t.Errorf("the log does not say it at error:\n%s", g.log)
	}
	os.Remove(filepath.Join(adir, "fill"))
	if !eventually(10*time.Second, func() bool { c, _ := ready(); return c == 200 }) {
		c, b := ready()
		t.Fatalf("readyz did not recover with the space: %d %s", c, b)
	}
	if r, out := call("after"); r.StatusCode != 200 || !strings.Contains(out, "ran-after") {
		t.Errorf("after the space returned: %d %s", r.StatusCode, out)
	}
}

// Far more clients than the gateway admits: the excess get 429 with
// Retry-After at once, the admitted calls all complete, and the audit log
// holds the refusals aggregated (their counts add up to the 429s).
func TestGatewayOverloadManyClients(t *testing.T) {
	g := startGateway(t, `{"gateway": {"maxConcurrent": 1, "maxQueue": 2}}`)
	const clients = 48
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"sleep 0.3; echo done"}}`)
			mu.Lock()
			defer mu.Unlock()
			codes[r.StatusCode]++
			switch r.StatusCode {
			case 429:
				if r.Header.Get("Retry-After") != "1" || !strings.Contains(out, "overloaded") {
					t.Errorf("429: Retry-After %q %s", r.Header.Get("Retry-After"), out)
				}
			case 200:
				if !strings.Contains(out, "done") {
					t.Errorf("admitted call: %s", out)
				}
			default:
				t.Errorf("%d %s", r.StatusCode, out)
			}
		}()
	}
	wg.Wait()
	if codes[429] == 0 || codes[200] == 0 {
		t.Fatalf("status codes %v: want some admitted and some refused", codes)
	}
	logf := filepath.Join(g.state, "audit", "audit.jsonl")
	if !eventually(10*time.Second, func() bool {
		b, _ := os.ReadFile(logf)
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			var rec struct {
				Action string `json:"action"`
				Code   string `json:"code"`
				Count  int    `json:"count"`
			}
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Action == "refusal" && rec.Code == "overloaded" {
				n += rec.Count
			}
		}
		return n == codes[429]
	}) {
		b, _ := os.ReadFile(logf)
		t.Errorf("the audit log's overload refusals do not add up to the %d 429s:\n%s", codes[429], b)
	}
}
