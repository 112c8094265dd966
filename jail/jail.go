package jail

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/openclaw-run/openclaw-run/plan"
	"golang.org/x/sys/unix"
)

// Namespaces every jail gets at clone. The cgroup namespace is added by the
// child after it was placed in its cgroup (see compile).
const cloneFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID |
	unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS

// ChildError is a failed setup step in the child: which step, on what
// (Step, for people), the system call that failed (Syscall, for code: exit
// and HTTP codes are derived from it and Errno, never from the text) and
// the errno the kernel returned.
type ChildError struct {
	Step    string
	Syscall string
	Errno   syscall.Errno
}

func (e *ChildError) Error() string {
	return fmt.Sprintf("jail setup: %s: %v", e.Step, e.Errno)
}

// NotExecutable reports whether the command itself could not be executed
// (execve refused it: a missing exec bit, a bad format), as opposed to a
// setup step that failed before it: the CLI's exit code 126.
func (e *ChildError) NotExecutable() bool {
	return e.Syscall == "execve" && (e.Errno == syscall.EACCES || e.Errno == syscall.ENOEXEC || e.Errno == syscall.EPERM)
}

func (e *ChildError) Unwrap() error { return e.Errno }

// ErrNotFound is wrapped by the start error when the command does not exist
// inside the jail.
var ErrNotFound = errors.New("command not found in the jail")

// Process is a started jail. Its pid is pid 1 of the jail's pid namespace,
// so killing it kills every process of the jail (pid_namespaces(7)).
type Process struct {
	Pid   int
	pidfd int
	// listener is the seccomp listener fd, or -1.
	listener int
	// pty is the master of the jail's pty (Plan.Command.Pty), or nil.
	pty *os.File
	// proxy is the listening socket the jail made in its own network
	// namespace for the egress proxy (plan.NetworkAllowlist), or nil.
	proxy *os.File
	// mntns holds the jail's mount namespace (Spec.HoldMounts), or -1.
	mntns int

	mu     sync.Mutex
	reaped bool
}

// ExitStatus is how the jailed process ended.
type ExitStatus struct {
	// Code is the exit code, or -1 when killed by a signal.
	Code int
	// Signal is the terminating signal, 0 when the process exited.
	Signal syscall.Signal
	Rusage unix.Rusage
}

// Start validates s and starts its command in a fresh jail. When it returns
// nil error the command is running (execve succeeded); every setup step
// succeeded or nothing runs.
func Start(s *Spec) (*Process, error) {
	if s.Deferred {
		return nil, errors.New("jail: a deferred spec is started with Prepare")
	}
	proc, _, err := start(s)
	return proc, err
}

// Prepare builds a jail for s.Deferred up to the point where it would
// exec, and returns it waiting for its command (Pending.Exec): a
// pre-warmed jail. It is the same setup as Start's, in the same order;
// only the working directory, the environment and the command come later.
// A Pending is used at most once.
func Prepare(s *Spec) (*Pending, error) {
	if !s.Deferred {
		return nil, errors.New("jail: Prepare needs a deferred spec")
	}
	_, pend, err := start(s)
	return pend, err
}

func start(s *Spec) (*Process, *Pending, error) {
	if err := s.validate(); err != nil {
		return nil, nil, fmt.Errorf("invalid jail spec: %w", err)
	}
	j := &s.Plan.Jail
	rootful := os.Geteuid() == 0
	if !rootful && (j.HostUID != os.Geteuid() || j.HostGID != os.Getegid()) {
		return nil, nil, fmt.Errorf("an unprivileged runner can map jail root only to its own ids %d:%d, not %d:%d",
			os.Geteuid(), os.Getegid(), j.HostUID, j.HostGID)
	}

	var closers []int
	defer func() {
		for _, fd := range closers {
			unix.Close(fd)
		}
	}()
	pipe := func() (r, w int, err error) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return 0, 0, fmt.Errorf("pipe: %w", err)
		}
		closers = append(closers, p[0], p[1])
		return p[0], p[1], nil
	}
	syncR, syncW, err := pipe()
	if err != nil {
		return nil, nil, err
	}
	placedR, placedW, err := pipe()
	if err != nil {
		return nil, nil, err
	}
	goR, goW := -1, -1
	if s.Deferred {
		if goR, goW, err = pipe(); err != nil {
			return nil, nil, err
		}
		// The command block must fit the pipe whole (see Pending.Exec).
		if _, err := unix.FcntlInt(uintptr(goW), unix.F_SETPIPE_SZ, deferredSize); err != nil {
			return nil, nil, fmt.Errorf("pipe capacity for a pre-warmed jail: %w", err)
		}
	}
	errR, errW, err := pipe()
	if err != nil {
		return nil, nil, err
	}
	fds := childFDs{syncR: syncR, syncW: syncW, placedR: placedR, errW: errW, notifyW: -1, goR: goR}
	notifyR := -1
	passed := passedFDs(s)
	if len(passed) > 0 {
		// The fds the child makes for the runner (the pty's master, the
		// proxy's listener, the seccomp listener) come back over this
		// socket, one SCM_RIGHTS message each, in the order of passed.
		sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("socketpair: %w", err)
		}
		closers = append(closers, sp[0], sp[1])
		notifyR, fds.notifyW = sp[0], sp[1]
	}
	for i, f := range []*os.File{s.Stdin, s.Stdout, s.Stderr} {
		var src int
		if f == nil {
			null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, nil, fmt.Errorf("open /dev/null: %w", err)
			}
			closers = append(closers, null)
			src = null
		} else {
			src = int(f.Fd())
		}
		// A copy above 2 so that dup3 onto 0..2 in the child never
		// overwrites a source it still needs.
		fd, err := unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, nil, fmt.Errorf("dup stdio %d: %w", i, err)
		}
		closers = append(closers, fd)
		fds.stdio[i] = fd
	}
	for _, f := range []*os.File{s.Stdin, s.Stdout, s.Stderr} {
		runtime.KeepAlive(f)
	}
	// A privileged runner prepares every bind on the host side; an
	// unprivileged one cannot clone host mounts, and its child binds from
	// its own copy of the mount namespace instead (bindInChild).
	if j.Staging != nil && !rootful {
		return nil, nil, errors.New("a staging layer needs a privileged runner (docs/staging.md)")
	}
	for i := 0; rootful && i < len(j.Binds)+len(devices); i++ {
		src, attr := "", uint64(devAttrs)
		if i < len(j.Binds) {
			src, attr = j.Binds[i].Source, bindAttrs(j.Binds[i])
		} else {
			src = "/dev/" + devices[i-len(j.Binds)]
		}
		var fd int
		var err error
		if i < len(j.Binds) && j.Binds[i].Staged {
			// The staging layer's overlay, made (and sealed nosuid,
			// nodev) by the runner: a copy of its descriptor, closed
			// like the other trees once the child attached it.
			fd, err = unix.FcntlInt(uintptr(s.StagedTree), unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				err = fmt.Errorf("staged tree: %w", err)
			}
		} else {
			fd, err = prepareTree(src, attr)
		}
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, fd)
		if i < len(j.Binds) {
			fds.trees = append(fds.trees, fd)
		} else {
			fds.devs = append(fds.devs, fd)
		}
	}

	prog, err := compile(s, fds, rootful)
	if err != nil {
		return nil, nil, err
	}
	// The child may run in this process's memory (cloneChild): on every
	// path out of here it has exec'd, died, or is held by a Pending.
	defer runtime.KeepAlive(prog)

	// The kernel writes the pidfd through a raw address (clone_args.pidfd)
	// that the garbage collector neither sees nor adjusts, so the slot is
	// in prog, on the heap, where nothing moves. A local here lived on the
	// goroutine stack: when the stack grew before clone3, the kernel wrote
	// into the freed old stack and the pidfd read 0, so Kill signalled fd 0
	// and Wait closed the runner's stdin.
	args := &cloneArgs{
		flags:      cloneFlags | unix.CLONE_PIDFD,
		pidfd:      uint64(uintptr(unsafe.Pointer(&prog.pidfd))),
		exitSignal: uint64(unix.SIGCHLD),
	}
	if s.CgroupFD > 0 {
		args.flags |= unix.CLONE_INTO_CGROUP
		args.cgroup = uint64(s.CgroupFD)
	}

	// ForkLock keeps other goroutines of os/exec from forking while fds
	// are being created; close_range in the child is the real guarantee.
	syscall.ForkLock.Lock()
	pid, errno := cloneChild(prog, args, uintptr(errW))
	syscall.ForkLock.Unlock()
	runtime.KeepAlive(args)
	if errno != 0 {
		return nil, nil, fmt.Errorf("clone3: %w", errno)
	}
	proc := &Process{Pid: int(pid), pidfd: int(prog.pidfd), listener: -1, mntns: -1}

	// The child holds its own copies now.
	unix.Close(syncR)
	unix.Close(placedR)
	unix.Close(errW)
	if goR >= 0 {
		unix.Close(goR)
	}
	for _, fd := range fds.stdio {
		unix.Close(fd)
	}
	if fds.notifyW >= 0 {
		unix.Close(fds.notifyW)
	}
	// The trees stay open until the child has attached them.
	closers = append([]int{syncW, placedW, errR, notifyR, goW}, append(fds.trees, fds.devs...)...)

	fail := func(err error) (*Process, *Pending, error) {
		proc.destroy()
		return nil, nil, err
	}
	if err := writeIDMaps(proc.Pid, j.HostUID, j.HostGID, rootful); err != nil {
		return fail(err)
	}
	// Resource limits are not namespaced: inside its user namespace the
	// child lacks CAP_SYS_RESOURCE over them and cannot raise a hard limit
	// above the runner's (setrlimit(2)). A limit above the runner's own
	// hard limit is therefore set on the child from here, while it waits
	// (prlimit(2)), which takes CAP_SYS_RESOURCE in the initial namespace
	// (CanRaiseRlimits); the child's own prlimit steps then set the same
	// values. A runner without it gets plans clamped to its own hard limits
	// (the runner does that, with a warning), never a failed call.
	for _, r := range j.Rlimits {
		var own unix.Rlimit
		if err := unix.Getrlimit(r.Resource, &own); err != nil || r.Max <= own.Max {
			continue
		}
		lim := &unix.Rlimit{Cur: r.Cur, Max: r.Max}
		if err := unix.Prlimit(proc.Pid, r.Resource, lim, nil); err != nil {
			return fail(fmt.Errorf("raise %s of the jail to %d above the runner's hard limit %d: prlimit: %w (this needs CAP_SYS_RESOURCE in the initial user namespace)",
				rlimitName(r.Resource), r.Max, own.Max, err))
		}
	}
	if s.HoldMounts {
		// The child made its mount namespace at clone and waits at the
		// barrier: the namespace at this path is the jail's.
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", proc.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("hold the jail's mount namespace: %w", err))
		}
		proc.mntns = fd
	}
	if _, err := unix.Write(syncW, []byte{0}); err != nil {
		return fail(fmt.Errorf("release the jail: %w", err))
	}
	// The child builds its root meanwhile, and waits for this second
	// release before it makes its cgroup namespace (docs/design.md, step
	// 20). On cgroup v1 placing it takes an RCU grace period (the write to
	// cgroup.procs takes cgroup_threadgroup_rwsem for writing), 5-18 ms
	// here: done while the child mounts, not before.
	if s.BeforeExec != nil {
		if err := s.BeforeExec(proc.Pid); err != nil {
			return fail(err)
		}
	}
	if _, err := unix.Write(placedW, []byte{0}); err != nil {
		return fail(fmt.Errorf("release the placed jail: %w", err))
	}
	if s.Deferred {
		// Waiting for its command; the pending jail owns the fds now.
		pend := &Pending{proc: proc, prog: prog, goW: goW, errR: errR, notifyR: notifyR, passed: passed, fds: closers}
		closers = nil
		return nil, pend, nil
	}
	proc, err = finish(proc, prog, errR, notifyR, passed, s.Plan.Command.Args[0])
	return proc, nil, err
}

// finish waits for the child's verdict: EOF on the error pipe means
// execve succeeded (the pipe is close-on-exec); a report means a step
// failed, and the child has exited.
func finish(proc *Process, prog *program, errR, notifyR int, passed []passedFD, name string) (*Process, error) {
	// The child may run in this process's memory (cloneChild): prog stays
	// alive until it has exec'd or exited.
	defer runtime.KeepAlive(prog)
	fail := func(err error) (*Process, error) {
		proc.destroy()
		return nil, err
	}
	var rep childReport
	buf := (*[unsafe.Sizeof(rep)]byte)(unsafe.Pointer(&rep))[:]
	n, err := readFull(errR, buf)
	switch {
	case n == 0 && err == nil:
		for _, what := range passed {
			fd, err := recvFD(notifyR, what)
			if err != nil {
				return fail(err)
			}
			switch what {
			case passedPty:
				proc.pty = os.NewFile(uintptr(fd), "pty")
			case passedProxy:
				proc.proxy = os.NewFile(uintptr(fd), "proxy")
			case passedSeccomp:
				proc.listener = fd
			}
		}
		return proc, nil
	case err != nil || n != len(buf):
		return fail(fmt.Errorf("read the jail's setup status: %d bytes, %v", n, err))
	}
	ce := &ChildError{Errno: syscall.Errno(rep.errno)}
	proc.destroy() // it has exited with its report
	if int(rep.index) >= len(prog.steps) || (int(rep.index) == prog.execIndex && prog.deferred != nil && ce.Errno == syscall.ENOENT) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	ce.Step = prog.steps[rep.index].String()
	ce.Syscall = syscallName(prog.ops[rep.index].nr)
	return nil, ce
}

// prepareTree clones the mount tree at host path src as a detached mount
// (open_tree(2) with OPEN_TREE_CLONE) and seals it with attr, recursively
// (mount_setattr(2)). It runs in the runner, with the runner's privileges
// and in the host's mount namespace, so the jail user needs no access to
// the path's parents; the child only attaches the result (move_mount(2)
// accepts a detached tree from any namespace).
//
// src must be free of symlinks: openat2 with RESOLVE_NO_SYMLINKS refuses a
// component that was swapped for a symlink after the caller resolved it,
// rather than binding whatever it now points to (the class of
// CVE-2021-30465).
func prepareTree(src string, attr uint64) (int, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, src, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("bind source %s: openat2(RESOLVE_NO_SYMLINKS): %w", src, err)
	}
	defer unix.Close(fd)
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return -1, fmt.Errorf("bind source %s: open_tree(OPEN_TREE_CLONE): %w", src, err)
	}
	// Private, too: a clone of a shared mount (systemd makes / shared)
	// joins its peer group, and every mount the jail makes on top of it
	// (a deniedPaths mask, say) would propagate back to the host.
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr, Propagation: unix.MS_PRIVATE}); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("bind source %s: mount_setattr(%s): %w", src, mountAttrs(attr), err)
	}
	return tree, nil
}

// passedFD names an fd the child makes and sends to the runner before
// execve, in this order.
type passedFD int

const (
	passedPty     passedFD = iota // the master of the jail's own pty
	passedProxy                   // the egress proxy's listener, in the jail's netns
	passedSeccomp                 // the seccomp user-notification listener
)

func (w passedFD) String() string {
	return [...]string{"the pty master", "the proxy listener", "the seccomp listener"}[w]
}

// passedFDs lists what the child of s sends back, in the order compile
// sends them.
func passedFDs(s *Spec) []passedFD {
	var out []passedFD
	if s.Plan.Command.Pty != nil {
		out = append(out, passedPty)
	}
	if s.Plan.Jail.Network.Mode == plan.NetworkAllowlist {
		out = append(out, passedProxy)
	}
	if s.SeccompNotify {
		out = append(out, passedSeccomp)
	}
	return out
}

// recvFD receives one fd the child sent before execve (SCM_RIGHTS).
func recvFD(sock int, what passedFD) (int, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, flags, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receive %s: %w", what, err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("receive %s: %d bytes, %d of control, flags %#x: no SCM_RIGHTS message (%v)", what, n, oobn, flags, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("receive %s: %v", what, err)
	}
	return fds[0], nil
}

// Listener returns the seccomp listener fd (Spec.SeccompNotify), or -1.
// The caller owns it.
func (p *Process) Listener() int { return p.listener }

// Pty returns the master side of the jail's pty (Plan.Command.Pty), or
// nil: the jail's output is read from it and its input written to it. The
// caller owns it. It belongs to the jail's own devpts instance: nothing of
// the runner's terminal is involved.
func (p *Process) Pty() *os.File { return p.pty }

// ProxyListener returns the listening socket the jail made on loopback in
// its own network namespace (plan.NetworkAllowlist), or nil. The caller
// owns it and serves the egress proxy on it: nothing outside this jail's
// namespace can connect to it.
func (p *Process) ProxyListener() *os.File { return p.proxy }

// readFull reads until buf is full or EOF.
func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// CanRaiseRlimits reports whether this process may raise a jail's
// resource limits above its own hard limits: CAP_SYS_RESOURCE, effective,
// in the initial user namespace (rlimits are checked against that one,
// whatever namespace the jail is in). Root in a container, or in a
// sandbox that dropped the capability, may not.
func CanRaiseRlimits() bool {
	if b, err := os.ReadFile("/proc/self/uid_map"); err != nil || strings.Join(strings.Fields(string(b)), " ") != "0 0 4294967295" {
		return false
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
}

// writeIDMaps maps root of the jail's user namespace to uid:gid on the host.
// An unprivileged runner must deny setgroups first (user_namespaces(7)).
func writeIDMaps(pid, uid, gid int, rootful bool) error {
	dir := fmt.Sprintf("/proc/%d/", pid)
	if !rootful {
		if err := os.WriteFile(dir+"setgroups", []byte("deny"), 0); err != nil {
			return fmt.Errorf("write setgroups: %w", err)
		}
	}
	if err := os.WriteFile(dir+"uid_map", fmt.Appendf(nil, "0 %d 1\n", uid), 0); err != nil {
		return fmt.Errorf("write uid_map (0 -> %d): %w", uid, err)
	}
	if err := os.WriteFile(dir+"gid_map", fmt.Appendf(nil, "0 %d 1\n", gid), 0); err != nil {
		return fmt.Errorf("write gid_map (0 -> %d): %w", gid, err)
	}
	return nil
}

// Kill sends SIGKILL to the jail's init, which takes every process of the
// jail with it. It is safe to call at any time, also after Wait.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return nil
	}
	return unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
}

// Release drops the jail's mount namespace (Spec.HoldMounts): its mounts
// go now, in the caller. Call it once the jail has exited; it is safe to
// call more than once, and a no-op without HoldMounts.
func (p *Process) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mntns >= 0 {
		unix.Close(p.mntns)
		p.mntns = -1
	}
}

// destroy kills, reaps and releases a jail that will not be used.
func (p *Process) destroy() {
	p.Kill()
	p.Wait()
	p.Release()
}

// Wait waits for the jail's init to exit and reaps it.
func (p *Process) Wait() (ExitStatus, error) {
	var ws unix.WaitStatus
	var st ExitStatus
	for {
		_, err := unix.Wait4(p.Pid, &ws, 0, &st.Rusage)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return st, fmt.Errorf("wait4: %w", err)
		}
		break
	}
	p.mu.Lock()
	p.reaped = true
	unix.Close(p.pidfd)
	p.mu.Unlock()
	switch {
	case ws.Exited():
		st.Code = ws.ExitStatus()
	case ws.Signaled():
		st.Code, st.Signal = -1, ws.Signal()
	}
	return st, nil
}
