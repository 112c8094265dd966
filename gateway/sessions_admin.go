package gateway

import (
	"encoding/json"
	"errors"
	"github.com/openclaw-run/openclaw-run/runner"
	"io"
	"net/http"
	"path/filepath"
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
	n, err := s.prune(age)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"type": "error", "code": "prune_failed", "message": err.Error(), "pruned": n})
		return
	}
	s.o.Logger.Info("admin: sessions pruned", "olderThan", age.String(), "pruned", n)
	writeJSON(w, http.StatusOK, map[string]any{"pruned": n})
}

// prune takes out the sessions unused for age. A session is either in use
// or pruned, never both: the candidates are chosen and marked under s.mu,
// which admit takes to count a call in; they are taken out (each
// workspace renamed aside, each record deleted) outside it, so that no
// other session's call waits; their runners are closed (their waiting
// jails hold the old workspace) before the marks go; and the workspaces
// are removed last, when nothing waits for them. A call of a marked
// session waits in prepare until its mark goes, then makes its session
// afresh; one prepared before the mark is refused by admit, retryably.
func (s *Server) prune(age time.Duration) (int, error) {
	// The store and the call registry are read outside s.mu (a shared
	// store is a network round trip); what is in use is decided under it.
	old, err := PruneCandidates(s.o.Store, age, nil)
	if err != nil {
		return 0, err
	}
	var marked []Session
	s.mu.Lock()
	for _, x := range old {
		if s.inUse[x.ID] == 0 && !s.pruning[x.ID] && s.preparing[x.ID] == 0 {
			s.pruning[x.ID] = true
			s.pruneGen[x.ID]++
			marked = append(marked, x)
		}
	}
	s.mu.Unlock()
	// The marks this prune holds go once its sessions are out and their
	// runners closed, before the slow removal of their workspaces; and
	// whatever happens (a panic below is recovered by the route: a mark
	// left behind would hold the session's calls forever).
	held := marked
	release := func() {
		s.unmark(held)
		held = nil
	}
	defer func() { release() }()
	// Marked, a session takes no new call; one used since the list was
	// read is no longer a candidate, and is let go at once.
	var list, recent []Session
	for _, x := range marked {
		cur, err := s.o.Store.Get(x.ID)
		switch {
		case errors.Is(err, ErrNoSession):
			list = append(list, x)
		case err != nil || time.Since(cur.LastUsed) < age:
			recent = append(recent, x)
		default:
			list = append(list, *cur)
		}
	}
	s.unmark(recent)
	held = list
	n, aside, err := DetachSessions(s.o.Store, s.cfg, s.o.Audit, list)
	s.closeRunners(aside)
	release()
	return n, errors.Join(err, DeleteTrash(s.cfg, aside))
}

// closeRunners closes the runners of the workspaces a prune moved aside
// (their waiting jails hold the old directory), and forgets them: a later
// call of the session gets a new one.
func (s *Server) closeRunners(moved map[string]string) {
	var stale []*runner.Runner
	s.mu.Lock()
	for key, r := range s.runners {
		_, ws, _ := strings.Cut(key, "\x00")
		if _, ok := moved[filepath.Clean(ws)]; ok {
			stale = append(stale, r)
			delete(s.runners, key)
		}
	}
	s.mu.Unlock()
	for _, r := range stale {
		r.Close()
	}
}

// unmark ends the prune marks of sessions and wakes their waiting calls.
func (s *Server) unmark(sessions []Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range sessions {
		delete(s.pruning, x.ID)
		if s.preparing[x.ID] == 0 {
			delete(s.pruneGen, x.ID)
		}
	}
	s.pruned.Broadcast()
}
