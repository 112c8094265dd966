//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Issue 20, end to end against the gateway binary: secrets, per-call
// narrowing, the process tool's policy and audit, FIFOs, Host, named
// clients.

// auditRecords reads a gateway's audit log.
func (g *gw) auditRecords(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(g.state, "audit", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Item 2: secretEnv resolves only declared secrets, never the gateway's
// own token or secrets key, whatever the gateway's environment holds.
func TestGatewaySecretEnvOnlyDeclared(t *testing.T) {
	const token = "gw-token-for-secret-test-0123456789"
	g := startGatewayEnv(t, `{"secrets": {"names": ["DECLARED"]}}`, "OPENCLAW_GATEWAY_TOKEN="+token,
		"OPENCLAW_DECLARED=declared-value", "OPENCLAW_UNDECLARED=undeclared-value")
	for _, name := range []string{"GATEWAY_TOKEN", "SECRETS_KEY", "UNDECLARED", "gateway_token"} {
		r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"echo \"[$T]\"","secretEnv":{"T":"`+name+`"}}}`)
		if r.StatusCode == 200 || strings.Contains(out, token) || strings.Contains(out, "undeclared-value") {
			t.Errorf("secretEnv %s: %d %s", name, r.StatusCode, out)
		}
	}
	if r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"args":{"command":"echo \"[$T]\"","secretEnv":{"T":"DECLARED"}}}`); r.StatusCode != 200 || !strings.Contains(out, "[declared-value]") {
		t.Errorf("a declared secret: %d %s", r.StatusCode, out)
	}
}

// Item 4: timeoutSeconds may only shorten the configured timeout, and the
// record shows the timeout in force.
func TestGatewayTimeoutOnlyNarrows(t *testing.T) {
	g := startGateway(t, `{"tools": {"profile": "coding"}, "sandbox": {"limits": {"coding": {"timeout": "2s"}}}}`)
	t0 := time.Now()
	r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"sessionId":"narrow","args":{"command":"sleep 30; echo NEVER","timeoutSeconds":86400}}`)
	if r.StatusCode != 200 || strings.Contains(out, "NEVER") || !strings.Contains(out, `"timedOut":true`) {
		t.Errorf("timeoutSeconds 86400 under a 2 s timeout: %d %s", r.StatusCode, out)
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Errorf("the call ran %v", d)
	}
	// The same over /mcp and /tools/invoke.
	c := mcp.NewClient(&mcp.Implementation{Name: "openclaw-run-test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: g.url + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{g.token}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if r := mcpCall(t, cs, "exec", map[string]any{"command": "sleep 30; echo NEVER", "timeoutSeconds": 86400}); strings.Contains(text(r), "NEVER") || !strings.Contains(text(r), "timed out") {
		t.Errorf("over MCP: %s", text(r))
	}
	if r, out := g.post(t, "/tools/invoke", g.token, "", `{"tool":"exec","sessionKey":"narrow","args":{"command":"sleep 30; echo NEVER","timeoutSeconds":86400}}`); r.StatusCode != 200 || strings.Contains(out, "NEVER") || !strings.Contains(out, `"timedOut":true`) {
		t.Errorf("over /tools/invoke: %d %s", r.StatusCode, out)
	}
	if d := time.Since(t0); d > 40*time.Second {
		t.Errorf("the calls ran %v", d)
	}
	n := 0
	for _, rec := range g.auditRecords(t) {
		if rec["action"] == "tool_call" {
			n++
		}
		if rec["action"] == "tool_call" && rec["sessionId"] == "narrow" {
			if l, _ := rec["limits"].(map[string]any); l == nil || l["timeoutMs"] != 2000.0 {
				t.Errorf("the record's limits: %v", rec["limits"])
			}
		}
	}
	if n < 3 {
		t.Errorf("%d tool_call records, want 3", n)
	}
}

// Item 6: data written to a background shell or xargs sh -c is checked
// by the exec policy (a denied rm never runs); every process action is
// audited with its data.
func TestGatewayProcessWritesChecked(t *testing.T) {
	g := startGateway(t, `{"tools": {"profile": "coding", "exec": {"denyCommands": ["rm"]}}}`)
	g.post(t, "/v1/tools/exec", g.token, "", `{"sessionId":"pw","args":{"command":"touch victim"}}`)
	for _, cmd := range []string{"sh", "xargs -I{} sh -c {}", "script -qc sh /dev/null"} {
		r, out := g.post(t, "/v1/tools/exec", g.token, "", `{"sessionId":"pw","args":{"command":"`+cmd+`","background":true}}`)
		var res struct {
			Output struct {
				ProcessID string `json:"processId"`
			} `json:"output"`
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "processId") {
				json.Unmarshal([]byte(line), &res)
			}
		}
		if r.StatusCode != 200 || res.Output.ProcessID == "" {
			t.Fatalf("%s in the background: %d %s", cmd, r.StatusCode, out)
		}
		id := res.Output.ProcessID
		if r, out := g.post(t, "/v1/tools/process", g.token, "", `{"sessionId":"pw","args":{"action":"write","processId":"`+id+`","data":"rm -f victim\n"}}`); r.StatusCode != 403 {
			t.Errorf("%s: rm written: %d %s", cmd, r.StatusCode, out)
		}
		g.post(t, "/v1/tools/process", g.token, "", `{"sessionId":"pw","args":{"action":"kill","processId":"`+id+`"}}`)
	}
	if _, out := g.post(t, "/v1/tools/exec", g.token, "", `{"sessionId":"pw","args":{"command":"ls victim"}}`); !strings.Contains(out, `victim\n`) {
		t.Errorf("the victim is gone: %s", out)
	}
	writes, kills := 0, 0
	for _, rec := range g.auditRecords(t) {
		if rec["action"] != "process" {
			continue
		}
		p, _ := rec["parameters"].(map[string]any)
		switch p["action"] {
		case "write":
			if rec["decision"] == "deny" && p["data"] == "rm -f victim\n" {
				writes++
			}
		case "kill":
			kills++
		}
	}
	if writes != 3 || kills != 3 {
		t.Errorf("audit: %d denied writes, %d kills; want 3 and 3", writes, kills)
	}
}

// Item 14: a read of a FIFO planted in the workspace is refused at once.
func TestGatewayFIFORefusedAtOnce(t *testing.T) {
	g := startGateway(t, `{"tools": {"profile": "coding"}}`)
	g.post(t, "/v1/tools/exec", g.token, "", `{"sessionId":"ff","args":{"command":"mkfifo pipe"}}`)
	t0 := time.Now()
	r, out := g.post(t, "/v1/tools/read", g.token, "", `{"sessionId":"ff","args":{"path":"pipe"}}`)
	if r.StatusCode != 400 || !strings.Contains(out, "FIFO") && !strings.Contains(out, "regular") {
		t.Errorf("read of a FIFO: %d %s", r.StatusCode, out)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the read took %v", d)
	}
}

// Items 5 and 9: a named client cannot reach another's session; a
// rebound Host is refused on the unauthenticated routes too.
func TestGatewayNamedClientsAndHost(t *testing.T) {
	g := startGateway(t, `{"tools": {"profile": "coding"}, "gateway": {"auth": {"clients": [
		{"name": "a", "token": "client-a-token-0123456789"}, {"name": "b", "token": "client-b-token-0123456789"}]}}}`)
	if r, out := g.post(t, "/v1/tools/exec", "client-a-token-0123456789", "", `{"sessionId":"sa","args":{"command":"echo a-secret > f"}}`); r.StatusCode != 200 {
		t.Fatalf("a: %d %s", r.StatusCode, out)
	}
	if r, out := g.post(t, "/v1/tools/read", "client-b-token-0123456789", "", `{"sessionId":"sa","args":{"path":"f"}}`); r.StatusCode != 403 || strings.Contains(out, "a-secret") {
		t.Errorf("b read a's workspace: %d %s", r.StatusCode, out)
	}
	named := false
	for _, rec := range g.auditRecords(t) {
		if rec["action"] == "tool_call" && rec["sessionId"] == "sa" && rec["client"] == "a" {
			named = true
		}
	}
	if !named {
		t.Error("the audit record does not name client a")
	}
	req, _ := http.NewRequest("GET", g.url+"/readyz", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("/readyz with Host evil.example: %d", resp.StatusCode)
	}
}

// Item 1, as reported: a negative or overflowing offset or limit of the
// process log, sent through /mcp for a live background process, is a
// tool error; the gateway and its other calls go on.
func TestMCPProcessLogBadOffsetKeepsGateway(t *testing.T) {
	g := startGateway(t, `{"tools": {"profile": "coding"}}`)
	c := mcp.NewClient(&mcp.Implementation{Name: "openclaw-run-test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: g.url + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{g.token}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	r := mcpCall(t, cs, "exec", map[string]any{"command": "seq 1 50; sleep 30", "yieldMs": 1000})
	var out struct {
		Output struct {
			ProcessID string `json:"processId"`
		} `json:"output"`
	}
	b, _ := json.Marshal(r.StructuredContent)
	json.Unmarshal(b, &out)
	id := out.Output.ProcessID
	if id == "" {
		t.Fatalf("no background process: %s", text(r))
	}
	for _, args := range []map[string]any{
		{"offset": -1}, {"limit": -1}, {"offset": 9223372036854775807}, {"offset": 1, "limit": 9223372036854775807},
	} {
		args["action"], args["processId"] = "log", id
		if r := mcpCall(t, cs, "process", args); !r.IsError || !strings.Contains(text(r), "invalid_params") {
			t.Errorf("log %v: %s", args, text(r))
		}
	}
	if r := mcpCall(t, cs, "process", map[string]any{"action": "log", "processId": id, "offset": 0, "limit": 3}); r.IsError || !strings.Contains(text(r), "1\\n2\\n3") {
		t.Errorf("a valid log: %s", text(r))
	}
	mcpCall(t, cs, "process", map[string]any{"action": "kill", "processId": id})
	if resp, err := http.Get(g.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the gateway is gone: %v", err)
	}
}
