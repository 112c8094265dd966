package gateway

import (
	"encoding/json"
	"io"
	"net/http"
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
	n, err := Prune(s.o.Store, s.cfg, age, s.o.Audit)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"type": "error", "code": "prune_failed", "message": err.Error(), "pruned": n})
		return
	}
	s.o.Logger.Info("admin: sessions pruned", "olderThan", age.String(), "pruned", n)
	writeJSON(w, http.StatusOK, map[string]any{"pruned": n})
}
