// Package cgroups owns one call's cgroup from creation to deletion, on
// cgroup v1 (memory, cpu and pids controllers) and on cgroup v2, through
// github.com/containerd/cgroups/v3: limits, placement of the jail before it
// runs anything, resource statistics, kill of every member, deletion, and
// the sweep of cgroups a crashed runner left behind.
//
// Every call's cgroup is nested below the runner's own cgroup (v1: per
// controller; v2: in the runner's delegated subtree), under a directory
// named "openclaw-run". Nothing outside that directory is ever written.
package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	cg "github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// cpuPeriod is the CFS period; quota = cpus * period.
const cpuPeriod = 100000

// Cgroup is one call's cgroup.
type Cgroup struct {
	name string
	v1   cgroup1.Cgroup
	v2   *cgroup2.Manager
	v2fd int
	// v1paths are the per-controller directories, for kill and placement.
	v1paths []string
}

var seq atomic.Uint64

// Mode reports the host's cgroup mode: "v1" (legacy or hybrid: the
// controllers are on v1 hierarchies) or "v2" (unified).
func Mode() string {
	if cg.Mode() == cg.Unified {
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
	name := fmt.Sprintf("%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
	if Mode() == "v2" {
		return newV2(name, l)
	}
	return newV1(name, l)
}

// v1Controllers are the only v1 hierarchies a call uses.
// cpuacct limits nothing; it is there for the user/system CPU split.
var v1Controllers = []cgroup1.Name{cgroup1.Memory, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Pids}

func v1Hierarchy() ([]cgroup1.Subsystem, error) {
	root := "/sys/fs/cgroup"
	return []cgroup1.Subsystem{cgroup1.NewMemory(root), cgroup1.NewCpu(root), cgroup1.NewCpuacct(root), cgroup1.NewPids(root)}, nil
}

func newV1(name string, l Limits) (*Cgroup, error) {
	quota := int64(l.CPUs * cpuPeriod)
	period := uint64(cpuPeriod)
	swap := l.MemoryBytes // memory+swap == memory: no swap
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &l.MemoryBytes, Swap: &swap},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
		Pids:   &specs.LinuxPids{Limit: &l.Pids},
	}
	path := cgroup1.NestedPath(filepath.Join(Dir, name))
	requireAll := func(c *cgroup1.InitConfig) error {
		c.InitCheck = func(s cgroup1.Subsystem, _ cgroup1.Path, err error) error {
			return fmt.Errorf("cgroup v1 controller %s is not available: %w", s.Name(), err)
		}
		return nil
	}
	c, err := cgroup1.New(path, res, cgroup1.WithHierarchy(v1Hierarchy), requireAll)
	if err != nil {
		return nil, fmt.Errorf("cgroup v1: create %s: %w", name, err)
	}
	cgrp := &Cgroup{name: name, v1: c, v2fd: -1}
	for _, s := range v1Controllers {
		p, err := path(s)
		if err != nil {
			cgrp.Delete()
			return nil, err
		}
		cgrp.v1paths = append(cgrp.v1paths, filepath.Join("/sys/fs/cgroup", string(s), p))
	}
	if len(c.Subsystems()) != len(v1Controllers) {
		cgrp.Delete()
		return nil, fmt.Errorf("cgroup v1: only %d of the memory, cpu and pids controllers are active", len(c.Subsystems()))
	}
	return cgrp, nil
}

func newV2(name string, l Limits) (*Cgroup, error) {
	base, err := v2Base()
	if err != nil {
		return nil, err
	}
	max := l.MemoryBytes
	zero := int64(0)
	quota := int64(l.CPUs * cpuPeriod)
	period := uint64(cpuPeriod)
	res := &cgroup2.Resources{
		Memory: &cgroup2.Memory{Max: &max, Swap: &zero},
		CPU:    &cgroup2.CPU{Max: cgroup2.NewCPUMax(&quota, &period)},
		Pids:   &cgroup2.Pids{Max: l.Pids},
	}
	m, err := cgroup2.NewManager("/sys/fs/cgroup", filepath.Join(base, name), res)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: create %s/%s: %w", base, name, err)
	}
	dir := filepath.Join("/sys/fs/cgroup", base, name)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Delete()
		return nil, fmt.Errorf("cgroup v2: open %s: %w", dir, err)
	}
	c := &Cgroup{name: name, v2: m, v2fd: fd}
	// memory.oom.group: an OOM kill takes the whole call, not one victim.
	if err := os.WriteFile(filepath.Join(dir, "memory.oom.group"), []byte("1"), 0); err != nil {
		c.Delete()
		return nil, fmt.Errorf("cgroup v2: memory.oom.group: %w", err)
	}
	return c, nil
}

// v2Base returns the group (relative to /sys/fs/cgroup) under which calls
// are created, preparing it on first use: controllers must be enabled in
// every ancestor's cgroup.subtree_control, and the "no internal processes"
// rule means the runner cannot stay in a cgroup whose children have
// controllers. So, as systemd's delegation model expects, the runner moves
// itself into a "supervisor" leaf of its own cgroup and the calls live in
// a sibling subtree.
func v2Base() (string, error) {
	own, err := ownV2Cgroup()
	if err != nil {
		return "", err
	}
	root := filepath.Join("/sys/fs/cgroup", own)
	calls := filepath.Join(own, Dir)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", calls)); err == nil {
		return calls, nil
	}
	if own != "/" {
		procs, _ := os.ReadFile(filepath.Join(root, "cgroup.procs"))
		if len(strings.TrimSpace(string(procs))) > 0 {
			sup := filepath.Join(root, "supervisor")
			if err := os.MkdirAll(sup, 0o755); err != nil {
				return "", fmt.Errorf("cgroup v2: create supervisor leaf: %w", err)
			}
			if err := os.WriteFile(filepath.Join(sup, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
				return "", fmt.Errorf("cgroup v2: move the runner into %s: %w (is the cgroup delegated? run under systemd with Delegate=yes)", sup, err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory +cpu +pids"), 0); err != nil {
		return "", fmt.Errorf("cgroup v2: enable memory, cpu and pids in %s: %w (delegate them: systemd Delegate=yes)", root, err)
	}
	dir := filepath.Join("/sys/fs/cgroup", calls)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cgroup v2: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +cpu +pids"), 0); err != nil {
		return "", fmt.Errorf("cgroup v2: enable controllers in %s: %w", dir, err)
	}
	return calls, nil
}

func ownV2Cgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("cgroup v2: no unified entry in /proc/self/cgroup")
}

// FD returns the cgroup v2 directory fd for CLONE_INTO_CGROUP, or -1 on v1.
func (c *Cgroup) FD() int { return c.v2fd }

// Place moves pid into the cgroup (v1). The jail calls it while the child
// waits at its barrier, before it runs anything of its own. On v2 the child
// was cloned into the cgroup and Place only checks that.
func (c *Cgroup) Place(pid int) error {
	if c.v1 == nil {
		return nil
	}
	for _, dir := range c.v1paths {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("cgroup v1: place %d in %s: %w", pid, dir, err)
		}
	}
	return nil
}

// Kill sends SIGKILL to every process of the cgroup, repeating until it is
// empty (processes may fork while it runs). On v2 it writes cgroup.kill.
// On v1 the jail's pid namespace is the atomic part (killing its init kills
// every member, pid_namespaces(7)); this loop is the backstop.
func (c *Cgroup) Kill() error {
	if c.v2 != nil {
		return c.v2.Kill()
	}
	procs := filepath.Join(c.v1paths[3], "cgroup.procs") // pids controller
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(procs)
		if err != nil {
			return fmt.Errorf("cgroup v1: read %s: %w", procs, err)
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			return nil
		}
		for _, f := range fields {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(time.Millisecond * time.Duration(i+1))
	}
	return fmt.Errorf("cgroup v1: %s still has processes after SIGKILL", procs)
}

// Stats reads what the call used.
func (c *Cgroup) Stats() (Stats, error) {
	var s Stats
	if c.v2 != nil {
		m, err := c.v2.Stat()
		if err != nil {
			return s, fmt.Errorf("cgroup v2: stat: %w", err)
		}
		if m.Memory != nil {
			s.MaxMemoryBytes = m.Memory.MaxUsage
		}
		if m.MemoryEvents != nil {
			s.OOMKills = m.MemoryEvents.OomKill
		}
		if m.CPU != nil {
			s.CPUUserMs, s.CPUSystemMs = m.CPU.UserUsec/1000, m.CPU.SystemUsec/1000
		}
		// memory.peak is newer than the library's view of it.
		if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", c.v2Path(), "memory.peak")); err == nil {
			s.MaxMemoryBytes, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
		return s, nil
	}
	m, err := c.v1.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return s, fmt.Errorf("cgroup v1: stat: %w", err)
	}
	if m.Memory != nil && m.Memory.Usage != nil {
		s.MaxMemoryBytes = m.Memory.Usage.Max
	}
	if m.MemoryOomControl != nil {
		s.OOMKills = m.MemoryOomControl.OomKill
	}
	if m.CPU != nil && m.CPU.Usage != nil {
		s.CPUUserMs, s.CPUSystemMs = m.CPU.Usage.User/1e6, m.CPU.Usage.Kernel/1e6
	}
	return s, nil
}

func (c *Cgroup) v2Path() string {
	base, _ := v2Base()
	return filepath.Join(base, c.name)
}

// Delete kills what is left and removes the cgroup.
func (c *Cgroup) Delete() error {
	if c.v2 != nil {
		if c.v2fd >= 0 {
			unix.Close(c.v2fd)
			c.v2fd = -1
		}
		c.v2.Kill()
		return c.v2.Delete()
	}
	if c.v1 == nil {
		return nil
	}
	c.Kill()
	return c.v1.Delete()
}
