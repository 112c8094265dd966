// Command runc-prototype runs a command in a jail built by runc's
// libcontainer from the same plan the native engine uses (the root
// filesystem of runner.BuildRootFS, the coding profile's limits and
// environment, the coding seccomp tier), and with -diff compares the
// posture probe under both engines. It is the groundwork of issue 13, a
// second engine: a module of its own, so that libcontainer and its cgo
// never enter openclaw-run's build. See README.md for what it showed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // device rules: libcontainer will not start without them
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"

	"github.com/openclaw-run/openclaw-run/internal/posture"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
	"github.com/openclaw-run/openclaw-run/seccomp"
)

// libcontainer re-executes this binary as the container's init.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}

func main() {
	ws := flag.String("workspace", "", "workspace (owned by the uid the jail's root maps to)")
	diff := flag.String("diff", "", "an openclaw-run binary: run the posture probe under both engines and print the differences")
	flag.Parse()
	if *ws == "" {
		fail(fmt.Errorf("-workspace is required"))
	}
	if *diff != "" {
		native, err := exec.Command(*diff, "--workspace", *ws, "--profile", "coding", "--", "sh", "-c", posture.Probe).Output()
		fail(err)
		var out bytes.Buffer
		code, err := run(*ws, []string{"/bin/sh", "-c", posture.Probe}, &out)
		fail(err)
		if code != 0 {
			fail(fmt.Errorf("the probe exited %d under libcontainer", code))
		}
		for _, d := range posture.Diff(posture.Parse(string(native)), posture.Parse(out.String()), map[string]string{"term": "the CLI passes on the caller's TERM"}) {
			fmt.Println(d)
		}
		return
	}
	code, err := run(*ws, flag.Args(), os.Stdout)
	fail(err)
	os.Exit(code)
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "runc-prototype:", err)
		os.Exit(1)
	}
}

// run runs argv in a fresh libcontainer jail and returns its exit code.
func run(ws string, argv []string, stdout io.Writer) (int, error) {
	st, err := os.Stat(ws)
	if err != nil {
		return -1, err
	}
	uid, gid := runner.ChooseIDs(st, 0, 0)
	fs, err := runner.BuildRootFS(ws, runner.Hostname, runner.FSPolicy{})
	if err != nil {
		return -1, err
	}
	b, err := profiles.Builtin()
	if err != nil {
		return -1, err
	}
	prof := b["coding"]
	lim := prof.Limits

	// libcontainer mounts into a host directory, as the jail's root
	// inside its user namespace: the directory and every bind source
	// must be reachable by that uid (the native engine clones the bind
	// trees as root in the runner instead).
	tmp, err := os.MkdirTemp("", "runc-prototype-")
	if err != nil {
		return -1, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return -1, err
	}
	rootfs := filepath.Join(tmp, "rootfs")
	var mounts []*configs.Mount
	for _, bd := range fs.Binds {
		flags := unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_NODEV
		if !bd.Writable {
			flags |= unix.MS_RDONLY
		}
		mounts = append(mounts, &configs.Mount{Source: bd.Source, Destination: bd.Target, Device: "bind", Flags: flags})
	}
	for _, f := range fs.Files {
		p := filepath.Join(rootfs, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return -1, err
		}
		if err := os.WriteFile(p, f.Data, os.FileMode(f.Mode)); err != nil {
			return -1, err
		}
	}
	for _, l := range fs.Symlinks {
		p := filepath.Join(rootfs, l.Path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(l.Target, p); err != nil {
			return -1, err
		}
	}
	for _, d := range []string{"proc", "dev", "tmp", "workspace"} {
		os.MkdirAll(filepath.Join(rootfs, d), 0o755)
	}
	// libcontainer creates the mount points in the rootfs as the jail's root.
	err = filepath.Walk(rootfs, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return -1, err
	}
	const noexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	mounts = append(mounts,
		&configs.Mount{Source: "proc", Destination: "/proc", Device: "proc", Flags: noexec},
		&configs.Mount{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "mode=755,size=64k"},
		&configs.Mount{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=620"},
		&configs.Mount{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: noexec, Data: fmt.Sprintf("mode=1777,size=%d", lim.TmpSize)},
		&configs.Mount{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: fmt.Sprintf("mode=1777,size=%d", lim.TmpSize)},
	)
	masks := []string{"/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/sysrq-trigger", "/proc/kallsyms", "/proc/kpagecount", "/proc/kpageflags",
		"/proc/kpagecgroup", "/proc/interrupts", "/proc/acpi", "/proc/scsi", "/proc/asound", "/proc/firmware", "/proc/driver"}
	for _, m := range fs.Masks {
		masks = append(masks, m.Path)
	}
	var rules []*config.Rule
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	mem, pids := int64(lim.Memory), int64(lim.Pids)
	cfg := &configs.Config{
		Rootfs:          rootfs,
		Readonlyfs:      true,
		NoNewPrivileges: true,
		Capabilities:    &configs.Capabilities{},
		Namespaces: configs.Namespaces{{Type: configs.NEWNS}, {Type: configs.NEWUTS}, {Type: configs.NEWIPC},
			{Type: configs.NEWPID}, {Type: configs.NEWUSER}, {Type: configs.NEWNET}, {Type: configs.NEWCGROUP}},
		UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: int64(uid), Size: 1}},
		GIDMappings: []configs.IDMap{{ContainerID: 0, HostID: int64(gid), Size: 1}},
		// libcontainer refuses to start without owning the devices cgroup
		// (SkipDevices is not allowed for a container's start).
		Cgroups: &cgroups.Cgroup{Name: fmt.Sprintf("runc-prototype-%d", os.Getpid()), Parent: "openclaw-run",
			Resources: &cgroups.Resources{Devices: rules, Memory: mem, PidsLimit: &pids,
				CpuQuota: int64(lim.CPUs * 100000), CpuPeriod: 100000}},
		MaskPaths:     masks,
		ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"},
		Devices:       specconv.AllowedDevices,
		Hostname:      runner.Hostname,
		Networks:      []*configs.Network{{Type: "loopback", Address: "127.0.0.1/0", Gateway: "localhost"}},
		Rlimits: []configs.Rlimit{{Type: unix.RLIMIT_CORE},
			{Type: unix.RLIMIT_NOFILE, Hard: uint64(lim.OpenFiles), Soft: uint64(lim.OpenFiles)},
			{Type: unix.RLIMIT_FSIZE, Hard: uint64(lim.FileSize), Soft: uint64(lim.FileSize)}},
		Mounts:  mounts,
		Seccomp: tier(seccomp.Tiers()[prof.ExecTier]),
	}
	c, err := libcontainer.Create(filepath.Join(tmp, "state"), "prototype", cfg)
	if err != nil {
		return -1, err
	}
	defer c.Destroy()
	p := &libcontainer.Process{Args: argv, Env: runner.Env("", nil), Cwd: runner.WorkspaceDir,
		Stdout: stdout, Stderr: os.Stderr, Init: true}
	if err := c.Run(p); err != nil {
		return -1, err
	}
	ps, err := p.Wait()
	if ps == nil {
		return -1, err
	}
	return ps.ExitCode(), nil
}

// tier translates one of our seccomp tiers into libcontainer's
// configuration, which libcontainer compiles itself. Deny is EPERM here:
// the user-notification listener our engine hands to the runner (and
// that fills a result's blockedSyscalls) has no direct equivalent.
func tier(t *seccomp.Tier) *configs.Seccomp {
	enosys, eperm := uint(unix.ENOSYS), uint(unix.EPERM)
	sc := &configs.Seccomp{DefaultAction: configs.Errno, DefaultErrnoRet: &enosys, Architectures: []string{"amd64"}}
	for _, r := range t.Rules {
		if r.Action == seccomp.NoSys && len(r.Conds) == 0 {
			continue // the default
		}
		act, ret := configs.Allow, (*uint)(nil)
		switch r.Action {
		case seccomp.Deny:
			act, ret = configs.Errno, &eperm
		case seccomp.NoSys:
			act, ret = configs.Errno, &enosys
		}
		var args []*configs.Arg
		for _, c := range r.Conds {
			args = append(args, &configs.Arg{Index: c.Index, Value: c.Mask, ValueTwo: c.Value, Op: configs.MaskEqualTo})
		}
		for _, n := range r.Names {
			sc.Syscalls = append(sc.Syscalls, &configs.Syscall{Name: n, Action: act, ErrnoRet: ret, Args: args})
		}
	}
	return sc
}
