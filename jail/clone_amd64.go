//go:build !race && !msan && !asan

package jail

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On amd64 the child is cloned with CLONE_VM onto a stack of its own (see
// cloneChild) instead of forked. Not in race, msan or asan builds: the
// compiler-generated ABI0 wrapper that the trampoline calls gains calls
// into the sanitizer's runtime there (racefuncenter), which in the child
// would run on the parent's goroutine state in shared memory and corrupt
// it. Those builds fork (clone_other.go). internal/deptest's
// TestChildCodeCallsOnlyRawSyscalls checks the shipped build's call graph.

// childStack is the size of the child's stack. runChild and its nosplit
// callees need a few hundred bytes (the linker bounds a nosplit chain at
// 800); signals stay blocked until the handlers are reset, so no signal
// frame lands on it before execve.
const childStack = 16 << 10

// rawClone3 is clone3(2) whose child starts on clone_args.stack and calls
// runChild(p, errFD) there, never returning. In the parent it returns the
// child's pid, or the errno. See clone_amd64.s.
func rawClone3(args *cloneArgs, size uintptr, p *program, errFD uintptr) (pid uintptr, errno uintptr)

// cloneChild starts the child that runs p. The child shares this
// process's memory (CLONE_VM) and runs on p.stack, so nothing is copied:
// a fork of a gateway with a 30 MB heap copied its page tables, and every
// page the gateway then wrote while a pre-warmed child still shared it
// cost a copy-on-write fault and a TLB shootdown on every CPU (about half
// of the gateway's CPU per call, measured with perf). Unlike vfork the
// parent goes on at once, so the barrier protocol (id maps, cgroup) is
// the same as a fork's.
//
// The price is that the child reads p where it lies: the caller keeps p
// alive and unchanged until the child has exec'd or died (finish and
// Pending hold it), and the child writes only to p.stack and to buffers p
// set aside for it. Signals are blocked on this thread around the clone,
// so the child starts with every signal blocked and never runs the
// runtime's handlers on shared memory; its first ops reset every
// disposition and then unblock (see compile). The runtime's
// afterForkInChild is not called: it writes a global on the assumption
// that the parent is suspended, as it is under vfork.
//
// A side effect: when the child changes its uid (setresuid in compile),
// the kernel marks the shared mm non-dumpable (commit_creds), so a root
// runner stops being dumpable after its first jail, which a process that
// holds the gateway token should not be anyway.
func cloneChild(p *program, args *cloneArgs, errFD uintptr) (uintptr, syscall.Errno) {
	p.stack = make([]byte, childStack)
	args.flags |= unix.CLONE_VM
	args.stack = uint64(uintptr(unsafe.Pointer(&p.stack[0])))
	args.stackSize = childStack
	beforeFork()
	pid, errno := rawClone3(args, unsafe.Sizeof(*args), p, errFD)
	afterFork()
	return pid, syscall.Errno(errno)
}
