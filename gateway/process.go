package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/strictjson"
	"github.com/openclaw-run/openclaw-run/runner"
)

// Background processes (OpenClaw's exec background/yieldMs and the process
// tool): the call runs in its jail, owned by the gateway, while the client
// comes back to poll, read the log, write to stdin or kill it. Processes
// belong to a session and end with their timeout (the profile's, or
// timeoutSeconds), a kill, or the gateway.

// maxProcOutput is what is kept of one process's output (the newest).
const maxProcOutput = 1 << 20

// Background processes are bounded, running and finished together, so
// that their output buffers (maxProcOutput each) cannot grow the gateway
// without end: at most procsPerSession in a session and procsTotal in the
// gateway; a start beyond either is refused (429) until some are removed
// (the process tool's remove) or expire: a finished process is dropped
// keepFinished after it ended. Variables for the tests.
var (
	procsPerSession = 16
	procsTotal      = 64
	keepFinished    = 30 * time.Minute
)

type bgProc struct {
	ID, Session, Command string
	Started              time.Time

	mu       sync.Mutex
	status   string // running, exited, failed, killed (ended: see Redis.Reap)
	exitCode int
	errMsg   string
	buf      []byte // the newest maxProcOutput bytes
	dropped  int64  // bytes before buf[0]
	polled   int64  // absolute offset the last poll returned up to
	changed  chan struct{}
	stdin    *io.PipeWriter
	cancel   context.CancelFunc
	done     chan struct{}
	ended    time.Time // when it finished (zero while it runs)
}

func (p *bgProc) append(b []byte) {
	p.mu.Lock()
	p.buf = append(p.buf, b...)
	if over := len(p.buf) - maxProcOutput; over > 0 {
		p.buf = append([]byte(nil), p.buf[over:]...)
		p.dropped += int64(over)
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// finish records how the process ended; only the first call counts (the
// goroutine's recovery may call it again).
func (p *bgProc) finish(status string, code int, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status != "running" {
		return
	}
	p.status, p.exitCode, p.errMsg = status, code, msg
	p.ended = time.Now()
	close(p.changed)
	p.changed = make(chan struct{})
	close(p.done)
}

// expired reports whether p ended more than keepFinished ago.
func (p *bgProc) expired(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status != "running" && now.Sub(p.ended) > keepFinished
}

// view is what list, poll and the exec answer show of a process.
func (p *bgProc) view(withTail bool) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := map[string]any{"processId": p.ID, "status": p.status, "command": p.Command, "started": p.Started,
		"outputBytes": p.dropped + int64(len(p.buf))}
	if p.status != "running" {
		v["exitCode"] = p.exitCode
	}
	if p.errMsg != "" {
		v["error"] = p.errMsg
	}
	if withTail {
		tail := p.buf
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		v["tail"] = string(tail)
	}
	return v
}

type procTable struct {
	mu    sync.Mutex
	procs map[string]*bgProc
}

// add registers a new process, or refuses it when the session or the
// gateway holds as many as they may. Expired finished ones go first
// (returned, for the cluster's records).
func (t *procTable) add(p *bgProc) (gone []*bgProc, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.procs == nil {
		t.procs = map[string]*bgProc{}
	}
	gone = t.expireLocked(time.Now())
	inSession := 0
	for _, q := range t.procs {
		if q.Session == p.Session {
			inSession++
		}
	}
	switch {
	case inSession >= procsPerSession:
		return gone, &httpError{http.StatusTooManyRequests, "too_many_processes", fmt.Sprintf("session %q has %d background processes, the most a session may keep: remove finished ones (process remove) or wait until they expire (%s after they end)", p.Session, inSession, keepFinished)}
	case len(t.procs) >= procsTotal:
		return gone, &httpError{http.StatusTooManyRequests, "too_many_processes", fmt.Sprintf("the gateway keeps %d background processes, the most it may: remove finished ones (process remove) or wait until they expire (%s after they end)", len(t.procs), keepFinished)}
	}
	t.procs[p.ID] = p
	return gone, nil
}

// expireLocked drops the finished processes past keepFinished and
// returns them (for the cluster's records).
func (t *procTable) expireLocked(now time.Time) []*bgProc {
	var gone []*bgProc
	for id, q := range t.procs {
		if q.expired(now) {
			delete(t.procs, id)
			gone = append(gone, q)
		}
	}
	return gone
}

// reapProcs expires finished processes every minute until the gateway
// stops, so that a gateway nobody calls frees them too.
func (s *Server) reapProcs() {
	defer s.Recovered("process reaper", nil)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.base.Done():
			return
		case now := <-t.C:
			s.procs.mu.Lock()
			gone := s.procs.expireLocked(now)
			s.procs.mu.Unlock()
			s.forget(gone)
		}
	}
}

// forget removes expired processes from the cluster's records.
func (s *Server) forget(gone []*bgProc) {
	if s.o.Cluster == nil {
		return
	}
	for _, p := range gone {
		if err := s.o.Cluster.DeleteProc(ProcInfo{ID: p.ID, Session: p.Session}); err != nil {
			s.o.Logger.Error("cluster: removing an expired process", "process", p.ID, "err", err)
		}
	}
}

func (t *procTable) get(session, id string) (*bgProc, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[id]
	if p == nil || p.Session != session {
		return nil, &httpError{http.StatusNotFound, "not_found", fmt.Sprintf("no process %q in session %q", id, session)}
	}
	return p, nil
}

// startBackground runs an exec call as a background process. It waits up
// to yield for the call to finish; then it answers either with the final
// result or with the running process.
func (s *Server) startBackground(req *Request, rn *runner.Runner, call runner.Call, args map[string]any, yield time.Duration) (map[string]any, error) {
	delete(args, "background")
	delete(args, "yieldMs")
	raw, _ := json.Marshal(args)
	call.Params = raw
	var b [6]byte
	rand.Read(b[:])
	cmd, _ := args["command"].(string)
	p := &bgProc{ID: "p-" + hex.EncodeToString(b[:]), Session: call.SessionID, Command: cmd, Started: time.Now().UTC(),
		status: "running", changed: make(chan struct{}), done: make(chan struct{})}
	pr, pw := io.Pipe()
	p.stdin, call.Stdin = pw, pr
	ctx, cancel := context.WithCancel(s.base)
	p.cancel = cancel
	gone, err := s.procs.add(p)
	s.forget(gone)
	if err != nil {
		cancel()
		s.refuseCall(req, call.SessionID, err)
		return nil, err
	}
	release, err := s.admit(ctx, req, &call)
	if err == nil {
		err = s.share(p)
		if err != nil {
			release()
		}
	}
	if err != nil {
		cancel()
		s.procs.mu.Lock()
		delete(s.procs.procs, p.ID)
		s.procs.mu.Unlock()
		return nil, err
	}
	var final runner.Event
	go func() {
		defer release()
		defer cancel()
		defer pr.CloseWithError(io.EOF)
		var perr error
		defer func() {
			if perr != nil {
				p.finish("failed", -1, perr.Error())
			}
		}()
		defer s.Recovered("background process "+p.ID, &perr)
		t0 := time.Now()
		rn.Run(ctx, call, func(e runner.Event) error {
			s.observe("exec", e, t0)
			switch e.Type {
			case "stdout", "stderr":
				p.append([]byte(e.Data))
			case "result", "error":
				final = e
			}
			return nil
		})
		switch {
		case final.Type == "error":
			p.finish("failed", -1, final.Code+": "+final.Message)
		case final.Result != nil && final.Result.Canceled && s.base.Err() != nil:
			p.finish("killed", final.Result.ExitCode, "killed by the gateway's shutdown (a stop or a restart)")
		case final.Result != nil && final.Result.Canceled:
			p.finish("killed", final.Result.ExitCode, "")
		case final.Result != nil:
			p.finish("exited", final.Result.ExitCode, "")
		default:
			p.finish("failed", -1, "no result")
		}
		if err := s.share(p); err != nil {
			s.o.Logger.Error("cluster: recording the end of a process", "process", p.ID, "err", err)
		}
	}()
	select {
	case <-p.done:
		v := p.view(true)
		v["output"] = string(p.buf)
		return v, nil
	case <-time.After(yield):
		return p.view(true), nil
	}
}

// records are where background processes are recorded beyond memory:
// the cluster's store, else the session store if it keeps them (bbolt),
// else nowhere (an MCP server's memory store).
func (s *Server) records() ProcRecords {
	if s.o.Cluster != nil {
		return s.o.Cluster
	}
	r, _ := s.o.Store.(ProcRecords)
	return r
}

// share records a process and its state: in the cluster, the other
// gateways then forward calls for it here, and mark it ended if this
// gateway dies; in the session store, poll and list after a restart say
// what became of it. Without the record the process is not started.
func (s *Server) share(p *bgProc) error {
	rec := s.records()
	if rec == nil {
		return nil
	}
	owner := ""
	if s.o.Cluster != nil {
		owner = s.o.Cluster.Self().ID
	}
	p.mu.Lock()
	info := ProcInfo{ID: p.ID, Session: p.Session, Owner: owner, Command: p.Command, Status: p.status,
		ExitCode: p.exitCode, Error: p.errMsg, Started: p.Started}
	p.mu.Unlock()
	if err := rec.PutProc(info); err != nil {
		return &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", "cannot record the background process: " + err.Error()}
	}
	return nil
}

// infoView is what list and poll show of a process known only from the
// cluster.
func infoView(i *ProcInfo) map[string]any {
	v := map[string]any{"processId": i.ID, "status": i.Status, "command": i.Command, "started": i.Started, "gateway": i.Owner}
	if i.Status != "running" {
		v["exitCode"] = i.ExitCode
	}
	if i.Error != "" {
		v["error"] = i.Error
	}
	return v
}

// settle returns the live gateway that runs a process recorded as
// running, or, when that gateway is known to be dead, marks the process
// so (its jail died with it) and returns nil. Known dead: this gateway
// does not run it although it is the owner (a restart: the jail died with
// the previous run), the owner's membership expired, the owner's
// membership is younger than the process (it restarted since), or the
// owner refuses connections (gone).
func (s *Server) settle(info *ProcInfo) (*Member, error) {
	if info.Status != "running" {
		return nil, nil
	}
	var status, why string
	c := s.o.Cluster
	switch {
	case c == nil || info.Owner == c.Self().ID:
		status, why = "killed", "killed by a restart of the gateway: it stopped while the process ran, and the process's jail died with it"
	default:
		owner, err := c.MemberOf(info.Owner)
		if err != nil {
			return nil, &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", err.Error()}
		}
		switch {
		case owner == nil:
			status, why = "ended", fmt.Sprintf("its gateway %s is gone; its jail died with it", info.Owner)
		case owner.Started.After(info.Started):
			status, why = "killed", fmt.Sprintf("killed by a restart of its gateway %s: the jail died with the run that started it", info.Owner)
		default:
			return owner, nil
		}
	}
	return nil, s.markEnded(info, status, why)
}

// markEnded records a process as dead with its gateway.
func (s *Server) markEnded(info *ProcInfo, status, why string) error {
	info.Status, info.ExitCode, info.Error = status, -1, why
	if err := s.records().PutProc(*info); err != nil {
		return &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", err.Error()}
	}
	return nil
}

// remote serves a process call for a process this gateway does not run
// now: forwarded to the gateway that runs it, or, when that gateway is
// gone (or it was this gateway's previous run), answered from the record,
// with the process marked as dead with its gateway.
func (s *Server) remote(session, id string, raw json.RawMessage) (map[string]any, error) {
	c := s.records()
	info, err := c.Proc(id)
	if errors.Is(err, ErrNoProc) || (err == nil && info.Session != session) {
		return nil, &httpError{http.StatusNotFound, "not_found", fmt.Sprintf("no process %q in session %q", id, session)}
	}
	if err != nil {
		return nil, &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", err.Error()}
	}
	owner, err := s.settle(info)
	if err != nil {
		return nil, err
	}
	if owner != nil {
		out, err := s.forward(owner, session, raw)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return out, err
		}
		// Nothing listens where the owner was: it died (its membership
		// only says so when it expires).
		if err := s.markEnded(info, "ended", fmt.Sprintf("its gateway %s is gone (%s refuses connections); its jail died with it", info.Owner, owner.Addr)); err != nil {
			return nil, err
		}
	}
	var a struct {
		Action string `json:"action"`
	}
	json.Unmarshal(orEmpty(raw), &a)
	switch a.Action {
	case "poll", "kill":
		return infoView(info), nil
	case "remove":
		if err := c.DeleteProc(*info); err != nil {
			return nil, &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", err.Error()}
		}
		return map[string]any{"processId": id, "removed": true}, nil
	}
	return nil, &httpError{http.StatusGone, "not_found", fmt.Sprintf("process %s %s on gateway %s: its output is gone with it", id, info.Status, info.Owner)}
}

// ownerError is a forward that did not reach the owner: a 502 that
// unwraps to the network error (ECONNREFUSED: the owner is gone).
type ownerError struct {
	httpError
	err error
}

func (e *ownerError) Unwrap() []error { return []error{&e.httpError, e.err} }

// forwardClient carries process calls to the gateway that owns the
// process; a poll waits up to 30 s there.
var forwardClient = &http.Client{Timeout: 45 * time.Second}

// forward sends a process call to its owner's /tools/invoke with this
// gateway's token (the gateways of a cluster share one) and relays the
// answer.
func (s *Server) forward(owner *Member, session string, raw json.RawMessage) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"tool": "process", "args": json.RawMessage(orEmpty(raw)), "sessionKey": session})
	req, _ := http.NewRequestWithContext(s.base, "POST", "http://"+owner.Addr+"/tools/invoke", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.o.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := forwardClient.Do(req)
	if err != nil {
		return nil, &ownerError{httpError{http.StatusBadGateway, "owner_unreachable", fmt.Sprintf("the process runs on gateway %s (%s), which did not answer: %v", owner.ID, owner.Addr, err)}, err}
	}
	defer resp.Body.Close()
	var out struct {
		OK     bool `json:"ok"`
		Result struct {
			Output map[string]any `json:"output"`
		} `json:"result"`
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&out); err != nil {
		return nil, &httpError{http.StatusBadGateway, "owner_unreachable", fmt.Sprintf("gateway %s (%s) answered %s: %v", owner.ID, owner.Addr, resp.Status, err)}
	}
	if !out.OK {
		return nil, &httpError{resp.StatusCode, out.Error.Code, out.Error.Message + " (from gateway " + owner.ID + ")"}
	}
	if out.Result.Output == nil {
		out.Result.Output = map[string]any{}
	}
	out.Result.Output["gateway"] = owner.ID
	return out.Result.Output, nil
}

// process serves the process tool for a session. Every action is audited
// (action "process"), the data written included, redacted like any
// parameter; data written to a process that runs its input as commands is
// checked by the exec policy first (policy.CheckInput).
func (s *Server) process(req *Request, rn *runner.Runner, session string, raw json.RawMessage) (out map[string]any, err error) {
	t0 := time.Now()
	params := paramsOf(raw)
	audited := false
	defer func() {
		if !audited {
			s.auditProcess(req, session, params, out, err, t0)
		}
	}()
	return s.processAction(rn, session, raw, params, func(check error) error {
		// A write is recorded before its data reaches the process: if the
		// record cannot be written, the data is not either.
		audited = true
		if err := s.auditProcess(req, session, params, nil, check, t0); err != nil {
			return err
		}
		return check
	})
}

// processAction does one action of the process tool; beforeWrite audits
// a write (with the policy's verdict) before it happens.
func (s *Server) processAction(rn *runner.Runner, session string, raw json.RawMessage, params map[string]any, beforeWrite func(check error) error) (map[string]any, error) {
	var a struct {
		Action    string `json:"action"`
		ProcessID string `json:"processId"`
		SessionID string `json:"sessionId"` // OpenClaw names the process so
		Timeout   int    `json:"timeout"`   // poll: ms, at most 30000
		Offset    int    `json:"offset"`    // log: first line (0-based)
		Limit     int    `json:"limit"`     // log: lines (default the last 200)
		Data      string `json:"data"`
		EOF       bool   `json:"eof"`
	}
	if err := strictjson.Decode(orEmpty(raw), &a); err != nil {
		return nil, &httpError{http.StatusBadRequest, "invalid_params", "process: " + err.Error()}
	}
	switch {
	case a.Timeout < 0 || a.Timeout > 30000:
		return nil, &httpError{http.StatusBadRequest, "invalid_params", "process: timeout must be from 0 to 30000 (ms)"}
	case a.Offset < 0 || a.Limit < 0:
		return nil, &httpError{http.StatusBadRequest, "invalid_params", "process: offset and limit must not be negative"}
	}
	if a.ProcessID == "" {
		a.ProcessID = a.SessionID
	}
	if a.Offset < 0 || a.Limit < 0 || a.Offset > maxLogLines || a.Limit > maxLogLines {
		return nil, &httpError{http.StatusBadRequest, "invalid_params", fmt.Sprintf("process: offset and limit must be between 0 and %d", maxLogLines)}
	}
	if a.Timeout < 0 || a.Timeout > 30000 {
		return nil, &httpError{http.StatusBadRequest, "invalid_params", "process: timeout must be between 0 and 30000 (ms)"}
	}
	if a.Action == "list" {
		s.procs.mu.Lock()
		var out []map[string]any
		local := map[string]bool{}
		for _, p := range s.procs.procs {
			if p.Session == session {
				out = append(out, p.view(false))
				local[p.ID] = true
			}
		}
		s.procs.mu.Unlock()
		if rec := s.records(); rec != nil {
			infos, err := rec.Procs(session)
			if err != nil {
				return nil, &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", err.Error()}
			}
			for i := range infos {
				if local[infos[i].ID] {
					continue
				}
				if _, err := s.settle(&infos[i]); err != nil {
					return nil, err
				}
				out = append(out, infoView(&infos[i]))
			}
		}
		return map[string]any{"processes": out}, nil
	}
	p, err := s.procs.get(session, a.ProcessID)
	if err != nil && s.records() != nil {
		return s.remote(session, a.ProcessID, raw)
	}
	if err != nil {
		return nil, err
	}
	switch a.Action {
	case "poll":
		wait := time.Duration(a.Timeout) * time.Millisecond
		p.mu.Lock()
		ch, has := p.changed, p.dropped+int64(len(p.buf)) > p.polled || p.status != "running"
		p.mu.Unlock()
		if !has && wait > 0 {
			select {
			case <-ch:
			case <-time.After(wait):
			}
		}
		p.mu.Lock()
		from := max(p.polled-p.dropped, 0)
		out := string(p.buf[from:])
		p.polled = p.dropped + int64(len(p.buf))
		p.mu.Unlock()
		v := p.view(false)
		v["output"] = out
		return v, nil
	case "log":
		p.mu.Lock()
		lines := strings.SplitAfter(string(p.buf), "\n")
		p.mu.Unlock()
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		limit := a.Limit
		if limit <= 0 {
			limit = 200
		}
		start := a.Offset
		if a.Offset == 0 && a.Limit == 0 {
			start = max(len(lines)-limit, 0)
		}
		end := min(start+limit, len(lines))
		start = min(start, end)
		return map[string]any{"processId": p.ID, "offset": start, "lines": end - start, "totalLines": len(lines),
			"log": strings.Join(lines[start:end], "")}, nil
	case "write":
		var check error
		if d := rn.CheckInput(p.Command, a.Data); !d.Allowed {
			check = &httpError{http.StatusForbidden, "policy_denied", fmt.Sprintf("%v: %s", runner.ErrPolicy, d.Reason)}
		} else if len(d.Unchecked) > 0 {
			params["unchecked"] = d.Unchecked // what the policy could not read: in the record
		}
		if err := beforeWrite(check); err != nil {
			return nil, err
		}
		if a.Data != "" {
			if _, err := io.WriteString(p.stdin, a.Data); err != nil {
				return nil, &httpError{http.StatusConflict, "invalid_params", "process stdin is closed: " + err.Error()}
			}
		}
		if a.EOF {
			p.stdin.Close()
		}
		return map[string]any{"processId": p.ID, "written": len(a.Data), "eof": a.EOF}, nil
	case "kill":
		p.cancel()
		<-p.done
		return p.view(false), nil
	case "remove":
		p.mu.Lock()
		running := p.status == "running"
		p.mu.Unlock()
		if running {
			return nil, &httpError{http.StatusConflict, "invalid_params", "process is running; kill it first"}
		}
		s.procs.mu.Lock()
		delete(s.procs.procs, p.ID)
		s.procs.mu.Unlock()
		if rec := s.records(); rec != nil {
			if err := rec.DeleteProc(ProcInfo{ID: p.ID, Session: p.Session}); err != nil {
				return nil, &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", err.Error()}
			}
		}
		return map[string]any{"processId": p.ID, "removed": true}, nil
	case "send-keys", "submit", "paste", "clear":
		return nil, &httpError{http.StatusBadRequest, "invalid_params", fmt.Sprintf("process %s needs a pty, which this runner does not offer yet", a.Action)}
	}
	return nil, &httpError{http.StatusBadRequest, "invalid_params", fmt.Sprintf("process: unknown action %q (list, poll, log, write, kill, remove)", a.Action)}
}

// maxLogLines bounds the log action's offset and limit: the kept output
// (maxProcOutput bytes) has no more lines.
const maxLogLines = maxProcOutput

// paramsOf is a process action's parameters as the audit record shows
// them (redacted there).
func paramsOf(raw json.RawMessage) map[string]any {
	var m map[string]any
	if json.Unmarshal(orEmpty(raw), &m) != nil {
		return map[string]any{"unparsed": string(raw)}
	}
	return m
}

func orEmpty(b json.RawMessage) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}")
	}
	return b
}
