package review

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/staging"
	"golang.org/x/sys/unix"
)

// held makes a workspace with one held call that adds a.txt.
func held(t *testing.T) (ws string, st *staging.Store) {
	testutil.RequireRoot(t)
	ws = t.TempDir()
	l, err := staging.NewLayer(ws, 1<<20, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, err := unix.Openat(l.Tree(), "a.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(fd, []byte("a"))
	unix.Close(fd)
	if st, err = staging.OpenStore(ws); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Commit(l, "0123456789abcdef", staging.Options{Hold: true}); err != nil {
		t.Fatal(err)
	}
	return ws, st
}

// The request is recorded before the decision and the outcome after it;
// a log that cannot take the request refuses the decision.
func TestDecide(t *testing.T) {
	ws, st := held(t)
	logf := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(logf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decide(log, st, "approve", "0123456789abcdef", Who{Session: "s1", Client: "ops"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws, "a.txt")); err != nil {
		t.Fatal("approved change not in the workspace")
	}
	b, _ := os.ReadFile(logf)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"decision":"requested"`) || !strings.Contains(lines[1], `"decision":"allow"`) ||
		!strings.Contains(lines[1], `"client":"ops"`) {
		t.Fatalf("records:\n%s", b)
	}
	// A refused decision is recorded with its reason.
	if _, err := Decide(log, st, "reject", "0123456789abcdef", Who{}); !errors.Is(err, staging.ErrConflict) {
		t.Fatalf("reject of a committed call: %v", err)
	}
	// An audit log that cannot take the request: nothing is decided.
	ws2, st2 := held(t)
	ro := filepath.Join(t.TempDir(), "audit.jsonl")
	log2, err := audit.Open(ro, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(ro)
	os.Mkdir(ro, 0o700) // the log's path is now a directory: appends fail
	if _, err := Decide(log2, st2, "approve", "0123456789abcdef", Who{}); !errors.Is(err, ErrAudit) {
		t.Fatalf("approve without an audit log: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ws2, "a.txt")); err == nil {
		t.Fatal("a decision the audit log refused was made")
	}
}
