package seccomp

import (
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	auditArchX8664 = 0xc000003e
	auditArchI386  = 0x40000003
	x32Bit         = 0x40000000

	retAllow = 0x7fff0000
	retErrno = 0x00050000
)

// run evaluates prog on a crafted struct seccomp_data in a BPF
// interpreter, without loading anything into the kernel. x/net/bpf loads
// words big-endian, so each 32-bit field is stored big-endian at the
// offset where the kernel's little-endian struct has it.
func run(t *testing.T, prog []unix.SockFilter, arch uint32, nr int, args ...uint64) uint32 {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(prog))
	for i, f := range prog {
		raw[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("cannot disassemble the program")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("bpf vm: %v", err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[20+8*i:], uint32(a>>32))
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatalf("bpf run: %v", err)
	}
	return uint32(out)
}

// nr is the native number of a call: from the table generated with the
// precompiled programs (so that the tests run without cgo), else from
// libseccomp.
func nr(t *testing.T, name string) int {
	t.Helper()
	for n, s := range syscallNames {
		if s == name {
			return int(n)
		}
	}
	if n, ok := libseccompNr(name); ok {
		return n
	}
	t.Fatalf("no number for system call %s", name)
	return -1
}

func want(e syscall.Errno) uint32 { return retErrno | uint32(e) }

func TestTierRulesAsData(t *testing.T) {
	type probe struct {
		tier string
		name string
		args []uint64
		want uint32
	}
	eperm, enosys := want(syscall.EPERM), want(syscall.ENOSYS)
	// coding and full report their refusals to the runner, which answers
	// EPERM; the file tier refuses in the kernel.
	notify := uint32(unix.SECCOMP_RET_USER_NOTIF)
	denied := func(tier string) uint32 {
		if tier == "file" {
			return eperm
		}
		return notify
	}
	probes := []probe{
		{"coding", "read", nil, retAllow},
		{"coding", "execve", nil, retAllow},
		{"coding", "mount", nil, eperm},
		{"coding", "unshare", []uint64{unix.CLONE_NEWUSER}, eperm},
		{"coding", "setns", nil, eperm},
		{"coding", "ptrace", nil, eperm},
		{"coding", "bpf", nil, eperm},
		{"coding", "keyctl", nil, eperm},
		{"coding", "io_uring_setup", nil, eperm},
		{"coding", "perf_event_open", nil, eperm},
		{"coding", "open_by_handle_at", nil, eperm},
		{"coding", "init_module", nil, eperm},
		{"coding", "kexec_load", nil, eperm},
		{"coding", "reboot", nil, eperm},
		{"coding", "clock_settime", nil, eperm},
		{"coding", "userfaultfd", nil, eperm},
		{"coding", "clone", []uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}, retAllow},
		{"coding", "clone", []uint64{unix.CLONE_NEWUSER}, eperm},
		{"coding", "clone", []uint64{unix.CLONE_NEWNS}, enosys},
		{"coding", "clone3", nil, enosys},
		{"coding", "socket", []uint64{unix.AF_INET, unix.SOCK_STREAM, 0}, retAllow},
		{"coding", "socket", []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, retAllow},
		{"coding", "socket", []uint64{unix.AF_INET6, unix.SOCK_DGRAM, 0}, retAllow},
		{"coding", "socket", []uint64{unix.AF_PACKET, unix.SOCK_RAW, 0}, eperm},
		{"coding", "socket", []uint64{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE}, retAllow},
		{"coding", "socket", []uint64{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT}, eperm},
		{"coding", "socketpair", []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, retAllow},
		{"coding", "socketpair", []uint64{unix.AF_TIPC, unix.SOCK_STREAM, 0}, eperm},
		{"full", "socket", []uint64{unix.AF_VSOCK, unix.SOCK_STREAM, 0}, eperm},
		{"full", "socket", []uint64{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_NETFILTER}, eperm},
		{"full", "socket", []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, retAllow},
		{"coding", "ioctl", []uint64{0, unix.TCGETS}, retAllow},
		{"coding", "ioctl", []uint64{0, unix.TIOCSTI}, eperm},
		{"coding", "ioctl", []uint64{0, 1<<32 | unix.TIOCSTI}, eperm}, // the kernel truncates cmd to 32 bits
		{"coding", "ioctl", []uint64{0, unix.TIOCLINUX}, eperm},
		{"coding", "personality", []uint64{0}, retAllow},
		{"coding", "personality", []uint64{0xffffffff}, retAllow},
		{"coding", "personality", []uint64{0x0040000}, eperm},
		{"coding", "chmod", []uint64{0, 0o755}, retAllow},
		{"coding", "chmod", []uint64{0, 0o4755}, eperm},
		{"coding", "fchmod", []uint64{0, 0o2755}, eperm},
		{"coding", "fchmodat", []uint64{0, 0, 0o6755}, eperm},
		{"coding", "fchmodat", []uint64{0, 0, 0o644}, retAllow},
		{"coding", "openat", []uint64{0, 0, unix.O_RDONLY, 0o4755}, retAllow},
		{"coding", "openat", []uint64{0, 0, unix.O_CREAT | unix.O_WRONLY, 0o644}, retAllow},
		{"coding", "openat", []uint64{0, 0, unix.O_CREAT | unix.O_WRONLY, 0o4755}, eperm},
		{"coding", "openat", []uint64{0, 0, unix.O_CREAT, 0o2755}, eperm},
		{"coding", "creat", []uint64{0, 0o4755}, eperm},
		{"coding", "mknodat", []uint64{0, 0, unix.S_IFREG | 0o4755}, eperm},
		{"coding", "openat2", nil, enosys},
		{"coding", "setuid", nil, retAllow},
		{"full", "ptrace", nil, retAllow},
		{"full", "personality", []uint64{0x0040000}, retAllow},
		{"full", "mount", nil, eperm},
		{"full", "bpf", nil, eperm},
		{"full", "chmod", []uint64{0, 0o4755}, eperm},
		{"file", "execve", nil, eperm},
		{"file", "execveat", nil, eperm},
		{"file", "socket", []uint64{unix.AF_INET}, eperm},
		{"file", "socket", []uint64{unix.AF_UNIX}, eperm},
		{"file", "socketpair", []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, eperm},
		{"file", "openat", []uint64{0, 0, unix.O_RDONLY, 0}, retAllow},
		{"file", "mount", nil, eperm},
	}
	for _, p := range probes {
		if p.want == eperm {
			p.want = denied(p.tier)
		}
		prog, err := Compile(p.tier)
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, prog.Filter, auditArchX8664, nr(t, p.name), p.args...); got != p.want {
			t.Errorf("%s: %s(%#x) = %#x, want %#x", p.tier, p.name, p.args, got, p.want)
		}
	}
}

func TestUnknownSyscallIsENOSYS(t *testing.T) {
	for name := range Tiers() {
		prog, err := Compile(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, prog.Filter, auditArchX8664, 1000); got != want(syscall.ENOSYS) {
			t.Errorf("%s: syscall 1000 = %#x, want ENOSYS", name, got)
		}
	}
}

func TestForeignABIsRefused(t *testing.T) {
	prog, err := Compile("coding")
	if err != nil {
		t.Fatal(err)
	}
	// i386 write (4) through int 0x80 carries AUDIT_ARCH_I386.
	if got := run(t, prog.Filter, auditArchI386, 4); got != want(syscall.EPERM) { // bad-arch action: never notified
		t.Errorf("i386 write = %#x, want EPERM", got)
	}
	// x32 read carries the native arch with __X32_SYSCALL_BIT set.
	if got := run(t, prog.Filter, auditArchX8664, x32Bit|nr(t, "read")); got == retAllow {
		t.Errorf("x32 read allowed")
	}
}

// The jail's child loads its exec tier's filter before the last steps of
// its setup (jail/program.go, steps 27 to 30): a pre-warmed jail then
// waits for its command already filtered. Those steps' calls must pass
// every exec tier's filter, or no command could start.
func TestChildTailAllowed(t *testing.T) {
	for name := range Tiers() {
		if name == "file" { // applied by the file tool to itself, after its exec
			continue
		}
		prog, err := Compile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"read", "chdir", "write", "execve", "exit_group"} {
			if got := run(t, prog.Filter, auditArchX8664, nr(t, call)); got != retAllow {
				t.Errorf("%s: %s = %#x, want allowed: the jail's child makes it after loading the filter", name, call, got)
			}
		}
	}
}
