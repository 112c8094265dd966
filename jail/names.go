package jail

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// syscallNames name the system calls the child's program makes, for
// ChildError.Syscall: the field that exit codes and HTTP statuses are
// derived from (never the text of the step).
var syscallNames = map[uintptr]string{
	unix.SYS_PRLIMIT64: "prlimit64", unix.SYS_RT_SIGACTION: "rt_sigaction", unix.SYS_RT_SIGPROCMASK: "rt_sigprocmask",
	unix.SYS_DUP3: "dup3", unix.SYS_CLOSE_RANGE: "close_range", unix.SYS_READ: "read", unix.SYS_SETGROUPS: "setgroups",
	unix.SYS_SETRESGID: "setresgid", unix.SYS_SETRESUID: "setresuid", unix.SYS_PRCTL: "prctl", unix.SYS_PPOLL: "ppoll",
	unix.SYS_CLOSE: "close", unix.SYS_SETSID: "setsid", unix.SYS_UNSHARE: "unshare", unix.SYS_SETHOSTNAME: "sethostname",
	unix.SYS_UMASK: "umask", unix.SYS_MOUNT: "mount", unix.SYS_MKDIRAT: "mkdirat", unix.SYS_PIVOT_ROOT: "pivot_root",
	unix.SYS_CHDIR: "chdir", unix.SYS_OPENAT: "openat", unix.SYS_OPENAT2: "openat2", unix.SYS_OPEN_TREE: "open_tree",
	unix.SYS_MOUNT_SETATTR: "mount_setattr", unix.SYS_MOVE_MOUNT: "move_mount", unix.SYS_WRITE: "write",
	unix.SYS_SYMLINKAT: "symlinkat", unix.SYS_UMOUNT2: "umount2", unix.SYS_UNLINKAT: "unlinkat", unix.SYS_SOCKET: "socket",
	unix.SYS_IOCTL: "ioctl", unix.SYS_BIND: "bind", unix.SYS_LISTEN: "listen", unix.SYS_SENDMSG: "sendmsg",
	unix.SYS_CAPSET: "capset", unix.SYS_SECCOMP: "seccomp", unix.SYS_EXECVE: "execve",
}

func syscallName(nr uintptr) string {
	if n, ok := syscallNames[nr]; ok {
		return n
	}
	return "syscall " + strconv.Itoa(int(nr))
}

// rlimitName names a setrlimit(2) resource in messages.
func rlimitName(r int) string {
	switch r {
	case unix.RLIMIT_CORE:
		return "RLIMIT_CORE"
	case unix.RLIMIT_NOFILE:
		return "RLIMIT_NOFILE"
	case unix.RLIMIT_FSIZE:
		return "RLIMIT_FSIZE"
	case unix.RLIMIT_NPROC:
		return "RLIMIT_NPROC"
	case unix.RLIMIT_AS:
		return "RLIMIT_AS"
	case unix.RLIMIT_STACK:
		return "RLIMIT_STACK"
	case unix.RLIMIT_CPU:
		return "RLIMIT_CPU"
	}
	return "resource " + strconv.Itoa(r)
}
