package seccomp

import (
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// Action is what the filter does with a matching system call.
type Action int

const (
	// Allow lets the call through.
	Allow Action = iota
	// Deny fails the call with EPERM. Deny rules are the "known dangerous"
	// set: in a tier with Notify, each attempt goes to the runner first
	// (SECCOMP_RET_USER_NOTIF), which records it in the call's
	// blockedSyscalls and answers EPERM.
	Deny
	// NoSys fails the call with ENOSYS, as if the kernel did not have it,
	// so that libc and language runtimes fall back to an older call.
	NoSys
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Deny:
		return "EPERM"
	case NoSys:
		return "ENOSYS"
	}
	return "?"
}

// Cond narrows a rule to calls whose argument Index, masked with Mask,
// equals Value. All conditions of a rule must hold.
type Cond struct {
	Index uint
	Mask  uint64
	Value uint64
}

// Rule applies Action to the named system calls when all Conds hold.
// Several rules for one call are alternatives; they must not overlap.
type Rule struct {
	Names  []string
	Action Action
	Conds  []Cond
	// Why is shown by `seccomp dump`: every exception has a reason.
	Why string
}

// Tier is a named filter: an allowlist with argument narrowing, explicit
// EPERM for the dangerous set, and ENOSYS for everything else.
type Tier struct {
	Name  string
	About string
	Rules []Rule
	// Notify reports Deny attempts to a supervisor (the runner) instead of
	// failing them in the kernel alone. The jail then loads the filter with
	// SECCOMP_FILTER_FLAG_NEW_LISTENER and hands the listener over. Without
	// a supervisor answering, a notified call fails with ENOSYS: refused.
	Notify bool
}

// masks for argument conditions
const (
	cloneNS = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
		unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP
	setid    = unix.S_ISUID | unix.S_ISGID
	oCreate  = unix.O_CREAT | unix.O_TMPFILE&^unix.O_DIRECTORY // __O_TMPFILE
	lowWord  = 0xffffffff
	perLinux = 0x0000
	perQuery = 0xffffffff
)

// base is what every program needs: memory, files, processes without new
// namespaces, time, signals, pipes and polling, and IPC inside the jail's
// own IPC namespace. It is containerd's default allowlist with the calls
// that are dangerous or argument-sensitive taken out (they have rules of
// their own below) and newer calls added.
var base = []string{
	"accept", "accept4", "access", "alarm", "arch_prctl", "bind", "brk", "capget", "capset", "chdir",
	"chown", "clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range", "connect",
	"copy_file_range", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_pwait", "epoll_pwait2", "epoll_wait", "eventfd", "eventfd2", "execve", "execveat", "exit",
	"exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir", "fchown", "fchownat",
	"fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
	"fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_waitv", "futimesat", "getcpu", "getcwd",
	"getdents", "getdents64", "getegid", "geteuid", "getgid", "getgroups", "getitimer", "getpeername",
	"getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresuid",
	"getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "gettid",
	"gettimeofday", "getuid", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get",
	"io_setup", "io_submit", "kill", "landlock_add_rule", "landlock_create_ruleset",
	"landlock_restrict_self", "lchown", "lgetxattr", "link", "linkat", "listen", "listxattr",
	"llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "membarrier",
	"memfd_create", "mincore", "mkdir", "mkdirat", "mlock", "mlock2", "mlockall", "mmap", "mprotect",
	"mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink", "mremap",
	"msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep",
	"newfstatat", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
	"pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2",
	"prlimit64", "pselect6", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
	"readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg", "remap_file_pages", "removexattr",
	"rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
	"rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
	"seccomp", "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg",
	"sendto", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
	"setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "set_robust_list", "setsid",
	"setsockopt", "set_tid_address", "setuid", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
	"shutdown", "sigaltstack", "signalfd", "signalfd4", "splice", "stat", "statfs",
	"statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
	"time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
	"timerfd_create", "timerfd_gettime", "timerfd_settime", "times", "tkill", "truncate", "umask",
	"uname", "unlink", "unlinkat", "utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4",
	"waitid", "write", "writev",
}

// dangerous is refused with EPERM in every tier but full's exceptions, and
// each attempt is reported: these are what an escape or a kernel exploit
// reaches for.
var dangerous = []Rule{
	{Names: []string{"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
		"fspick", "move_mount", "open_tree", "mount_setattr"},
		Why: "the mount tree is the jail; no remounting or new mounts (nested mount namespaces too)"},
	{Names: []string{"unshare", "setns"}, Why: "no new or foreign namespaces: a nested user namespace re-arms every capability for the kernel's attack surface"},
	{Names: []string{"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"},
		Why: "no inspection or modification of other processes' memory (a ptrace escape bypasses seccomp on old kernels)"},
	{Names: []string{"keyctl", "add_key", "request_key"}, Why: "kernel keyrings are not namespaced"},
	{Names: []string{"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register"},
		Why: "large kernel attack surface, frequent exploit vectors (eBPF verifier, perf, userfaultfd races, io_uring bypasses seccomp per operation)"},
	{Names: []string{"open_by_handle_at", "name_to_handle_at"}, Why: "file handles bypass the mount tree (CVE-2014-3519, the 'shocker' escape)"},
	{Names: []string{"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot"},
		Why: "kernel replacement, modules and reboot"},
	{Names: []string{"swapon", "swapoff", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
		"syslog", "acct", "quotactl", "quotactl_fd", "iopl", "ioperm", "vhangup", "lookup_dcookie",
		"fanotify_init", "fanotify_mark", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
		"modify_ldt", "setdomainname", "sethostname", "mbind", "set_mempolicy", "migrate_pages",
		"move_pages", "get_mempolicy"},
		Why: "host-global state (time, swap, accounting, quotas, kernel log), raw I/O ports, or calls Docker's default profile refuses"},
}

// argRules narrow calls that are fine with ordinary arguments.
var argRules = []Rule{
	// clone: no CLONE_NEW* flag (flags are argument 0 on x86_64 and arm64).
	{Names: []string{"clone"}, Action: Allow, Conds: []Cond{{0, cloneNS, 0}},
		Why: "threads and processes, but no new namespaces"},
	{Names: []string{"clone"}, Action: Deny, Conds: []Cond{{0, unix.CLONE_NEWUSER, unix.CLONE_NEWUSER}},
		Why: "a nested user namespace"},
	{Names: []string{"clone3"}, Action: NoSys,
		Why: "its flags live in memory that seccomp cannot inspect; glibc falls back to clone on ENOSYS"},
}

// ioctlRules allow every ioctl request but the terminal-injection ones.
// Seccomp can only test "masked argument equals value", so "not TIOCSTI"
// is written as the disjoint prefix classes that cover every other 32-bit
// request (the kernel reads cmd as 32 bits, so the high word is ignored
// here as it is there).
func ioctlRules() []Rule {
	bad := map[uint32]string{
		unix.TIOCSTI:   "TIOCSTI pushes input into a terminal (CVE-2017-5226)",
		unix.TIOCLINUX: "TIOCLINUX can paste console selections into a terminal",
	}
	var rs []Rule
	for _, c := range complement32(sortedKeys(bad)) {
		rs = append(rs, Rule{Names: []string{"ioctl"}, Action: Allow, Conds: []Cond{{1, uint64(c[0]), uint64(c[1])}},
			Why: "any request but TIOCSTI and TIOCLINUX"})
	}
	for _, v := range sortedKeys(bad) {
		rs = append(rs, Rule{Names: []string{"ioctl"}, Action: Deny, Conds: []Cond{{1, lowWord, uint64(v)}}, Why: bad[v]})
	}
	return rs
}

// personalityRules allow the default persona and the query only; any other
// persona (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...) weakens the jail's
// memory protections and is refused with EPERM.
func personalityRules() []Rule {
	ok := []uint32{perLinux, perQuery}
	rs := []Rule{
		{Names: []string{"personality"}, Action: Allow, Conds: []Cond{{0, lowWord, perLinux}}, Why: "default persona"},
		{Names: []string{"personality"}, Action: Allow, Conds: []Cond{{0, lowWord, perQuery}}, Why: "query the persona"},
	}
	for _, c := range complement32(ok) {
		rs = append(rs, Rule{Names: []string{"personality"}, Action: Deny, Conds: []Cond{{0, uint64(c[0]), uint64(c[1])}},
			Why: "a persona other than the default"})
	}
	return rs
}

// complement32 returns (mask, value) pairs whose classes {x : x&mask ==
// value} are disjoint and together hold every 32-bit value except vals.
func complement32(vals []uint32) [][2]uint32 { return complementBits(32, vals) }

// complementBits is complement32 within [0, 2^n): every class also
// requires the bits above n to be zero, so values outside the range match
// no class (they are left to the default action).
func complementBits(n int, vals []uint32) [][2]uint32 {
	var out [][2]uint32
	var rec func(bit int, mask, val uint32, set []uint32)
	rec = func(bit int, mask, val uint32, set []uint32) {
		if len(set) == 0 {
			out = append(out, [2]uint32{mask, val})
			return
		}
		if bit < 0 {
			return // exactly one of vals
		}
		b := uint32(1) << bit
		var zero, one []uint32
		for _, v := range set {
			if v&b == 0 {
				zero = append(zero, v)
			} else {
				one = append(one, v)
			}
		}
		rec(bit-1, mask|b, val, zero)
		rec(bit-1, mask|b, val|b, one)
	}
	high := uint32(0)
	if n < 32 {
		high = ^uint32(0) << n
	}
	var in []uint32
	for _, v := range vals {
		if v&high == 0 {
			in = append(in, v)
		}
	}
	rec(n-1, high, 0, in)
	return out
}

func sortedKeys(m map[uint32]string) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// modeRules refuse setuid and setgid bits, so that no file the jail writes
// into the workspace can become a privilege escalation on the host. Each
// call is allowed when its mode has neither bit (or, for the open family,
// when it creates nothing), and refused with EPERM otherwise.
func modeRules() []Rule {
	var rs []Rule
	add := func(name string, modeArg uint) {
		rs = append(rs,
			Rule{Names: []string{name}, Action: Allow, Conds: []Cond{{modeArg, setid, 0}}, Why: "mode without setuid/setgid"},
			Rule{Names: []string{name}, Action: Deny, Conds: []Cond{{modeArg, unix.S_ISUID, unix.S_ISUID}}, Why: "setuid bit"},
			Rule{Names: []string{name}, Action: Deny, Conds: []Cond{{modeArg, setid, unix.S_ISGID}}, Why: "setgid bit"},
		)
	}
	add("chmod", 1)
	add("fchmod", 1)
	add("fchmodat", 2)
	add("fchmodat2", 2)
	add("mknod", 1)
	add("mknodat", 2)
	add("creat", 1)
	// open/openat: the mode only matters when a file is created.
	openRules := func(name string, flagArg, modeArg uint) {
		rs = append(rs,
			Rule{Names: []string{name}, Action: Allow, Conds: []Cond{{flagArg, oCreate, 0}}, Why: "opens without creating"},
			Rule{Names: []string{name}, Action: Allow, Conds: []Cond{{flagArg, unix.O_CREAT, unix.O_CREAT}, {modeArg, setid, 0}}, Why: "creates without setuid/setgid"},
			Rule{Names: []string{name}, Action: Allow, Conds: []Cond{{flagArg, oCreate, oCreate &^ unix.O_CREAT}, {modeArg, setid, 0}}, Why: "O_TMPFILE without setuid/setgid"},
			Rule{Names: []string{name}, Action: Deny, Conds: []Cond{{flagArg, unix.O_CREAT, unix.O_CREAT}, {modeArg, unix.S_ISUID, unix.S_ISUID}}, Why: "creates a setuid file"},
			Rule{Names: []string{name}, Action: Deny, Conds: []Cond{{flagArg, unix.O_CREAT, unix.O_CREAT}, {modeArg, unix.S_ISGID | unix.S_ISUID, unix.S_ISGID}}, Why: "creates a setgid file"},
		)
	}
	openRules("open", 1, 2)
	openRules("openat", 2, 3)
	rs = append(rs, Rule{Names: []string{"openat2"}, Action: NoSys, Why: "its mode lives in memory that seccomp cannot inspect; libc's open() uses openat"})
	return rs
}

// Tiers returns the built-in tiers by name.
//
//   - coding: the exec tier of the coding profile, the recommended default.
//     Sockets of the usual families only (sockets.go): the others are
//     refused and reported.
//   - full: coding plus ptrace and process inspection inside the jail (for
//     debuggers), personality and NUMA calls; still no mounts, namespaces,
//     keyrings, bpf, modules or host-global state.
//   - file: the file tools' tier; coding without execve and without new
//     sockets. A file tool never needs to run a program or talk to anyone.
func Tiers() map[string]*Tier {
	coding := &Tier{Name: "coding", Notify: true, About: "exec under the coding profile: ordinary programs, compilers, interpreters; no mounts, namespaces, ptrace, bpf, keyrings, io_uring or host-global state"}
	coding.Rules = append(coding.Rules, Rule{Names: base, Action: Allow, Why: "ordinary programs"})
	coding.Rules = append(coding.Rules, argRules...)
	coding.Rules = append(coding.Rules, socketRules()...)
	coding.Rules = append(coding.Rules, ioctlRules()...)
	coding.Rules = append(coding.Rules, personalityRules()...)
	coding.Rules = append(coding.Rules, modeRules()...)
	for _, d := range dangerous {
		coding.Rules = append(coding.Rules, Rule{Names: d.Names, Action: Deny, Why: d.Why})
	}

	full := &Tier{Name: "full", Notify: true, About: "exec under the full profile: coding plus ptrace inside the jail, personality and NUMA calls"}
	fullExtra := map[string]bool{"ptrace": true, "process_vm_readv": true, "process_vm_writev": true, "kcmp": true,
		"personality": true, "mbind": true, "set_mempolicy": true, "get_mempolicy": true, "move_pages": true, "migrate_pages": true}
	full.Rules = append(full.Rules, Rule{Names: base, Action: Allow, Why: "ordinary programs"})
	full.Rules = append(full.Rules, Rule{Names: keys(fullExtra), Action: Allow,
		Why: "debuggers and profilers inside the jail (the pid namespace holds only the jail's own processes)"})
	full.Rules = append(full.Rules, argRules...)
	full.Rules = append(full.Rules, socketRules()...)
	full.Rules = append(full.Rules, ioctlRules()...)
	full.Rules = append(full.Rules, modeRules()...)
	for _, d := range dangerous {
		if names := without(d.Names, fullExtra); len(names) > 0 {
			full.Rules = append(full.Rules, Rule{Names: names, Action: Deny, Why: d.Why})
		}
	}

	// The file tier is applied by the file tool to itself, which cannot
	// supervise its own calls: its refusals are plain EPERM.
	file := &Tier{Name: "file", About: "file tools (read, write, edit, apply_patch, ls, stat, mkdir, remove, rename): coding without execve and without sockets"}
	noExec := map[string]bool{"execve": true, "execveat": true}
	file.Rules = append(file.Rules, Rule{Names: without(base, noExec), Action: Allow, Why: "file access"})
	file.Rules = append(file.Rules, Rule{Names: []string{"execve", "execveat", "socket", "socketpair"}, Action: Deny,
		Why: "a file tool runs no program and opens no socket, of any family"})
	file.Rules = append(file.Rules, argRules...)
	file.Rules = append(file.Rules, ioctlRules()...)
	file.Rules = append(file.Rules, personalityRules()...)
	file.Rules = append(file.Rules, modeRules()...)
	for _, d := range dangerous {
		file.Rules = append(file.Rules, Rule{Names: d.Names, Action: Deny, Why: d.Why})
	}
	return map[string]*Tier{"coding": coding, "full": full, "file": file}
}

// DefaultErrno is returned for every call no rule names.
const DefaultErrno = syscall.ENOSYS

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

func without(names []string, drop map[string]bool) []string {
	var out []string
	for _, n := range names {
		if !drop[n] {
			out = append(out, n)
		}
	}
	return out
}
