package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestStampNeverEmpty(t *testing.T) {
	s := Get()
	if s.Version == "" || s.Commit == "" || s.Date == "" || s.Go != runtime.Version() {
		t.Fatalf("incomplete stamp: %+v", s)
	}
	line := s.String("openclaw-run")
	if !strings.HasPrefix(line, "openclaw-run "+s.Version+" ") || !strings.Contains(line, "runc helper: absent") {
		t.Errorf("line: %q", line)
	}
}

func TestLinkTimeValuesWin(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "1.2.3", "abcdef", "2026-12-03T00:00:00Z"
	s := Get()
	if s.Version != "1.2.3" || s.Commit != "abcdef" || s.Date != "2026-12-03T00:00:00Z" {
		t.Errorf("ldflags values not used: %+v", s)
	}
}
