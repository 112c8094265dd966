package main

import (
	"os"
	"path/filepath"

	"github.com/openclaw-run/openclaw-run/profiles"
)

// stateDir is OPENCLAW_STATE_DIR, else ~/.openclaw (the names OpenClaw
// itself uses).
func stateDir() string {
	if d := os.Getenv("OPENCLAW_STATE_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".openclaw"
	}
	return filepath.Join(home, ".openclaw")
}

// loadProfiles returns the built-in profiles and the custom ones in
// <state dir>/profiles.
func loadProfiles() (map[string]*profiles.Profile, error) {
	return profiles.Load(filepath.Join(stateDir(), "profiles"))
}
