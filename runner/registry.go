package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/internal/procid"
)

// The call registry: a file per running jail, written when the jail starts
// and removed when the call ends, so that "openclaw-run ps" lists the
// running calls of every runner on the host (CLIs and gateways) and
// "openclaw-run kill CALLID" ends one. A file whose runner died (kill -9)
// is stale: its runner's identity (internal/procid) says so, and ps
// removes it.

// RunningCall is one registry file.
type RunningCall struct {
	CallID    string    `json:"callId"`
	SessionID string    `json:"sessionId,omitempty"`
	Tool      string    `json:"tool"`
	Command   string    `json:"command"`
	Engine    string    `json:"engine"`
	Started   time.Time `json:"started"`
	// Runner is the process that runs the call; Jail the process that ends
	// it when signalled with KillSignal (the native engine's jail init, whose
	// death ends its pid namespace; the runc engine's helper, which takes
	// its jail down on SIGTERM).
	Runner     procid.ID      `json:"runner"`
	Jail       procid.ID      `json:"jail"`
	KillSignal syscall.Signal `json:"killSignal"`
	// Cgroup is the call's cgroup directories (the native engine's), for
	// the memory and CPU columns of ps.
	Cgroup []string `json:"cgroup,omitempty"`
}

// CallsDir is the registry: $OPENCLAW_RUN_DIR/calls, else
// /run/openclaw-run/calls for root, else a per-user directory in TMPDIR.
func CallsDir() string {
	if d := os.Getenv("OPENCLAW_RUN_DIR"); d != "" {
		return filepath.Join(d, "calls")
	}
	if os.Geteuid() == 0 {
		return "/run/openclaw-run/calls"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("openclaw-run-%d", os.Geteuid()), "calls")
}

// register writes c's file (0600, atomically) and returns its removal. A
// registry that cannot be written costs ps its line, not the call. The
// file is written off the call's path (a directory check, a write and a
// rename on /run took 0.15 ms of a warm call): the removal waits for the
// write, so a file never outlives its call.
func register(c RunningCall) func() {
	done := make(chan string, 1)
	go func() { done <- writeRegistry(c) }()
	return func() {
		if path := <-done; path != "" {
			os.Remove(path)
		}
	}
}

// writeRegistry writes c's file and returns its path ("" if it could not).
func writeRegistry(c RunningCall) string {
	dir := CallsDir()
	path := filepath.Join(dir, c.CallID+".json")
	b, _ := json.Marshal(c)
	if os.MkdirAll(dir, 0o700) != nil {
		return ""
	}
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) != nil || os.Rename(tmp, path) != nil {
		os.Remove(tmp)
		return ""
	}
	return path
}

// RunningCalls lists the registry, oldest first, removing the files of
// calls whose runner is gone.
func RunningCalls() ([]RunningCall, error) {
	entries, err := os.ReadDir(CallsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RunningCall
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(CallsDir(), e.Name())
		b, err := os.ReadFile(path)
		var c RunningCall
		if err != nil || json.Unmarshal(b, &c) != nil {
			continue
		}
		if procid.Gone(c.Runner) || procid.Gone(c.Jail) {
			// Stale: its runner or its jail died without removing it. Only
			// a certain death counts (procid.Gone): sessions prune keeps
			// a session whose call this registry lists.
			os.Remove(path)
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// Usage is what a running call has used so far: the peak memory and the
// CPU time of its cgroup (ok false when it has no cgroup of ours).
func (c RunningCall) Usage() (s cgroups.Stats, ok bool) {
	if len(c.Cgroup) == 0 {
		return s, false
	}
	s, err := cgroups.StatsOf(c.Cgroup)
	return s, err == nil
}

// KillCall ends the running call id: only a call in the registry, and only
// while its jail process still has the identity recorded there (a reused
// pid is never signalled).
func KillCall(id string) (RunningCall, error) {
	list, err := RunningCalls()
	if err != nil {
		return RunningCall{}, err
	}
	for _, c := range list {
		if c.CallID != id {
			continue
		}
		if !procid.Alive(c.Jail) {
			return c, fmt.Errorf("call %s has already ended", id)
		}
		if err := syscall.Kill(c.Jail.PID(), c.KillSignal); err != nil {
			return c, fmt.Errorf("kill call %s: %w", id, err)
		}
		return c, nil
	}
	return RunningCall{}, fmt.Errorf("no running call %q (openclaw-run ps lists them)", id)
}

// commandOf is the command column of a call: exec's command, else the
// tool and its path.
func commandOf(tool string, params map[string]any) string {
	switch v := params["command"].(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, " ")
	}
	if p, ok := params["path"].(string); ok {
		return tool + " " + p
	}
	return tool
}
