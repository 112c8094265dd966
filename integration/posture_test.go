//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPosture: no capabilities, no_new_privs, a seccomp filter, and root
// mapped to an unprivileged host uid, read from inside the jail.
func TestPosture(t *testing.T) {
	ws := workspace(t)
	r := jailed(t, ws, []string{"--profile", "coding"}, "cat /proc/self/status /proc/self/uid_map /proc/self/gid_map; id -u")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for key, want := range map[string]string{
		"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapInh": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2",
	} {
		if got := field(r.stdout, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	wantMap := fmt.Sprintf("0 %d 1", jailUID)
	if n := strings.Count(strings.Join(strings.Fields(r.stdout), " "), wantMap); n != 2 {
		t.Errorf("uid_map and gid_map should both map 0 -> %d; output:\n%s", jailUID, r.stdout)
	}
	if !strings.HasSuffix(strings.TrimSpace(r.stdout), "\n0") {
		t.Errorf("id -u inside should be 0")
	}
}

// TestHostFilesUnreachable: secrets of the host and a canary outside the
// workspace cannot be read, whatever the path trick.
func TestHostFilesUnreachable(t *testing.T) {
	ws := workspace(t)
	canaryDir := t.TempDir()
	canary := filepath.Join(canaryDir, "canary")
	if err := os.WriteFile(canary, []byte("CANARY-SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(canaryDir, 0o755)
	// Planted links: absolute, relative through .., and a directory link.
	os.Symlink(canary, filepath.Join(ws, "abs-link"))
	rel, _ := filepath.Rel(ws, canary)
	os.Symlink(rel, filepath.Join(ws, "rel-link"))
	os.Symlink(canaryDir, filepath.Join(ws, "dir-link"))
	os.Symlink("/etc/shadow", filepath.Join(ws, "shadow-link"))
	for _, l := range []string{"abs-link", "rel-link", "dir-link", "shadow-link"} {
		os.Lchown(filepath.Join(ws, l), jailUID, jailUID)
	}
	home, _ := os.UserHomeDir()

	attempts := []string{
		"/etc/shadow", "/root/.bashrc", home + "/.profile", canary,
		"abs-link", "rel-link", "dir-link/canary", "shadow-link",
		"/workspace/../" + canary, "../../../../.." + canary,
		"/proc/1/root" + canary, "/proc/self/root" + canary, "/proc/self/cwd/../../.." + canary,
	}
	var script strings.Builder
	for _, a := range attempts {
		fmt.Fprintf(&script, "cat %q 2>/dev/null && echo LEAK:%s\n", a, a)
	}
	script.WriteString("cat /etc/passwd; ls /root 2>&1; test -e /etc/shadow && echo LEAK:shadow-exists; true")
	r := jailed(t, ws, nil, script.String())
	if strings.Contains(r.stdout, "CANARY-SECRET") || strings.Contains(r.stdout, "LEAK:") {
		t.Fatalf("host file reachable from the jail:\n%s", r.stdout)
	}
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	if bytes.Contains(hostPasswd, []byte(r.stdout)) || strings.Count(r.stdout, "\n") > 5 {
		t.Errorf("the jail's /etc/passwd should be synthesized, got:\n%s", r.stdout)
	}
}

// TestNoNetwork: a listener on the host's loopback is unreachable; the
// jail has only lo.
func TestNoNetwork(t *testing.T) {
	ws := workspace(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan bool, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			accepted <- true
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf(`cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '
python3 -c 'import socket,sys
s=socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", %d)); print("CONNECTED")
except Exception as e:
    print("refused", e)
' 2>&1 || true`, port)
	r := jailed(t, ws, nil, script)
	ifaces := strings.Fields(strings.SplitN(r.stdout, "refused", 2)[0])
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces in the jail = %v, want only lo (output %q)", ifaces, r.stdout)
	}
	if strings.Contains(r.stdout, "CONNECTED") {
		t.Errorf("jail reached the host's 127.0.0.1:%d", port)
	}
	select {
	case <-accepted:
		t.Errorf("host listener accepted a connection from the jail")
	case <-time.After(100 * time.Millisecond):
	}
}

// TestHostProcessesInvisible: host processes cannot be seen or signalled.
func TestHostProcessesInvisible(t *testing.T) {
	ws := workspace(t)
	sleeper := exec.Command("sleep", "1000.41")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	pid := sleeper.Process.Pid
	script := fmt.Sprintf(`ls /proc | grep -E '^[0-9]+$' | tr '\n' ' '; echo
kill -9 %d 2>&1 && echo KILLED; test -e /proc/%d/cmdline && echo VISIBLE; echo $$`, pid, pid)
	r := jailed(t, ws, nil, script)
	if strings.Contains(r.stdout, "KILLED") || strings.Contains(r.stdout, "VISIBLE") {
		t.Errorf("host process %d reachable from the jail:\n%s", pid, r.stdout)
	}
	pids := strings.Fields(strings.SplitN(r.stdout, "\n", 2)[0])
	if len(pids) > 4 {
		t.Errorf("the jail sees %d processes, want only its own: %v", len(pids), pids)
	}
	if err := sleeper.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("host sleeper died: %v", err)
	}
}

// TestEnvironmentAndFds: nothing of the runner's environment and no fd
// beyond 0, 1, 2 crosses into the jail.
func TestEnvironmentAndFds(t *testing.T) {
	ws := workspace(t)
	leak, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	r := runCLI(t, func(c *exec.Cmd) {
		c.Env = append(os.Environ(), "OPENCLAW_TEST_SECRET=sk-live-very-secret")
		c.ExtraFiles = []*os.File{leak} // fd 3 in the CLI, not close-on-exec
	}, "--workspace", ws, "--env", "GIVEN=yes", "--", "sh", "-c",
		`env; cat /proc/*/environ | tr '\0' '\n'; echo FDS:; ls /proc/1/fd; ls -l /proc/1/fd >&2`)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "very-secret") {
		t.Errorf("runner environment leaked into the jail:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "GIVEN=yes") || !strings.Contains(r.stdout, "HOME=/workspace") {
		t.Errorf("explicit and base variables missing:\n%s", r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") {
			switch k {
			case "PATH", "HOME", "LANG", "TERM", "GIVEN", "PWD", "SHLVL", "_", "OLDPWD":
			default:
				t.Errorf("unexpected variable %q in the jail", k)
			}
		}
	}
	// pid 1 is the shell; while ls runs it holds only what it was given.
	fds := strings.Fields(strings.TrimPrefix(r.stdout[strings.Index(r.stdout, "FDS:"):], "FDS:"))
	if strings.Join(fds, " ") != "0 1 2" {
		t.Errorf("open fds of the jailed shell = %v, want 0 1 2 (%s)", fds, r.stderr)
	}
}

// TestWorkspaceOwnershipAndSetuid: files land on the host owned by the
// workspace owner; a setuid or setgid bit never does.
func TestWorkspaceOwnershipAndSetuid(t *testing.T) {
	ws := workspace(t)
	r := jailed(t, ws, nil, `echo data > made; mkdir dir; cp /bin/true t; chmod 755 t
chmod u+s t; chmod g+s t; chmod 4755 t; install -m 4755 /bin/true inst 2>/dev/null
python3 -c 'import os; os.close(os.open("py", os.O_CREAT|os.O_WRONLY, 0o4755))' 2>/dev/null
python3 -c 'import os; fd=os.open("py2", os.O_CREAT|os.O_WRONLY, 0o755); os.fchmod(fd, 0o6755)' 2>/dev/null
true`)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	err := filepath.Walk(ws, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == ws {
			return err
		}
		if filepath.Base(p) == ".openclaw-run" {
			// The staging store: the runner's own (root, 0700), which a
			// jail can neither enter nor change (docs/staging.md).
			if st := info.Sys().(*syscall.Stat_t); st.Uid != 0 || info.Mode().Perm() != 0o700 {
				t.Errorf("the staging store is %v owned by %d", info.Mode(), st.Uid)
			}
			return filepath.SkipDir
		}
		st := info.Sys().(*syscall.Stat_t)
		if st.Uid != jailUID || st.Gid != jailUID {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, jailUID, jailUID)
		}
		if info.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			t.Errorf("%s has mode %v: a setuid/setgid bit survived on the host", p, info.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws, "made")); err != nil {
		t.Errorf("file written in the jail missing on the host: %v", err)
	}
}

// TestOutputAndExitRoundTrip: bytes (NUL, invalid UTF-8) and exit codes
// come back exactly; a signal maps to 128+N.
func TestOutputAndExitRoundTrip(t *testing.T) {
	ws := workspace(t)
	r := jailed(t, ws, nil, `printf 'a\000b\377\376\nend'; printf 'err\001' >&2; exit 42`)
	if r.stdout != "a\x00b\xff\xfe\nend" || r.stderr != "err\x01" || r.code != 42 {
		t.Errorf("got stdout %q stderr %q code %d", r.stdout, r.stderr, r.code)
	}
	for _, code := range []int{0, 1, 255} {
		if r := jailed(t, ws, nil, "exit "+strconv.Itoa(code)); r.code != code {
			t.Errorf("exit %d came back as %d", code, r.code)
		}
	}
	// The jail's shell is pid 1 of its namespace: it can die only of a
	// signal it does not ignore sent from outside, or of its child's.
	if r := jailed(t, ws, nil, "sh -c 'kill -SEGV $$'; exit $?"); r.code != 128+int(syscall.SIGSEGV) {
		t.Errorf("child killed by SIGSEGV: code %d, want %d", r.code, 128+int(syscall.SIGSEGV))
	}
	if r := runCLI(t, nil, "--workspace", ws, "--", "no-such-program"); r.code != 127 {
		t.Errorf("missing command: code %d, want 127 (%s)", r.code, r.stderr)
	}
}

// TestTimeoutKillsEverything: --timeout kills sleep, a tree that ignores
// SIGTERM and a double-forked child, and leaves no process behind.
func TestTimeoutKillsEverything(t *testing.T) {
	ws := workspace(t)
	marker := fmt.Sprintf("1000.%d", time.Now().UnixNano()%100000)
	start := time.Now()
	r := jailed(t, ws, []string{"--timeout", "1s"}, fmt.Sprintf(
		`trap '' TERM; (trap '' TERM; sleep %s) & (setsid sh -c 'sleep %s' &) ; sleep %s`, marker, marker, marker))
	if r.code != 124 {
		t.Errorf("timeout: code %d, want 124 (%s)", r.code, r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %v", d)
	}
	if !eventually(3*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
		t.Errorf("processes left after the timeout: %v", hostProcs("sleep "+marker))
	}
}

// TestRunnerKilledMidCall: SIGKILL of the runner takes its jail with it.
func TestRunnerKilledMidCall(t *testing.T) {
	ws := workspace(t)
	marker := fmt.Sprintf("1000.%d", time.Now().UnixNano()%100000+7)
	cmd := exec.Command(binary, "--workspace", ws, "--", "sh", "-c",
		fmt.Sprintf("(sleep %s &) ; sleep %s", marker, marker))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) >= 2 }) {
		cmd.Process.Kill()
		t.Fatalf("jailed sleeps never started")
	}
	helperDirs := func() []string { d, _ := filepath.Glob("/tmp/openclaw-runc-*"); return d }
	before := len(helperDirs())
	cmd.Process.Kill()
	cmd.Wait()
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
		t.Errorf("jailed processes survived the runner: %v", hostProcs("sleep "+marker))
	}
	if engine() != "runc" {
		return // the native jail's empty cgroup is left to the next Sweep (docs/design.md)
	}
	// The runc helper sees its runner's end and takes the jail down in
	// order: its cgroups in every hierarchy and its files go too.
	leftovers := func() string {
		out, _ := exec.Command("find", "/sys/fs/cgroup", "-maxdepth", "8", "-type", "d", "-name", fmt.Sprintf("%d-*", cmd.Process.Pid)).Output()
		return strings.TrimSpace(string(out))
	}
	if !eventually(5*time.Second, func() bool { return leftovers() == "" && len(helperDirs()) <= before-1 }) {
		t.Errorf("the runc helper left behind cgroups %q, or its directory (%d before, %d after)", leftovers(), before, len(helperDirs()))
	}
}
