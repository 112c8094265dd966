package gateway

import (
	"encoding/json"
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
	// Under s.mu, which admit takes to count a call in: a session is
	// either in use (and kept) or pruned before its next call is admitted.
	// The runners of pruned workspaces go too (their waiting jails hold
	// the removed workspace).
	s.mu.Lock()
	n, err := Prune(s.o.Store, s.cfg, age, s.o.Audit, func(id string) bool { return s.inUse[id] > 0 })
	for key, r := range s.runners {
		if _, ws, _ := strings.Cut(key, "\x00"); !dirExists(ws) {
			r.Close()
			delete(s.runners, key)
		}
	}
	s.mu.Unlock()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"type": "error", "code": "prune_failed", "message": err.Error(), "pruned": n})
		return
	}
	s.o.Logger.Info("admin: sessions pruned", "olderThan", age.String(), "pruned", n)
	writeJSON(w, http.StatusOK, map[string]any{"pruned": n})
}
