package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openclaw-run/openclaw-run/gateway"
	"github.com/openclaw-run/openclaw-run/runner"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// recorder is a Caller that records the request and answers like a file
// tool, so that the MCP side is tested without a jail.
type recorder struct{ got []*gateway.Request }

func (r *recorder) Call(ctx context.Context, req *gateway.Request, emit runner.Emit) error {
	r.got = append(r.got, req)
	emit(runner.Event{Type: "start", Tool: req.Tool})
	return emit(runner.Event{Type: "result", Result: &runner.Result{}, Output: map[string]any{"path": "/workspace/a"}})
}

func connect(t *testing.T, o Options) (*mcp.ClientSession, *recorder) {
	t.Helper()
	rec := &recorder{}
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := New(rec, o).Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, rec
}

// The MCP tool list is the registry's: every exec and file tool, process
// only when background exec is on, never sessions_spawn; each with the
// registry's schema.
func TestToolsComeFromTheRegistry(t *testing.T) {
	for _, process := range []bool{false, true} {
		cs, _ := connect(t, Options{Process: process})
		var listed []string
		for tool, err := range cs.Tools(context.Background(), nil) {
			if err != nil {
				t.Fatal(err)
			}
			listed = append(listed, tool.Name)
			reg, ok := tools.Lookup(tool.Name)
			if !ok {
				t.Errorf("%s is not in the registry", tool.Name)
				continue
			}
			got, _ := json.Marshal(tool.InputSchema)
			want, _ := json.Marshal(reg.Schema)
			if string(got) != string(want) {
				t.Errorf("%s: schema %s, registry %s", tool.Name, got, want)
			}
			if tool.Description != reg.Description || tool.Annotations == nil || tool.Annotations.Title != reg.Title {
				t.Errorf("%s: description or title differs from the registry's", tool.Name)
			}
		}
		want := append([]string{"exec"}, tools.NamesOf(tools.KindFile)...)
		if process {
			want = append(want, "process")
		}
		slices.Sort(listed) // the SDK lists tools by name
		slices.Sort(want)
		if !slices.Equal(listed, want) {
			t.Errorf("process=%t: listed %v, want %v", process, listed, want)
		}
	}
}

// A call reaches the gateway with its tool name and arguments as sent,
// and the pinned profile.
func TestCallGoesToTheGateway(t *testing.T) {
	cs, rec := connect(t, Options{Profile: "minimal"})
	r, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "stat", Arguments: map[string]any{"path": "a"}})
	if err != nil || r.IsError {
		t.Fatalf("stat: %v %+v", err, r)
	}
	if len(rec.got) != 1 || rec.got[0].Tool != "stat" || string(rec.got[0].Args) != `{"path":"a"}` || rec.got[0].Profile != "minimal" {
		t.Errorf("the gateway got %+v", rec.got)
	}
}

type panicker struct{}

func (panicker) Call(context.Context, *gateway.Request, runner.Emit) error { panic("boom") }

// A panic under a tool handler (a goroutine of the MCP library) is a
// tool error for that call; the server answers the next one.
func TestPanicInACallIsAToolError(t *testing.T) {
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := New(panicker{}, Options{}).Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for i := 0; i < 2; i++ {
		r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "read", Arguments: map[string]any{"path": "a"}})
		if err != nil || !r.IsError {
			t.Fatalf("call %d: %v %+v", i, err, r)
		}
	}
}

type silentFailure struct{}

func (silentFailure) Call(context.Context, *gateway.Request, runner.Emit) error {
	return errors.New("internal error in call read (logged); the gateway goes on")
}

// A call that fails without an error event (the gateway recovered a
// panic) is still a tool error, with the reason.
func TestFailureWithoutEventIsAToolError(t *testing.T) {
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := New(silentFailure{}, Options{}).Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "read", Arguments: map[string]any{"path": "a"}})
	if err != nil || !r.IsError {
		t.Fatalf("%v %+v", err, r)
	}
}
