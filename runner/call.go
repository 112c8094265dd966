package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/internal/procid"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/runner/tools"
	"github.com/openclaw-run/openclaw-run/staging"
	"golang.org/x/sys/unix"
)

// Call is one tool call as a transport (CLI, gateway, MCP) receives it.
type Call struct {
	Tool   string
	Params json.RawMessage
	// Who asked, for the audit log: the session, the user, the channel
	// and the gateway client (a named token).
	SessionID, UserID, Channel, Client string
	// Stdin feeds exec's standard input: an *os.File is given to the jail
	// as is, any other reader is copied in through a pipe; nil means
	// /dev/null.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive exec's output as it comes,
	// instead of stdout and stderr events (the CLI). With a pty, all of it
	// goes to Stdout.
	Stdout, Stderr io.Writer

	// The CLI's exec, in place of Params: the command line as given (no
	// shell in between), its variables, secrets, working directory, pty
	// and extra binds. Binds are the operator's and are checked by the
	// same path policy as tools.fs.allowedPaths.
	Argv      []string
	Env       map[string]string
	SecretEnv map[string]string
	Workdir   string
	Pty       *plan.Pty
	Binds     []AllowedPath
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

// newCallID returns a random call id.
func newCallID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run runs one call end to end and reports it through emit: a start event,
// output events, and one result or error event. It is the only path from
// a call to a jail, in this order:
//
//  1. the parameters are decoded and checked, and the profile and the
//     command policy agree (request);
//  2. the call's plan is made (plan): its whole jail, decided now;
//  3. its intent is recorded in the audit log and made durable: a call
//     whose intent cannot be recorded is refused, and nothing runs;
//  4. the engine builds the jail and runs the command, streaming its
//     output;
//  5. the outcome is recorded, pointing at the intent, and the intent's
//     sync is waited for (Options.AuditSync "before-result");
//  6. the result event goes out;
//  7. the jail is taken apart (in the background with Options.Background).
//
// The returned error is the error event's, for callers that want it as a
// value (the CLI derives its exit code from its type); or, after a result
// event, an *AuditError when only the outcome record failed.
func (r *Runner) Run(ctx context.Context, call Call, emit Emit) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &sender{emit: emit, cancel: cancel}
	id := newCallID()
	start := time.Now()
	tr := newTrace(start)
	defer tr.print()
	prof := r.opts.Profile
	s.send(Event{Type: "start", CallID: id, Tool: call.Tool, Profile: prof.Name})
	rec := audit.Record{Timestamp: start.UTC(), SessionID: call.SessionID, UserID: call.UserID, Channel: call.Channel,
		Client: call.Client, Tool: call.Tool, CallID: id, Profile: prof.Name}
	refuse := func(req *request, err error) error {
		rec.Action, rec.Decision, rec.Reason, rec.Code = "denial", "deny", err.Error(), ErrorCode(err)
		if req != nil {
			rec.Parameters = req.params
		}
		if aerr := r.record(rec); aerr != nil {
			err = fmt.Errorf("%w (and its audit record failed: %v)", err, aerr)
		}
		return s.fail(id, err)
	}

	// 1. Parameters and policy.
	req, err := r.request(&call)
	if err != nil {
		return refuse(req, err)
	}
	rec.Parameters = req.params
	tr.mark("request")
	// 2. The plan.
	if err := r.holdStore(); err != nil {
		return refuse(req, setupErr("staging", err))
	}
	defer r.releaseStore()
	p, err := r.plan(id, req, &call)
	if err != nil {
		return refuse(req, err)
	}
	tr.mark("plan")
	// 3. The intent, durable before anything of the call runs.
	limits := r.limitsRecord(p)
	rec.Action, rec.Decision, rec.Engine, rec.Limits = "intent", "allow", r.Engine(), limits
	if len(req.unchecked) > 0 {
		rec.Reason = "not checked by the command policy: " + strings.Join(req.unchecked, "; ")
	}
	var ref audit.IntentRef
	var synced func() error
	if a := r.opts.Audit; a != nil {
		if r.opts.AuditSync == AuditSyncBeforeJail {
			ref, err = a.Intent(rec)
		} else {
			ref, synced, err = a.IntentThenSync(rec)
		}
		if err != nil {
			return s.fail(id, &AuditError{Err: err})
		}
	}
	tr.mark("intent")
	// 4. The jail.
	cio := &callIO{stdin: call.Stdin, tr: tr, egress: req.egress}
	var helperOut bytes.Buffer
	var stdout, stderr *streamWriter
	switch {
	case req.file:
		cio.stdin = bytes.NewReader(req.fileParams)
		cio.stdout, cio.stderr = &helperOut, &helperOut
	case call.Stdout != nil:
		cio.stdout, cio.stderr = call.Stdout, call.Stderr
	default:
		stdout = &streamWriter{typ: "stdout", id: id, send: s.send}
		stderr = &streamWriter{typ: "stderr", id: id, send: s.send}
		cio.stdout, cio.stderr = stdout, stderr
	}
	var unregister func()
	cio.started = func(pid int, sig syscall.Signal, cgroup []string) {
		if jid, err := procid.Of(pid); err == nil {
			unregister = register(RunningCall{CallID: id, SessionID: call.SessionID, Tool: call.Tool, Command: commandOf(call.Tool, req.params),
				Engine: r.Engine(), Started: time.Now().UTC(), Runner: procid.Self(), Jail: jid, KillSignal: sig, Cgroup: cgroup})
		}
	}
	res, teardown, err := r.engine.run(ctx, p, cio)
	if unregister != nil {
		unregister() // the command has ended: ps no longer lists it
	}
	if res != nil {
		res.Limits = limits
	}
	if stdout != nil {
		stdout.flush()
		stderr.flush()
	}
	if err == nil && res.layer != nil {
		l := r.commit(id, res)
		// Closing the layer unmounts its overlay and tmpfs (their last
		// references): teardown work, after the result.
		if td := teardown; td != nil {
			teardown = func() { td(); l.Close() }
		} else {
			teardown = l.Close
		}
	}
	var output any
	if err == nil && req.file {
		output, err = r.fileReply(req.tool, res, &helperOut)
	}
	// 5. The outcome. It is appended while the intent's sync may still
	// be under way (its line follows the intent's in the file, and is no
	// more durable than any outcome); the result waits for the sync.
	rec.Action, rec.Intent, rec.Reason = "tool_call", &ref, ""
	if err != nil {
		rec.Reason, rec.Code = err.Error(), ErrorCode(err)
		rec.Result = &audit.Outcome{Success: false, ExitCode: -1}
		rec.DurationMs = time.Since(start).Milliseconds()
	} else {
		rec.Result = &audit.Outcome{Success: res.ExitCode == 0 && !res.TimedOut, ExitCode: res.ExitCode}
		rec.DurationMs = res.DurationMs
		rec.Usage = map[string]any{"cpuUserMs": res.CPUUserMs, "cpuSystemMs": res.CPUSystemMs, "maxMemoryBytes": res.MaxMemoryBytes,
			"timedOut": res.TimedOut, "oomKilled": res.OOMKilled, "outputTruncated": res.OutputTruncated, "signal": res.Signal,
			"setupMs": res.SetupMs, "prewarmed": res.Prewarmed}
	}
	if res != nil && len(res.BlockedSyscalls) > 0 {
		rec.Blocked = res.BlockedSyscalls
	}
	if res != nil && res.egressAudit != nil {
		rec.Egress = res.egressAudit
	}
	if res != nil && res.Changes != nil {
		rec.Changes = res.Changes
	}
	aerr := r.record(rec)
	if synced != nil {
		aerr = errors.Join(synced(), aerr)
	}
	tr.mark("outcome")
	// 6. The answer.
	if err != nil {
		s.fail(id, err)
	} else {
		s.send(Event{Type: "result", CallID: id, Tool: call.Tool, Result: res, Output: output})
	}
	if aerr != nil && err == nil {
		// The call ran and its result went out; its outcome record is
		// missing. Its intent stands in the log (audit verify names it),
		// and the caller learns of it from the returned error.
		err = &AuditError{Err: fmt.Errorf("the call ran, but its outcome record failed: %w", aerr)}
	}
	// 7. The teardown.
	if teardown != nil {
		r.afterResult(teardown)
	}
	return err
}

// afterResult runs a call's teardown: in the background (Options.
// Background, Close waits for it) or now. A closed runner tears down
// inline: Close may be waiting already, and a WaitGroup must not grow from
// zero while it is waited on.
func (r *Runner) afterResult(teardown func()) {
	if r.opts.Background {
		r.warm.mu.Lock()
		if !r.warm.closed {
			r.teardowns.Add(1)
			r.warm.mu.Unlock()
			go func() {
				defer r.teardowns.Done()
				teardown()
			}()
			return
		}
		r.warm.mu.Unlock()
	}
	teardown()
}

// record appends to the audit log, if any.
func (r *Runner) record(rec audit.Record) error {
	if r.opts.Audit == nil {
		return nil
	}
	return r.opts.Audit.Append(rec)
}

// limitsRecord is what the audit record and the result show of a plan's
// limits: the values in force.
func (r *Runner) limitsRecord(p *plan.Plan) *Limits {
	l := &Limits{Memory: p.Jail.Memory, CPUs: p.Jail.CPUs, Pids: p.Jail.Pids, TimeoutMs: p.Limits.TimeoutMs,
		MaxOutput: p.Limits.MaxOutput, TmpSize: p.Jail.TmpSize}
	for _, rl := range p.Jail.Rlimits {
		switch rl.Resource {
		case unix.RLIMIT_NOFILE:
			l.OpenFiles = rl.Max
		case unix.RLIMIT_FSIZE:
			l.FileSize = rl.Max
		}
	}
	return l
}

// fileReply reads a file tool helper's answer.
func (r *Runner) fileReply(tool string, res *Result, out *bytes.Buffer) (any, error) {
	var reply tools.Reply
	if json.Unmarshal(out.Bytes(), &reply) != nil {
		switch {
		case res.TimedOut:
			return nil, &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("%s timed out", tool)}
		case res.OutputTruncated:
			return nil, &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("%s: the answer exceeds maxOutput (%d bytes); read less at once", tool, res.Limits.MaxOutput)}
		case res.OOMKilled:
			return nil, &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("%s exceeded the memory limit", tool)}
		}
		return nil, fmt.Errorf("tool helper gave no answer (exit %d, signal %q): %s", res.ExitCode, res.Signal, strings.TrimSpace(out.String()))
	}
	if !reply.OK {
		if reply.Error == nil {
			return nil, fmt.Errorf("tool helper failed without saying why")
		}
		return nil, reply.Error
	}
	return reply.Result, nil
}

// sender serializes a call's events; the first emit error cancels the
// call (the client is gone: kill the jail) and drops the rest.
type sender struct {
	mu     sync.Mutex
	emit   Emit
	err    error
	cancel context.CancelFunc
}

func (s *sender) send(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if s.err = s.emit(e); s.err != nil {
		s.cancel()
	}
}

// fail sends the error event of err and returns err.
func (s *sender) fail(id string, err error) error {
	s.send(Event{Type: "error", CallID: id, Code: ErrorCode(err), Message: err.Error()})
	return err
}

// commit turns a finished call's staging layer into changes of the
// workspace (every process of its jail is dead): committed, held for
// review (Options.Review "hold"), or discarded when the call was aborted
// (a timeout, a cancel, an OOM kill) and Options.OnAbort is not "commit".
// A commit that fails leaves the workspace as it was (or finishes at the
// next commit, after a crash) and says why in the result.
func (r *Runner) commit(id string, res *Result) *staging.Layer {
	l := res.layer
	res.layer = nil
	aborted := res.TimedOut || res.Canceled || res.OOMKilled
	o := staging.Options{Hold: r.opts.Review == "hold", Discard: aborted && r.opts.OnAbort != "commit"}
	ch, err := r.store.Commit(l, id, o)
	if err != nil {
		res.ChangesError = err.Error()
		r.warn("call %s: its workspace changes were not committed: %v", id, err)
		return l
	}
	res.Changes = ch
	// Pre-images to drop come only with a call that kept some.
	if !ch.Empty() && (r.opts.UndoAge > 0 || r.opts.UndoBytes > 0) {
		r.store.Prune(r.opts.UndoAge, r.opts.UndoBytes)
	}
	return l
}
