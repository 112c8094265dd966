//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

// mcpCall calls a tool and fails the test on a protocol error.
func mcpCall(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return r
}

// exerciseMCP is what every transport must do: list the tools with their
// OpenClaw parameter names, run the file tools and exec in jails, refuse
// by policy as a tool error, contain an escape attempt.
func exerciseMCP(t *testing.T, cs *mcp.ClientSession) {
	ctx := context.Background()
	tools := map[string]*mcp.Tool{}
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		tools[tool.Name] = tool
	}
	for _, name := range []string{"exec", "read", "write", "edit", "apply_patch", "ls", "process"} {
		if tools[name] == nil {
			t.Errorf("tool %s not listed", name)
		}
	}
	if s, _ := json.Marshal(tools["exec"].InputSchema); !strings.Contains(string(s), `"required":["command"]`) || !strings.Contains(string(s), `"timeoutSeconds"`) {
		t.Errorf("exec schema: %s", s)
	}
	if r := mcpCall(t, cs, "write", map[string]any{"path": "notes/hello.txt", "content": "hello from mcp\n"}); r.IsError {
		t.Fatalf("write: %s", text(r))
	}
	if r := mcpCall(t, cs, "edit", map[string]any{"path": "notes/hello.txt", "oldText": "from mcp", "newText": "from an MCP client"}); r.IsError {
		t.Fatalf("edit: %s", text(r))
	}
	if r := mcpCall(t, cs, "read", map[string]any{"path": "notes/hello.txt"}); r.IsError || !strings.Contains(text(r), "hello from an MCP client") {
		t.Errorf("read: %s", text(r))
	}
	r := mcpCall(t, cs, "exec", map[string]any{"command": "cat notes/hello.txt; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status"})
	if r.IsError || !strings.Contains(text(r), "hello from an MCP client") || !strings.Contains(text(r), "NoNewPrivs:\t1") ||
		!strings.Contains(text(r), "Seccomp:\t2") || !strings.Contains(text(r), "CapEff:\t0000000000000000") || !strings.Contains(text(r), "[exit code 0") {
		t.Errorf("exec: %s", text(r))
	}
	var sc struct {
		Stdout string `json:"stdout"`
		Result struct {
			ExitCode int `json:"exitCode"`
		} `json:"result"`
	}
	b, _ := json.Marshal(r.StructuredContent)
	if json.Unmarshal(b, &sc); !strings.Contains(sc.Stdout, "hello") {
		t.Errorf("structured content: %s", b)
	}
	// A policy denial is a tool error with the reason.
	r = mcpCall(t, cs, "exec", map[string]any{"command": "curl http://example.com"})
	if !r.IsError || !strings.Contains(text(r), "denyCommands") {
		t.Errorf("denied command: %s", text(r))
	}
	// An escape attempt fails inside the jail: no host files, no new
	// namespaces, no path out of the workspace.
	r = mcpCall(t, cs, "exec", map[string]any{"command": "cat /etc/shadow || cat /proc/1/root/etc/shadow || unshare -U true || echo contained"})
	if !strings.Contains(text(r), "contained") || strings.Contains(text(r), "root:$") {
		t.Errorf("escape attempt: %s", text(r))
	}
	// "../../../etc/passwd" resolves inside the jail: to its synthesized
	// /etc/passwd (jail root and nobody), never the host's.
	if r := mcpCall(t, cs, "read", map[string]any{"path": "../../../etc/passwd"}); strings.Contains(text(r), "daemon:") || !strings.Contains(text(r), "jail root") {
		t.Errorf("read ../../../etc/passwd: %s", text(r))
	}
	if r := mcpCall(t, cs, "exec", map[string]any{"command": "exit 3"}); !r.IsError || !strings.Contains(text(r), "[exit code 3") {
		t.Errorf("exit 3: %s", text(r))
	}
}

func mcpState(t *testing.T) string {
	state := t.TempDir()
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(`{"tools": {"exec": {"denyCommands": ["curl"]}}}`), 0o600)
	return state
}

// TestMCPStdio drives "openclaw-run mcp" as an agent does: a subprocess
// speaking MCP on stdin/stdout, with the SDK's client.
func TestMCPStdio(t *testing.T) {
	workspace(t)
	state := mcpState(t)
	var mu sync.Mutex
	var progress []string
	client := mcp.NewClient(&mcp.Implementation{Name: "openclaw-run-test", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Message)
			mu.Unlock()
		}})
	cmd := exec.Command(binary, "mcp")
	cmd.Env = append(os.Environ(), "OPENCLAW_STATE_DIR="+state, "OPENCLAW_CONFIG_PATH="+filepath.Join(state, "openclaw.json"))
	cmd.Stderr = os.Stderr
	ctx := context.Background()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	exerciseMCP(t, cs)

	// Output streams as progress notifications when the client asks.
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "exec", Meta: mcp.Meta{"progressToken": "p1"},
		Arguments: map[string]any{"command": "for i in 1 2 3; do echo line-$i; sleep 0.2; done"}})
	if err != nil || r.IsError {
		t.Fatalf("exec with progress: %v %v", err, r)
	}
	if !eventually(5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(strings.Join(progress, ""), "line-3")
	}) {
		t.Errorf("progress notifications: %q", progress)
	}

	// Cancellation kills the jail: the call is canceled once its sleep is
	// seen running on the host, and then it is gone.
	marker := fmt.Sprintf("%d.5", 40+os.Getpid()%50)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "exec", Arguments: map[string]any{"command": "sleep " + marker + "; echo not-killed"}})
		done <- err
	}()
	if !eventually(10*time.Second, func() bool { return len(hostProcs("sleep "+marker)) > 0 }) {
		t.Fatal("the call's sleep never ran")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a canceled call returned normally")
	}
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
		t.Errorf("the canceled call's jail is still running: %v", hostProcs("sleep "+marker))
	}
	// The session's workspace holds the file written above, and the audit
	// log has the calls.
	if m, _ := filepath.Glob(filepath.Join(state, "workspace", "mcp-*", "notes", "hello.txt")); len(m) != 1 {
		t.Errorf("session workspace: %v", m)
	}
	if a, _ := os.ReadFile(filepath.Join(state, "audit", "audit.jsonl")); !strings.Contains(string(a), `"userId":"mcp"`) || !strings.Contains(string(a), `"decision":"deny"`) {
		t.Errorf("audit log lacks the MCP calls")
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// TestMCPStreamableHTTP: "mcp --http" and the gateway's /mcp route, with
// the token required.
func TestMCPStreamableHTTP(t *testing.T) {
	workspace(t)
	state := mcpState(t)
	port := freePort(t)
	cmd := exec.Command(binary, "mcp", "--http", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), "OPENCLAW_STATE_DIR="+state, "OPENCLAW_CONFIG_PATH="+filepath.Join(state, "openclaw.json"), "OPENCLAW_GATEWAY_TOKEN=mcp-http-token-0123456789")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	endpoint := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	if !eventually(10*time.Second, func() bool {
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	}) {
		t.Fatal("mcp --http did not start")
	}
	connect := func(endpoint, token string) (*mcp.ClientSession, error) {
		c := mcp.NewClient(&mcp.Implementation{Name: "openclaw-run-test", Version: "1"}, nil)
		return c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1,
			HTTPClient: &http.Client{Transport: bearer{token}}}, nil)
	}
	if cs, err := connect(endpoint, "wrong-token-0123456789"); err == nil {
		cs.Close()
		t.Fatal("a wrong token was accepted")
	} else if !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Errorf("wrong token: %v", err)
	}
	cs, err := connect(endpoint, "mcp-http-token-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	exerciseMCP(t, cs)

	// The gateway serves the same at /mcp.
	g := startGateway(t, `{}`)
	gcs, err := connect(g.url+"/mcp", g.token)
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Close()
	if r := mcpCall(t, gcs, "exec", map[string]any{"command": "echo via-gateway-mcp"}); r.IsError || !strings.Contains(text(r), "via-gateway-mcp") {
		t.Errorf("gateway /mcp: %s", text(r))
	}
}
