package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/review"
	"github.com/openclaw-run/openclaw-run/staging"
)

// The review routes: what calls changed in a session's workspace, and the
// operator's decisions on them (docs/staging.md). They are admin routes:
// an agent must not approve its own held changes, so with named clients
// only the gateway's token or a client with admin: true may use them
// (adminOnly, docs/gateway.md).
//
//	GET  /v1/admin/changes?session=ID             the calls and their state
//	GET  /v1/admin/changes/{call}?session=ID      one call's manifest
//	POST /v1/admin/changes/{call}/{op}?session=ID approve | reject | undo
func (s *Server) reviewRoutes() {
	s.mux.Handle("GET /v1/admin/changes", s.guard("/v1/admin", true, s.adminOnly(http.HandlerFunc(s.changesList))))
	s.mux.Handle("GET /v1/admin/changes/{call}", s.guard("/v1/admin", true, s.adminOnly(http.HandlerFunc(s.changesShow))))
	s.mux.Handle("POST /v1/admin/changes/{call}/{op}", s.guard("/v1/admin", true, s.adminOnly(http.HandlerFunc(s.changesDecide))))
}

// reviewStore opens the staging store of the request's session's
// workspace. It never creates a workspace: a session that has not run a
// call has nothing to review.
func (s *Server) reviewStore(w http.ResponseWriter, r *http.Request) (*staging.Store, string, bool) {
	session := r.URL.Query().Get("session")
	ws := s.o.Workspace
	switch {
	case session != "" && !ValidSessionID(session):
		writeError(w, http.StatusBadRequest, "invalid_params", fmt.Sprintf("session %q: letters, digits, '-', '_', '.', ':'", session))
		return nil, "", false
	case ws != "":
	case !s.cfg.SessionWorkspaces():
		ws = config.ExpandHome(s.cfg.Sandbox.Workspace)
	case !ValidSessionID(session):
		writeError(w, http.StatusBadRequest, "invalid_params", fmt.Sprintf("session %q: a session id is required (letters, digits, '-', '_', '.', ':')", session))
		return nil, "", false
	default:
		sess, err := s.o.Store.Get(session)
		if err != nil && !errors.Is(err, ErrNoSession) {
			writeError(w, http.StatusServiceUnavailable, "shared_state_unavailable", err.Error())
			return nil, "", false
		}
		if err != nil || sess.Workspace == "" {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no session %q", session))
			return nil, "", false
		}
		ws = sess.Workspace
	}
	if err := staging.Available(); err != nil {
		writeError(w, http.StatusNotImplemented, "not_supported", err.Error())
		return nil, "", false
	}
	abs, err := filepath.EvalSymlinks(ws)
	if err == nil {
		_, err = os.Stat(filepath.Join(abs, ".openclaw-run"))
	}
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no staged calls in %s", ws))
		return nil, "", false
	}
	var st *staging.Store
	if err == nil {
		st, err = staging.OpenStore(abs)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return nil, "", false
	}
	return st, session, true
}

// manifests lists the staged calls of the request's session.
func (s *Server) manifests(w http.ResponseWriter, r *http.Request) ([]*staging.Manifest, bool) {
	st, _, ok := s.reviewStore(w, r)
	if !ok {
		return nil, false
	}
	defer st.Close()
	ms, err := st.List()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return nil, false
	}
	return ms, true
}

func (s *Server) changesList(w http.ResponseWriter, r *http.Request) {
	if ms, ok := s.manifests(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"calls": append([]*staging.Manifest{}, ms...)})
	}
}

func (s *Server) changesShow(w http.ResponseWriter, r *http.Request) {
	ms, ok := s.manifests(w, r)
	if !ok {
		return
	}
	for _, m := range ms {
		if m.CallID == r.PathValue("call") {
			writeJSON(w, http.StatusOK, m)
			return
		}
	}
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no staged call %q", r.PathValue("call")))
}

// changesDecide makes a decision with its audit records around it
// (review.Decide: the request before, the outcome after).
func (s *Server) changesDecide(w http.ResponseWriter, r *http.Request) {
	op, call := r.PathValue("op"), r.PathValue("call")
	if review.Ops[op] == nil {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no review operation %q (approve, reject, undo)", op))
		return
	}
	if s.o.Audit == nil {
		writeError(w, http.StatusServiceUnavailable, "audit_unavailable", "this gateway has no audit log: review decisions are not made without one")
		return
	}
	st, session, ok := s.reviewStore(w, r)
	if !ok {
		return
	}
	defer st.Close()
	ch, err := review.Decide(s.o.Audit, st, op, call, review.Who{Session: session, Client: clientFrom(r.Context()).Name})
	switch {
	case errors.Is(err, review.ErrAudit):
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "audit_unavailable", err.Error())
	case errors.Is(err, review.ErrNotRecorded):
		s.o.Logger.Error("review: outcome not in the audit log", "op", op, "call", call, "err", err)
		writeError(w, http.StatusInternalServerError, "audit_unavailable", err.Error())
	case errors.Is(err, staging.ErrInvalidCall):
		writeError(w, http.StatusBadRequest, "invalid_params", err.Error())
	case errors.Is(err, staging.ErrNoCall):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, staging.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "op": op, "callId": call, "changes": ch})
	}
}
