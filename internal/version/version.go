// Package version is the build stamp of the binaries: the release, the
// commit and the build date (set by the Makefile with -ldflags -X), else
// what the Go toolchain recorded (debug.ReadBuildInfo), and the Go version.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by make build:
//
//	-X github.com/openclaw-run/openclaw-run/internal/version.version=...
var version, commit, date string

// Stamp is what a binary reports with --version, in doctor, in the
// gateway's authenticated /health and in the MCP server info.
type Stamp struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
	Go      string `json:"go"`
	// RuncHelper is the path of the runc engine's helper, "" when absent
	// (filled in by the caller, which knows where to look).
	RuncHelper string `json:"runcHelper"`
}

// Get returns the stamp: the link-time values, each missing one from the
// build info, else "unknown".
func Get() Stamp {
	s := Stamp{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if s.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			s.Version = bi.Main.Version
		}
		var rev, dirty string
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.time":
				if s.Date == "" {
					s.Date = kv.Value
				}
			case "vcs.modified":
				if kv.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if s.Commit == "" && rev != "" {
			s.Commit = rev[:min(12, len(rev))] + dirty
		}
	}
	for _, p := range []*string{&s.Version, &s.Commit, &s.Date} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return s
}

// String is the one-line form: "openclaw-run 0.3.0 (commit abc, built
// DATE, go1.26.0, runc helper: PATH)".
func (s Stamp) String(prog string) string {
	helper := s.RuncHelper
	if helper == "" {
		helper = "absent (the runc engine is unavailable; the native engine is)"
	}
	return fmt.Sprintf("%s %s (commit %s, built %s, %s, runc helper: %s)", prog, s.Version, s.Commit, s.Date, s.Go, helper)
}
