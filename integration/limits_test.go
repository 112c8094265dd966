//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/cgroups"
)

// stat returns key=value pairs of the --stats line.
func stats(stderr string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(line, "openclaw-run: exit=") {
			continue
		}
		for _, kv := range strings.Fields(strings.TrimPrefix(line, "openclaw-run: ")) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				out[k] = v
			}
		}
	}
	return out
}

// TestMemoryBomb: a bomb bounded at 4 GiB under --memory 128M is
// OOM-killed, reported, and the runner keeps working.
func TestMemoryBomb(t *testing.T) {
	ws := workspace(t)
	r := jailed(t, ws, []string{"--memory", "128M", "--stats", "--timeout", "30s"}, `python3 -c '
chunks = []
for i in range(64):            # 64 x 64 MiB = 4 GiB at most, then stop
    b = bytearray(64 << 20)
    b[::4096] = b"x" * len(b[::4096])
    chunks.append(b)
print("survived", flush=True)
'`)
	s := stats(r.stderr)
	if s["oomKilled"] != "true" || r.code != 137 || strings.Contains(r.stdout, "survived") {
		t.Fatalf("memory bomb: code %d, stats %v, stdout %q", r.code, s, r.stdout)
	}
	if r := jailed(t, ws, nil, "echo still-working"); strings.TrimSpace(r.stdout) != "still-working" {
		t.Errorf("runner unusable after an OOM kill: %+v", r)
	}
}

// TestForkBomb: a bomb bounded at 5000 processes or 8 s under --pids 64
// is contained: fork starts failing near the limit.
func TestForkBomb(t *testing.T) {
	ws := workspace(t)
	r := jailed(t, ws, []string{"--pids", "64", "--stats", "--timeout", "20s"}, `python3 -c '
import os, time, signal
end = time.time() + 8
made, failed = 0, 0
while made < 5000 and time.time() < end:
    try:
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        made += 1
    except OSError:
        failed += 1
        if failed > 200: break
print("made", made, "failed", failed, flush=True)
os.killpg(0, signal.SIGKILL) if False else None
'`)
	var made, failed int
	fmt.Sscanf(strings.TrimSpace(r.stdout), "made %d failed %d", &made, &failed)
	if made >= 64 || failed == 0 {
		t.Fatalf("fork bomb not contained by --pids 64: made %d, failed %d (%+v)", made, failed, r)
	}
}

// TestCPUQuotaAndTimeout: a CPU hog under --cpus 0.5 gets about half a
// core, and --timeout kills it and every child, including ones that ignore
// SIGTERM and ones that double-fork.
func TestCPUQuotaAndTimeout(t *testing.T) {
	ws := workspace(t)
	marker := fmt.Sprintf("1111.%d", time.Now().UnixNano()%100000)
	start := time.Now()
	r := jailed(t, ws, []string{"--cpus", "0.5", "--timeout", "3s", "--stats"}, fmt.Sprintf(`trap '' TERM
(trap '' TERM; exec sleep %s) &
(setsid sh -c 'trap "" TERM; exec sleep %s' &)
exec python3 -c 'while True: pass'`, marker, marker))
	wall := time.Since(start)
	s := stats(r.stderr)
	if r.code != 124 || s["timedOut"] != "true" {
		t.Fatalf("want exit 124 and timedOut: code %d, stats %v, stderr %s", r.code, s, r.stderr)
	}
	cpu := strings.Split(strings.TrimSuffix(s["cpu"], "ms"), "ms+")
	user, _ := strconv.Atoi(cpu[0])
	sys, _ := strconv.Atoi(strings.TrimSuffix(cpu[len(cpu)-1], "ms"))
	used := float64(user+sys) / 1000
	// At 0.5 CPU the jail uses at most half of its life (the call's wall
	// time bounds it; a slow host, a VM, takes longer than the 3 s), well
	// below the whole of it an unlimited hog takes. No lower bound but
	// "it ran": on a busy host the hog may get far less than its quota.
	if used <= 0 || used > 0.5*wall.Seconds()*1.25+0.2 {
		t.Errorf("CPU used %.2fs in %.1fs under --cpus 0.5", used, wall.Seconds())
	}
	if !eventually(3*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
		t.Errorf("processes left after the timeout: %v", hostProcs("sleep "+marker))
	}
}

// TestOutputCap: 1 GiB on stdout under --max-output 10M is cut at 10M,
// flagged, and the runner's memory stays bounded.
func TestOutputCap(t *testing.T) {
	ws := workspace(t)
	cmd := exec.Command(binary, "--workspace", ws, "--max-output", "10M", "--stats", "--",
		"sh", "-c", "head -c 1073741824 /dev/zero")
	var n countWriter
	var errb strings.Builder
	cmd.Stdout, cmd.Stderr = &n, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if n != 10<<20 {
		t.Errorf("stdout carried %d bytes, want exactly %d", n, 10<<20)
	}
	if s := stats(errb.String()); s["outputTruncated"] != "true" || !strings.Contains(errb.String(), "output truncated") {
		t.Errorf("truncation not reported: %s", errb.String())
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	if rss > 64<<10 {
		t.Errorf("runner peak RSS %d KiB while streaming 1 GiB: not bounded", rss)
	}
	t.Logf("runner peak RSS %d KiB for 1 GiB of output", rss)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestNothingLeftAfterManyCalls: after 200 calls no cgroup, mount or
// process of a call remains.
func TestNothingLeftAfterManyCalls(t *testing.T) {
	ws := workspace(t)
	bases, err := cgroups.Bases()
	if err != nil {
		t.Fatal(err)
	}
	mounts := func() int {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Count(string(b), "\n")
	}
	before := mounts()
	marker := fmt.Sprintf("/workspace/m%d", time.Now().UnixNano())
	for i := 0; i < 200; i++ {
		if r := runCLI(t, nil, "--workspace", ws, "--", "sh", "-c", "sleep 0 "+marker+" 2>/dev/null; true"); r.code != 0 {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	for _, b := range bases {
		entries, _ := os.ReadDir(b)
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), strconv.Itoa(os.Getpid())+"-") {
				if pid, _, _ := strings.Cut(e.Name(), "-"); alivePid(pid) {
					continue // another live runner's
				}
				t.Errorf("cgroup left behind: %s", filepath.Join(b, e.Name()))
			}
		}
	}
	if after := mounts(); after != before {
		t.Errorf("host mount table changed: %d -> %d lines", before, after)
	}
	if p := hostProcs(marker); len(p) != 0 {
		t.Errorf("processes left: %v", p)
	}
}

func alivePid(pid string) bool {
	_, err := os.Stat("/proc/" + pid)
	return err == nil
}

// TestKilledRunnerLeftoversSwept: kill -9 of the runner mid-call kills its
// jail (pdeathsig); the next start removes the cgroup it left.
func TestKilledRunnerLeftoversSwept(t *testing.T) {
	ws := workspace(t)
	marker := fmt.Sprintf("1000.%d", time.Now().UnixNano()%100000+3)
	cmd := exec.Command(binary, "--workspace", ws, "--", "sleep", marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) >= 1 }) {
		cmd.Process.Kill()
		t.Fatal("jailed sleep never started")
	}
	// Every hierarchy: the runc engine's libcontainer joins more than ours.
	left := func() []string {
		out, _ := exec.Command("find", "/sys/fs/cgroup", "-maxdepth", "8", "-type", "d", "-name", strconv.Itoa(pid)+"-*").Output()
		return strings.Fields(string(out))
	}
	if len(left()) == 0 {
		t.Fatal("the running call has no cgroup")
	}
	if engine() == "runc" {
		// A runc helper outlives its runner long enough to take the jail
		// down in order (TestRunnerKilledMidCall); killed along with it,
		// it leaves the cgroup of a jail that died of its parent-death
		// signal, which is what the sweep is for.
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output()
		for _, h := range strings.Fields(string(out)) {
			if n, err := strconv.Atoi(h); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !eventually(5*time.Second, func() bool { return len(hostProcs("sleep "+marker)) == 0 }) {
		t.Fatalf("jail survived kill -9 of its runner")
	}
	if len(left()) == 0 {
		t.Fatal("expected the killed runner's cgroup to be left for the sweep")
	}
	if r := jailed(t, ws, nil, "true"); r.code != 0 {
		t.Fatalf("next call: %+v", r)
	}
	if l := left(); len(l) != 0 {
		t.Errorf("leftover cgroups not swept by the next start: %v", l)
	}
	if d, _ := filepath.Glob("/tmp/openclaw-runc-*"); len(d) != 0 {
		t.Errorf("a killed runc helper's directory was not swept by the next start: %v", d)
	}
}
