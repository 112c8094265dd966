package main

import (
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/profiles"
)

func stateDir() string { return config.StateDir() }

func loadProfiles() (map[string]*profiles.Profile, error) { return setup.Profiles() }
