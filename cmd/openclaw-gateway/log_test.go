package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/config"
)

func TestLoggerFromConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "logs", "gateway.log")
	l, c, err := newLogger(config.Logging{Level: "warn", File: file, MaxSize: 1 << 20, BackupCount: 3, Format: "json"}, "", os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	c.Close()
	b, _ := os.ReadFile(file)
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(b), &rec); err != nil || rec["msg"] != "shown" || strings.Contains(string(b), "hidden") {
		t.Errorf("log file: %q (%v)", b, err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v", st.Mode().Perm())
	}
	var buf bytes.Buffer
	l, _, err = newLogger(config.Logging{Level: "error", Format: "%(asctime)s"}, "debug", &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("flag wins")
	if !strings.Contains(buf.String(), "flag wins") || !strings.Contains(buf.String(), "level=DEBUG") {
		t.Errorf("--log-level should win, text format: %q", buf.String())
	}
	if _, _, err := newLogger(config.Logging{Level: "loud"}, "", &buf); err == nil {
		t.Error("a bad level accepted")
	}
}

// logging.format journald: each line carries its syslog priority for the
// journal, and no time of its own.
func TestJournaldFormat(t *testing.T) {
	var buf bytes.Buffer
	l, _, err := newLogger(config.Logging{Level: "debug", Format: "journald"}, "", &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.With("k", "v").Error("e1")
	l.Warn("w1")
	l.Info("i1")
	l.Debug("d1")
	want := []string{"<3>msg=e1 k=v", "<4>msg=w1", "<6>msg=i1", "<7>msg=d1"}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != len(want) {
		t.Fatalf("lines: %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}
