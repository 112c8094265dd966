// Package mcpserver exposes the jailed tools over the Model Context
// Protocol (github.com/modelcontextprotocol/go-sdk), for any agent that
// consumes MCP servers. It adds no execution path of its own: every tool
// call goes through the gateway's Call (policy, session and workspace,
// admission, a fresh jail with the profile's limits, audit), and its
// events become MCP progress notifications and the final result.
package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openclaw-run/openclaw-run/gateway"
	"github.com/openclaw-run/openclaw-run/runner"
)

// Caller runs a tool call and reports its events (gateway.Server).
type Caller interface {
	Call(ctx context.Context, req *gateway.Request, emit runner.Emit) error
}

// identifier names the client of a call over HTTP from its headers
// (gateway.Server): the MCP session does not carry the request's context.
type identifier interface {
	ClientOf(h http.Header) *gateway.Client
}

// Options configure the MCP server.
type Options struct {
	Version string
	// Profile names the profile of every call ("" : tools.profile).
	Profile string
	// Process offers the process tool (background exec).
	Process bool
}

// New returns an MCP server whose tools run through c. Each MCP session
// (one stdio connection, or one streamable HTTP session) is one session of
// the gateway, with its own workspace unless the gateway has a fixed one.
func New(c Caller, o Options) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "openclaw-run", Title: "openclaw-run: tools in fresh kernel jails", Version: o.Version},
		&mcp.ServerOptions{Instructions: instructions})
	ids := &sessionIDs{m: map[*mcp.ServerSession]string{}}
	for _, t := range toolDefs(o.Process) {
		name := t.Name
		s.AddTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return call(ctx, c, o, ids.of(req.Session), name, req)
		})
	}
	return s
}

const instructions = `Every tool call runs in a fresh Linux jail (user, mount, pid, net, ipc, uts and cgroup namespaces, a seccomp filter, memory/CPU/pids limits) that sees only the workspace, mounted at /workspace. There is no network inside. Paths are relative to /workspace. Files persist in the workspace between calls of this session; processes do not.`

// sessionIDs names each MCP session for the gateway: the streamable HTTP
// session id when there is one, else a random one (stdio).
type sessionIDs struct {
	mu sync.Mutex
	m  map[*mcp.ServerSession]string
}

func (s *sessionIDs) of(ss *mcp.ServerSession) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.m[ss]; ok {
		return id
	}
	var b [8]byte
	rand.Read(b[:])
	id := "mcp-" + hex.EncodeToString(b[:])
	if ss != nil && gateway.ValidSessionID("mcp-"+ss.ID()) && ss.ID() != "" {
		id = "mcp-" + ss.ID()
	}
	if len(s.m) > 4096 { // ended sessions are not reported: bound the map
		clear(s.m)
	}
	s.m[ss] = id
	return id
}

// result is the structured content of a call's result.
type result struct {
	Stdout string         `json:"stdout,omitempty"`
	Stderr string         `json:"stderr,omitempty"`
	Result *runner.Result `json:"result,omitempty"`
	Output any            `json:"output,omitempty"`
	Error  *callError     `json:"error,omitempty"`
}

type callError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// call runs one tool call; a refusal or failure is a tool error (IsError,
// with the reason in the text), never a protocol error, so that the model
// sees it and can correct itself.
func call(ctx context.Context, c Caller, o Options, session, tool string, req *mcp.CallToolRequest) (out *mcp.CallToolResult, err error) {
	// The SDK runs handlers on goroutines of its own: a panic here would
	// end the process, every session's calls with it.
	defer func() {
		if v := recover(); v != nil {
			out, err = toolError(tool, "internal", fmt.Sprintf("internal error: %v (the server goes on)", v)), nil
		}
	}()
	var client *gateway.Client
	if id, ok := c.(identifier); ok && req.Extra != nil && req.Extra.Header != nil {
		// Over HTTP: the guard let the request in with a token; the call
		// is that token's client's, with its sessions and profiles.
		if client = id.ClientOf(req.Extra.Header); client == nil {
			return toolError(tool, "unauthorized", "no client presents this request's token"), nil
		}
	}
	args := req.Params.Arguments
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	token := req.Params.GetProgressToken()
	var res result
	var stdout, stderr strings.Builder
	var progress float64
	callErr := c.Call(ctx, &gateway.Request{Tool: tool, Args: args, SessionID: session, UserID: "mcp", Profile: o.Profile, Client: client, AutoSession: true},
		func(e runner.Event) error {
			switch e.Type {
			case "stdout", "stderr":
				data := e.Data
				if data == "" && e.Base64 != "" {
					data = "[" + e.Base64 + " (base64)]"
				}
				if e.Type == "stdout" {
					stdout.WriteString(data)
				} else {
					stderr.WriteString(data)
				}
				if token != nil && req.Session != nil {
					progress++
					// Output as it comes: the notification's message is the
					// chunk, prefixed with its stream.
					req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: token, Progress: progress, Message: e.Type + ": " + data})
				}
			case "result":
				res.Result, res.Output = e.Result, e.Output
			case "error":
				res.Error = &callError{Code: e.Code, Message: e.Message}
			}
			return ctx.Err()
		})
	if callErr != nil && res.Error == nil && res.Result == nil && res.Output == nil {
		// Ended without an error event (a recovered panic): still an error.
		res.Error = &callError{Code: "internal", Message: callErr.Error()}
	}
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	out = &mcp.CallToolResult{StructuredContent: res, Content: []mcp.Content{&mcp.TextContent{Text: summary(tool, &res)}}}
	out.IsError = res.Error != nil || (res.Result != nil && (res.Result.ExitCode != 0 || res.Result.TimedOut || res.Result.Canceled))
	return out, nil
}

// toolError is a refusal as the model reads it.
func toolError(tool, code, msg string) *mcp.CallToolResult {
	res := result{Error: &callError{Code: code, Message: msg}}
	return &mcp.CallToolResult{StructuredContent: res, IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: summary(tool, &res)}}}
}

// summary is the text a model reads: the output, then how the jail ended.
func summary(tool string, r *result) string {
	var b strings.Builder
	if r.Error != nil {
		fmt.Fprintf(&b, "%s refused or failed [%s]: %s\n", tool, r.Error.Code, r.Error.Message)
	}
	if r.Output != nil {
		j, _ := json.MarshalIndent(r.Output, "", "  ")
		b.Write(j)
		b.WriteByte('\n')
	}
	b.WriteString(r.Stdout)
	if r.Stderr != "" {
		if r.Stdout != "" && !strings.HasSuffix(r.Stdout, "\n") {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[stderr]\n%s", r.Stderr)
	}
	if x := r.Result; x != nil {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[exit code %d", x.ExitCode)
		for _, f := range []struct {
			on   bool
			text string
		}{{x.Signal != "", "killed by " + x.Signal}, {x.TimedOut, "timed out"}, {x.OOMKilled, "out of memory"},
			{x.OutputTruncated, "output truncated"}, {x.Canceled, "canceled"}} {
			if f.on {
				b.WriteString("; " + f.text)
			}
		}
		for _, s := range x.BlockedSyscalls {
			fmt.Fprintf(&b, "; blocked %s x%d", s.Syscall, s.Count)
		}
		fmt.Fprintf(&b, "; %d ms]", x.DurationMs)
	}
	return b.String()
}
