package gateway

import (
	"net/http"

	"github.com/openclaw-run/openclaw-run/runner"
)

// adminOnly lets through the operator's token and clients with admin.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := clientFrom(r.Context()); c == nil || !c.Admin {
			err := &httpError{http.StatusForbidden, "admin_denied", "the admin routes need the gateway's token or a client with admin: true"}
			s.refuse(r, "admin_denied", err)
			writeErr(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// reset serves POST /v1/admin/reset ("openclaw-run gateway reset"): it
// ends every auth lockout, destroys the pre-warmed jails (the next calls
// build fresh ones) and sweeps the cgroups that dead runners left. Calls
// that run are not touched.
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"lockoutsCleared": 0, "prewarmedExpired": 0, "leftoversSwept": 0}
	var errs []string
	if l, ok := s.o.Lockout.(Resetter); ok {
		n, err := l.Reset()
		out["lockoutsCleared"] = n
		if err != nil {
			errs = append(errs, "lockouts: "+err.Error())
		}
	}
	s.mu.Lock()
	n := 0
	for _, rn := range s.runners {
		n += rn.ExpireWarm()
	}
	s.mu.Unlock()
	out["prewarmedExpired"] = n
	swept, err := sweep()
	out["leftoversSwept"] = swept
	if err != nil {
		errs = append(errs, "sweep: "+err.Error())
	}
	s.o.Logger.Info("admin reset", "client", clientFrom(r.Context()).Name, "result", out)
	if len(errs) > 0 {
		out["errors"] = errs
		writeJSON(w, http.StatusInternalServerError, out)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// sweep is runner.Sweep (a variable for the tests, which have no cgroups
// of their own to sweep).
var sweep = runner.Sweep
