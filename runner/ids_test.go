package runner

import (
	"os"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/profiles"
)

// As root in a directory of root's, jail root maps to nobody, which cannot
// write there: the runner says so and how to fix it, and only then.
func TestRootOwnedWorkspaceWarns(t *testing.T) {
	testutil.RequireRoot(t)
	b, _ := profiles.Builtin()
	for _, c := range []struct {
		name     string
		uid      int // the workspace's owner
		mode     os.FileMode
		flagUID  int
		wantWarn bool
	}{
		{"root's 0755", 0, 0o755, 0, true},
		{"root's 0777", 0, 0o777, 0, false},
		{"root's with --uid", 0, 0o755, 4242, false},
		{"another user's", 4242, 0o755, 0, false},
	} {
		ws := t.TempDir()
		os.Chmod(ws, c.mode)
		os.Chown(ws, c.uid, c.uid)
		var warns []string
		r, err := New(Options{Profile: b["coding"], Workspace: ws, UID: c.flagUID, Staging: StagingOff,
			Warn: func(m string) { warns = append(warns, m) }})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		got := strings.Join(warns, "\n")
		warned := strings.Contains(got, "cannot write it") && strings.Contains(got, "--uid") && strings.Contains(got, "chown 65534:65534 "+ws)
		if warned != c.wantWarn {
			t.Errorf("%s: warned %v, want %v: %q", c.name, warned, c.wantWarn, got)
		}
	}
}
