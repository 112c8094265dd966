package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/openclaw-run/openclaw-run/internal/testutil"
)

func TestParseProcCgroup(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cgroup")
	os.WriteFile(f, []byte("12:cpu,cpuacct:/a\n4:memory:/process_api/x\n1:name=systemd:/\n0::/user.slice\n"), 0o644)
	m, err := parseProcCgroup(f)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"cpu": "/a", "cpuacct": "/a", "memory": "/process_api/x", "systemd": "/", "": "/user.slice"} {
		if m[k] != want {
			t.Errorf("%q -> %q, want %q", k, m[k], want)
		}
	}
}

// The limits written by this package read back the same through
// containerd/cgroups, an independent implementation of the same files, and
// a burst of CPU shows up in both.
func TestLimitsAndStatsAgreeWithContainerd(t *testing.T) {
	testutil.RequireRoot(t)
	c, err := New(Limits{MemoryBytes: 64 << 20, CPUs: 0.5, Pids: 17})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	// Stats reads through descriptors opened with the cgroup: a read
	// before the burn must not make the read after it stale.
	if _, err := c.Stats(); err != nil {
		t.Fatal(err)
	}

	// A bounded CPU burner: stops by itself after 300 ms of wall time.
	burn := exec.Command("sh", "-c", `end=$(( $(date +%s%N) + 300000000 )); while [ $(date +%s%N) -lt $end ]; do :; done`)
	burn.Stdin = nil
	if err := burn.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Place(burn.Process.Pid); err != nil && c.v2 == false {
		t.Fatal(err)
	}
	if c.v2 {
		// On v2 the jail clones into the cgroup; a plain child is moved.
		os.WriteFile(filepath.Join(c.dirs[0], "cgroup.procs"), []byte(strconv.Itoa(burn.Process.Pid)), 0)
	}
	burn.Wait()
	ours, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}

	if c.v2 {
		rel := strings.TrimPrefix(c.dirs[0], Root)
		m, err := cgroup2.Load(rel)
		if err != nil {
			t.Fatal(err)
		}
		st, err := m.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if st.Pids.Limit != 17 || st.Memory.UsageLimit != 64<<20 {
			t.Errorf("containerd reads pids.max %d, memory.max %d", st.Pids.Limit, st.Memory.UsageLimit)
		}
		if d := int64(st.CPU.UserUsec/1000) - int64(ours.CPUUserMs); d < -5 || d > 5 {
			t.Errorf("user CPU: ours %d ms, containerd %d ms", ours.CPUUserMs, st.CPU.UserUsec/1000)
		}
		return
	}
	bases, _ := v1Bases()
	rel := func(ctl string) string {
		mnt, _ := filepath.EvalSymlinks(filepath.Join(Root, ctl))
		return strings.TrimPrefix(filepath.Join(bases[ctl], c.name), mnt)
	}
	cg, err := cgroup1.Load(func(n cgroup1.Name) (string, error) { return rel(string(n)), nil },
		cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) {
			return []cgroup1.Subsystem{cgroup1.NewMemory(Root), cgroup1.NewCpuacct(Root), cgroup1.NewPids(Root)}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	st, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Limit != 17 {
		t.Errorf("containerd reads pids.max %d, want 17", st.Pids.Limit)
	}
	if st.Memory.Usage.Limit != 64<<20 {
		t.Errorf("containerd reads memory limit %d, want %d", st.Memory.Usage.Limit, 64<<20)
	}
	if st.Memory.Usage.Max != ours.MaxMemoryBytes {
		t.Errorf("peak memory: ours %d, containerd %d", ours.MaxMemoryBytes, st.Memory.Usage.Max)
	}
	theirs := st.CPU.Usage.User / 1e6
	if d := int64(theirs) - int64(ours.CPUUserMs); d < -20 || d > 20 {
		t.Errorf("user CPU: ours %d ms, containerd %d ms", ours.CPUUserMs, theirs)
	}
	// 0.5 CPU over 300 ms of wall time: at most ~150 ms plus slack.
	if total := ours.CPUUserMs + ours.CPUSystemMs; total == 0 || total > 250 {
		t.Errorf("CPU used %d ms under a 0.5 CPU quota for 300 ms", total)
	}
	quota, _ := os.ReadFile(filepath.Join(bases["cpu"], c.name, "cpu.cfs_quota_us"))
	if strings.TrimSpace(string(quota)) != "50000" {
		t.Errorf("cpu.cfs_quota_us = %q, want 50000", quota)
	}
}

func TestDeleteAndSweep(t *testing.T) {
	testutil.RequireRoot(t)
	c, err := New(Limits{MemoryBytes: 32 << 20, CPUs: 1, Pids: 8})
	if err != nil {
		t.Fatal(err)
	}
	dirs := append([]string(nil), c.dirs...)
	// A process that would outlive the test by far unless Delete kills it.
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	if !c.v2 {
		if err := c.Place(sleeper.Process.Pid); err != nil {
			t.Fatal(err)
		}
	} else if err := os.WriteFile(filepath.Join(c.dirs[0], "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	// The condition Delete relies on: the process is in the cgroup (the
	// write to cgroup.procs has moved it when it returns).
	own, err := parseProcCgroup(fmt.Sprintf("/proc/%d/cgroup", sleeper.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	ctl := "pids"
	if c.v2 {
		ctl = ""
	}
	if !strings.HasSuffix(own[ctl], "/"+c.name) {
		t.Fatalf("the sleeper is in %q, not in the call's cgroup %s", own[ctl], c.name)
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	// Delete killed it: Wait returns the SIGKILL, not an exit 30 s on.
	werr := sleeper.Wait()
	if ws, ok := sleeper.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the process in the deleted cgroup ended with %v, not SIGKILL", werr)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists", d)
		}
	}

	// A leftover of a dead runner (pid 0 never runs openclaw-run) is swept;
	// one of this live process is not.
	var base string
	if Mode() == "v2" {
		base, _ = v2Base()
	} else {
		b, _ := v1Bases()
		base = b["pids"]
	}
	dead := filepath.Join(base, "999999999-dead-1")
	if err := os.Mkdir(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	live, err := New(Limits{MemoryBytes: 32 << 20, CPUs: 1, Pids: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Delete()
	n, err := Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) || n < 1 {
		t.Errorf("leftover not swept (removed %d)", n)
	}
	for _, d := range live.dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("live cgroup %s was swept", d)
		}
	}
}

// TestForeignPathAndSweep: the path given to another cgroup manager (the
// runc engine's libcontainer) lands where a call's cgroup of ours would,
// and a dead runner's leftover in a hierarchy we do not use ourselves
// (v1 devices, where libcontainer also creates one) is swept.
func TestForeignPathAndSweep(t *testing.T) {
	testutil.RequireRoot(t)
	name := NewName()
	p, err := ForeignPath(name)
	if err != nil {
		t.Fatal(err)
	}
	if Mode() == "v2" {
		base, _ := v2Base()
		if !filepath.IsAbs(p) || filepath.Join(Root, p) != filepath.Join(base, name) {
			t.Errorf("v2 foreign path %q is not %s/%s", p, base, name)
		}
		return // v2 has one hierarchy, covered by TestDeleteAndSweep
	}
	if p != filepath.Join(Dir, name) {
		t.Errorf("v1 foreign path %q, want %s/%s relative to the runner's cgroups", p, Dir, name)
	}
	own, _ := parseProcCgroup("/proc/self/cgroup")
	devices := filepath.Join(Root, "devices", own["devices"], Dir)
	if err := os.MkdirAll(devices, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(devices, "999999998-dead-1")
	if err := os.Mkdir(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dead)
	if _, err := Sweep(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a leftover in the devices hierarchy was not swept")
	}
}

// A cgroup another process made (StatsOf, for ps) is read by path, its
// files named but never opened: the same parsing as through descriptors.
func TestStatsByPath(t *testing.T) {
	d := t.TempDir()
	for name, content := range map[string]string{"memory.peak": "4096\n", "memory.events": "low 0\noom_kill 2\n",
		"cpu.stat": "usage_usec 9000\nuser_usec 5000\nsystem_usec 3000\n"} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &Cgroup{dirs: []string{d}, v2: true, fd: -1}
	c.stats.at(v2StatFiles(d))
	s, err := c.Stats()
	if err != nil || s != (Stats{MaxMemoryBytes: 4096, CPUUserMs: 5, CPUSystemMs: 3, OOMKills: 2}) {
		t.Fatalf("Stats by path: %+v %v", s, err)
	}
	// The same files through descriptors opened first.
	o := &Cgroup{dirs: []string{d}, v2: true, fd: -1}
	o.stats.open(v2StatFiles(d))
	defer o.stats.close()
	if s2, err := o.Stats(); err != nil || s2 != s {
		t.Fatalf("Stats through descriptors: %+v %v, want %+v", s2, err, s)
	}
}
