//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/internal/testutil"
)

const nobody = 65534

// asNobody runs the CLI as uid/gid 65534 with no supplementary groups:
// rootless mode, where jail root maps to the runner's own uid.
func asNobody(t *testing.T, ws string, args ...string) run {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is required for the rootless tests")
	}
	full := append([]string{"--reuid", "65534", "--regid", "65534", "--clear-groups", binary, "--workspace", ws}, args...)
	cmd := exec.Command("setpriv", full...)
	state := filepath.Join(t.TempDir(), "state")
	os.Mkdir(state, 0o700)
	os.Chown(state, nobody, nobody)
	os.Chmod(filepath.Dir(state), 0o755)
	cmd.Env = append(os.Environ(), "OPENCLAW_STATE_DIR="+state)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{out.String(), errb.String(), code}
}

func nobodyWorkspace(t *testing.T) string {
	t.Helper()
	ws := workspace(t)
	os.Chown(ws, nobody, nobody)
	// The binary must be reachable by nobody.
	for d := filepath.Dir(binary); d != "/"; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, st.Mode().Perm()|0o011)
		}
	}
	for d := filepath.Dir(ws); d != "/"; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, st.Mode().Perm()|0o011)
		}
	}
	return ws
}

// TestRootlessRefusesWithoutDelegation: an unprivileged runner without a
// cgroup of its own refuses the call and says how to delegate; it never
// runs without limits.
func TestRootlessRefusesWithoutDelegation(t *testing.T) {
	if !nativeOnly(t, "the runc engine is root only", runcRefusedWithoutRoot) {
		return
	}
	ws := nobodyWorkspace(t)
	r := asNobody(t, ws, "--", "sh", "-c", "echo RAN")
	if r.code != 125 || strings.Contains(r.stdout, "RAN") {
		t.Fatalf("rootless without delegation ran or failed oddly: %+v", r)
	}
	if !strings.Contains(strings.ToLower(r.stderr), "delegate") {
		t.Errorf("the refusal should say how to delegate: %s", r.stderr)
	}
}

// TestRuncNeedsRoot: an unprivileged runner asked for the runc engine
// refuses the call with the reason, and runs nothing.
func TestRuncNeedsRoot(t *testing.T) { runcRefusedWithoutRoot(t) }

func runcRefusedWithoutRoot(t *testing.T) {
	t.Helper()
	ws := nobodyWorkspace(t)
	r := asNobody(t, ws, "--engine", "runc", "--", "sh", "-c", "echo RAN")
	if r.code != 125 || strings.Contains(r.stdout, "RAN") || !strings.Contains(r.stderr, "the runc engine needs root") {
		t.Errorf("runc engine without root: %+v", r)
	}
}

// TestRootlessWithDelegatedCgroups: with a delegated subtree (v1: chowned)
// the same jail runs unprivileged, root inside mapped to the runner.
func TestRootlessWithDelegatedCgroups(t *testing.T) {
	if !nativeOnly(t, "the runc engine is root only", runcRefusedWithoutRoot) {
		return
	}
	ws := nobodyWorkspace(t)
	bases, err := cgroups.Bases()
	if err != nil {
		t.Fatal(err)
	}
	if cgroups.Mode() == "v2" {
		testRootlessV2(t, ws)
		return
	}
	for _, b := range bases {
		if err := os.Chown(b, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		defer os.Chown(b, 0, 0)
	}
	r := asNobody(t, ws, "--stats", "--memory", "64M", "--", "sh", "-c",
		"cat /proc/self/uid_map; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; echo hi > made; unshare -U true 2>/dev/null && echo ESCAPE; true")
	if r.code != 0 {
		t.Fatalf("rootless call failed: %+v", r)
	}
	if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "0 65534 1") ||
		!strings.Contains(r.stdout, "CapEff:\t0000000000000000") || !strings.Contains(r.stdout, "Seccomp:\t2") || strings.Contains(r.stdout, "ESCAPE") {
		t.Errorf("rootless posture wrong:\n%s", r.stdout)
	}
	st, err := os.Stat(filepath.Join(ws, "made"))
	if err != nil || st.Sys().(*syscall.Stat_t).Uid != nobody {
		t.Errorf("file written rootless should belong to the runner (65534): %v", err)
	}
	// Leave nothing of nobody's behind for root's own sweep to trip on.
	for _, b := range bases {
		entries, _ := os.ReadDir(b)
		for _, e := range entries {
			if e.IsDir() {
				if st, _ := os.Stat(filepath.Join(b, e.Name())); st != nil && st.Sys().(*syscall.Stat_t).Uid == nobody {
					t.Errorf("rootless call left %s", e.Name())
				}
			}
		}
	}
}

// testRootlessV2 runs the CLI as a transient systemd service of uid 65534
// with Delegate=yes: systemd hands it a cgroup of its own, the way a
// production unit (User=openclaw, Delegate=yes) gets one.
func testRootlessV2(t *testing.T, ws string) {
	if _, err := exec.LookPath("systemd-run"); err != nil {
		testutil.Skip(t, "cgroup v2 rootless needs systemd-run (systemd as PID 1) for a delegated cgroup")
	}
	state := filepath.Join(t.TempDir(), "state")
	os.Mkdir(state, 0o700)
	os.Chown(state, nobody, nobody)
	os.Chmod(filepath.Dir(state), 0o755)
	cmd := exec.Command("systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--uid=65534", "--gid=65534",
		"-p", "Delegate=yes", "-E", "OPENCLAW_STATE_DIR="+state,
		binary, "--workspace", ws, "--memory", "64M", "--stats", "--", "sh", "-c",
		"cat /proc/self/uid_map; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; echo hi > made; unshare -U true 2>/dev/null && echo ESCAPE; true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rootless v2 call: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(strings.Join(strings.Fields(s), " "), "0 65534 1") || !strings.Contains(s, "CapEff:\t0000000000000000") ||
		!strings.Contains(s, "Seccomp:\t2") || strings.Contains(s, "ESCAPE") {
		t.Errorf("rootless v2 posture wrong:\n%s", s)
	}
	if st, err := os.Stat(filepath.Join(ws, "made")); err != nil || st.Sys().(*syscall.Stat_t).Uid != nobody {
		t.Errorf("file written rootless should belong to 65534: %v", err)
	}
}
