// Package testutil holds the skip helpers shared by root and integration
// tests. A jail test may skip only when it cannot run here (not root) and
// says why; under CI=true a skip is a failure, so that a CI run that
// silently tested nothing cannot pass.
package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips t when not running as root, or fails it under CI.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	Skip(t, "needs root: the jail maps its root to another host uid, which only root may do")
}

// Skip skips t with the reason, or fails it when CI=true.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("would skip, but CI=true forbids skipped jail tests: %s", reason)
	}
	t.Skip(reason)
}
