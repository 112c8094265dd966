package runner

import (
	"os"
	"testing"

	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/seccomp"
)

// The profiles name tiers by string; every tier they may name must exist
// in the seccomp package and compile.
func TestProfileTiersCompile(t *testing.T) {
	for _, tier := range profiles.KnownTiers {
		if _, err := seccomp.Compile(tier); err != nil {
			t.Errorf("tier %s: %v", tier, err)
		}
	}
	if len(seccomp.Tiers()) != len(profiles.KnownTiers) {
		t.Errorf("seccomp has %d tiers, profiles know %d", len(seccomp.Tiers()), len(profiles.KnownTiers))
	}
}

func TestEnvIsOnlyTheBaseAndTheCall(t *testing.T) {
	env := Env("xterm", []string{"A=1", "HOME=/elsewhere"})
	path := "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		path += ":/usr/local/go/bin" // Go's official install, where the host has one
	}
	want := []string{path, "HOME=/elsewhere", "LANG=C.UTF-8", "TERM=xterm", "A=1"}
	if len(env) != len(want) {
		t.Fatalf("env = %v", env)
	}
	for i := range want {
		if env[i] != want[i] {
			t.Errorf("env[%d] = %q, want %q", i, env[i], want[i])
		}
	}
}
