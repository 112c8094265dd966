package mcpserver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/gateway"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
)

// FuzzToolArguments: any arguments to any tool, sent over MCP to the real
// gateway, get an answer (a result or a tool error) and never end the
// server (issue 20: a negative log offset panicked in a goroutine the MCP
// library owns, and the gateway died). The profile offers only the
// process tool, so that no argument can start a jail: exec and the file
// tools are refused by the runner before one is built, and process runs
// in the gateway itself.
func FuzzToolArguments(f *testing.F) {
	for _, s := range []struct{ tool, args string }{
		{"process", `{"action":"log","offset":-1,"limit":-1}`},
		{"process", `{"action":"log","offset":9223372036854775807,"limit":9223372036854775807}`},
		{"process", `{"action":"poll","timeout":-1}`},
		{"process", `{"action":"write","data":"rm -rf /\n"}`},
		{"process", `{"action":"list"}`},
		{"exec", `{"command":"ls","background":true,"yieldMs":-1}`},
		{"exec", `{"command":"ls","yieldMs":1e308}`},
		{"read", `{"path":"a","offset":-1}`},
		{"write", `{"path":"../x","content":1}`},
		{"nosuch", `{}`},
	} {
		f.Add(s.tool, s.args)
	}
	cs := fuzzSession(f)
	f.Fuzz(func(t *testing.T, tool, args string) {
		if !json.Valid([]byte(args)) {
			return // the client library refuses to send it
		}
		var a any
		json.Unmarshal([]byte(args), &a)
		r, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: a})
		if err == nil && r == nil {
			t.Fatal("no result and no error")
		}
	})
	// The server is still there.
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "process", Arguments: map[string]any{"action": "list"}}); err != nil {
		f.Fatalf("after the fuzzing: %v", err)
	}
}

func fuzzSession(f *testing.F) *mcp.ClientSession {
	dir := f.TempDir()
	c := config.Defaults()
	c.Sandbox.Workspace = filepath.Join(dir, "ws")
	c.Sandbox.Staging = "off"
	zero := 0
	c.Gateway.Prewarm = &zero
	p, err := profiles.Parse([]byte(`{"name": "fuzz", "tools": ["process"], "execTier": "", "fileTier": "file", "network": "none",
		"limits": {"memory": "64M", "cpus": 1, "pids": 8, "timeout": "5s", "maxOutput": "1M", "tmpSize": "1M", "fileSize": "1M", "openFiles": 64}}`))
	if err != nil {
		f.Fatal(err)
	}
	c.Tools.Profile = "fuzz"
	srv, err := gateway.New(gateway.Options{Config: c, Profiles: map[string]*profiles.Profile{"fuzz": p}, Token: "fuzz-token-0123456789",
		Store: gateway.NewMemoryStore(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RunnerOptions: func(p *profiles.Profile) (runner.Options, error) { return setup.RunnerOptions(c, p) }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Shutdown)
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := New(srv, Options{Process: true}).Connect(ctx, st, nil); err != nil {
		f.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "fuzz"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cs.Close() })
	return cs
}
