package jail

import (
	"syscall"
	"unsafe"
	_ "unsafe" // go:linkname

	"golang.org/x/sys/unix"
)

// The runtime's fork hooks, the same ones syscall.forkExec uses: block
// signals and poison the stack guard before clone, restore after. They are
// linknamed by other sandboxes too (gVisor, go-sandbox) and the runtime keeps
// them for that reason (go.dev/issue/67401).
//
//go:linkname beforeFork syscall.runtime_BeforeFork
func beforeFork()

//go:linkname afterFork syscall.runtime_AfterFork
func afterFork()

//go:linkname afterForkInChild syscall.runtime_AfterForkInChild
func afterForkInChild()

// cloneArgs is struct clone_args (linux/sched.h), version 2 (88 bytes).
// The fields this package never sets keep their slots as blanks (the
// kernel reads the layout, not the names): child_tid, parent_tid, then
// tls, set_tid and set_tid_size.
type cloneArgs struct {
	flags      uint64
	pidfd      uint64
	_          [2]uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	_          [3]uint64
	cgroup     uint64
}

// childReport is what a failing child writes on the error pipe: the index
// of the op that failed and its errno. len(ops) means every execve
// candidate returned ENOENT.
type childReport struct {
	index uint32
	errno uint32
}

// forkExec clones the child as a copy of this process (a fork) and, in
// the child, runs p. It returns the child's pid in the parent. It is the
// portable way; cloneChild uses it where no shared-memory clone exists.
//
// Between clone and execve the child is a copy of this process with one
// thread and a poisoned stack guard: it may only make raw system calls on
// memory that already exists (Go's syscall/exec_linux.go has the same
// rule). Everything below the clone therefore uses locals and
// syscall.RawSyscall6 only, and this function must stay norace and small.
//
//go:norace
//go:noinline
//lint:ignore U1000 used where the child does not share memory (clone_other.go: other architectures and sanitizer builds)
func forkExec(p *program, args *cloneArgs, errFD uintptr) (pid uintptr, err syscall.Errno) {
	beforeFork()
	r1, _, e := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(args)), unsafe.Sizeof(*args), 0)
	if e != 0 || r1 != 0 {
		afterFork()
		return r1, e
	}
	// Child: default signal handlers and the mask restored, then the ops.
	afterForkInChild()
	runChild(p, errFD)
	return 0, 0 // not reached
}

// runChild is the child's whole life between clone and execve: it runs
// p.ops top to bottom and, when one fails, reports its index and errno on
// errFD and exits. It never returns.
//
// It may run on a stack of its own in the parent's address space (see
// cloneChild), where nothing of the Go runtime is usable: no allocation,
// no stack growth (hence nosplit, and only nosplit callees:
// syscall.RawSyscall6 and the runtime's raw Syscall6), no write barriers
// (only integers are stored), no race instrumentation.
//
//go:nosplit
//go:norace
//lint:ignore U1000 called from assembly (clone_amd64.s) and by forkExec
func runChild(p *program, errFD uintptr) {
	var (
		r1   uintptr
		e    syscall.Errno
		i    int
		regs [regMask + 1]uintptr
		rep  childReport
		ops  = p.ops
	)
	for i = 0; i < len(ops); i++ {
		o := &ops[i]
		if o.store != nil {
			*o.store = int32(regs[o.args[0]&regMask])
			continue
		}
		a0, a1, a2, a3 := o.args[0], o.args[1], o.args[2], o.args[3]
		if o.regArgs&1 != 0 {
			a0 = regs[a0&regMask]
		}
		if o.regArgs&2 != 0 {
			a1 = regs[a1&regMask]
		}
		if o.regArgs&4 != 0 {
			a2 = regs[a2&regMask]
		}
		r1, _, e = syscall.RawSyscall6(o.nr, a0, a1, a2, a3, o.args[4], o.args[5])
		if e != 0 {
			if e == o.okErrno {
				continue
			}
			goto fail
		}
		if o.want >= 0 && r1 != uintptr(o.want) {
			e = syscall.EPROTO
			goto fail
		}
		if o.save != 0 {
			regs[o.save&regMask] = r1
		}
	}
	// Every execve candidate returned ENOENT.
	e = syscall.ENOENT

fail:
	rep.index = uint32(i)
	rep.errno = uint32(e)
	syscall.RawSyscall(unix.SYS_WRITE, errFD, uintptr(unsafe.Pointer(&rep)), unsafe.Sizeof(rep))
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 125, 0, 0)
	}
}
