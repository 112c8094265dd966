package jail

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/openclaw-run/openclaw-run/plan"
	"golang.org/x/sys/unix"
)

// op is one raw system call the child makes. Arguments are plain words; a
// pointer argument points at memory the parent prepared and keeps alive.
type op struct {
	nr   uintptr
	args [6]uintptr
	// regArgs: bit i set means args[i] is a register number and the value
	// of that register is passed instead (an fd saved by an earlier op).
	regArgs uint8
	// save stores the call's result in this register (0: not saved).
	save uint8
	// okErrno is not a failure for this op (EEXIST for mkdir, ENOENT for an
	// optional mask or a PATH candidate).
	okErrno syscall.Errno
	// want, when >= 0, is the only acceptable result.
	want int
	// store, when set, makes this op no system call at all: the value of
	// register args[0] is written to *store (the listener fd into the
	// SCM_RIGHTS message that carries it to the parent).
	store *int32
}

// program is a compiled Spec: the ops in order, a description of each for
// error messages, and everything the ops point at.
type program struct {
	ops   []op
	steps []step
	keep  []any
	// deferred: the buffer the child reads its command into, at the same
	// address in the child (which shares this process's memory or is a
	// copy of it), and the index of the execve op.
	deferred  []byte
	execIndex int
	// stack is the child's stack when it shares this process's memory
	// (cloneChild).
	stack []byte
	// pidfd is where clone3 writes the child's pidfd (CLONE_PIDFD).
	pidfd int32
}

// Register numbers (0 means "none"); runChild keeps regMask+1 of them.
const (
	regFile = 1
	regSock = 2
	regTree = 3
	regPty  = 4
	regPeer = 5
	regMask = 7
)

// oldRoot is where the host root stays visible during setup; it is detached
// before anything of the jail's own runs.
const oldRoot = "/.oldroot"

// step describes an op for error messages. It is formatted only when the
// op fails: a jail has a few hundred ops, and building their descriptions
// eagerly cost half a millisecond per call.
type step struct {
	format string
	args   []any
}

func stepf(format string, args ...any) step { return step{format, args} }

func (s step) String() string {
	if len(s.args) == 0 {
		return s.format
	}
	return fmt.Sprintf(s.format, s.args...)
}

func (p *program) add(s step, nr uintptr, args ...uintptr) *op {
	o := op{nr: nr, want: -1}
	copy(o.args[:], args)
	p.ops = append(p.ops, o)
	p.steps = append(p.steps, s)
	return &p.ops[len(p.ops)-1]
}

// str returns a pointer to a NUL-terminated copy of s that lives as long as p.
func (p *program) str(s string) uintptr {
	b, err := syscall.ByteSliceFromString(s)
	if err != nil {
		panic(err) // validate rejects NUL bytes before compile
	}
	p.keep = append(p.keep, b)
	return uintptr(unsafe.Pointer(&b[0]))
}

// ptr keeps v alive and returns its address.
func (p *program) ptr(v any, addr unsafe.Pointer) uintptr {
	p.keep = append(p.keep, v)
	return uintptr(addr)
}

// strv builds a NULL-terminated array of C strings.
func (p *program) strv(ss []string) uintptr {
	v := make([]uintptr, len(ss)+1)
	for i, s := range ss {
		v[i] = p.str(s)
	}
	return p.ptr(v, unsafe.Pointer(&v[0]))
}

func (p *program) mkdir(dir string, mode uint32) {
	p.add(stepf("mkdir %s", dir), unix.SYS_MKDIRAT, atFDCWD, p.str(dir), uintptr(mode)).okErrno = syscall.EEXIST
}

func (p *program) mount(src, target, fstype string, flags uintptr, data string) *op {
	st := stepf("mount(%q, %q, %q, %s, %q)", src, target, fstype, mountFlags(flags), data)
	var s, f, d uintptr
	if src != "" {
		s = p.str(src)
	}
	if fstype != "" {
		f = p.str(fstype)
	}
	if data != "" {
		d = p.str(data)
	}
	return p.add(st, unix.SYS_MOUNT, s, p.str(target), f, flags, d)
}

// setattr applies mount attributes (ro, nosuid, nodev, noexec) to the mount
// at target, recursively when rec. mount_setattr(2) with AT_RECURSIVE covers
// submounts too, which a MS_REMOUNT|MS_BIND remount would miss.
func (p *program) setattr(target string, attr uint64, rec bool) {
	a := &unix.MountAttr{Attr_set: attr}
	flags := uintptr(unix.AT_SYMLINK_NOFOLLOW)
	if rec {
		flags |= unix.AT_RECURSIVE
	}
	p.add(stepf("mount_setattr(%q, %s)", target, mountAttrs(attr)), unix.SYS_MOUNT_SETATTR,
		atFDCWD, p.str(target), flags, p.ptr(a, unsafe.Pointer(a)), unsafe.Sizeof(*a))
}

// attach moves a detached mount tree prepared by the parent (see
// prepareTree) onto target. The tree was cloned and sealed on the host side,
// so it is never visible in the jail with fewer attributes than asked.
func (p *program) attach(tree int, src, target string) {
	p.add(stepf("move_mount(%s -> %s)", src, target), unix.SYS_MOVE_MOUNT,
		uintptr(tree), p.str(""), atFDCWD, p.str(target), unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// bindInChild is attach's counterpart for an unprivileged runner, which
// may not clone mounts of the host's namespace: the child, which owns its
// own mount namespace, opens the source below oldRoot (RESOLVE_NO_SYMLINKS,
// as prepareTree does), clones it detached, seals it, and attaches it.
func (p *program) bindInChild(src, target string, attr uint64) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	p.add(stepf("openat2(%q, RESOLVE_NO_SYMLINKS)", src), unix.SYS_OPENAT2,
		atFDCWD, p.str(oldRoot+src), p.ptr(how, unsafe.Pointer(how)), unsafe.Sizeof(*how)).save = regFile
	empty := p.str("")
	o := p.add(stepf("open_tree(%q, OPEN_TREE_CLONE|AT_RECURSIVE)", src), unix.SYS_OPEN_TREE,
		regFile, empty, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	o.regArgs, o.save = 1, regTree
	a := &unix.MountAttr{Attr_set: attr, Propagation: unix.MS_PRIVATE} // see prepareTree
	o = p.add(stepf("mount_setattr(%q, %s)", src, mountAttrs(attr)), unix.SYS_MOUNT_SETATTR,
		regTree, empty, unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, p.ptr(a, unsafe.Pointer(a)), unsafe.Sizeof(*a))
	o.regArgs = 1
	o = p.add(stepf("move_mount(%s -> %s)", src, target), unix.SYS_MOVE_MOUNT,
		regTree, empty, atFDCWD, p.str(target), unix.MOVE_MOUNT_F_EMPTY_PATH)
	o.regArgs = 1
	p.add(stepf("close"), unix.SYS_CLOSE, regTree).regArgs = 1
	p.add(stepf("close"), unix.SYS_CLOSE, regFile).regArgs = 1
}

// sendFD sends the fd in register reg to the parent with SCM_RIGHTS, as
// one message on sock (see passedFDs for the order).
func (p *program) sendFD(reg uint8, sock int, what passedFD) {
	oob := unix.UnixRights(0)
	slot := (*int32)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
	p.keep = append(p.keep, oob)
	p.ops = append(p.ops, op{args: [6]uintptr{uintptr(reg)}, store: slot, want: -1})
	p.steps = append(p.steps, stepf("store %s", what))
	data := new([1]byte)
	iov := &unix.Iovec{Base: &data[0], Len: 1}
	msg := &unix.Msghdr{Iov: iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	p.keep = append(p.keep, data, iov)
	p.add(stepf("sendmsg(%s)", what), unix.SYS_SENDMSG, uintptr(sock), p.ptr(msg, unsafe.Pointer(msg)), 0).want = 1
}

// createFile makes an empty (or filled) regular file in the jail's root.
func (p *program) createFile(name string, data []byte, mode uint32) {
	p.add(stepf("create %s", name), unix.SYS_OPENAT, atFDCWD, p.str(name),
		unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, uintptr(mode)).save = regFile
	if len(data) > 0 {
		o := p.add(stepf("write %s", name), unix.SYS_WRITE, regFile, p.ptr(data, unsafe.Pointer(&data[0])), uintptr(len(data)))
		o.regArgs, o.want = 1, len(data)
	}
	p.add(stepf("close %s", name), unix.SYS_CLOSE, regFile).regArgs = 1
}

const atFDCWD = uintptr(0xffffffffffffff9c) // AT_FDCWD (-100) as a word

// bindAttrs are the mount attributes of a bind: nosuid and nodev always,
// read-only unless writable.
func bindAttrs(b plan.Bind) uint64 {
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if !b.Writable {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	return attr
}

// devAttrs: device binds keep their device nodes usable, so no nodev.
const devAttrs = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC

// devices are bound from the host into the jail's /dev (plan.Devices).
var devices = plan.Devices

var lastCap = sync.OnceValues(func() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("read cap_last_cap: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
})

// fds the parent hands to the compiler: the child's ends of the pipes and
// the three stdio fds, all >= 3 so that dup3 onto 0..2 cannot collide.
type childFDs struct {
	syncR, syncW, errW int
	// placedR is read once the runner has placed the child in its cgroup
	// (the second barrier).
	placedR int
	// notifyW is the child's end of the socket that carries the seccomp
	// listener to the parent (-1: no listener).
	notifyW int
	stdio   [3]int
	// goR is where a deferred jail reads its command (-1: not deferred).
	goR int
	// trees[i] is the detached mount of Spec.Binds[i]; devs[i] of devices[i].
	trees, devs []int
}

// compile turns a validated Spec into the child's program. Reading this
// function top to bottom is reading the jail's setup order.
func compile(s *Spec, fds childFDs, rootful bool) (*program, error) {
	capLast, err := lastCap()
	if err != nil {
		return nil, err
	}
	j, c := &s.Plan.Jail, &s.Plan.Command
	// A jail's program is about 330 ops: room for them at once, instead
	// of the slices' regrowth (garbage on every call of a warm gateway).
	p := &program{ops: make([]op, 0, 400), steps: make([]step, 0, 400), keep: make([]any, 0, 400)}
	one := new([1]byte)
	bufp := p.ptr(one, unsafe.Pointer(one))

	// 1. No core dump, from the first instruction on: until execve the
	// child's memory is the runner's (shared on amd64, a copy elsewhere),
	// with the gateway token and secrets in it. The jail's own rlimits
	// (below) keep core at 0 for the command too.
	noCore := &unix.Rlimit{}
	p.add(stepf("prlimit(RLIMIT_CORE, 0)"), unix.SYS_PRLIMIT64, 0, unix.RLIMIT_CORE, p.ptr(noCore, unsafe.Pointer(noCore)), 0)

	// 2. Signals: every disposition back to the default, then nothing
	// blocked. The child starts with every signal blocked (the runner
	// blocks them around clone) and with the runner's handlers, which must
	// never run in it: on amd64 it shares the runner's memory. Ignored
	// signals are reset too, so a jailed program never inherits the
	// runner's dispositions (execve(2) keeps SIG_IGN).
	dfl := new([4]uint64) // struct sigaction: SIG_DFL, no flags, empty mask
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		p.add(stepf("rt_sigaction(%d, SIG_DFL)", sig), unix.SYS_RT_SIGACTION, uintptr(sig), p.ptr(dfl, unsafe.Pointer(dfl)), 0, 8)
	}
	empty := new(uint64)
	p.add(stepf("rt_sigprocmask(SIG_SETMASK, {})"), unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, p.ptr(empty, unsafe.Pointer(empty)), 0, 8)

	// 3. Stdio: the jail's own stdio onto 0, 1 and 2 first: whatever the runner
	// had there (its stdin, its log; or, had one of them been closed, a
	// reused number that is now another call's pipe) must not stay open in
	// a jail that waits for its command for a minute.
	for i, fd := range fds.stdio {
		p.add(stepf("dup3(%d, %d)", fd, i), unix.SYS_DUP3, uintptr(fd), uintptr(i), 0)
	}

	// 4. Close every other fd this jail does not need. The child's fd
	// table is a copy of the runner's and holds whatever the runner had
	// open when it was cloned: other calls' pipes, the audit log (and its flock), the sync
	// pipes of jails forked at the same time. Held for the whole setup,
	// they would keep those calls from seeing EOF, keep the audit lock
	// taken, and keep two jails forked together waiting for each other's
	// barrier after their runner died. (close-on-exec drops them only at
	// execve; a pre-warmed jail execs much later.)
	keep := []int{fds.syncR, fds.placedR, fds.errW, fds.notifyW, fds.goR}
	keep = append(append(keep, fds.trees...), fds.devs...)
	p.closeAllBut(keep)

	// 5. Barrier: wait until the parent has written the id maps (and set
	// any resource limit above its own). EOF means the parent is gone:
	// stop. Its cgroup placement follows while this child builds its root
	// (step 20).
	p.add(stepf("wait for the runner (id maps)"), unix.SYS_READ, uintptr(fds.syncR), bufp, 1).want = 1

	// 6. Become root of the new user namespace. Supplementary groups are
	// inherited from the runner (root's group 0 among them) and are checked
	// by their host ids on host files, so they go first. Unprivileged
	// runners cannot drop them (setgroups is denied, user_namespaces(7)).
	if rootful {
		p.add(stepf("setgroups(0)"), unix.SYS_SETGROUPS, 0, 0)
	}
	p.add(stepf("setresgid(0)"), unix.SYS_SETRESGID, 0, 0, 0)
	p.add(stepf("setresuid(0)"), unix.SYS_SETRESUID, 0, 0, 0)

	// 7. Die with the runner. PR_SET_PDEATHSIG is cleared by credential
	// changes (prctl(2)), so it is armed after them; then the sync pipe is
	// polled once: a hangup means the runner died before it was armed.
	p.add(stepf("prctl(PR_SET_PDEATHSIG, SIGKILL)"), unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL))
	// ppoll with a zero timeout (poll(2) does not exist on arm64).
	pfd := &unix.PollFd{Fd: int32(fds.syncR), Events: unix.POLLIN}
	now := &unix.Timespec{}
	p.add(stepf("check that the runner is alive"), unix.SYS_PPOLL, p.ptr(pfd, unsafe.Pointer(pfd)), 1,
		p.ptr(now, unsafe.Pointer(now)), 0, 0).want = 0
	p.add(stepf("close sync read end"), unix.SYS_CLOSE, uintptr(fds.syncR))

	// 8. A new session: no controlling terminal, so TIOCSTI cannot push
	// keystrokes into the runner's terminal (CVE-2017-5226).
	p.add(stepf("setsid"), unix.SYS_SETSID)
	p.add(stepf("sethostname"), unix.SYS_SETHOSTNAME, p.str(j.Hostname), uintptr(len(j.Hostname)))
	p.add(stepf("umask(022)"), unix.SYS_UMASK, 0o22)

	// 9. A new root: a tmpfs, with the host root kept at oldRoot only
	// while the binds are made. Nothing propagates back to the host.
	p.mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
	p.mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=8m")
	p.mkdir("/tmp"+oldRoot, 0o700)
	p.add(stepf("pivot_root(/tmp, /tmp%s)", oldRoot), unix.SYS_PIVOT_ROOT, p.str("/tmp"), p.str("/tmp"+oldRoot))
	p.add(stepf("chdir /"), unix.SYS_CHDIR, p.str("/"))

	// 10. Directories for every bind, file and link, parents first.
	extra := []string{"/dev", "/proc", "/tmp"}
	if c.Dir != "" {
		extra = append(extra, c.Dir) // a pre-warmed jail's default directory
	}
	dirs, fileTargets := plan.MountPoints(j, extra...)
	for _, d := range dirs {
		p.mkdir(d, 0o755)
	}

	// 11. Binds: read-only unless writable; nosuid and nodev always (the
	// attributes were set on the detached trees).
	for i, b := range j.Binds {
		if fileTargets[b.Target] {
			p.createFile(b.Target, nil, 0o444)
		}
		if rootful {
			p.attach(fds.trees[i], b.Source, b.Target)
		} else {
			p.bindInChild(b.Source, b.Target, bindAttrs(b))
		}
	}

	// 12. A minimal /dev: a few host character devices (the device nodes
	// must stay usable, so these binds alone are not nodev), a private
	// devpts instance for later pty support, and a bounded /dev/shm.
	p.mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k")
	for i, d := range devices {
		p.createFile("/dev/"+d, nil, 0o666)
		if rootful {
			p.attach(fds.devs[i], "/dev/"+d, "/dev/"+d)
		} else {
			p.bindInChild("/dev/"+d, "/dev/"+d, devAttrs)
		}
	}
	p.mkdir("/dev/pts", 0o755)
	p.mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
	p.mkdir("/dev/shm", 0o1777)
	p.mount("tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
		fmt.Sprintf("mode=1777,size=%d", j.TmpSize))
	for _, l := range plan.DevSymlinks {
		p.add(stepf("symlink %s", l.Path), unix.SYS_SYMLINKAT, p.str(l.Target), atFDCWD, p.str(l.Path))
	}
	p.setattr("/dev", unix.MOUNT_ATTR_RDONLY, false)

	// 13. The call's own pty, from the jail's devpts instance: its slave
	// becomes stdin, stdout, stderr and the controlling terminal (after
	// setsid in 4, so TIOCSCTTY takes it), its master goes to the runner.
	// TIOCGPTPEER opens the slave from the master without a path lookup
	// (ioctl_tty(2), Linux 4.13), so no other pty can be substituted.
	if t := c.Pty; t != nil {
		zero := new(int32)
		ws := &unix.Winsize{Row: t.Rows, Col: t.Cols}
		p.add(stepf("open /dev/pts/ptmx"), unix.SYS_OPENAT, atFDCWD, p.str("/dev/pts/ptmx"),
			unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0).save = regPty
		o := p.add(stepf("ioctl(ptmx, TIOCSPTLCK, 0)"), unix.SYS_IOCTL, regPty, unix.TIOCSPTLCK, p.ptr(zero, unsafe.Pointer(zero)))
		o.regArgs = 1
		o = p.add(stepf("ioctl(ptmx, TIOCSWINSZ, %dx%d)", t.Cols, t.Rows), unix.SYS_IOCTL, regPty, unix.TIOCSWINSZ, p.ptr(ws, unsafe.Pointer(ws)))
		o.regArgs = 1
		o = p.add(stepf("ioctl(ptmx, TIOCGPTPEER)"), unix.SYS_IOCTL, regPty, unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY)
		o.regArgs, o.save = 1, regPeer
		for i := 0; i < 3; i++ {
			o = p.add(stepf("dup3(pty, %d)", i), unix.SYS_DUP3, regPeer, uintptr(i), 0)
			o.regArgs = 1
		}
		p.add(stepf("ioctl(0, TIOCSCTTY)"), unix.SYS_IOCTL, 0, unix.TIOCSCTTY, 0)
		p.add(stepf("close pty slave"), unix.SYS_CLOSE, regPeer).regArgs = 1
		p.sendFD(regPty, fds.notifyW, passedPty)
		p.add(stepf("close pty master"), unix.SYS_CLOSE, regPty).regArgs = 1
	}

	// 14. Pins: every directory between a writable bind and a masked path
	// below it becomes a mount point (bound onto itself, recursively, so
	// nothing mounted below it is hidden), which rename(2), rmdir(2) and
	// unlink(2) refuse with EBUSY in this mount namespace. A call can
	// therefore not move a denied path away from the name the next call's
	// plan masks. Pins come before the masks: a bind of an ancestor made
	// after a mask would copy the tree from before it.
	for _, d := range j.Pins {
		p.mount(d, d, "", unix.MS_BIND|unix.MS_REC, "")
		p.setattr(d, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
	}

	// 15. Masks over denied paths below the binds: they exist (the runner
	// found them on the host), so nothing needs creating.
	for _, m := range j.Masks {
		if m.Dir {
			p.mount("tmpfs", m.Path, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=000")
		} else {
			p.mount("/dev/null", m.Path, "", unix.MS_BIND, "")
		}
	}

	// 16. /proc of the new pid namespace, with the host-revealing and
	// writable parts masked (see maskedFiles).
	p.mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	for _, f := range plan.MaskedProcFiles {
		p.mount("/dev/null", f, "", unix.MS_BIND, "").okErrno = syscall.ENOENT
	}
	for _, d := range plan.MaskedProcDirs {
		p.mount("tmpfs", d, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0").okErrno = syscall.ENOENT
	}
	for _, d := range plan.ReadonlyProcPaths {
		p.mount(d, d, "", unix.MS_BIND|unix.MS_REC, "").okErrno = syscall.ENOENT
		p.setattr(d, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true)
	}

	// 17. A bounded, private /tmp.
	p.mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=1777,size=%d", j.TmpSize))

	// 18. Synthesized files and links (the jail's /etc).
	for _, f := range j.Files {
		p.createFile(f.Path, f.Data, f.Mode)
	}
	for _, l := range j.Symlinks {
		p.add(stepf("symlink %s", l.Path), unix.SYS_SYMLINKAT, p.str(l.Target), atFDCWD, p.str(l.Path))
	}

	// 19. Forget the host: detach the old root, seal the root tmpfs.
	p.add(stepf("umount2(%s, MNT_DETACH)", oldRoot), unix.SYS_UMOUNT2, p.str(oldRoot), unix.MNT_DETACH)
	p.add(stepf("rmdir %s", oldRoot), unix.SYS_UNLINKAT, atFDCWD, p.str(oldRoot), unix.AT_REMOVEDIR)
	p.setattr("/", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false)

	// 20. Placed: wait until the runner has placed us in our cgroup (EOF:
	// it is gone, stop), then make the cgroup namespace, whose root is
	// the cgroup we are in: the jail's, not the runner's. Everything from
	// here on (the sockets below, the command) is accounted to it. The
	// steps before made mounts only, whose memory is the runner's to
	// account.
	p.add(stepf("wait for the runner (cgroup)"), unix.SYS_READ, uintptr(fds.placedR), bufp, 1).want = 1
	p.add(stepf("close placed read end"), unix.SYS_CLOSE, uintptr(fds.placedR))
	p.add(stepf("unshare(CLONE_NEWCGROUP)"), unix.SYS_UNSHARE, unix.CLONE_NEWCGROUP)

	// 21. Loopback up in the empty network namespace (it starts down), so
	// that servers and tests inside the jail can use 127.0.0.1. No other
	// interface exists.
	ifr := new([40]byte)
	copy(ifr[:], "lo")
	*(*uint16)(unsafe.Pointer(&ifr[16])) = unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING
	p.add(stepf("socket(AF_INET)"), unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0).save = regSock
	o := p.add(stepf("ioctl(lo, SIOCSIFFLAGS, IFF_UP)"), unix.SYS_IOCTL, regSock, unix.SIOCSIFFLAGS, p.ptr(ifr, unsafe.Pointer(ifr)))
	o.regArgs = 1
	p.add(stepf("close"), unix.SYS_CLOSE, regSock).regArgs = 1

	// 22. The egress proxy's listener (plan.NetworkAllowlist), made here,
	// inside the jail's own network namespace, on loopback: the runner
	// serves the call's allowlist through it, and no process outside this
	// namespace can reach it (a listener the runner made would be in the
	// host's namespace, where the jail cannot go and everyone else can).
	if n := j.Network; n.Mode == plan.NetworkAllowlist {
		sa := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
		sa.Port = uint16(n.ProxyPort>>8) | uint16(n.ProxyPort&0xff)<<8 // network byte order
		p.add(stepf("socket(AF_INET, SOCK_STREAM)"), unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0).save = regSock
		o = p.add(stepf("bind(127.0.0.1:%d)", n.ProxyPort), unix.SYS_BIND, regSock, p.ptr(sa, unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
		o.regArgs = 1
		o = p.add(stepf("listen(127.0.0.1:%d)", n.ProxyPort), unix.SYS_LISTEN, regSock, 512)
		o.regArgs = 1
		p.sendFD(regSock, fds.notifyW, passedProxy)
		p.add(stepf("close"), unix.SYS_CLOSE, regSock).regArgs = 1
	}

	// 23. The bind trees are attached: close them too, so that a
	// pre-warmed jail holds only what its command needs.
	p.closeAllBut([]int{fds.errW, fds.notifyW, fds.goR})

	// 24. Resource limits (stdio is in place since 0b). This step and the
	// next three are the same for every call of the jail's plan, so a
	// pre-warmed jail takes them before it waits (step 28): its command
	// then meets a filter that is already loaded (loading it, its JIT and
	// the kernel's per-syscall cache, was a third of a warm call's hand-off).
	for _, r := range j.Rlimits {
		lim := &unix.Rlimit{Cur: r.Cur, Max: r.Max}
		p.add(stepf("prlimit(%s, %d, %d)", rlimitName(r.Resource), r.Cur, r.Max), unix.SYS_PRLIMIT64,
			0, uintptr(r.Resource), p.ptr(lim, unsafe.Pointer(lim)), 0)
	}

	// 25. Privileges: no_new_privs, then every capability set emptied.
	// With the bounding set empty and SECBIT_NOROOT locked, execve as uid 0
	// of the namespace regains nothing (capabilities(7)).
	p.add(stepf("prctl(PR_SET_NO_NEW_PRIVS)"), unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	for c := 0; c <= capLast; c++ {
		p.add(stepf("prctl(PR_CAPBSET_DROP, %d)", c), unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c))
	}
	p.add(stepf("prctl(PR_CAP_AMBIENT_CLEAR_ALL)"), unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	const secbits = 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<5 | 1<<6 | 1<<7 // NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE, each locked
	p.add(stepf("prctl(PR_SET_SECUREBITS)"), unix.SYS_PRCTL, unix.PR_SET_SECUREBITS, secbits)
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := new([2]unix.CapUserData)
	p.add(stepf("capset(0)"), unix.SYS_CAPSET, p.ptr(hdr, unsafe.Pointer(hdr)), p.ptr(data, unsafe.Pointer(data)))

	// 26. Only 0, 1 and 2 cross execve (CVE-2024-21626 was a leaked fd).
	p.add(stepf("close_range(3, ~0, CLOSE_RANGE_CLOEXEC)"), unix.SYS_CLOSE_RANGE, 3, ^uintptr(0), unix.CLOSE_RANGE_CLOEXEC)

	// 27. Seccomp, after every step that needs a call the filter refuses.
	// What follows it is read (the command of a deferred jail), chdir,
	// write (an error report) and execve, which every exec tier allows
	// (seccomp.TestChildTailAllowed). With a listener, the filter's
	// notified calls wait for the runner's answer; the listener fd goes to
	// the runner over a socket (SCM_RIGHTS) and is close-on-exec here.
	if !s.unfiltered {
		f := append([]unix.SockFilter(nil), s.Seccomp...)
		prog := &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
		p.keep = append(p.keep, f)
		flags := uintptr(0)
		if s.SeccompNotify {
			flags = unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		}
		o := p.add(stepf("seccomp(SECCOMP_SET_MODE_FILTER, %d instructions)", len(f)), unix.SYS_SECCOMP,
			unix.SECCOMP_SET_MODE_FILTER, flags, p.ptr(prog, unsafe.Pointer(prog)))
		if s.SeccompNotify {
			o.save = regFile
			p.sendFD(regFile, fds.notifyW, passedSeccomp)
		}
	}

	// 28. A deferred jail waits here, fully built and filtered, for its
	// command: the runner writes a block laid out for this buffer's
	// address (see deferredBlock). Everything after this point is per call.
	dir, dirStep := p.str(c.Dir), stepf("chdir %s", c.Dir)
	if s.Deferred {
		p.deferred = *deferredBufs.Get().(*[]byte)
		base := p.ptr(p.deferred, unsafe.Pointer(&p.deferred[0]))
		p.add(stepf("wait for the command"), unix.SYS_READ, uintptr(fds.goR), base, deferredSize)
		dir, dirStep = base+dirOff, stepf("chdir to the call's working directory")
	}

	// 29. The call's working directory.
	p.add(dirStep, unix.SYS_CHDIR, dir)

	// 30. execve, trying each PATH entry for a bare name like execvp(3). A
	// deferred jail execs the absolute path of its block.
	p.execIndex = len(p.ops)
	if s.Deferred {
		base := uintptr(unsafe.Pointer(&p.deferred[0]))
		p.add(stepf("execve"), unix.SYS_EXECVE, base+pathOff, base+argvOff, base+envOff)
		return p, nil
	}
	argv, envp := p.strv(c.Args), p.strv(c.Env)
	cands := candidates(c.Args[0], c.Env)
	if c.Path != "" {
		cands = []string{c.Path}
	}
	for _, c := range cands {
		p.add(stepf("execve %s", c), unix.SYS_EXECVE, p.str(c), argv, envp).okErrno = syscall.ENOENT
	}
	return p, nil
}

// closeAllBut closes every fd from 3 up except keep (negative entries are
// ignored), with one close_range per gap.
func (p *program) closeAllBut(keep []int) {
	var ks []int
	for _, fd := range keep {
		if fd >= 3 {
			ks = append(ks, fd)
		}
	}
	sort.Ints(ks)
	from := uintptr(3)
	for _, fd := range ks {
		if uintptr(fd) > from {
			p.add(stepf("close_range(%d, %d)", from, fd-1), unix.SYS_CLOSE_RANGE, from, uintptr(fd-1), 0)
		}
		if uintptr(fd) >= from {
			from = uintptr(fd) + 1
		}
	}
	p.add(stepf("close_range(%d, ~0)", from), unix.SYS_CLOSE_RANGE, from, ^uintptr(0), 0)
}

// candidates lists the paths execve tries for name.
func candidates(name string, env []string) []string {
	if strings.Contains(name, "/") {
		return []string{name}
	}
	pathVar := "/usr/local/bin:/usr/bin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathVar = v
		}
	}
	var out []string
	for _, d := range strings.Split(pathVar, ":") {
		if path.IsAbs(d) {
			out = append(out, path.Join(d, name))
		}
	}
	return out
}

// mountFlags and mountAttrs print themselves only when a step is formatted.
type mountFlags uintptr

type mountAttrs uint64

type bitName struct {
	bit  uint64
	name string
}

var (
	flagNames = []bitName{{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
		{unix.MS_BIND, "bind"}, {unix.MS_REC, "rec"}, {unix.MS_PRIVATE, "private"}}
	attrNames = []bitName{{unix.MOUNT_ATTR_RDONLY, "ro"}, {unix.MOUNT_ATTR_NOSUID, "nosuid"},
		{unix.MOUNT_ATTR_NODEV, "nodev"}, {unix.MOUNT_ATTR_NOEXEC, "noexec"}}
)

func (m mountFlags) String() string { return bitNames(uint64(m), flagNames) }

func (m mountAttrs) String() string { return bitNames(uint64(m), attrNames) }

func bitNames(v uint64, names []bitName) string {
	var out []string
	for _, n := range names {
		if v&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, "|")
}
