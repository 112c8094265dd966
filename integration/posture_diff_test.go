//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/posture"
)

// TestPostureColdVersusPrewarmed: a jail built before its call arrives
// shows, from inside, exactly what a jail built for the call shows: the
// same probe through the CLI (cold) and through the gateway (pre-warmed),
// with the same profile, workspace and owner, compared section by
// section. Every section counts; none is expected to differ.
func TestPostureColdVersusPrewarmed(t *testing.T) {
	if !nativeOnly(t, "the runc engine pre-warms no jail (TestPostureNativeVersusRunc compares the engines)", runcPrewarmsNothing) {
		return
	}
	ws := workspace(t)
	cold := jailed(t, ws, []string{"--profile", "coding"}, posture.Probe)
	if cold.code != 0 {
		t.Fatalf("probe in a cold jail: exit %d: %s", cold.code, cold.stderr)
	}
	cfg, _ := json.Marshal(map[string]any{"sandbox": map[string]any{"workspace": ws, "perSession": false}})
	g := startGateway(t, string(cfg))
	execResult(t, g, "diff", "true") // the first call is cold; it leaves a pre-warmed jail
	waitWarm(g, 5*time.Second)
	out, res := execResult(t, g, "diff", posture.Probe)
	if res["prewarmed"] != true || res["exitCode"] != float64(0) {
		t.Fatalf("the probe did not run in a pre-warmed jail: %v\n%s", res, out)
	}
	a, b := posture.Parse(cold.stdout), posture.Parse(out)
	if len(a) < 17 || a["syscalls"] == "" || a["mounts"] == "" {
		t.Fatalf("the probe printed too little:\n%s", cold.stdout)
	}
	intended := map[string]string{
		"term": "the CLI passes on the caller's TERM; a gateway call has no terminal (TERM=dumb)",
	}
	for _, d := range posture.Diff(a, b, intended) {
		t.Error(d)
	}
	checkPromised(t, "a cold jail", a)
}

// inheritingSignals runs the probe like jailed, from a caller that ignores
// SIGHUP and SIGUSR1 and blocks SIGUSR2, as nohup, a shell or make may:
// execve keeps both, and neither may reach the jail, whatever the engine.
func inheritingSignals(t *testing.T, ws string, flags []string, argv ...string) run {
	t.Helper()
	const wrapper = `import os, signal, sys
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
os.execv(sys.argv[1], sys.argv[1:])`
	args := append(append([]string{"--workspace", ws}, flags...), "--")
	return runCLI(t, func(c *exec.Cmd) {
		c.Path, _ = exec.LookPath("python3")
		c.Args = append([]string{"python3", "-c", wrapper, binary}, append(args, argv...)...)
	}, args...)
}

// checkPromised checks a probe against what every jail promises, so that
// two equally broken jails do not compare equal unnoticed.
func checkPromised(t *testing.T, label string, a posture.Posture) {
	t.Helper()
	for section, want := range map[string][]string{
		"status":   {"NoNewPrivs:\t1", "Seccomp:\t2", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "SigIgn:\t0000000000000000", "SigBlk:\t0000000000000000"},
		"idmaps":   {fmt.Sprintf("0 %d 1", jailUID)},
		"network":  {"lo\n"},
		"syscalls": {"ptrace EPERM", "unshare-user EPERM", "mount EPERM", "bpf EPERM", "socket-packet EPERM", "socket-netlink-audit EPERM", "socket-netlink-route ok", "socket-inet ok"},
		// (A masked file such as /proc/sysrq-trigger is /dev/null: writing
		// it succeeds and does nothing; the masked section checks it.)
		"readonly": {"/usr/bin/.probe refused", "/workspace/.probe writable", "/etc/.probe refused",
			"/proc/sys/kernel/hostname refused", "/proc/sys/vm/drop_caches refused"},
		"processes": {"2\n"}, // the probe's shell (pid 1) and ls
	} {
		for _, w := range want {
			if !strings.Contains(a[section], w) {
				t.Errorf("section %s of %s lacks %q:\n%s", section, label, w, a[section])
			}
		}
	}
	// Masked paths read as nothing: absent on this kernel, empty, or an
	// empty directory.
	for _, l := range strings.Split(strings.TrimSpace(a["masked"]), "\n") {
		if !strings.HasSuffix(l, " absent") && !strings.HasSuffix(l, " 0") {
			t.Errorf("a masked path shows something in %s: %s", label, l)
		}
	}
}

// TestPostureNativeVersusRunc is the differential test between the two
// engines (issue 13): the same probe, profile, workspace and owner under
// the native engine and under runc's libcontainer, compared section by
// section, for each profile that runs programs. Every difference is a
// failure unless it is listed below with its reason. The refused calls
// reported in the result (blockedSyscalls) must match too.
func TestPostureNativeVersusRunc(t *testing.T) {
	ws := workspace(t)
	// libcontainer masks a /proc directory with an empty read-only tmpfs
	// without nosuid, nodev and noexec (rootfs_linux.go maskPaths), where
	// the native engine sets all three. Nothing can be created in a
	// read-only empty tmpfs, so the flags have nothing to act on; and
	// runc refuses any other mount below /proc (checkProcMount), so the
	// helper cannot mount it itself.
	var known []posture.Known
	for _, d := range []string{"acpi", "scsi", "asound", "firmware", "driver"} {
		opts := fmt.Sprintf("tmpfs ro,size=N,uid=%d,gid=%d", jailUID, jailUID)
		known = append(known, posture.Known{Section: "mounts",
			First:  "/proc/" + d + " ro,nosuid,nodev,noexec,relatime " + opts,
			Second: "/proc/" + d + " ro,relatime " + opts,
			Why:    "runc's directory masks carry no nosuid/nodev/noexec; they are empty and read-only"})
	}
	// The full profile allows 65536 open files, more than the hard limit
	// of some hosts (no jail may raise its own): both engines get 4096.
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	if err := os.WriteFile(cfg, []byte(`{"sandbox": {"limits": {"full": {"openFiles": 4096}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, prof := range []string{"coding", "full"} {
		t.Run(prof, func(t *testing.T) {
			native := inheritingSignals(t, ws, []string{"--config", cfg, "--engine", "native", "--profile", prof}, "sh", "-c", posture.Probe)
			runc := inheritingSignals(t, ws, []string{"--config", cfg, "--engine", "runc", "--profile", prof}, "sh", "-c", posture.Probe)
			if native.code != 0 || runc.code != 0 {
				t.Fatalf("probe: native exit %d (%s), runc exit %d (%s)", native.code, native.stderr, runc.code, runc.stderr)
			}
			a, b := posture.Parse(native.stdout), posture.Parse(runc.stdout)
			if len(b) < 17 || b["syscalls"] == "" || b["mounts"] == "" {
				t.Fatalf("the probe printed too little under runc:\n%s", runc.stdout)
			}
			for _, d := range posture.Diff(a, b, nil, known...) {
				t.Error(d)
			}
			if prof == "coding" {
				checkPromised(t, "a runc jail", b)
			}
		})
	}
	// The shell of the probe resets its signal mask itself; a program
	// started without one shows what the jail gave it.
	t.Run("signals", func(t *testing.T) {
		for _, e := range []string{"native", "runc"} {
			r := inheritingSignals(t, ws, []string{"--engine", e}, "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status")
			if r.code != 0 || r.stdout != "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n" {
				t.Errorf("%s: a jail inherited its caller's signal state: %q %s", e, r.stdout, r.stderr)
			}
		}
	})
	t.Run("blocked", func(t *testing.T) {
		const attempts = `unshare -U true; unshare -n true; python3 -c 'import ctypes; ctypes.CDLL(None).syscall(101, 0, 0, 0, 0)'; true`
		var got [2]string
		for i, engine := range []string{"native", "runc"} {
			r := jailed(t, ws, []string{"--engine", engine, "--stats"}, attempts)
			_, stats, _ := strings.Cut(r.stderr, "blocked=")
			got[i] = strings.TrimSpace(stats)
		}
		if got[0] == "" || got[0] == "-" || got[0] != got[1] {
			t.Errorf("blocked system calls differ: native %q, runc %q", got[0], got[1])
		}
	})
}
