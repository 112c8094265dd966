package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/gateway"
)

// adminCall sends an authenticated request to the gateway's admin API
// (docs/gateway.md, /v1/admin/...) and decodes the JSON reply into out.
// The gateway is the running one of the pid file, else the one at
// gateway.host:port of the config; url, when set, wins over both.
func adminCall(cfg *config.Config, url, method, path string, body, out any) error {
	if url == "" {
		if _, addr, ok := runningAt(); ok && addr != "" {
			url = "http://" + addr
		} else {
			url = fmt.Sprintf("http://%s:%d", cfg.Gateway.Host, cfg.Gateway.Port)
		}
	}
	tok, err := token(cfg, false)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("the gateway at %s: %w (is it running? openclaw-run gateway status)", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		// The gateway's error bodies: {"message": ...}, or {"error": {"message": ...}}.
		var e struct {
			Message string
			Error   struct{ Message string }
		}
		if json.Unmarshal(b, &e) == nil && e.Message+e.Error.Message != "" {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Message+e.Error.Message)
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: a reply that is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// resetReply is the reply of POST /v1/admin/reset.
type resetReply struct {
	LockoutsCleared  int `json:"lockoutsCleared"`
	PrewarmedExpired int `json:"prewarmedExpired"`
	LeftoversSwept   int `json:"leftoversSwept"`
}

// cmdReset is "openclaw-run gateway reset": the running gateway clears its
// auth lockouts, closes its pre-warmed jails (new ones are made for the
// next calls) and sweeps leftover cgroups of dead calls. Sessions, their
// workspaces and calls in flight are left alone.
func cmdReset(args []string, stdout, stderr io.Writer) int {
	fs := flags("reset", "[--gateway URL] [--config F]", stderr)
	url := fs.String("gateway", "", "gateway URL (default: the running gateway of the pid file, else gateway.host:port of the config)")
	cfgFile := fs.String("config", "", "config file")
	if code, ok := noArgs(fs, args); !ok {
		return code
	}
	_, cfg, err := loadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var r resetReply
	if err := adminCall(cfg, *url, "POST", "/v1/admin/reset", struct{}{}, &r); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Cmd, err)
		return 1
	}
	fmt.Fprintf(stdout, "gateway reset: %d auth lockout(s) cleared, %d pre-warmed jail(s) expired, %d leftover cgroup(s) swept\n",
		r.LockoutsCleared, r.PrewarmedExpired, r.LeftoversSwept)
	fmt.Fprintln(stdout, "(sessions, their workspaces and calls in flight are untouched)")
	return 0
}

// sessionsVia is "sessions list|prune" through the running gateway at url,
// with the output of the direct path.
func sessionsVia(cfg *config.Config, url, verb string, age time.Duration, ageText string, stdout, stderr io.Writer) int {
	if verb == "list" {
		var r struct{ Sessions []gateway.Session }
		if err := adminCall(cfg, url, "GET", "/v1/admin/sessions", nil, &r); err != nil {
			fmt.Fprintf(stderr, "sessions list: %v\n", err)
			return 1
		}
		printSessions(stdout, r.Sessions)
		return 0
	}
	var r struct{ Pruned int }
	if err := adminCall(cfg, url, "POST", "/v1/admin/sessions/prune", map[string]string{"olderThan": age.String()}, &r); err != nil {
		fmt.Fprintf(stderr, "sessions prune: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "pruned %d session(s) unused for %s\n", r.Pruned, ageText)
	return 0
}

func printSessions(w io.Writer, list []gateway.Session) {
	for _, s := range list {
		fmt.Fprintf(w, "%-24s user=%-12s calls=%-6d created=%s lastUsed=%s workspace=%s\n",
			s.ID, s.UserID, s.Calls, s.Created.Format(time.RFC3339), s.LastUsed.Format(time.RFC3339), s.Workspace)
	}
}
