package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/openclaw-run/openclaw-run/config"
	"gopkg.in/natefinch/lumberjack.v2"
)

// newLogger builds the gateway's logger from logging.* (the guide's 4.1):
// level, file (rotated by maxSize and backupCount with lumberjack), and
// format "text", "json" or "journald" (the guide's Python format string
// means text).
// flagLevel, when set, wins over the config.
func newLogger(c config.Logging, flagLevel string, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	level := c.Level
	if flagLevel != "" {
		level = flagLevel
	}
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "", "info":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	out, closer := stderr, io.Closer(nopCloser{})
	if c.File != "" {
		path := config.ExpandHome(c.File)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		maxMB := int(c.MaxSize >> 20)
		if maxMB <= 0 {
			maxMB = 100
		}
		lj := &lumberjack.Logger{Filename: path, MaxSize: maxMB, MaxBackups: c.BackupCount}
		// lumberjack creates files 0600 only when rotating; make the first one so too.
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			f.Close()
		}
		out, closer = lj, lj
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch c.Format {
	case "json":
		h = slog.NewJSONHandler(out, opts)
	case "journald":
		h = journald(out, opts)
	default:
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(h), closer, nil
}

// journald is the text format for systemd's journal (logging.format
// "journald"): each line starts with its syslog priority, <3> error, <4>
// warning, <6> info, <7> debug, which journald reads from a service's
// stderr (SyslogLevelPrefix=yes, the default) so that journalctl -p
// filters by level; no time, since the journal stamps each line.
func journald(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	o := *opts
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
			return slog.Attr{}
		}
		return a
	}
	pw := &prioWriter{w: w}
	return &prioHandler{Handler: slog.NewTextHandler(pw, &o), pw: pw}
}

// prioHandler passes each record's level to its prioWriter, which writes
// the line with the priority in front. slog's text handler writes a
// record with one Write; the lock covers the level and that write.
type prioHandler struct {
	slog.Handler
	pw *prioWriter
}

func (h *prioHandler) Handle(ctx context.Context, r slog.Record) error {
	h.pw.mu.Lock()
	defer h.pw.mu.Unlock()
	h.pw.level = r.Level
	return h.Handler.Handle(ctx, r)
}

func (h *prioHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &prioHandler{h.Handler.WithAttrs(a), h.pw}
}

func (h *prioHandler) WithGroup(n string) slog.Handler {
	return &prioHandler{h.Handler.WithGroup(n), h.pw}
}

type prioWriter struct {
	mu    sync.Mutex
	level slog.Level
	w     io.Writer
}

func (p *prioWriter) Write(b []byte) (int, error) {
	prio := "<6>"
	switch {
	case p.level >= slog.LevelError:
		prio = "<3>"
	case p.level >= slog.LevelWarn:
		prio = "<4>"
	case p.level < slog.LevelInfo:
		prio = "<7>"
	}
	if _, err := io.WriteString(p.w, prio); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
