//go:build integration

// Package integration runs the openclaw-run binary end to end, as root, and
// reads the truth from inside the jail: /proc/self/status, the id maps,
// what is reachable and what the kernel refuses. Run it with
// `make test` (or go test -tags integration ./integration/).
package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
)

// jailUID owns the test workspaces; root in the jail maps to it.
const jailUID = 4242

var binary, gwBinary string

func TestMain(m *testing.M) {
	// Keep the runs' state (the audit log) out of the real state dir.
	state, err := os.MkdirTemp("", "openclaw-it-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("OPENCLAW_STATE_DIR", state)
	defer os.RemoveAll(state)
	// make root-test passes the binary it built (static, as shipped).
	if binary = os.Getenv("OPENCLAW_BIN"); binary != "" {
		gwBinary = filepath.Join(filepath.Dir(binary), "openclaw-gateway")
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "openclaw-it-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "openclaw-run")
	gwBinary = filepath.Join(dir, "openclaw-gateway")
	for out, pkg := range map[string]string{binary: "../cmd/openclaw-run", gwBinary: "../cmd/openclaw-gateway"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(1)
		}
	}
	// The runc engine's helper, a module of its own (cgo, libseccomp).
	helper := exec.Command("go", "build", "-tags", "seccomp", "-o", filepath.Join(dir, "openclaw-run-runc"), ".")
	helper.Dir, helper.Stdout, helper.Stderr = "../runcjail/helper", os.Stdout, os.Stderr
	if err := helper.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the runc helper:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engine is the jail engine the suite runs under: OPENCLAW_ENGINE, which
// the binaries read too (make root-test runs the suite once per engine).
func engine() string {
	if e := os.Getenv("OPENCLAW_ENGINE"); e != "" {
		return e
	}
	return "native"
}

// nativeOnly reports whether a test about what the native engine alone
// does (reason) applies to the engine under test. Under the runc engine it
// runs instead, and so asserts, what that engine does there (runc), logs
// the reason and reports false: the test returns. Not a skip: under
// CI=true a skipped jail test would fail the run, and rightly.
func nativeOnly(t *testing.T, reason string, runc func(*testing.T)) bool {
	t.Helper()
	if engine() == "native" {
		return true
	}
	t.Logf("native engine only: %s; checking the runc engine's side of it instead", reason)
	runc(t)
	return false
}

// runcPrewarmsNothing: under the runc engine a session's calls all run,
// and none in a jail built before it arrived.
func runcPrewarmsNothing(t *testing.T) {
	t.Helper()
	g := startGateway(t, `{}`)
	for i := 0; i < 3; i++ {
		out, res := execResult(t, g, "runc", "echo ran")
		if res["exitCode"] != float64(0) || out != "ran\n" || res["prewarmed"] == true {
			t.Errorf("call %d under the runc engine: %v %q", i, res, out)
		}
		// Where a native gateway builds the next jail: none may appear
		// (a bounded observation, not a synchronization).
		if waitWarm(g, 300*time.Millisecond) {
			t.Errorf("a jail waits after call %d under the runc engine", i)
		}
	}
}

// workspace returns a fresh workspace owned by jailUID.
func workspace(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	ws := filepath.Join(t.TempDir(), "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(ws, jailUID, jailUID); err != nil {
		t.Fatal(err)
	}
	return ws
}

type run struct {
	stdout, stderr string
	code           int
}

// jailed runs `openclaw-run [flags] -- sh -c script` in ws.
func jailed(t *testing.T, ws string, flags []string, script string) run {
	t.Helper()
	args := append([]string{"--workspace", ws}, flags...)
	args = append(args, "--", "sh", "-c", script)
	return runCLI(t, nil, args...)
}

func runCLI(t *testing.T, setup func(*exec.Cmd), args ...string) run {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if setup != nil {
		setup(cmd)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return run{out.String(), errb.String(), code}
}

// runEnv runs openclaw-run with env and stdin, without a *testing.T (for
// closures); a failure to start is exit code -1.
func runEnv(env []string, stdin string, args ...string) run {
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return run{out.String(), errb.String(), code}
}

// field returns the value of "Key:\tvalue" in a /proc status dump.
func field(status, key string) string {
	for _, line := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitWarm waits up to d for the gateway to hold a jail built ahead of
// its next call: a child process of the gateway (its jails are its
// children) once the previous call's jail is gone.
func waitWarm(g *gw, d time.Duration) bool {
	return eventually(d, func() bool {
		for _, pid := range childrenOf(g.cmd.Process.Pid) {
			// Waiting for its command (jail step 28): blocked reading a
			// pipe, with only its own few fds left (at the earlier
			// barrier it still holds the bind trees).
			wchan, _ := os.ReadFile("/proc/" + pid + "/wchan")
			fds, _ := os.ReadDir("/proc/" + pid + "/fd")
			if string(wchan) == "pipe_read" && len(fds) <= 6 {
				return true
			}
		}
		return false
	})
}

// childrenOf lists the pids whose parent is pid.
func childrenOf(pid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == fmt.Sprint(pid) && f[0] != "Z" {
			out = append(out, e.Name())
		}
	}
	return out
}

// eventually polls cond for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// hostProcs returns host pids whose command line contains marker, other
// than openclaw-run itself (whose arguments carry the marker too).
func hostProcs(marker string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv0, _, _ := strings.Cut(string(b), "\x00")
		if strings.Contains(argv0, "openclaw-run") {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), marker) {
			out = append(out, e.Name())
		}
	}
	return out
}
