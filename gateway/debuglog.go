package gateway

import (
	"context"
	"log/slog"

	"github.com/openclaw-run/openclaw-run/runner"
)

// debugEvent writes the debug lines logging.level "debug" promises: each
// call's start (id, tool, profile), its end (exit, signal,
// duration, setup time, memory, whether a pre-warmed jail served it) or its
// error. Nothing of the parameters or the output, as at every level.
func (s *Server) debugEvent(e runner.Event) {
	l := s.o.Logger
	if l == nil || !l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	switch e.Type {
	case "start":
		l.Debug("call started", "callId", e.CallID, "tool", e.Tool, "profile", e.Profile)
	case "result":
		if r := e.Result; r != nil {
			l.Debug("call ended", "callId", e.CallID, "tool", e.Tool, "exitCode", r.ExitCode, "signal", r.Signal, "timedOut", r.TimedOut,
				"oomKilled", r.OOMKilled, "ms", r.DurationMs, "setupMs", r.SetupMs, "maxMemoryBytes", r.MaxMemoryBytes, "prewarmed", r.Prewarmed)
		}
	case "error":
		l.Debug("call failed", "callId", e.CallID, "tool", e.Tool, "code", e.Code, "message", e.Message)
	}
}
