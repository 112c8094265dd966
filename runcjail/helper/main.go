// Command openclaw-run-runc is the runc engine: it runs one call's jail
// with runc's libcontainer (v1.5.2, pinned in go.mod), from the Plan the
// runner decided, and reports how it ended (package runcjail describes
// the protocol). It is a module of its own so that libcontainer's cgo
// constructor, the seccomp build tag and its dependencies never enter
// openclaw-run's build.
//
// What this engine takes from libcontainer: the namespaces and id maps,
// the pivot into the root, /proc with runc's masked and read-only paths,
// capabilities, no_new_privs, rlimits, the seccomp filter (compiled by
// libcontainer from our rule table), the cgroup (created, limited, placed,
// deleted by libcontainer: it refuses to run without owning the devices
// controller, so the cgroup has one owner, and it is libcontainer), and
// the hardening of its init (the sealed /proc/self/exe of CVE-2019-5736,
// fd hygiene after CVE-2024-21626, safe mount targets).
//
// What it builds itself, as root in a mount namespace of its own (the
// runner starts it with CLONE_NEWNS): the root tmpfs with the binds, the
// synthesized files, the denied-path masks and /dev. libcontainer would
// make binds inside the jail's user namespace, as the jail's root, so a
// bind below a directory that uid cannot enter would fail, where the
// native engine clones the trees as root; built here, both engines see the
// same trees with the same flags. libcontainer bind-mounts the root onto
// itself, seals it read-only and pivots into it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // device rules: libcontainer will not start without them
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/seccomp"
)

func init() {
	// libcontainer re-executes this binary as the jail's init ("init"):
	// nsenter's constructor has already joined the namespaces by now.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// If the helper dies (its runner was killed), the jail dies with
		// it. libcontainer's ParentDeathSignal reaches only the first of
		// nsexec's stages, and a clone does not inherit it (prctl(2));
		// this is the last stage, whose parent is the helper
		// (CLONE_PARENT). Init keeps it across its credential changes,
		// which would clear it, and execve keeps it.
		runtime.LockOSThread() // Init execs the command from this thread
		resetSignals()
		unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
		if os.Getppid() == 1 {
			os.Exit(1) // the helper is already gone
		}
		libcontainer.Init()
		os.Exit(255) // Init does not return
	}
	// The main goroutine keeps the main thread to itself, and the jail is
	// started from it (serve runs on it). Two reasons:
	//   - the jail's parent-death signal follows the thread that forked
	//     its init (prctl(2)), and libcontainer ends threads on purpose:
	//     its goroutines that setns(2) lock their thread and return
	//     without unlocking, so the runtime kills it (process_linux.go).
	//     Forked from such a thread, the jail would be SIGKILLed at once;
	//     the main thread lives as long as the helper;
	//   - no goroutine of libcontainer's can run on a locked thread, so
	//     the main thread is never the one left in a dead jail's
	//     namespaces (the wedge of DESIGN.md 5.1).
	runtime.LockOSThread()
}

// resetSignals gives the jail's command the signal state the native
// engine gives it: nothing ignored, nothing blocked. execve(2) keeps
// ignored signals and the mask, and this process inherits both from the
// runner's own parent (a shell or make that ignores a signal), through
// every stage of nsexec. Handlers the Go runtime installed are left alone:
// execve resets them anyway.
func resetSignals() {
	type sigaction struct {
		handler, flags, restorer uintptr
		mask                     uint64
	}
	const sigIgn, sigDfl = 1, 0
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		var old sigaction
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 || old.handler != sigIgn {
			continue
		}
		dfl := sigaction{handler: sigDfl}
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
	var none unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil)
}

func main() {
	// No core dump: the helper holds the plan, secretEnv values included.
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	logrus.SetOutput(io.Discard) // our stderr is the jail's stderr
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "openclaw-run-runc: the runc engine's helper; openclaw-run starts it (see runcjail)")
		os.Exit(2)
	}
	res := serve()
	json.NewEncoder(os.NewFile(4, "result")).Encode(res)
	if res.Error != "" {
		os.Exit(1)
	}
}

// serve runs the call and always returns a result.
func serve() *runcjail.Result {
	start := time.Now()
	// SIGTERM from the runner (timeout, cancel), or the end of the plan
	// pipe (the runner is gone), kills the jail; its pid namespace ends
	// with its init. Caught from the start, so that a call canceled while
	// its jail is being built still ends with a result.
	var mu sync.Mutex
	var c *libcontainer.Container
	running, killed := false, false
	kill := func() {
		mu.Lock()
		killed = true
		if running {
			c.Signal(unix.SIGKILL)
		}
		mu.Unlock()
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	go func() {
		for range sigs {
			kill()
		}
	}()
	// The protocol's fds come without close-on-exec: no process the
	// helper starts (libcontainer's init) may hold them.
	unix.CloseOnExec(3)
	unix.CloseOnExec(4)
	unix.CloseOnExec(runcjail.StagedFD) // when given (EBADF otherwise)
	var req runcjail.Request
	planFile := os.NewFile(3, "plan")
	if err := json.NewDecoder(planFile).Decode(&req); err != nil {
		return fail(fmt.Errorf("read the plan: %w", err))
	}
	if err := check(&req); err != nil {
		return fail(err)
	}
	p := req.Plan
	go func() {
		io.Copy(io.Discard, planFile)
		kill()
	}()
	tier := seccomp.Tiers()[p.Jail.Tier]

	// Everything this call needs on disk lives in a tmpfs of the helper's
	// own mount namespace: the jail's root, libcontainer's state, the
	// seccomp socket. It goes when the helper exits.
	tmp, err := os.MkdirTemp("", runcjail.DirPattern())
	if err != nil {
		return fail(err)
	}
	defer func() {
		unix.Unmount(tmp, unix.MNT_DETACH)
		os.Remove(tmp)
	}()
	if err := unix.Mount("tmpfs", tmp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711,size=1m"); err != nil {
		return fail(fmt.Errorf("mount the helper's tmpfs: %w", err))
	}
	rootfs, dev := filepath.Join(tmp, "rootfs"), filepath.Join(tmp, "dev")
	if err := buildRoot(rootfs, p); err != nil {
		return fail(err)
	}
	if err := buildDev(dev, p); err != nil {
		return fail(err)
	}
	// The working directory must exist, as under the native engine, whose
	// chdir fails otherwise; libcontainer would create it, as the jail's
	// root, in the workspace. Resolved inside the root, not on the host.
	if err := checkDir(rootfs, p.Command.Dir); err != nil {
		return fail(err)
	}

	cfg := jailConfig(rootfs, dev, p, req.CgroupPath, tier)
	var listener *net.UnixListener
	if tier.Notify {
		// libcontainer hands the filter's user-notification fd to
		// whoever listens here (runtime-spec's seccomp agent); our
		// supervisor records each refused call and answers EPERM, as
		// under the native engine.
		cfg.Seccomp.ListenerPath = filepath.Join(tmp, "seccomp.sock")
		if listener, err = net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Seccomp.ListenerPath, Net: "unix"}); err != nil {
			return fail(err)
		}
		defer listener.Close()
	}
	var sup *seccomp.Supervisor
	supReady := make(chan error, 1)
	if listener != nil {
		go func() {
			fd, err := receiveListener(listener)
			if err == nil {
				sup, err = seccomp.Supervise(fd)
			}
			supReady <- err
		}()
	}

	mu.Lock()
	c, err = libcontainer.Create(filepath.Join(tmp, "state"), "call", cfg)
	canceled := killed
	mu.Unlock()
	if err != nil {
		return fail(fmt.Errorf("create: %w", err))
	}
	defer c.Destroy()
	if canceled {
		return fail(errors.New("the call was canceled before its jail started"))
	}

	// libcontainer looks Args[0] up in the jail's PATH, where the native
	// engine's Command.Path was found too.
	proc := &libcontainer.Process{
		Args: p.Command.Args, Env: p.Command.Env, Cwd: p.Command.Dir,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Init: true,
	}
	if err := c.Run(proc); err != nil {
		res := fail(fmt.Errorf("start: %w", err))
		res.Exec = execFailure(err)
		return res
	}
	mu.Lock()
	running = true
	if killed {
		c.Signal(unix.SIGKILL)
	}
	mu.Unlock()
	res := &runcjail.Result{StartedMs: float64(time.Since(start).Microseconds()) / 1000}
	if listener != nil {
		if err := <-supReady; err != nil {
			c.Signal(unix.SIGKILL)
			proc.Wait()
			return fail(fmt.Errorf("seccomp listener: %w", err))
		}
	}

	ps, werr := proc.Wait()
	if ps == nil {
		return fail(fmt.Errorf("wait: %w", werr))
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = int(ws.Signal())
	} else {
		res.ExitCode = ps.ExitCode()
	}
	if sup != nil {
		res.Blocked = sup.Stop()
	}
	stats(c, res)
	return res
}

func fail(err error) *runcjail.Result { return &runcjail.Result{Error: err.Error()} }

// checkDir fails unless dir is a directory in the jail's root, every
// symlink on the way resolved inside that root (openat2 RESOLVE_IN_ROOT).
func checkDir(rootfs, dir string) error {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return fmt.Errorf("chdir %s: %w", dir, err)
	}
	return unix.Close(fd)
}

// execFailure tells a command that is missing or not executable apart
// from a broken jail, as the native engine reports them (exit 127 and
// 126 in the CLI). libcontainer's init reports the failure of its
// exec.LookPath or execve to the helper as text only (runc v1.5.2,
// standard_init_linux.go).
func execFailure(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "exec: \"") && strings.Contains(msg, "no such file or directory"):
		return runcjail.ExecNotFound
	case (strings.Contains(msg, "exec: \"") || strings.Contains(msg, "exec ")) && (strings.Contains(msg, "permission denied") || strings.Contains(msg, "exec format error")):
		return runcjail.ExecNotExecutable
	}
	return ""
}

// check refuses a plan that would run with less than the runner asked:
// the plan's own Validate (the native engine runs the same), what this
// engine does not build yet, and what only this engine needs.
func check(req *runcjail.Request) error {
	p := req.Plan
	if p == nil {
		return errors.New("no plan")
	}
	errs := []error{p.Validate(), runcjail.Supported(p)}
	if seccomp.Tiers()[p.Jail.Tier] == nil {
		errs = append(errs, fmt.Errorf("unknown seccomp tier %q", p.Jail.Tier))
	}
	if req.CgroupPath == "" {
		errs = append(errs, errors.New("no cgroup path"))
	}
	return errors.Join(errs...)
}

// jailConfig is the libcontainer configuration of the plan.
func jailConfig(rootfs, dev string, pl *plan.Plan, cgroupPath string, tier *seccomp.Tier) *configs.Config {
	p := &pl.Jail
	var rules []*config.Rule
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	pids := p.Pids
	res := &cgroups.Resources{
		Devices: rules,
		Memory:  p.Memory,
		// memory+swap = memory: the call never swaps (as the native
		// engine's memsw and swap.max writes).
		MemorySwap: p.Memory,
		PidsLimit:  &pids,
		CpuQuota:   int64(p.CPUs * 100000), CpuPeriod: 100000,
	}
	if cgroups.IsCgroup2UnifiedMode() {
		res.Unified = map[string]string{"memory.oom.group": "1"} // an OOM kill takes the whole call
	}
	var rl []configs.Rlimit
	for _, r := range p.Rlimits {
		rl = append(rl, configs.Rlimit{Type: r.Resource, Soft: r.Cur, Hard: r.Max})
	}
	const nosuidNodevNoexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	return &configs.Config{
		Rootfs:          rootfs,
		Readonlyfs:      true,
		NoNewPrivileges: true,
		Capabilities:    &configs.Capabilities{},
		Namespaces: configs.Namespaces{{Type: configs.NEWNS}, {Type: configs.NEWUTS}, {Type: configs.NEWIPC},
			{Type: configs.NEWPID}, {Type: configs.NEWUSER}, {Type: configs.NEWNET}, {Type: configs.NEWCGROUP}},
		UIDMappings: []configs.IDMap{{ContainerID: 0, HostID: int64(p.HostUID), Size: 1}},
		GIDMappings: []configs.IDMap{{ContainerID: 0, HostID: int64(p.HostGID), Size: 1}},
		Cgroups:     &cgroups.Cgroup{Path: cgroupPath, Resources: res},
		// If the helper dies, so does the jail (and with its init, the
		// whole pid namespace).
		ParentDeathSignal: int(unix.SIGKILL),
		MaskPaths:         append(append([]string(nil), plan.MaskedProcFiles...), plan.MaskedProcDirs...),
		ReadonlyPaths:     plan.ReadonlyProcPaths,
		Hostname:          p.Hostname,
		Networks:          []*configs.Network{{Type: "loopback", Address: "127.0.0.1/0", Gateway: "localhost"}},
		Rlimits:           rl,
		Mounts: []*configs.Mount{
			// /dev is built by buildDev; given as a bind, libcontainer
			// attaches it and creates no device nodes or links of its own.
			{Source: dev, Destination: "/dev", Device: "bind",
				Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC},
			{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC,
				Data: "newinstance,ptmxmode=0666,mode=620"},
			{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: nosuidNodevNoexec,
				Data: fmt.Sprintf("mode=1777,size=%d", p.TmpSize)},
			{Source: "proc", Destination: "/proc", Device: "proc", Flags: nosuidNodevNoexec},
			{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV,
				Data: fmt.Sprintf("mode=1777,size=%d", p.TmpSize)},
		},
		Seccomp: translate(tier),
	}
}

// translate turns one of our seccomp tiers into libcontainer's seccomp
// configuration, rule for rule: Deny is EPERM (or a notification to the
// supervisor in a Notify tier), NoSys and the default ENOSYS, and every
// argument condition a masked equality.
func translate(t *seccomp.Tier) *configs.Seccomp {
	enosys, eperm := uint(unix.ENOSYS), uint(unix.EPERM)
	// The native architecture only: a foreign ABI's call (x32, i386) hits
	// libseccomp's bad-architecture action, and is refused.
	sc := &configs.Seccomp{DefaultAction: configs.Errno, DefaultErrnoRet: &enosys, Architectures: []string{runtime.GOARCH}}
	for _, r := range t.Rules {
		if r.Action == seccomp.NoSys && len(r.Conds) == 0 {
			continue // the default
		}
		act, ret := configs.Allow, (*uint)(nil)
		switch r.Action {
		case seccomp.Deny:
			act, ret = configs.Errno, &eperm
			if t.Notify {
				act, ret = configs.Notify, nil
			}
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

// buildRoot lays out the jail's root at dir as the native engine does in
// its child: a tmpfs with the binds (read-only unless writable, nosuid and
// nodev, recursively), the synthesized files and links, and the masks over
// denied paths.
func buildRoot(dir string, pl *plan.Plan) error {
	p := &pl.Jail
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	// Owned by the jail's root, as a tmpfs the native engine mounts
	// inside the jail's user namespace is.
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=0755,size=8m,uid=%d,gid=%d", p.HostUID, p.HostGID)); err != nil {
		return fmt.Errorf("mount the root tmpfs: %w", err)
	}
	in := func(p string) string { return filepath.Join(dir, p) }
	dirs, isFile := plan.MountPoints(p, "/dev", "/proc", "/tmp", pl.Command.Dir)
	for _, d := range dirs {
		if err := os.Mkdir(in(d), 0o755); err != nil && !os.IsExist(err) {
			return err
		}
	}
	for _, b := range p.Binds {
		if isFile[b.Target] {
			if err := createFile(in(b.Target), nil, 0o444); err != nil {
				return err
			}
		}
		if b.Staged {
			// The staging layer's overlay, made and sealed (nosuid,
			// nodev) by the runner, attached in place of the workspace.
			if err := unix.MoveMount(runcjail.StagedFD, "", unix.AT_FDCWD, in(b.Target), unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
				return fmt.Errorf("attach the staging layer at %s: %w", b.Target, err)
			}
			unix.Close(runcjail.StagedFD)
			continue
		}
		attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
		if !b.Writable {
			attr |= unix.MOUNT_ATTR_RDONLY
		}
		if err := bind(b.Source, in(b.Target), attr); err != nil {
			return err
		}
	}
	// Pins, then masks, as the native engine (jail/program.go, step 14):
	// every directory between a writable bind and a masked path is a
	// mount point, which rename, rmdir and unlink refuse (EBUSY).
	for _, d := range p.Pins {
		if err := unix.Mount(in(d), in(d), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("pin %s: %w", d, err)
		}
		if err := setattr(in(d), unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, unix.AT_RECURSIVE); err != nil {
			return err
		}
	}
	for _, m := range p.Masks {
		var err error
		if m.Dir {
			err = unix.Mount("tmpfs", in(m.Path), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=000")
		} else {
			err = bind("/dev/null", in(m.Path), unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC) // as the jail's /dev/null
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", m.Path, err)
		}
	}
	for _, f := range p.Files {
		if err := createFile(in(f.Path), f.Data, f.Mode); err != nil {
			return err
		}
	}
	for _, l := range p.Symlinks {
		if err := os.Symlink(l.Target, in(l.Path)); err != nil {
			return err
		}
	}
	return chownTree(dir, p)
}

// createFile makes a new regular file in the jail's root as the native
// engine does (O_EXCL|O_NOFOLLOW): never through a symlink, never over
// something that exists. The mode is set exactly, not through the umask.
func createFile(name string, data []byte, mode uint32) error {
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(os.FileMode(mode)); err != nil {
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	return nil
}

// chownTree gives what the helper created in the tmpfs at dir to the
// jail's root, as if the jail had created it (the native engine does),
// without descending into the binds.
func chownTree(dir string, p *plan.Jail) error {
	var root unix.Stat_t
	if err := unix.Lstat(dir, &root); err != nil {
		return err
	}
	dev := root.Dev
	return filepath.WalkDir(dir, func(name string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var s unix.Stat_t
		if err := unix.Lstat(name, &s); err != nil {
			return err
		}
		if s.Dev != dev {
			if d.IsDir() {
				return filepath.SkipDir // a bind or a mask: not ours
			}
			return nil
		}
		return os.Lchown(name, p.HostUID, p.HostGID)
	})
}

// buildDev makes the jail's /dev at dir, as the native engine does: a few
// host character devices (usable, so not nodev), a devpts instance, a
// bounded /dev/shm, the usual links; read-only.
func buildDev(dir string, pl *plan.Plan) error {
	p := &pl.Jail
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, fmt.Sprintf("mode=0755,size=64k,uid=%d,gid=%d", p.HostUID, p.HostGID)); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range plan.Devices {
		if err := createFile(filepath.Join(dir, d), nil, 0o666); err != nil {
			return err
		}
		if err := bind("/dev/"+d, filepath.Join(dir, d), unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC); err != nil {
			return err
		}
	}
	// pts and shm are mount points: libcontainer mounts devpts and the
	// tmpfs inside the jail's user namespace (jailConfig), as the native
	// engine does.
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, l := range plan.DevSymlinks {
		if err := os.Symlink(l.Target, filepath.Join(dir, strings.TrimPrefix(l.Path, "/dev/"))); err != nil {
			return err
		}
	}
	if err := chownTree(dir, p); err != nil {
		return err
	}
	return setattr(dir, unix.MOUNT_ATTR_RDONLY, 0)
}

// bind clones the tree at src (opened without following any symlink, so a
// component swapped after the runner resolved it fails the call instead
// of binding elsewhere) and attaches it at dst with attr, recursively.
func bind(src, dst string, attr uint64) error {
	fd, err := unix.Openat2(unix.AT_FDCWD, src, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	defer unix.Close(fd)
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("bind %s: open_tree: %w", src, err)
	}
	defer unix.Close(tree)
	a := &unix.MountAttr{Attr_set: attr, Propagation: unix.MS_PRIVATE}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, a); err != nil {
		return fmt.Errorf("bind %s: mount_setattr: %w", src, err)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind %s: move_mount: %w", src, err)
	}
	return nil
}

func setattr(p string, set uint64, flags uint) error {
	if err := unix.MountSetattr(unix.AT_FDCWD, p, flags, &unix.MountAttr{Attr_set: set}); err != nil {
		return fmt.Errorf("mount_setattr %s: %w", p, err)
	}
	return nil
}

// receiveListener accepts libcontainer's one connection and takes the
// seccomp notification fd it carries (SCM_RIGHTS, after the state JSON).
func receiveListener(l *net.UnixListener) (int, error) {
	l.SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := l.AcceptUnix()
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return -1, fmt.Errorf("no SCM_RIGHTS message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return -1, fmt.Errorf("no fd in the message (%v)", err)
	}
	for _, extra := range fds[1:] {
		unix.Close(extra)
	}
	return fds[0], nil
}

// stats fills in what the call used, read from the cgroup libcontainer
// made, before it is destroyed.
func stats(c *libcontainer.Container, res *runcjail.Result) {
	st, err := c.Stats()
	if err == nil && st.CgroupStats != nil {
		cs := st.CgroupStats
		res.CPUUserMs = cs.CpuStats.CpuUsage.UsageInUsermode / 1e6
		res.CPUSystemMs = cs.CpuStats.CpuUsage.UsageInKernelmode / 1e6
		res.MaxMemoryBytes = cs.MemoryStats.Usage.MaxUsage
	}
	state, err := c.State()
	if err != nil {
		return
	}
	if cgroups.IsCgroup2UnifiedMode() {
		res.OOMKills, _ = fs2.OOMKillCount(state.CgroupPaths[""])
	} else {
		res.OOMKills, _ = fs.OOMKillCount(state.CgroupPaths["memory"])
	}
}
