package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/profiles"
)

// heldMountNamespaces counts this process's fds on mount namespaces: the
// jails whose mounts the runner still holds (Spec.HoldMounts).
func heldMountNamespaces(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "mnt:[") {
			n++
		}
	}
	return n
}

// ownCgroups lists the call cgroups this process made.
func ownCgroups(t *testing.T) []string {
	t.Helper()
	bases, err := cgroups.Bases()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range bases {
		m, _ := filepath.Glob(filepath.Join(b, fmt.Sprint(os.Getpid())+"-*"))
		out = append(out, m...)
	}
	return out
}

// A call through Run is answered before its jail is taken apart: when the
// result is emitted, the jail's mount namespace is still held (the mounts
// go after the answer). And nothing is left behind: once Close returns,
// every jail's mounts and cgroup are gone, pre-warmed ones included.
func TestTeardownFollowsTheResult(t *testing.T) {
	testutil.RequireRoot(t)
	// Another test's calls may still be torn down: start from nothing.
	for i := 0; heldMountNamespaces(t) != 0; i++ {
		if i == 500 {
			t.Fatalf("%d mount namespaces held before the test", heldMountNamespaces(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
	ws := t.TempDir()
	os.Chown(ws, 4242, 4242)
	b, _ := profiles.Builtin()
	params, _ := json.Marshal(map[string]any{"command": "echo hi"})
	for _, prewarm := range []int{0, 1} {
		r, err := New(Options{Profile: b["coding"], Workspace: ws, Prewarm: prewarm})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 12; i++ {
			heldAtResult := -1
			err := r.Run(context.Background(), Call{Tool: "exec", Params: params}, func(e Event) error {
				if e.Type == "result" {
					heldAtResult = heldMountNamespaces(t)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Without pre-warming, the call's own jail is the only one.
			if prewarm == 0 && heldAtResult != 1 {
				t.Errorf("call %d: %d mount namespaces held when the result went out, want the call's own", i, heldAtResult)
			}
		}
		r.Close()
		if held := heldMountNamespaces(t); held != 0 {
			t.Errorf("prewarm %d: %d mount namespaces still held after Close", prewarm, held)
		}
		if l := ownCgroups(t); len(l) != 0 {
			t.Errorf("prewarm %d: cgroups left after Close: %v", prewarm, l)
		}
		// A call on a closed runner (the gateway closes runners that may
		// still serve one) runs, is torn down before Run returns, and its
		// changes reach the workspace (its staging store was closed with
		// the runner: the changes were lost).
		late, _ := json.Marshal(map[string]any{"command": fmt.Sprintf("echo late > late%d", prewarm)})
		if err := r.Run(context.Background(), Call{Tool: "exec", Params: late}, func(Event) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(ws, fmt.Sprintf("late%d", prewarm))); string(b) != "late\n" {
			t.Errorf("prewarm %d: the change of a call on a closed runner: %q %v", prewarm, b, err)
		}
		if held, l := heldMountNamespaces(t), ownCgroups(t); held != 0 || len(l) != 0 {
			t.Errorf("prewarm %d: a call after Close left %d mount namespaces and cgroups %v", prewarm, held, l)
		}
	}
}
