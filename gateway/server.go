// Package gateway is the HTTP and WebSocket edge of the runner: it
// authenticates a tool call (bearer token, origin allowlist, per-address
// lockout), applies the channel allowlists, admits it under a concurrency
// cap, gives it a session and a workspace, and streams the runner's events
// back as NDJSON lines or WebSocket frames. It reaches jails only through
// the runner.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/strictjson"
	"github.com/openclaw-run/openclaw-run/internal/version"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// Options configure a Server.
type Options struct {
	Config   *config.Config
	Profiles map[string]*profiles.Profile
	Token    string
	// Clients are the named clients (ResolveClients), besides the
	// operator's Token.
	Clients []*Client
	// RunnerOptions builds the runner options of a profile (the CLI's
	// mapping of the config); Workspace is filled in per session.
	RunnerOptions func(p *profiles.Profile) (runner.Options, error)
	Store         Store
	Lockout       Lockout
	Logger        *slog.Logger
	// Workspace, when set, is every session's workspace (an MCP server
	// started with --workspace); otherwise sandbox.workspace decides.
	Workspace string
	// Cluster, when set, is the state shared with other gateways: who runs
	// which background process (sessions.store redis).
	Cluster Cluster
	// Audit is the audit log every call's runner writes: /readyz says
	// unready while it cannot take a record (a full disk), so that a
	// balancer sends calls elsewhere instead of having them refused.
	Audit *audit.Log
	// Version is the build stamp /health shows to a caller with the token.
	Version version.Stamp
}

// Cluster is what a gateway shares with the others about background
// processes (implemented by *Redis).
type Cluster interface {
	Self() Member
	MemberOf(id string) (*Member, error)
	ProcRecords
}

// ProcRecords keep the record of background processes beyond the
// gateway's memory: the cluster's (Redis), or the embedded session
// store's, so that a process killed by a restart is reported as such by
// poll and list instead of not_found.
type ProcRecords interface {
	PutProc(ProcInfo) error
	Proc(id string) (*ProcInfo, error)
	Procs(session string) ([]ProcInfo, error)
	DeleteProc(ProcInfo) error
}

// procEnder is a store of process records that only this gateway writes:
// what it recorded as running at its start died with its previous run.
type procEnder interface {
	EndRunning(status, reason string) (int, error)
}

// Pinger is a store that can say whether it is reachable (readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server is the gateway.
type Server struct {
	o       Options
	cfg     *config.Config
	mux     *http.ServeMux
	metrics *metrics
	slots   chan struct{} // running calls
	queue   chan struct{} // running + waiting calls
	base    context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup // in-flight calls

	mu      sync.Mutex
	runners map[string]*runner.Runner // by profile + workspace
	// inUse counts each session's admitted calls, queued or running, and
	// background processes (admit to release): a session in use is never
	// pruned (its workspace is the jail's).
	inUse map[string]int
	// The prune of sessions (pruneSessions) happens outside mu, which
	// every admission takes: pruning marks the sessions a prune is taking
	// out, pruned is broadcast when it is over, and pruneGen counts each
	// session's prunes while calls of it are being prepared (preparing),
	// so that admit can tell a call prepared before a prune of its session.
	pruning   map[string]bool
	pruned    *sync.Cond
	pruneGen  map[string]uint64
	preparing map[string]int

	procs procTable
	// clients: the operator (first) and the named ones.
	clients  []*Client
	operator *Client
	probe    auditProbe
	// proxies may tell the client's address (gateway.trustedProxies).
	proxies []netip.Prefix
}

// New builds a server; nothing listens yet.
func New(o Options) (*Server, error) {
	c := o.Config
	if o.Token == "" {
		return nil, errors.New("gateway: no auth token")
	}
	if o.Lockout == nil {
		n, lock := c.Gateway.AuthFailures, c.Gateway.LockoutSeconds
		if n <= 0 {
			n = 5
		}
		if lock <= 0 {
			lock = 300
		}
		o.Lockout = NewLockout(n, time.Minute, time.Duration(lock)*time.Second)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	maxRun, maxQueue := c.Gateway.MaxConcurrent, c.Gateway.MaxQueue
	if maxRun <= 0 {
		maxRun = 2 * numCPU()
	}
	if maxQueue <= 0 {
		maxQueue = 64
	}
	s := &Server{o: o, cfg: c, mux: http.NewServeMux(), metrics: newMetrics(maxRun, maxQueue),
		slots: make(chan struct{}, maxRun), queue: make(chan struct{}, maxRun+maxQueue), runners: map[string]*runner.Runner{}, inUse: map[string]int{},
		pruning: map[string]bool{}, pruneGen: map[string]uint64{}, preparing: map[string]int{}}
	s.pruned = sync.NewCond(&s.mu)
	s.base, s.stop = context.WithCancel(context.Background())
	s.operator = &Client{sum: sha256.Sum256([]byte(o.Token)), Sessions: "any", Profiles: []string{c.Tools.Profile}, Admin: true}
	s.clients = append([]*Client{s.operator}, o.Clients...)
	for _, cl := range o.Clients {
		if cl.sum == s.operator.sum {
			return nil, fmt.Errorf("gateway.auth.clients %s: its token is the gateway's own token", cl.Name)
		}
	}
	var err error
	if s.proxies, err = ParseProxies(c.Gateway.TrustedProxies); err != nil {
		return nil, err
	}
	if e, ok := o.Store.(procEnder); ok && o.Cluster == nil {
		n, err := e.EndRunning("killed", "killed by a restart of the gateway: it stopped while the process ran, and the process's jail died with it")
		if err != nil {
			return nil, fmt.Errorf("session store: background process records: %w", err)
		}
		if n > 0 {
			o.Logger.Warn("background processes of the previous run marked killed", "count", n)
		}
	}
	s.routes()
	go s.reapProcs()
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.edge(s.mux) }

// Shutdown cancels every call still running (their jails die) once the
// HTTP server has stopped accepting and draining ended.
func (s *Server) Shutdown() {
	s.stop()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runners {
		r.Close() // pre-warmed jails that no call will use
	}
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.HandleFunc("GET /healthz", s.health)
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", s.guard("/metrics", s.metricsAuth(), s.metrics.handler()))
	s.mux.Handle("POST /v1/tools/{tool}", s.guard("/v1/tools", true, http.HandlerFunc(s.toolNDJSON)))
	s.mux.Handle("POST /tools/invoke", s.guard("/tools/invoke", true, http.HandlerFunc(s.invoke)))
	s.mux.Handle("GET /v1/ws", s.guard("/v1/ws", true, http.HandlerFunc(s.websocket)))
	s.mux.Handle("GET /v1/admin/backup/sessions", s.guard("/v1/admin", true, s.adminOnly(http.HandlerFunc(s.snapshot))))
	s.mux.Handle("GET /v1/admin/sessions", s.guard("/v1/admin", true, s.adminOnly(http.HandlerFunc(s.listSessions))))
	s.mux.Handle("POST /v1/admin/sessions/prune", s.guard("/v1/admin", true, s.adminOnly(http.HandlerFunc(s.pruneSessions))))
	s.mux.Handle("POST /v1/admin/reset", s.guard("/v1/admin", true, s.adminOnly(http.HandlerFunc(s.reset))))
	s.reviewRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s (see docs/gateway.md)", r.Method, r.URL.Path))
	})
}

// snapshot streams a consistent copy of the session store, for
// "openclaw-run backup" while the gateway runs (bbolt's file is locked).
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	sn, ok := s.o.Store.(Snapshotter)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_supported", "this session store is not backed up through the gateway")
		return
	}
	// Buffered, so that a failure is a 500 and not a truncated copy that
	// looks complete (the store holds metadata only: it is small).
	var buf bytes.Buffer
	if err := sn.Snapshot(&buf); err != nil {
		writeError(w, http.StatusInternalServerError, "snapshot_failed", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// Guard wraps a handler mounted beside the gateway's own routes (the MCP
// endpoint) in the same checks: origin rules, bearer token and lockout,
// request metrics and the request log line.
func (s *Server) Guard(route string, next http.Handler) http.Handler {
	return s.edge(s.guard(route, true, next))
}

func (s *Server) metricsAuth() bool {
	return s.cfg.Gateway.MetricsAuth == nil || *s.cfg.Gateway.MetricsAuth
}

// statusWriter records the status for the request metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
	retryAfter(w.Header(), c)
	w.ResponseWriter.WriteHeader(c)
}

// retryAfter tells a client refused for now (429 overloaded or locked
// out, 503 shared state, audit log or jail setup unavailable) when to try
// again, unless the refusal said it already (a lockout says when it
// ends). One second: the gateway's queue turns over in about that, and a
// client that waits it out costs nothing meanwhile.
func retryAfter(h http.Header, status int) {
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// guard applies, in order: the origin allowlist (browser requests), the
// lockout, and the bearer token; and counts the request.
func (s *Server) guard(route string, auth bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		t0 := time.Now()
		defer func() {
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
			level := slog.LevelInfo
			if sw.code == http.StatusTooManyRequests {
				// Counted in the metrics and aggregated in the audit log: a
				// line each would make logging an overload's bottleneck.
				level = slog.LevelDebug
			}
			s.o.Logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "code", sw.code,
				"ms", time.Since(t0).Milliseconds(), "addr", clientAddr(r, s.proxies))
		}()
		w = sw
		if origin := r.Header.Get("Origin"); origin != "" && !originAllowed(origin, s.allowedOrigins()) {
			err := &httpError{http.StatusForbidden, "origin_denied", fmt.Sprintf("origin %q is not in gateway.allowOrigins", origin)}
			s.refuse(r, "origin_denied", err)
			writeErr(w, err)
			return
		}
		if auth {
			addr := clientAddr(r, s.proxies)
			exempt := s.exempt(addr)
			key, claimed := s.lockoutKey(r, addr)
			if !exempt {
				locked, until, err := s.o.Lockout.Locked(key)
				if err != nil {
					writeError(w, http.StatusServiceUnavailable, "shared_state_unavailable", "cannot check the auth lockout: "+err.Error())
					return
				}
				if locked {
					err := &httpError{http.StatusTooManyRequests, "locked_out", "too many failed authentications from this address; try again later"}
					s.refuse(r, "locked_out", err)
					w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(until).Seconds())+1))
					writeErr(w, err)
					return
				}
			}
			c, presented := s.authenticate(r)
			if claimed != nil && c != claimed {
				c = nil // a token that is not the named client's is a wrong one
			}
			if c == nil {
				s.metrics.authFailures.Inc()
				// Only a wrong credential counts toward the lockout: a
				// request without one (a web page's <img>, a probe) guesses
				// nothing, and must not lock out the clients that have one.
				if presented && !exempt {
					if now, err := s.o.Lockout.Fail(key); err != nil {
						s.o.Logger.Error("auth lockout: cannot count a failure", "addr", addr, "err", err)
					} else if now {
						s.o.Logger.Warn("auth lockout", "addr", addr, "client", r.Header.Get(ClientHeader))
					}
				}
				msg := "missing bearer token (Authorization: Bearer TOKEN)"
				if presented {
					msg = "wrong bearer token"
				}
				err := &httpError{http.StatusUnauthorized, "unauthorized", msg}
				s.refuse(r, "unauthorized", err)
				w.Header().Set("WWW-Authenticate", `Bearer realm="openclaw-run"`)
				writeErr(w, err)
				return
			}
			r = r.WithContext(withClient(r.Context(), c))
		}
		next.ServeHTTP(w, r)
	})
}

// allowedOrigins: the configured list, or by default the gateway's own
// loopback origins.
func (s *Server) allowedOrigins() []string {
	if len(s.cfg.Gateway.AllowOrigins) > 0 {
		return s.cfg.Gateway.AllowOrigins
	}
	p := strconv.Itoa(s.cfg.Gateway.Port)
	return []string{"http://127.0.0.1:" + p, "http://localhost:" + p}
}

// health is liveness for anyone; with the bearer token it adds the build
// stamp (an anonymous caller learns no version to match exploits to).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok"}
	if c, presented := s.authenticate(r); presented {
		// A token guess here counts toward the lockout as on any route,
		// and a locked-out address learns nothing.
		addr := clientAddr(r, s.proxies)
		key, _ := s.lockoutKey(r, addr)
		if locked, _, err := s.o.Lockout.Locked(key); err == nil && !locked {
			if c != nil {
				body["version"] = s.o.Version
			} else {
				s.metrics.authFailures.Inc()
				if !s.exempt(addr) {
					s.o.Lockout.Fail(key)
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.o.Store.(Pinger); ok {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unready", "reason": err.Error()})
			return
		}
	}
	if err := runner.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unready", "reason": err.Error()})
		return
	}
	if a := s.o.Audit; a != nil {
		if err := s.probeAudit(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unready", "reason": "audit log: " + err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

// Request is the body of POST /v1/tools/{tool} (and the params of a
// WebSocket tools.call, with the tool name added).
type Request struct {
	Tool      string          `json:"tool,omitempty"`
	Args      json.RawMessage `json:"args"`
	SessionID string          `json:"sessionId,omitempty"`
	UserID    string          `json:"userId,omitempty"`
	Channel   string          `json:"channel,omitempty"`
	ChatID    string          `json:"chatId,omitempty"`
	Profile   string          `json:"profile,omitempty"`

	// Set by the transport, never from the body: the authenticated client
	// (nil: the operator), the peer's address, and whether the transport
	// chose SessionID itself (an MCP session: then a prefix client's
	// prefix is put before it).
	Client      *Client `json:"-"`
	Addr        string  `json:"-"`
	AutoSession bool    `json:"-"`
	// pruneGen is the prune generation of the call's session when prepare
	// made its workspace: admit refuses the call if a prune took the
	// session out since; prepared says prepare counted it in preparing.
	pruneGen uint64
	prepared bool
}

// maxBody bounds request bodies.
func (s *Server) maxBody() int64 {
	if s.cfg.Gateway.MaxBodyBytes > 0 {
		return s.cfg.Gateway.MaxBodyBytes
	}
	return 8 << 20
}

// DecodeRequest reads one request body strictly: bounded, one JSON object,
// no unknown fields, no key twice or in another case (at any depth: the
// args too).
func DecodeRequest(body io.Reader, limit int64) (*Request, error) {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, "invalid_request", "cannot read the body: " + err.Error()}
	}
	if int64(len(data)) > limit {
		return nil, &httpError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body exceeds %d bytes", limit)}
	}
	var req Request
	if err := strictjson.Decode(data, &req); err != nil {
		return nil, &httpError{http.StatusBadRequest, "invalid_request", "malformed request: " + err.Error()}
	}
	if len(req.Args) > 0 && req.Args[0] != '{' {
		return nil, &httpError{http.StatusBadRequest, "invalid_request", "args must be a JSON object"}
	}
	return &req, nil
}

type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.message }

// spawn creates a new session (the sessions_spawn tool): no jail, an id
// and a workspace.
func (s *Server) spawn(req *Request) ([]runner.Event, error) {
	if err := s.checkChannel(req); err != nil {
		return nil, err
	}
	var b [8]byte
	rand.Read(b[:])
	c := s.clientOf(req)
	id := c.newSession("s-" + hex.EncodeToString(b[:]))
	ws, err := s.workspace(id)
	if err != nil {
		return nil, err
	}
	if _, err := s.o.Store.Touch(Session{ID: id, UserID: req.UserID, Channel: req.Channel, Workspace: ws, Client: c.Name}); err != nil {
		return nil, &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", "session store: " + err.Error()}
	}
	s.refreshSessions()
	return []runner.Event{{Type: "start", Tool: "sessions_spawn"}, {Type: "result", Output: map[string]any{"sessionId": id}}}, nil
}

// refreshSessions updates the sessions gauge from the store.
func (s *Server) refreshSessions() {
	if l, err := s.o.Store.List(); err == nil {
		s.metrics.sessions.Set(float64(len(l)))
	}
}

// prepare turns a request into a runner and a call: channel rules, the
// session and its workspace, the profile.
func (s *Server) prepare(req *Request) (rn *runner.Runner, call runner.Call, err error) {
	c := s.clientOf(req)
	call = runner.Call{Tool: req.Tool, Params: req.Args, UserID: req.UserID, Channel: req.Channel, Client: c.Name}
	defer func() {
		if err != nil {
			s.refuseCall(req, call.SessionID, err)
		}
	}()
	if !knownTool(req.Tool) {
		return nil, call, &httpError{http.StatusNotFound, "not_found", fmt.Sprintf("unknown tool %q (tools: exec, %s, sessions_spawn)", req.Tool, strings.Join(tools.Names, ", "))}
	}
	if err := s.checkChannel(req); err != nil {
		s.metrics.denials.WithLabelValues("channel").Inc()
		return nil, call, err
	}
	id := req.SessionID
	switch {
	case id == "":
		id = c.defaultSession()
	case req.AutoSession:
		id = c.newSession(id)
	}
	if !ValidSessionID(id) {
		return nil, call, &httpError{http.StatusBadRequest, "invalid_params", fmt.Sprintf("sessionId %q: letters, digits, . _ : - only, at most 128", id)}
	}
	call.SessionID = id
	if err := s.checkSession(c, id); err != nil {
		return nil, call, err
	}
	name, err := s.checkProfile(c, req.Profile)
	if err != nil {
		return nil, call, err
	}
	req.Profile = name // what gatewayTool then applies
	prof := s.o.Profiles[name]
	if prof == nil {
		return nil, call, &httpError{http.StatusBadRequest, "invalid_params", fmt.Sprintf("unknown profile %q", name)}
	}
	if err := s.auditReady(); err != nil {
		return nil, call, err
	}
	s.prepareSession(req, id)
	prepared := false
	defer func() {
		if !prepared { // an error, or a panic (recovered by the route)
			s.unprepare(req, id)
		}
	}()
	ws, err := s.workspace(id)
	if err != nil {
		return nil, call, err
	}
	sess, err := s.o.Store.Touch(Session{ID: id, UserID: req.UserID, Channel: req.Channel, Workspace: ws, Client: c.Name})
	if err != nil {
		return nil, call, &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", "session store: " + err.Error() + " (the call was not run)"}
	}
	if err := ownSession(c, sess); err != nil {
		return nil, call, err // another client created it first
	}
	if sess.Calls == 1 {
		s.refreshSessions()
	}
	rn, err = s.runner(prof, ws)
	prepared = err == nil
	return rn, call, err
}

func knownTool(t string) bool {
	return t == "exec" || t == "bash" || t == "process" || tools.IsFileTool(t)
}

// gatewayTool handles what the gateway itself serves: sessions_spawn, the
// process tool, and exec in the background. ok is false for everything
// else, which the runner serves.
func (s *Server) gatewayTool(req *Request) (events []runner.Event, ok bool, err error) {
	if req.Tool == "sessions_spawn" {
		evs, err := s.spawn(req)
		return evs, true, err
	}
	var args map[string]any
	json.Unmarshal(orEmpty(req.Args), &args)
	exec := req.Tool == "exec" || req.Tool == "bash"
	bg, yield, hasYield, err := backgroundArgs(args)
	if err == nil {
		// The map above kept the last of two equal keys; a request that
		// did not come through DecodeRequest (MCP) is checked here.
		if kerr := strictjson.Keys(orEmpty(req.Args), nil); kerr != nil {
			err = &httpError{http.StatusBadRequest, "invalid_params", req.Tool + ": " + kerr.Error()}
		}
	}
	if exec && err != nil {
		return nil, true, err
	}
	if req.Tool != "process" && !(exec && (bg || hasYield)) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	rn, call, err := s.prepare(req)
	if err != nil {
		return nil, true, err
	}
	defer s.unprepare(req, call.SessionID) // the process tool is not admitted (a no-op once admit was)
	prof := s.o.Profiles[req.Profile]
	if !prof.Allows("process") {
		err := &httpError{http.StatusForbidden, "policy_denied", fmt.Sprintf("profile %q does not allow background processes", prof.Name)}
		s.refuseCall(req, call.SessionID, err)
		return nil, true, err
	}
	var out map[string]any
	if req.Tool == "process" {
		out, err = s.process(req, rn, call.SessionID, req.Args)
	} else {
		out, err = s.startBackground(req, rn, call, args, yield)
	}
	if err != nil {
		return nil, true, err
	}
	return []runner.Event{{Type: "start", Tool: req.Tool}, {Type: "result", Tool: req.Tool, Output: out}}, true, nil
}

// maxYieldMs bounds exec's yieldMs: how long a request may wait for a
// background process before it answers (10 minutes).
const maxYieldMs = 600_000

// backgroundArgs reads exec's background and yieldMs. A yieldMs that is
// not a whole number of milliseconds from 0 to maxYieldMs, or a
// background that is not a boolean, is a 400 (the call is not run).
func backgroundArgs(args map[string]any) (bg bool, yield time.Duration, hasYield bool, err error) {
	if v, ok := args["background"]; ok && v != nil {
		if bg, ok = v.(bool); !ok {
			return false, 0, false, &httpError{http.StatusBadRequest, "invalid_params", "exec: background must be true or false"}
		}
	}
	v, hasYield := args["yieldMs"]
	if !hasYield || v == nil {
		return bg, 0, false, nil
	}
	ms, ok := v.(float64)
	if !ok || ms < 0 || ms > maxYieldMs || ms != float64(int64(ms)) {
		return bg, 0, true, &httpError{http.StatusBadRequest, "invalid_params", fmt.Sprintf("exec: yieldMs must be a whole number of milliseconds from 0 to %d", maxYieldMs)}
	}
	if bg {
		return true, 0, true, nil // background answers at once
	}
	return false, time.Duration(ms) * time.Millisecond, true, nil
}

// workspace returns (creating) the session's workspace: its own directory
// below sandbox.workspace, or the shared one.
func (s *Server) workspace(session string) (string, error) {
	if s.o.Workspace != "" {
		return s.o.Workspace, nil
	}
	root := config.ExpandHome(s.cfg.Sandbox.Workspace)
	ws := root
	if s.cfg.SessionWorkspaces() {
		ws = filepath.Join(root, session)
	}
	// A configured root must exist: a typo must not create directories
	// wherever it points. Only the default root (in the state dir) is
	// created, 0755 and owned by the gateway's user (docs/config.md).
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) && root == config.ExpandHome(config.Defaults().Sandbox.Workspace) {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return "", fmt.Errorf("workspace: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("sandbox.workspace %s: %w (create it first, owned by the gateway's user, mode 0755)", root, err)
	}
	if err := os.Mkdir(ws, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("workspace: %w", err)
	}
	if os.Geteuid() == 0 {
		uid, gid := s.cfg.Sandbox.UID, s.cfg.Sandbox.GID
		if uid <= 0 {
			uid, gid = runner.DefaultJailID, runner.DefaultJailID
		}
		if gid <= 0 {
			gid = uid
		}
		// The jail's root maps to this uid: it must own its workspace.
		if st, err := os.Stat(ws); err == nil && ownerOf(st) == 0 {
			os.Chown(ws, uid, gid)
		}
	}
	return ws, nil
}

// runner returns a runner for a profile and workspace (built once).
func (s *Server) runner(p *profiles.Profile, ws string) (*runner.Runner, error) {
	key := p.Name + "\x00" + ws
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.runners[key]; ok {
		return r, nil
	}
	o, err := s.o.RunnerOptions(p)
	if err != nil {
		return nil, err
	}
	o.Workspace = ws
	o.Prewarm = 1
	if s.cfg.Gateway.Prewarm != nil {
		o.Prewarm = *s.cfg.Gateway.Prewarm
	}
	r, err := runner.New(o)
	if err != nil {
		return nil, err
	}
	if len(s.runners) > 1024 {
		for _, old := range s.runners {
			old.Close() // their waiting jails
		}
		s.runners = map[string]*runner.Runner{}
	}
	s.runners[key] = r
	return r, nil
}

// auditProbe caches the audit log's Probe for a second: calls are
// refused while it fails (a nearly full disk: the next record might not
// fit, and a call whose record cannot be written must not run), without a
// statfs and a lock of the log per call.
type auditProbe struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// auditReady is nil when the audit log can take records, as last probed
// at most a second ago; else the refusal of a call (503, Retry-After).
func (s *Server) auditReady() error {
	if s.o.Audit == nil {
		return nil
	}
	s.probe.mu.Lock()
	fresh := time.Since(s.probe.at) < time.Second
	err := s.probe.err
	s.probe.mu.Unlock()
	if !fresh {
		err = s.probeAudit()
	}
	if err != nil {
		return &httpError{http.StatusServiceUnavailable, runner.CodeAudit, "the audit log cannot take records (" + err.Error() + "); the call was not run"}
	}
	return nil
}

// probeAudit probes the audit log now, caches the answer, and logs a
// change of state: at error when it begins refusing, at info when it
// recovers (on its own, when space returns).
func (s *Server) probeAudit() error {
	err := s.o.Audit.Probe()
	s.probe.mu.Lock()
	was := s.probe.err
	s.probe.at, s.probe.err = time.Now(), err
	s.probe.mu.Unlock()
	switch {
	case err != nil && was == nil:
		s.o.Logger.Error("unready: the audit log cannot take records; every call is refused until it can", "err", err)
	case err == nil && was != nil:
		s.o.Logger.Info("ready: the audit log takes records again")
	}
	return err
}

// errOverloaded refuses a call the queue has no room for.
var errOverloaded = &httpError{http.StatusTooManyRequests, "overloaded", "too many calls running and waiting; try again later (Retry-After)"}

// admit waits for a call slot: at most maxConcurrent run, maxQueue wait,
// and the rest are refused at once (429), each refusal audited. A call
// prepared before a prune took its session out is refused too (503,
// retryable: sent again, it makes its session afresh).
func (s *Server) admit(ctx context.Context, req *Request, call *runner.Call) (func(), error) {
	select {
	case s.queue <- struct{}{}:
	default:
		s.unprepare(req, call.SessionID)
		s.refuseOverload(ctx, call)
		return nil, errOverloaded
	}
	if err := s.useSession(req, call.SessionID); err != nil {
		<-s.queue
		s.refuseCall(req, call.SessionID, err)
		return nil, err
	}
	s.metrics.queued.Inc()
	select {
	case s.slots <- struct{}{}:
		s.metrics.queued.Dec()
	case <-ctx.Done():
		s.metrics.queued.Dec()
		s.use(call.SessionID, -1)
		<-s.queue
		return nil, ctx.Err()
	}
	s.wg.Add(1)
	s.metrics.active.Inc()
	return func() {
		s.metrics.active.Dec()
		s.use(call.SessionID, -1)
		<-s.slots
		<-s.queue
		s.wg.Done()
	}, nil
}

// prepareSession waits while a prune takes session out, then counts a
// call of it as being prepared and records the session's prune
// generation in req (useSession compares it).
func (s *Server) prepareSession(req *Request, session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pruning[session] {
		s.pruned.Wait()
	}
	s.preparing[session]++
	req.pruneGen, req.prepared = s.pruneGen[session], true
}

// unprepareLocked ends what prepareSession began (under mu): for a call
// admitted or refused by useSession, or never admitted (unprepare). It
// does nothing the second time.
func (s *Server) unprepareLocked(req *Request, session string) {
	if !req.prepared {
		return
	}
	req.prepared = false
	if s.preparing[session]--; s.preparing[session] <= 0 {
		delete(s.preparing, session)
		if !s.pruning[session] {
			delete(s.pruneGen, session) // no call holds the generation: the next starts again
		}
	}
}

// unprepare is unprepareLocked for a call that is not admitted.
func (s *Server) unprepare(req *Request, session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unprepareLocked(req, session)
}

// useSession counts a prepared call of session in, unless a prune has
// taken the session out since prepare made its workspace (the call would
// run in a removed directory, with the removed session's runner): then
// it is refused, retryably.
func (s *Server) useSession(req *Request, session string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen := s.pruneGen[session]
	s.unprepareLocked(req, session)
	if s.pruning[session] || gen != req.pruneGen {
		return &httpError{http.StatusServiceUnavailable, "session_pruned",
			fmt.Sprintf("session %q was pruned while this call was being admitted; send the call again (its session is then made afresh)", session)}
	}
	s.inUse[session]++
	return nil
}

// use counts a session's calls in or out of inUse.
func (s *Server) use(session string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inUse[session] += n; s.inUse[session] <= 0 {
		delete(s.inUse, session)
	}
}

// full says whether the queue has no room: a request that would be
// refused by admit is refused before its body is read and its session
// touched, so that a flood of refusals costs little of the CPU the
// admitted calls need.
func (s *Server) full() bool { return len(s.queue) == cap(s.queue) }

// overloadDelay is how long an overload refusal waits before it is sent.
// A client that retries at once instead of honouring Retry-After would
// otherwise spin: 96 such clients made 4,000 refusals a second on 2 cores
// and took more than half the CPU from the admitted calls. Waiting costs a
// timer; it bounds such a client to 10 refusals a second per connection.
var overloadDelay = 100 * time.Millisecond

// refuseOverload counts and audits an overload refusal, then waits
// overloadDelay (or until ctx ends). The audit log aggregates the
// refusals (audit.Log.Refusal: at most one record a second, with the
// count of the refusals it stands for), so that an overloaded gateway
// does not also make its audit log the bottleneck.
func (s *Server) refuseOverload(ctx context.Context, call *runner.Call) {
	defer func() {
		t := time.NewTimer(overloadDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}()
	s.metrics.denials.WithLabelValues("overload").Inc()
	if s.o.Audit == nil {
		return
	}
	rec := audit.Record{Timestamp: time.Now().UTC(), Decision: "deny", Code: errOverloaded.code, Reason: errOverloaded.message}
	if call != nil {
		rec.SessionID, rec.UserID, rec.Channel, rec.Tool = call.SessionID, call.UserID, call.Channel, call.Tool
	}
	if err := s.o.Audit.Refusal("overload", rec); err != nil {
		s.o.Logger.Error("audit: cannot record an overload refusal", "err", err)
	}
}

// callContext ends with the request or with the server.
func (s *Server) callContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		select {
		case <-s.base.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Call runs one tool call as the HTTP and WebSocket routes do (channel
// rules, session and workspace, profile, admission, the gateway's own
// tools) and reports every outcome as events: start, output, and one
// result or error (a refusal before the jail is an error event too). The
// returned error is the error event's. Canceling ctx kills the jail.
func (s *Server) Call(ctx context.Context, req *Request, emit runner.Emit) (err error) {
	defer s.Recovered("call "+req.Tool, &err)
	fail := func(err error) error {
		code, msg := ErrorCode(err)
		emit(runner.Event{Type: "error", Tool: req.Tool, Code: code, Message: msg})
		return err
	}
	if evs, ok, err := s.gatewayTool(req); ok {
		if err != nil {
			return fail(err)
		}
		for _, e := range evs {
			if err := emit(e); err != nil {
				return err
			}
		}
		return nil
	}
	rn, call, err := s.prepare(req)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.base, cancel) // the gateway shuts down
	defer stop()
	release, err := s.admit(ctx, req, &call)
	if err != nil {
		return fail(err)
	}
	defer release()
	t0 := time.Now()
	return rn.Run(ctx, call, func(e runner.Event) error {
		s.observe(call.Tool, e, t0)
		return emit(e)
	})
}

// ErrorCode returns the event code and message of an error of Call.
func ErrorCode(err error) (code, message string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.code, he.message
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled", err.Error()
	}
	return "internal", err.Error()
}

// statusOf maps an event error code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case tools.CodeDenied:
		return http.StatusForbidden
	case tools.CodeInvalid:
		return http.StatusBadRequest
	case tools.CodeNotFound:
		return http.StatusNotFound
	case tools.CodeExists:
		return http.StatusConflict
	case tools.CodeLimit:
		return http.StatusRequestEntityTooLarge
	case tools.CodeSetup, runner.CodeAudit:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	retryAfter(w.Header(), status) // /readyz is not behind guard's statusWriter
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"type": "error", "code": code, "message": msg})
}

func writeErr(w http.ResponseWriter, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeError(w, he.status, he.code, he.message)
		return
	}
	writeError(w, http.StatusInternalServerError, "internal", err.Error())
}
