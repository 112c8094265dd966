package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/openclaw-run/openclaw-run/config"
	"gopkg.in/natefinch/lumberjack.v2"
)

// newLogger builds the gateway's logger from logging.* (the guide's 4.1):
// level, file (rotated by maxSize and backupCount with lumberjack), and
// format "text" or "json" (the guide's Python format string means text).
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
	if c.Format == "json" {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(h), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
