package gateway

import (
	"encoding/json"
	"github.com/openclaw-run/openclaw-run/runner"
	"io"
	"net/http"
	"strings"
	"time"
)

// The session admin routes serve "openclaw-run sessions list|prune" while
// the gateway runs: the embedded store's file is then locked by this
// process, so the CLI asks it instead (the same output either way).

// listSessions serves GET /v1/admin/sessions: every session, as JSON.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	list, err := s.o.Store.List()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "store_failed", err.Error())
		return
	}
	if list == nil {
		list = []Session{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// pruneSessions serves POST /v1/admin/sessions/prune {"olderThan": "168h"}:
// Prune, as "openclaw-run sessions prune" does on a stopped gateway.
func (s *Server) pruneSessions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OlderThan string `json:"olderThan"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "want {\"olderThan\": \"168h\"}: "+err.Error())
		return
	}
	age, err := time.ParseDuration(req.OlderThan)
	if err != nil || age < 0 {
		writeError(w, http.StatusBadRequest, "invalid_request", "olderThan: want a non-negative Go duration such as 168h")
		return
	}
	// A session is either in use or pruned, never both: the candidates are
	// chosen and marked under s.mu, which admit takes to count a call in,
	// and removed outside it (a large workspace takes seconds to remove,
	// and no other session's call should wait for it). A call of a marked
	// session waits in prepare until the prune is over, then makes its
	// session afresh; one prepared just before the mark is refused by
	// admit (its workspace is gone), retryably.
	s.mu.Lock()
	list, err := PruneCandidates(s.o.Store, age, func(id string) bool { return s.inUse[id] > 0 || s.pruning[id] })
	for _, x := range list {
		s.pruning[x.ID] = true
	}
	s.mu.Unlock()
	n := 0
	if err == nil {
		n, err = RemoveSessions(s.o.Store, s.cfg, s.o.Audit, list)
	}
	// The runners of removed workspaces go too (their waiting jails hold
	// the removed workspace), before a waiting call can take one.
	s.mu.Lock()
	var stale []*runner.Runner
	for key, r := range s.runners {
		if _, ws, _ := strings.Cut(key, "\x00"); !dirExists(ws) {
			stale = append(stale, r)
			delete(s.runners, key)
		}
	}
	for _, x := range list {
		delete(s.pruning, x.ID)
	}
	s.pruned.Broadcast()
	s.mu.Unlock()
	for _, r := range stale {
		r.Close()
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"type": "error", "code": "prune_failed", "message": err.Error(), "pruned": n})
		return
	}
	s.o.Logger.Info("admin: sessions pruned", "olderThan", age.String(), "pruned", n)
	writeJSON(w, http.StatusOK, map[string]any{"pruned": n})
}
