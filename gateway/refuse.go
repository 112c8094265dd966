package gateway

import (
	"errors"
	"net/http"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/runner"
)

// Refusals the gateway makes itself (before any runner sees the call) are
// audited like the runner's denials, with their reason: host, origin,
// credentials, lockout, channel, session, profile, overload, the process
// tool's limits. Each goes through audit's Refusal, which writes at most
// one record a second per key and counts the rest, so that a flood of
// refused requests cannot flood the log. The key is the kind, the client
// and the peer address: not the session id or anything else a caller
// chooses freely, or each request would be a key of its own.

// refuse audits a refusal of an HTTP request that never became a call,
// and logs it at warn with its reason (the overload refusals, which come in
// floods, are logged where they are made).
func (s *Server) refuse(r *http.Request, kind string, err error) {
	code, msg := ErrorCode(err)
	client := ""
	if c := clientFrom(r.Context()); c != nil {
		client = c.Name
	}
	addr := clientAddr(r, s.proxies)
	s.o.Logger.Warn("refused", "code", code, "reason", msg, "method", r.Method, "path", r.URL.Path, "client", client, "addr", addr)
	s.auditRefusal(kind+"\x00"+client+"\x00"+addr, audit.Record{Client: client, Code: code, Reason: msg,
		Parameters: map[string]any{"method": r.Method, "path": r.URL.Path, "host": r.Host, "origin": r.Header.Get("Origin"), "address": addr}})
}

// refuseCall audits and logs (warn) the refusal of a call by the gateway. The runner's
// own refusals (policy, parameters) it audits itself, and they never get
// here.
func (s *Server) refuseCall(req *Request, session string, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		return // a failure (the store, a runner that cannot start), not a refusal
	}
	if he.status == http.StatusServiceUnavailable && he.code != "session_pruned" {
		return // the store is down: logged, and the audit log may be too
	}
	c := s.clientOf(req)
	if session == "" {
		session = req.SessionID
	}
	s.o.Logger.Warn("refused", "code", he.code, "reason", he.message, "tool", req.Tool, "session", session, "client", c.Name, "addr", req.Addr)
	s.auditRefusal(he.code+"\x00"+c.Name+"\x00"+req.Addr, audit.Record{SessionID: session, UserID: req.UserID, Tool: req.Tool,
		Channel: req.Channel, Client: c.Name, Profile: req.Profile, Code: he.code, Reason: he.message,
		Parameters: map[string]any{"address": req.Addr}})
}

func (s *Server) auditRefusal(key string, r audit.Record) {
	a := s.o.Audit
	if a == nil {
		return
	}
	r.Timestamp, r.Decision = time.Now().UTC(), "deny"
	if err := a.Refusal(key, r); err != nil {
		s.o.Logger.Error("audit: cannot record a refusal", "code", r.Code, "err", err)
	}
}

// auditProcess records one action of the process tool. Its data (what
// write sends to stdin) is in the parameters, redacted like every
// parameter.
func (s *Server) auditProcess(req *Request, session string, params map[string]any, out map[string]any, err error, t0 time.Time) error {
	a := s.o.Audit
	if a == nil {
		return nil
	}
	c := s.clientOf(req)
	r := audit.Record{Timestamp: time.Now().UTC(), SessionID: session, UserID: req.UserID, Action: audit.ActionProcess,
		Tool: "process", Parameters: params, Channel: req.Channel, Client: c.Name, Profile: req.Profile, Decision: "allow",
		DurationMs: time.Since(t0).Milliseconds()}
	if err != nil {
		r.Decision = "deny"
		r.Code, r.Reason = ErrorCode(err)
	} else if out != nil {
		if id, ok := out["processId"].(string); ok {
			r.CallID = id
		}
		if st, ok := out["status"].(string); ok {
			r.Reason = "status " + st
		}
	}
	if aerr := a.Append(r); aerr != nil {
		s.o.Logger.Error("audit: cannot record a process action", "err", aerr)
		return &httpError{http.StatusServiceUnavailable, runner.CodeAudit, "the audit log cannot take the record of this process action: " + aerr.Error()}
	}
	return nil
}
