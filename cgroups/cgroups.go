// Package cgroups owns one call's cgroup from creation to deletion, on
// cgroup v1 (memory, cpu, cpuacct and pids hierarchies) and on cgroup v2:
// limits, placement of the jail before it runs anything, resource
// statistics, kill of every member, deletion, and the sweep of cgroups a
// crashed runner left behind.
//
// Every call's cgroup is nested below the runner's own cgroup (v1: in each
// controller's hierarchy; v2: in the runner's delegated subtree), under a
// directory named "openclaw-run". Nothing outside that directory is written,
// except, on v2, enabling controllers for the runner's own subtree.
//
// The kernel interface is a handful of files, written directly. The
// containerd/cgroups library does the same writes, but linking it costs
// every start of the binary about 5 ms of package initialisation (protobuf,
// dbus, logrus) and every call about 3 ms more in its create, stat and
// delete (measured; see BENCHMARKS.md), which is most of a jail's budget.
// It serves as the independent oracle in this package's tests instead.
package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/procid"
	"golang.org/x/sys/unix"
)

// Limits of one call. All three are required: a call is never unbounded.
type Limits struct {
	MemoryBytes int64
	CPUs        float64
	Pids        int64
}

// Stats is what a call used, read when it ended.
type Stats struct {
	MaxMemoryBytes uint64
	CPUUserMs      uint64
	CPUSystemMs    uint64
	OOMKills       uint64
}

// Dir is the directory below the runner's own cgroup that holds the calls.
const Dir = "openclaw-run"

// Root is where cgroup filesystems are mounted.
var Root = "/sys/fs/cgroup"

// cpuPeriod is the CFS period in microseconds; quota = cpus * period.
const cpuPeriod = 100000

// Cgroup is one call's cgroup.
type Cgroup struct {
	name string
	// dirs: v1, one per distinct hierarchy directory (co-mounted
	// controllers share one); v2, the single leaf.
	dirs []string
	v2   bool
	fd   int
	// per-file locations, resolved once at creation
	procsForKill string
	// stats holds the files Stats reads, opened with the cgroup.
	stats statFiles
}

// statFiles are the files Stats reads when the call ends, opened when the
// cgroup is made (for a pre-warmed jail: before its call). Each read at
// the end is then one pread(2) at offset 0, which a cgroup file answers
// afresh (kernfs seq_file: a read at another position than the last one
// restarts the show, fs/seq_file.c traverse()), instead of an open, a
// lookup of a deep path, two reads and a close, on every call's path to
// its result. cgroup.procs is not among them: on v1 an open file caches
// its pid list (cgroup_pidlist_start keeps it up to a second), and Kill
// must see the list as it is now.
type statFiles struct {
	mu    sync.Mutex // against Delete closing them while Stats reads
	paths []string   // v1StatFiles or v2StatFiles, in their order
	fds   []int      // by index of paths; -1: read the path instead
}

// at names the files, to be read by path (StatsOf: a cgroup another
// process made, read once).
func (f *statFiles) at(paths []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths, f.fds = paths, make([]int, len(paths))
	for i := range f.fds {
		f.fds[i] = -1
	}
}

// open names the files and opens them for read; one that cannot be opened
// is left to read's fallback, which reports its error.
func (f *statFiles) open(paths []string) {
	f.at(paths)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range paths {
		if fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			f.fds[i] = fd
		}
	}
}

// read returns the content of file i: from its open descriptor, or read
// now.
func (f *statFiles) read(i int) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= len(f.paths) {
		return nil, errors.New("cgroup: statistics of a cgroup whose files were not named (statFiles.at)")
	}
	if f.fds[i] < 0 {
		return os.ReadFile(f.paths[i])
	}
	for size := 512; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Pread(f.fds[i], buf, 0)
		if err != nil {
			return nil, &os.PathError{Op: "pread", Path: f.paths[i], Err: err}
		}
		if n < size {
			return buf[:n], nil
		}
	}
}

func (f *statFiles) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fd := range f.fds {
		if fd >= 0 {
			unix.Close(fd)
			f.fds[i] = -1
		}
	}
}

var seq atomic.Uint64

// Mode reports the host's cgroup mode: "v2" when /sys/fs/cgroup is the
// unified hierarchy, otherwise "v1" (legacy or hybrid: the controllers are
// on v1 hierarchies, as on this project's CI host).
func Mode() string {
	var st unix.Statfs_t
	if unix.Statfs(Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	return "v1"
}

// New creates a fresh cgroup for one call with the given limits. It fails,
// and nothing runs, if any controller or limit cannot be set up.
func New(l Limits) (*Cgroup, error) {
	if l.MemoryBytes <= 0 || l.CPUs <= 0 || l.Pids <= 0 {
		return nil, fmt.Errorf("cgroup: every limit must be set (memory %d, cpus %g, pids %d)", l.MemoryBytes, l.CPUs, l.Pids)
	}
	name := NewName()
	var c *Cgroup
	var err error
	if Mode() == "v2" {
		c, err = newV2(name, l)
	} else {
		c, err = newV1(name, l)
	}
	if err != nil && c != nil {
		c.Delete()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// NewName returns a fresh name for a call's cgroup: the owner's pid and
// start time first (Sweep reads them: a runner is alive when a process
// with that pid and that start time exists, whatever its name), then a
// timestamp and a counter so that names never repeat.
func NewName() string {
	_, start, _, _ := procid.Self().Parse()
	return fmt.Sprintf("%d-%d-%x-%d", os.Getpid(), start, time.Now().UnixNano(), seq.Add(1))
}

// ForeignPath is where another cgroup manager (the runc engine's
// libcontainer, which insists on owning its cgroup) creates the call's
// cgroup named name, in that manager's notation, so that it sits where
// ours would and Sweep finds it after a crash:
//   - v1: relative, which libcontainer resolves below its own process's
//     cgroup in every hierarchy, as v1Bases does (the helper that runs it
//     is the runner's child and shares its cgroups);
//   - v2: absolute in the unified hierarchy, because the runner may have
//     moved itself into a "supervisor" leaf (see v2Base), below which
//     the no-internal-processes rule forbids children with controllers.
func ForeignPath(name string) (string, error) {
	if Mode() != "v2" {
		if _, err := v1Bases(); err != nil {
			return "", err
		}
		return filepath.Join(Dir, name), nil
	}
	base, err := v2Base()
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(Root, base)
	if err != nil {
		return "", err
	}
	return filepath.Join("/", rel, name), nil
}

// v1Controllers are the only v1 hierarchies a call uses. cpuacct limits
// nothing; it gives the user/system CPU split.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "pids"}

// v1Bases returns, per controller, this process's cgroup directory joined
// with Dir (read once: the runner does not move between v1 cgroups).
var v1Bases = sync.OnceValues(func() (map[string]string, error) {
	own, err := parseProcCgroup("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range v1Controllers {
		p, ok := own[c]
		if !ok {
			return nil, fmt.Errorf("cgroup v1: controller %s is not mounted (see /proc/self/cgroup)", c)
		}
		// Co-mounted controllers (cpu,cpuacct) resolve to one directory.
		mnt, err := filepath.EvalSymlinks(filepath.Join(Root, c))
		if err != nil {
			return nil, fmt.Errorf("cgroup v1: controller %s: %w", c, err)
		}
		base := filepath.Join(mnt, p, Dir)
		if err := os.MkdirAll(base, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v1: %w", err)
		}
		out[c] = base
	}
	return out, nil
})

// parseProcCgroup maps each v1 controller (and "" for v2) to its path.
func parseProcCgroup(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[strings.TrimPrefix(c, "name=")] = parts[2]
		}
	}
	return out, nil
}

func newV1(name string, l Limits) (*Cgroup, error) {
	bases, err := v1Bases()
	if err != nil {
		return nil, err
	}
	c := &Cgroup{name: name, fd: -1}
	dir := map[string]string{}
	for _, ctl := range v1Controllers {
		d := filepath.Join(bases[ctl], name)
		dir[ctl] = d
		if contains(c.dirs, d) {
			continue
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			return c, fmt.Errorf("cgroup v1: create %s: %w%s", d, err, delegateHint(err, filepath.Dir(d)))
		}
		c.dirs = append(c.dirs, d)
	}
	c.procsForKill = filepath.Join(dir["pids"], "cgroup.procs")
	writes := []struct{ ctl, file, value string }{
		{"memory", "memory.limit_in_bytes", strconv.FormatInt(l.MemoryBytes, 10)},
		// No swapping for this cgroup, whether or not swap accounting
		// (memory.memsw.*) is on; where it is, memory+swap = memory.
		{"memory", "memory.swappiness", "0"},
		{"cpu", "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)},
		{"cpu", "cpu.cfs_quota_us", strconv.FormatInt(int64(l.CPUs*cpuPeriod), 10)},
		{"pids", "pids.max", strconv.FormatInt(l.Pids, 10)},
	}
	for _, w := range writes {
		if err := write(filepath.Join(dir[w.ctl], w.file), w.value); err != nil {
			return c, fmt.Errorf("cgroup v1: %w", err)
		}
	}
	memsw := filepath.Join(dir["memory"], "memory.memsw.limit_in_bytes")
	if _, err := os.Stat(memsw); err == nil {
		if err := write(memsw, strconv.FormatInt(l.MemoryBytes, 10)); err != nil {
			return c, fmt.Errorf("cgroup v1: %w", err)
		}
	}
	c.stats.open(v1StatFiles(bases, name))
	return c, nil
}

func newV2(name string, l Limits) (*Cgroup, error) {
	base, err := v2Base()
	if err != nil {
		return nil, err
	}
	d := filepath.Join(base, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v2: create %s: %w%s", d, err, delegateHint(err, base))
	}
	c := &Cgroup{name: name, dirs: []string{d}, v2: true, fd: -1, procsForKill: filepath.Join(d, "cgroup.procs")}
	writes := []struct{ file, value string }{
		{"memory.max", strconv.FormatInt(l.MemoryBytes, 10)},
		// An OOM kill takes the whole call, not one victim.
		{"memory.oom.group", "1"},
		{"cpu.max", fmt.Sprintf("%d %d", int64(l.CPUs*cpuPeriod), cpuPeriod)},
		{"pids.max", strconv.FormatInt(l.Pids, 10)},
	}
	for _, w := range writes {
		if err := write(filepath.Join(d, w.file), w.value); err != nil {
			return c, fmt.Errorf("cgroup v2: %w", err)
		}
	}
	// memory.swap.max exists only when swap accounting is compiled in.
	if _, err := os.Stat(filepath.Join(d, "memory.swap.max")); err == nil {
		if err := write(filepath.Join(d, "memory.swap.max"), "0"); err != nil {
			return c, fmt.Errorf("cgroup v2: %w", err)
		}
	}
	c.fd, err = unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return c, fmt.Errorf("cgroup v2: open %s: %w", d, err)
	}
	c.stats.open(v2StatFiles(d))
	return c, nil
}

// v2Base returns the directory under which calls are created, preparing it
// once. The memory, cpu and pids controllers must be enabled in the
// subtree_control of every ancestor, and cgroup v2's "no internal
// processes" rule forbids that in a cgroup that still holds processes. So:
//
//   - a runner alone in its cgroup (a systemd service with Delegate=yes, or
//     systemd-run -p Delegate=yes) moves itself into a "supervisor" leaf of
//     it, and the calls live in the sibling "openclaw-run" (systemd's
//     delegation model);
//   - a root runner that shares its cgroup with others (a CLI in a login
//     session) puts the calls in /sys/fs/cgroup/openclaw-run, a child of the
//     root, and moves no process;
//   - an unprivileged runner without a delegated cgroup is refused with a
//     message that says how to get one.
var v2Base = sync.OnceValues(func() (string, error) {
	own, err := parseProcCgroup("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	p, ok := own[""]
	if !ok {
		return "", errors.New("cgroup v2: no unified entry in /proc/self/cgroup")
	}
	root := filepath.Join(Root, p)
	if p != "/" {
		procs, _ := os.ReadFile(filepath.Join(root, "cgroup.procs"))
		alone := true
		for _, f := range strings.Fields(string(procs)) {
			if f != strconv.Itoa(os.Getpid()) {
				alone = false
			}
		}
		if !alone && os.Geteuid() == 0 {
			root = Root // share nothing with the session we were started from
		} else if len(strings.TrimSpace(string(procs))) > 0 {
			sup := filepath.Join(root, "supervisor")
			if err := os.MkdirAll(sup, 0o755); err != nil {
				return "", fmt.Errorf("cgroup v2: create the supervisor leaf: %w%s", err, delegateHint(err, root))
			}
			if err := write(filepath.Join(sup, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
				return "", fmt.Errorf("cgroup v2: move the runner into %s: %w%s", sup, err, delegateHint(err, root))
			}
		}
	}
	calls := filepath.Join(root, Dir)
	if err := enable(root); err != nil {
		return "", err
	}
	if err := os.MkdirAll(calls, 0o755); err != nil {
		return "", fmt.Errorf("cgroup v2: %w%s", err, delegateHint(err, root))
	}
	if err := enable(calls); err != nil {
		return "", err
	}
	return calls, nil
})

// enable turns on memory, cpu and pids for the children of dir, unless
// they are on already.
func enable(dir string) error {
	cur, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	have := strings.Fields(string(cur))
	var want []string
	for _, c := range []string{"memory", "cpu", "pids"} {
		if !contains(have, c) {
			want = append(want, "+"+c)
		}
	}
	if len(want) == 0 {
		return nil
	}
	if err := write(filepath.Join(dir, "cgroup.subtree_control"), strings.Join(want, " ")); err != nil {
		avail, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		return fmt.Errorf("cgroup v2: enable %v in %s (available: %q): %w; delegate memory, cpu and pids to the runner (systemd Delegate=yes)",
			want, dir, strings.TrimSpace(string(avail)), err)
	}
	return nil
}

// FD returns the cgroup v2 directory fd for CLONE_INTO_CGROUP, or -1 on v1.
func (c *Cgroup) FD() int { return c.fd }

// Path returns the cgroup's directories (v1: one per hierarchy).
func (c *Cgroup) Path() []string { return c.dirs }

// Place moves pid into the cgroup on v1. The jail calls it while the child
// waits at its barrier, before it runs anything of its own. On v2 the child
// was cloned into the cgroup, and Place has nothing to do.
func (c *Cgroup) Place(pid int) error {
	if c.v2 {
		return nil
	}
	for _, d := range c.dirs {
		if err := write(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup v1: place %d: %w", pid, err)
		}
	}
	return nil
}

// Procs returns the pids in the cgroup.
func (c *Cgroup) Procs() ([]int, error) {
	b, err := os.ReadFile(c.procsForKill)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Kill sends SIGKILL to every process of the cgroup. On v2 it writes
// cgroup.kill (Linux 5.14), which the kernel applies atomically, forks in
// flight included. On v1 the jail's pid namespace is the atomic part
// (killing its init kills every member, pid_namespaces(7)); this loop,
// repeated until the cgroup is empty, is the backstop.
func (c *Cgroup) Kill() error {
	if c.v2 {
		if err := write(filepath.Join(c.dirs[0], "cgroup.kill"), "1"); err == nil {
			return nil
		}
	}
	for i := 0; i < 200; i++ {
		pids, err := c.Procs()
		if err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("cgroup: %s still has processes after SIGKILL", c.procsForKill)
}

// v1StatFiles and v2StatFiles are the files Stats reads, in its order
// (statFiles.read's index).
func v1StatFiles(bases map[string]string, name string) []string {
	mem := filepath.Join(bases["memory"], name)
	acct := filepath.Join(bases["cpuacct"], name)
	return []string{filepath.Join(mem, "memory.max_usage_in_bytes"), filepath.Join(mem, "memory.oom_control"),
		filepath.Join(acct, "cpuacct.usage_user"), filepath.Join(acct, "cpuacct.usage_sys")}
}

func v2StatFiles(d string) []string {
	return []string{filepath.Join(d, "memory.peak"), filepath.Join(d, "memory.current"),
		filepath.Join(d, "memory.events"), filepath.Join(d, "cpu.stat")}
}

// Stats reads what the call used.
func (c *Cgroup) Stats() (Stats, error) {
	var s Stats
	f := &c.stats
	if c.v2 {
		var err error
		if s.MaxMemoryBytes, err = parseUint(f.read(0)); err != nil {
			// memory.peak is Linux 5.19; older kernels report current only.
			s.MaxMemoryBytes, _ = parseUint(f.read(1))
		}
		ev, err := parseKV(f.read(2))
		if err != nil {
			return s, fmt.Errorf("cgroup v2: %w", err)
		}
		s.OOMKills = ev["oom_kill"]
		cpu, err := parseKV(f.read(3))
		if err != nil {
			return s, fmt.Errorf("cgroup v2: %w", err)
		}
		s.CPUUserMs, s.CPUSystemMs = cpu["user_usec"]/1000, cpu["system_usec"]/1000
		return s, nil
	}
	var err error
	if s.MaxMemoryBytes, err = parseUint(f.read(0)); err != nil {
		return s, fmt.Errorf("cgroup v1: %w", err)
	}
	oom, err := parseKV(f.read(1))
	if err != nil {
		return s, fmt.Errorf("cgroup v1: %w", err)
	}
	s.OOMKills = oom["oom_kill"]
	user, err1 := parseUint(f.read(2))
	sys, err2 := parseUint(f.read(3))
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("cgroup v1: %w", err)
	}
	s.CPUUserMs, s.CPUSystemMs = user/1e6, sys/1e6
	return s, nil
}

// Delete kills what is left and removes the cgroup. It is safe to call
// more than once.
func (c *Cgroup) Delete() error {
	c.stats.close()
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	if len(c.dirs) == 0 {
		return nil
	}
	c.Kill()
	var errs []error
	for _, d := range c.dirs {
		errs = append(errs, rmdir(d))
	}
	c.dirs = nil
	return errors.Join(errs...)
}

// rmdir removes a cgroup directory, waiting briefly while the kernel
// finishes tearing down its last process (EBUSY).
func rmdir(d string) error {
	var err error
	for i := 0; i < 100; i++ {
		err = unix.Rmdir(d)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("cgroup: remove %s: %w", d, err)
}

// Bases returns the directories that hold the calls' cgroups (v1: one per
// distinct hierarchy; v2: one), creating them if needed.
func Bases() ([]string, error) {
	if Mode() == "v2" {
		base, err := v2Base()
		if err != nil {
			return nil, err
		}
		return []string{base}, nil
	}
	bases, err := v1Bases()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, ctl := range v1Controllers {
		if !contains(dirs, bases[ctl]) {
			dirs = append(dirs, bases[ctl])
		}
	}
	return dirs, nil
}

// Sweep removes call cgroups left behind by runners that no longer exist
// (a crash, kill -9): it kills their processes and deletes them. Cgroups
// of live runners, including other runners on the same host, are left
// alone. It returns how many it removed.
func Sweep() (int, error) {
	dirs, err := Bases()
	if err != nil {
		return 0, err
	}
	dirs = append(dirs, foreignV1Bases(dirs)...)
	removed := 0
	var errs []error
	for _, base := range dirs {
		entries, err := os.ReadDir(base)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			if !e.IsDir() || ownerAlive(e.Name()) {
				continue
			}
			c := &Cgroup{dirs: []string{filepath.Join(base, e.Name())}, fd: -1,
				procsForKill: filepath.Join(base, e.Name(), "cgroup.procs")}
			if err := c.Delete(); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

// foreignV1Bases returns, on v1, the Dir directories of this process's
// cgroup in the hierarchies calls do not use but libcontainer does
// (devices, freezer, blkio, ..., and on a hybrid host the unified one: it
// joins every mounted one), so that the runc engine's leftovers are swept
// too. Nothing is created.
func foreignV1Bases(ours []string) []string {
	if Mode() == "v2" {
		return nil
	}
	own, err := parseProcCgroup("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var out []string
	for ctl, p := range own {
		mount := ctl
		if ctl == "" {
			mount = "unified" // hybrid: the empty cgroup2, which libcontainer joins too
		}
		mnt, err := filepath.EvalSymlinks(filepath.Join(Root, mount))
		if err != nil {
			continue
		}
		d := filepath.Join(mnt, p, Dir)
		if _, err := os.Stat(d); err == nil && !contains(ours, d) && !contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// ownerAlive reports whether the runner that made the call cgroup name
// (NewName) still runs: the process with its pid has its start time. A
// name that is not one of ours, or is unreadable, counts as alive: only
// what is known to be dead is swept.
func ownerAlive(name string) bool {
	parts := strings.Split(name, "-")
	pid, err := strconv.Atoi(parts[0])
	if err != nil || len(parts) < 3 {
		return true // not a call cgroup
	}
	if pid == os.Getpid() {
		return true
	}
	if len(parts) == 3 {
		// An older runner's name (pid-time-seq): alive while the pid is.
		return syscall.Kill(pid, 0) == nil
	}
	start, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return true
	}
	// A sweep never kills on a doubt: alive unless certainly gone.
	return !procid.GoneSince(pid, start)
}

// delegateHint tells an unprivileged runner how to get cgroups of its own:
// a call never runs without its limits.
func delegateHint(err error, dir string) string {
	if !errors.Is(err, os.ErrPermission) || os.Geteuid() == 0 {
		return ""
	}
	if Mode() == "v2" {
		return fmt.Sprintf("; uid %d may not create cgroups here: run it as a systemd service with Delegate=yes (or systemd-run --user -p Delegate=yes), or as root", os.Geteuid())
	}
	return fmt.Sprintf("; uid %d may not create cgroups here: delegate a subtree to it (as root: chown -R %d %s in each of the memory, cpu, cpuacct and pids hierarchies), or run as root",
		os.Geteuid(), os.Geteuid(), dir)
}

func write(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

func readUint(path string) (uint64, error) { return parseUint(os.ReadFile(path)) }

// parseUint parses a file of one number.
func parseUint(b []byte, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// parseKV parses a file of "key value" lines.
func parseKV(b []byte, err error) (map[string]uint64, error) {
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// StatsOf reads the usage of a cgroup another process made, from its
// directories (Path of that process's Cgroup): on v1 each file is looked
// for in every directory, since which hierarchy holds which controller is
// the host's choice.
func StatsOf(dirs []string) (Stats, error) {
	var s Stats
	if len(dirs) == 0 {
		return s, errors.New("cgroup: no directory")
	}
	if Mode() == "v2" {
		c := &Cgroup{dirs: dirs[:1], v2: true, fd: -1}
		c.stats.at(v2StatFiles(dirs[0]))
		return c.Stats()
	}
	find := func(name string) (uint64, error) {
		var errs []error
		for _, d := range dirs {
			v, err := readUint(filepath.Join(d, name))
			if err == nil {
				return v, nil
			}
			errs = append(errs, err)
		}
		return 0, fmt.Errorf("cgroup v1: %w", errors.Join(errs...))
	}
	var err1, err2, err3 error
	s.MaxMemoryBytes, err1 = find("memory.max_usage_in_bytes")
	user, err2 := find("cpuacct.usage_user")
	sys, err3 := find("cpuacct.usage_sys")
	s.CPUUserMs, s.CPUSystemMs = user/1e6, sys/1e6
	return s, errors.Join(err1, err2, err3)
}
