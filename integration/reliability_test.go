//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
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
