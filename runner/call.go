package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/openclaw-run/openclaw-run/policy"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// Call is one tool call as a transport (CLI, gateway) receives it.
type Call struct {
	Tool      string
	Params    json.RawMessage
	SessionID string
	UserID    string
	Channel   string
	// Stdin feeds exec's standard input (a background process's writes);
	// nil means /dev/null.
	Stdin io.Reader
}

// Event is one item of a call's stream. Type is start, stdout, stderr,
// result or error; the fields of each are documented in docs/events.md.
type Event struct {
	Type    string `json:"type"`
	CallID  string `json:"callId,omitempty"`
	Tool    string `json:"tool,omitempty"`
	Profile string `json:"profile,omitempty"`
	// stdout and stderr: Data when the bytes are valid UTF-8, else Base64.
	Data   string `json:"data,omitempty"`
	Base64 string `json:"base64,omitempty"`
	// result: how the jail ended, and a file tool's answer.
	Result *Result `json:"result,omitempty"`
	Output any     `json:"output,omitempty"`
	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Emit receives a call's events in order. An error (the client went
// away) cancels the call and kills its jail.
type Emit func(Event) error

// ExecParams are exec's parameters, with OpenClaw's names.
type ExecParams struct {
	Command string            `json:"command"`
	Workdir string            `json:"workdir,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// SecretEnv names secrets to give the command as variables
	// ({VAR: secretName}); no other secret ever enters a jail.
	SecretEnv      map[string]string `json:"secretEnv,omitempty"`
	TimeoutSeconds float64           `json:"timeoutSeconds,omitempty"`
	Background     bool              `json:"background,omitempty"`
	Pty            bool              `json:"pty,omitempty"`
}

// lookPath finds name as execvp in the jail would: in the jail's PATH (the
// base one: a call that sets its own PATH keeps sh -c), on the host's
// copy of the system directories the jail binds at the same place, and
// not under a denied path. "" means: leave it to sh -c.
func (r *Runner) lookPath(name string, env []string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return ""
		}
	}
	var cands []string
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			return "" // relative to the jail's working directory
		}
		cands = []string{name}
	} else {
		for _, dir := range strings.Split(strings.TrimPrefix(Env("", nil)[0], "PATH="), ":") {
			cands = append(cands, dir+"/"+name)
		}
	}
	for _, c := range cands {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			continue
		}
		st, err := os.Stat(real)
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			continue
		}
		bound := false
		for _, b := range r.rootfs.Binds {
			if b.Source == b.Target && !b.Writable && within(real, b.Source) {
				bound = true
			}
		}
		for _, m := range r.rootfs.Masks {
			if within(real, m.Path) || within(c, m.Path) {
				return ""
			}
		}
		if !bound {
			return ""
		}
		return c
	}
	return ""
}

// HelperPath is where the tool helper binary appears in a file tool's jail.
const HelperPath = "/run/openclaw-run/tool"

var envName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// Run runs one call end to end and reports it through emit: a start event,
// output events, and one result or error event. The returned error is the
// same as the error event's, for callers that want it as a value.
func (r *Runner) Run(ctx context.Context, call Call, emit Emit) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx, teardown := r.withTeardown(ctx)
	defer teardown() // after the result or error event
	var emitErr error
	var mu sync.Mutex
	send := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if emitErr != nil {
			return
		}
		if emitErr = emit(e); emitErr != nil {
			cancel() // the client is gone: kill the jail
		}
	}
	id := newCallID()
	send(Event{Type: "start", CallID: id, Tool: call.Tool, Profile: r.opts.Profile.Name})
	fail := func(code string, err error) error {
		send(Event{Type: "error", CallID: id, Code: code, Message: err.Error()})
		return err
	}
	switch {
	case call.Tool == "exec" || call.Tool == "bash":
		res, err := r.execCall(ctx, id, call, send)
		if err != nil {
			return fail(errorCode(err), err)
		}
		send(Event{Type: "result", CallID: id, Result: res})
		return nil
	case tools.IsFileTool(call.Tool):
		res, out, err := r.fileCall(ctx, id, call)
		if err != nil {
			return fail(errorCode(err), err)
		}
		send(Event{Type: "result", CallID: id, Result: res, Output: out})
		return nil
	}
	err := &tools.Error{Code: tools.CodeInvalid, Message: fmt.Sprintf("unknown tool %q (runner tools: exec, %s)", call.Tool, strings.Join(tools.Names, ", "))}
	r.deny(id, call, err)
	return fail(tools.CodeInvalid, err)
}

// errorCode maps an error to the fixed event codes.
func errorCode(err error) string {
	var te *tools.Error
	var ce *jail.ChildError
	var re *runcjail.SetupError
	switch {
	case errors.As(err, &te):
		return te.Code
	case errors.Is(err, ErrPolicy):
		return tools.CodeDenied
	case errors.As(err, &ce), errors.As(err, &re), errors.Is(err, jail.ErrNotFound):
		return tools.CodeSetup
	case strings.Contains(err.Error(), "cgroup"):
		return tools.CodeSetup
	}
	return tools.CodeInternal
}

func (r *Runner) deny(id string, call Call, err error) {
	var params map[string]any
	json.Unmarshal(call.Params, &params)
	r.record(audit.Record{Timestamp: time.Now().UTC(), SessionID: call.SessionID, UserID: call.UserID, Channel: call.Channel,
		Action: "denial", Tool: call.Tool, Parameters: params, CallID: id, Profile: r.opts.Profile.Name, Decision: "deny", Reason: err.Error()})
}

func invalidParams(format string, args ...any) error {
	return &tools.Error{Code: tools.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

func (r *Runner) execCall(ctx context.Context, id string, call Call, send func(Event)) (*Result, error) {
	var p ExecParams
	dec := json.NewDecoder(bytes.NewReader(orEmpty(call.Params)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		err = invalidParams("exec: %v", err)
		r.deny(id, call, err)
		return nil, err
	}
	if err := p.validate(); err != nil {
		r.deny(id, call, err)
		return nil, err
	}
	env := make([]string, 0, len(p.Env))
	for k, v := range p.Env {
		env = append(env, k+"="+v)
	}
	secretEnv, err := r.SecretEnv(p.SecretEnv)
	if err != nil {
		r.deny(id, call, err)
		return nil, err
	}
	env = append(env, secretEnv...)
	// A plain command with literal words runs without a shell in between
	// (one exec fewer); anything else is sh -c, as OpenClaw runs it.
	argv, prog := []string{"/bin/sh", "-c", p.Command}, ""
	if words, ok := policy.SimpleArgv(p.Command); ok {
		if prog = r.lookPath(words[0], env); prog != "" {
			argv = words
		}
	}
	cmd := Command{
		Argv: argv, Path: prog, Dir: resolveWorkdir(p.Workdir), Env: env, Stdin: call.Stdin,
		Timeout:   time.Duration(p.TimeoutSeconds * float64(time.Second)),
		Stdout:    &streamWriter{typ: "stdout", id: id, send: send},
		Stderr:    &streamWriter{typ: "stderr", id: id, send: send},
		SessionID: call.SessionID, UserID: call.UserID, Channel: call.Channel,
		Params: map[string]any{"command": p.Command, "workdir": p.Workdir, "env": p.Env, "secretEnv": p.SecretEnv, "timeoutSeconds": p.TimeoutSeconds},
		callID: id,
	}
	res, err := r.Exec(ctx, cmd)
	cmd.Stdout.(*streamWriter).flush()
	cmd.Stderr.(*streamWriter).flush()
	return res, err
}

func (p *ExecParams) validate() error {
	switch {
	case strings.TrimSpace(p.Command) == "":
		return invalidParams("exec: command is required")
	case strings.IndexByte(p.Command, 0) >= 0:
		return invalidParams("exec: command contains a NUL byte")
	case p.Background:
		return invalidParams("exec: background runs outlive the request: they are served by the gateway (POST /v1/tools/exec with background, then the process tool)")
	case p.Pty:
		return invalidParams("exec: pty is not supported by this runner yet")
	case p.TimeoutSeconds < 0 || p.TimeoutSeconds > 24*3600:
		return invalidParams("exec: timeoutSeconds must be between 0 and 86400")
	}
	if p.Workdir != "" {
		w := resolveWorkdir(p.Workdir)
		if w != WorkspaceDir && !strings.HasPrefix(w, WorkspaceDir+"/") {
			return invalidParams("exec: workdir %q is outside the workspace", p.Workdir)
		}
	}
	for k := range p.Env {
		if !envName().MatchString(k) {
			return invalidParams("exec: env name %q is not a valid variable name", k)
		}
	}
	for k := range p.SecretEnv {
		if !envName().MatchString(k) {
			return invalidParams("exec: secretEnv name %q is not a valid variable name", k)
		}
	}
	return nil
}

// SecretEnv resolves {VAR: secretName} through the configured secrets into
// VAR=value entries, adding each value to the audit log's redactions first.
func (r *Runner) SecretEnv(m map[string]string) ([]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if r.opts.Secrets == nil {
		return nil, invalidParams("exec: secretEnv given, but no secret store is configured")
	}
	var out []string
	for k, name := range m {
		v, err := r.opts.Secrets.Get(name)
		if err != nil {
			return nil, &tools.Error{Code: tools.CodeNotFound, Message: err.Error()}
		}
		if r.opts.Audit != nil {
			r.opts.Audit.AddSecret(v)
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// resolveWorkdir makes workdir absolute in the jail (relative to the
// workspace) and removes "..", so that it can be compared.
func resolveWorkdir(w string) string {
	if w == "" {
		return WorkspaceDir
	}
	if !path.IsAbs(w) {
		w = path.Join(WorkspaceDir, w)
	}
	return path.Clean(w)
}

func orEmpty(b json.RawMessage) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}")
	}
	return b
}

// fileCall runs a file tool in a fresh jail whose command is this binary
// in helper mode (see package tools).
func (r *Runner) fileCall(ctx context.Context, id string, call Call) (*Result, any, error) {
	prof := r.opts.Profile
	p, err := tools.Decode(call.Tool, call.Params)
	var params map[string]any
	json.Unmarshal(orEmpty(call.Params), &params)
	rec := audit.Record{Timestamp: time.Now().UTC(), SessionID: call.SessionID, UserID: call.UserID, Channel: call.Channel,
		Tool: call.Tool, Parameters: params, CallID: id, Profile: prof.Name}
	if err == nil && !prof.Allows(call.Tool) {
		err = fmt.Errorf("%w: profile %q does not allow %s", ErrPolicy, prof.Name, call.Tool)
	}
	if err != nil {
		rec.Action, rec.Decision, rec.Reason = "denial", "deny", err.Error()
		return nil, nil, errors.Join(err, r.record(rec))
	}
	_ = p // decoded to refuse bad parameters before any jail; the helper decodes again
	helper, err := r.helper()
	if err != nil {
		return nil, nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := Command{
		Argv:   []string{HelperPath, "__tool", prof.FileTier, call.Tool},
		Stdin:  bytes.NewReader(orEmpty(call.Params)),
		Stdout: &stdout, Stderr: &stderr,
		Binds: []jail.Bind{{Source: helper, Target: HelperPath}},
	}
	// The launcher's filter must allow the helper's execve; the helper
	// then narrows itself to the file tier before it touches a file.
	res, err := r.run(ctx, "coding", cmd)
	rec.Action, rec.Decision, rec.Limits, rec.Engine = "tool_call", "allow", r.limits, r.Engine()
	var reply tools.Reply
	if err == nil && json.Unmarshal(stdout.Bytes(), &reply) != nil {
		err = fmt.Errorf("tool helper gave no answer (exit %d, signal %q): %s", res.ExitCode, res.Signal, strings.TrimSpace(stderr.String()))
		if res.TimedOut {
			err = &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("%s timed out", call.Tool)}
		} else if res.OutputTruncated {
			err = &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("%s: the answer exceeds maxOutput (%s); read fewer lines", call.Tool, r.limits.MaxOutput)}
		} else if res.OOMKilled {
			err = &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("%s exceeded the memory limit", call.Tool)}
		}
	}
	if err == nil && !reply.OK {
		err = reply.Error
	}
	if err != nil {
		rec.Reason = err.Error()
		rec.Result = &audit.Outcome{Success: false, ExitCode: -1}
	} else {
		rec.Result = &audit.Outcome{Success: true}
		rec.DurationMs = res.DurationMs
		rec.Usage = map[string]any{"maxMemoryBytes": res.MaxMemoryBytes, "cpuUserMs": res.CPUUserMs, "cpuSystemMs": res.CPUSystemMs}
	}
	if res != nil && len(res.BlockedSyscalls) > 0 {
		rec.Blocked = res.BlockedSyscalls
	}
	if aerr := r.record(rec); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		return res, nil, err
	}
	return res, reply.Result, nil
}

// helper returns the host path of the binary that serves file tools: this
// executable, or Options.ToolBinary.
func (r *Runner) helper() (string, error) {
	p := r.opts.ToolBinary
	if p == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("locate the tool helper: %w", err)
		}
		p = exe
	}
	return filepath.EvalSymlinks(p)
}

// streamWriter turns output into stdout/stderr events. A UTF-8 sequence
// cut at a chunk boundary is held back for the next chunk, so that text
// stays text; bytes that are not UTF-8 go as base64.
type streamWriter struct {
	typ, id string
	send    func(Event)
	held    []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	buf := p
	if len(w.held) > 0 { // the rest of a character split by the last write
		buf = append(w.held, p...)
	}
	cut := len(buf)
	for i := 1; i <= utf8.UTFMax && i <= len(buf); i++ {
		if utf8.RuneStart(buf[len(buf)-i]) {
			if !utf8.FullRune(buf[len(buf)-i:]) {
				cut = len(buf) - i
			}
			break
		}
	}
	w.held = append(w.held[:0:0], buf[cut:]...)
	w.emit(buf[:cut])
	return n, nil
}

func (w *streamWriter) flush() {
	w.emit(w.held)
	w.held = nil
}

func (w *streamWriter) emit(b []byte) {
	if len(b) == 0 {
		return
	}
	if utf8.Valid(b) {
		w.send(Event{Type: w.typ, CallID: w.id, Data: string(b)})
	} else {
		w.send(Event{Type: w.typ, CallID: w.id, Base64: base64.StdEncoding.EncodeToString(b)})
	}
}
