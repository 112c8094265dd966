//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// probe is one system call attempted from inside the jail with raw
// syscall(2), and the errno the filter must produce (0: allowed).
type probe struct {
	name string
	call string // C expression
	want string // "0", "EPERM" or "ENOSYS"
}

// probes: every refused call of the coding tier, by its declared errno,
// plus controls that must pass. Arguments are harmless or invalid on
// purpose: if a refused call ever got through, it would fail with another
// errno (EFAULT, EINVAL, EBADF), which the comparison catches.
var probes = []probe{
	{"getpid", "syscall(SYS_getpid)", "0"},
	{"mount", `syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0)`, "EPERM"},
	{"umount2", `syscall(SYS_umount2, "/tmp", 0)`, "EPERM"},
	{"pivot_root", `syscall(SYS_pivot_root, "/", "/")`, "EPERM"},
	{"chroot", `syscall(SYS_chroot, "/")`, "EPERM"},
	{"unshare", "syscall(SYS_unshare, CLONE_NEWUSER)", "EPERM"},
	{"setns", "syscall(SYS_setns, 0, 0)", "EPERM"},
	{"ptrace", "syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0)", "EPERM"},
	{"process_vm_readv", "syscall(SYS_process_vm_readv, 1, 0, 0, 0, 0, 0)", "EPERM"},
	{"process_vm_writev", "syscall(SYS_process_vm_writev, 1, 0, 0, 0, 0, 0)", "EPERM"},
	{"keyctl", "syscall(SYS_keyctl, 0, 0, 0, 0, 0)", "EPERM"},
	{"add_key", `syscall(SYS_add_key, "user", "x", "y", 1, 0)`, "EPERM"},
	{"request_key", `syscall(SYS_request_key, "user", "x", 0, 0)`, "EPERM"},
	{"bpf", "syscall(SYS_bpf, 0, 0, 0)", "EPERM"},
	{"perf_event_open", "syscall(SYS_perf_event_open, 0, 0, -1, -1, 0)", "EPERM"},
	{"userfaultfd", "syscall(SYS_userfaultfd, 0)", "EPERM"},
	{"io_uring_setup", "syscall(SYS_io_uring_setup, 1, 0)", "EPERM"},
	{"io_uring_enter", "syscall(SYS_io_uring_enter, 0, 0, 0, 0, 0, 0)", "EPERM"},
	{"io_uring_register", "syscall(SYS_io_uring_register, 0, 0, 0, 0)", "EPERM"},
	{"open_by_handle_at", "syscall(SYS_open_by_handle_at, 0, 0, 0)", "EPERM"},
	{"name_to_handle_at", "syscall(SYS_name_to_handle_at, 0, 0, 0, 0, 0)", "EPERM"},
	{"kexec_load", "syscall(SYS_kexec_load, 0, 0, 0, 0)", "EPERM"},
	{"kexec_file_load", "syscall(SYS_kexec_file_load, 0, 0, 0, 0, 0)", "EPERM"},
	{"init_module", "syscall(SYS_init_module, 0, 0, 0)", "EPERM"},
	{"finit_module", "syscall(SYS_finit_module, 0, 0, 0)", "EPERM"},
	{"delete_module", `syscall(SYS_delete_module, "x", 0)`, "EPERM"},
	{"reboot", "syscall(SYS_reboot, 0, 0, 0, 0)", "EPERM"},
	{"swapon", `syscall(SYS_swapon, "/x", 0)`, "EPERM"},
	{"swapoff", `syscall(SYS_swapoff, "/x")`, "EPERM"},
	{"settimeofday", "syscall(SYS_settimeofday, 0, 0)", "EPERM"},
	{"clock_settime", "syscall(SYS_clock_settime, 0, 0)", "EPERM"},
	{"clock_adjtime", "syscall(SYS_clock_adjtime, 0, 0)", "EPERM"},
	{"adjtimex", "syscall(SYS_adjtimex, 0)", "EPERM"},
	{"syslog", "syscall(SYS_syslog, 3, 0, 0)", "EPERM"},
	{"acct", "syscall(SYS_acct, 0)", "EPERM"},
	{"quotactl", "syscall(SYS_quotactl, 0, 0, 0, 0)", "EPERM"},
	{"iopl", "syscall(SYS_iopl, 3)", "EPERM"},
	{"ioperm", "syscall(SYS_ioperm, 0, 1, 1)", "EPERM"},
	{"vhangup", "syscall(SYS_vhangup)", "EPERM"},
	{"lookup_dcookie", "syscall(SYS_lookup_dcookie, 0, 0, 0)", "EPERM"},
	{"fanotify_init", "syscall(SYS_fanotify_init, 0, 0)", "EPERM"},
	{"sethostname", `syscall(SYS_sethostname, "x", 1)`, "EPERM"},
	{"modify_ldt", "syscall(SYS_modify_ldt, 0, 0, 0)", "EPERM"},
	{"fsopen", `syscall(SYS_fsopen, "tmpfs", 0)`, "EPERM"},
	{"open_tree", `syscall(SYS_open_tree, -100, "/", 1)`, "EPERM"},
	{"move_mount", `syscall(SYS_move_mount, -1, "", -1, "", 0)`, "EPERM"},
	{"clone NEWUSER", "syscall(SYS_clone, CLONE_NEWUSER|SIGCHLD, 0, 0, 0, 0)", "EPERM"},
	{"clone NEWNS", "syscall(SYS_clone, CLONE_NEWNS|SIGCHLD, 0, 0, 0, 0)", "ENOSYS"},
	{"clone3", "syscall(SYS_clone3, 0, 0)", "ENOSYS"},
	{"socket AF_PACKET", "syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0)", "EPERM"},
	{"socket NETLINK_AUDIT", "syscall(SYS_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)", "EPERM"},
	{"socket AF_ALG", "syscall(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0)", "EPERM"},
	{"socket AF_VSOCK", "syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0)", "EPERM"},
	{"socketpair AF_TIPC", "syscall(SYS_socketpair, AF_TIPC, SOCK_STREAM, 0, 0)", "EPERM"},
	{"socket family 46", "syscall(SYS_socket, 46, SOCK_STREAM, 0)", "ENOSYS"},
	{"ioctl TIOCSTI", "syscall(SYS_ioctl, 0, TIOCSTI, \"x\")", "EPERM"},
	{"ioctl TIOCSTI high bits", "syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, \"x\")", "EPERM"},
	{"ioctl TIOCLINUX", "syscall(SYS_ioctl, 0, TIOCLINUX, \"x\")", "EPERM"},
	{"personality READ_IMPLIES_EXEC", "syscall(SYS_personality, 0x0400000)", "EPERM"},
	{"chmod setuid", `syscall(SYS_chmod, "f", 04755)`, "EPERM"},
	{"fchmodat setgid", `syscall(SYS_fchmodat, -100, "f", 02755, 0)`, "EPERM"},
	{"openat creat setuid", `syscall(SYS_openat, -100, "g", O_CREAT|O_WRONLY, 04755)`, "EPERM"},
	{"unknown syscall 1000", "syscall(1000)", "ENOSYS"},
	// Controls: ordinary calls with the same shapes pass.
	{"chmod plain", `syscall(SYS_chmod, "f", 0644)`, "0"},
	{"socket AF_INET", "syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) < 0 ? -1 : 0", "0"},
	{"personality query", "syscall(SYS_personality, 0xffffffff) < 0 ? -1 : 0", "0"},
}

const probeHeader = `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *name(int e) {
	switch (e) { case 0: return "0"; case EPERM: return "EPERM"; case ENOSYS: return "ENOSYS"; }
	return strerrorname_np(e) ? strerrorname_np(e) : "other";
}

/* getpid through the i386 ABI (int 0x80, eax = 20): the filter must refuse
   it before any rule is consulted. */
static long i386_getpid(void) {
	long ret;
	/* The compat entry returns with r8-r15 zeroed. */
	__asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20)
		: "memory", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15");
	return ret;
}

int main(void) {
	long r;
	setvbuf(stdout, NULL, _IONBF, 0);
	close(open("f", O_CREAT | O_WRONLY, 0644));
`

// The foreign-ABI calls run in children: a kernel without the ia32 entry
// (int 0x80 raises #GP) kills the i386 one with SIGSEGV, reported as
// NOIA32; a filter that kills for a foreign architecture (the runc
// engine's) shows as SIGSYS.
const probeFooter = `
	int st;
	pid_t pid = fork();
	if (pid == 0) { errno = 0; r = syscall(0x40000000 | SYS_getpid); printf("x32 getpid=%s\n", r == -1 ? name(errno) : "0"); _exit(0); }
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st)) printf("x32 getpid=%s\n", WTERMSIG(st) == SIGSYS ? "SIGSYS" : "signal");
	pid = fork();
	if (pid == 0) { r = i386_getpid(); printf("i386 getpid=%s\n", r < 0 ? name(-r) : "0"); _exit(0); }
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st)) printf("i386 getpid=%s\n", WTERMSIG(st) == SIGSYS ? "SIGSYS" : "NOIA32");
	return 0;
}
`

// buildProbe compiles the probe program on the host into ws.
func buildProbe(t *testing.T, ws string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc is required for the seccomp probes (make deps installs it)")
	}
	var src strings.Builder
	src.WriteString(probeHeader)
	for _, p := range probes {
		fmt.Fprintf(&src, "\terrno = 0; r = %s; printf(\"%s=%%s\\n\", r == -1 ? name(errno) : \"0\");\n", p.call, p.name)
	}
	src.WriteString(probeFooter)
	c := filepath.Join(t.TempDir(), "probe.c")
	if err := os.WriteFile(c, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("gcc", "-O0", "-o", filepath.Join(ws, "probe"), c).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	os.Chown(filepath.Join(ws, "probe"), jailUID, jailUID)
}

// TestSeccompProbes: every refused call of the coding tier fails from
// inside the jail exactly as declared, EPERM or ENOSYS, including through
// the i386 ABI; the dangerous ones are reported as blocked.
func TestSeccompProbes(t *testing.T) {
	ws := workspace(t)
	buildProbe(t, ws)
	r := runCLI(t, nil, "--workspace", ws, "--stats", "--", "./probe")
	if r.code != 0 {
		t.Fatalf("probe exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	for _, p := range probes {
		if got[p.name] != p.want {
			t.Errorf("%s: got %s, want %s", p.name, got[p.name], p.want)
		}
	}
	// x32: the native arch with __X32_SYSCALL_BIT; unfiltered, a kernel
	// without x32 says ENOSYS, so EPERM is the filter's answer.
	//
	// Under the runc engine a foreign ABI's call kills the thread that
	// made it (SIGSYS) instead: libseccomp's bad-architecture action,
	// which libcontainer's configuration does not expose. Refused either
	// way, and the one intended difference of this test between engines.
	foreign := "EPERM"
	if engine() == "runc" {
		foreign = "SIGSYS"
	}
	if got["x32 getpid"] != foreign {
		t.Errorf("x32 getpid: got %s, want %s", got["x32 getpid"], foreign)
	}
	switch got["i386 getpid"] {
	case foreign:
	case "NOIA32":
		// This kernel has no ia32 entry at all (int 0x80 faults even
		// outside any jail, as on this project's CI host); the filter's
		// refusal of AUDIT_ARCH_I386 is proven in the BPF interpreter
		// (seccomp.TestForeignABIsRefused) and in the VM suite.
		t.Logf("kernel without the ia32 entry: int 0x80 faults before seccomp; i386 refusal checked as BPF data only")
	default:
		t.Errorf("i386 getpid through int 0x80: got %s, want %s", got["i386 getpid"], foreign)
	}
	// The supervisor saw the dangerous ones.
	for _, name := range []string{"ptrace×1", "bpf×1", "mount×1", "unshare×1", "keyctl×1"} {
		if !strings.Contains(r.stderr, name) {
			t.Errorf("--stats should list %s as blocked: %s", name, r.stderr)
		}
	}
}

// TestSeccompCommands: the same refusals through ordinary tools.
func TestSeccompCommands(t *testing.T) {
	ws := workspace(t)
	r := jailed(t, ws, nil, `touch f
unshare -U true 2>/dev/null && echo ESCAPE:unshare
unshare -m true 2>/dev/null && echo ESCAPE:unshare-m
mount -t tmpfs none /tmp 2>/dev/null && echo ESCAPE:mount
chmod u+s f 2>/dev/null && echo ESCAPE:chmod
python3 -c 'import os; os.unshare(os.CLONE_NEWUSER)' 2>/dev/null && echo ESCAPE:py-unshare
true`)
	if strings.Contains(r.stdout, "ESCAPE") {
		t.Errorf("a refused operation succeeded:\n%s", r.stdout)
	}
}

// TestRealWorkloadsUnderCoding: what agents actually run works under the
// coding tier.
func TestRealWorkloadsUnderCoding(t *testing.T) {
	ws := workspace(t)
	script := `set -e
# shell and coreutils
ls -la / >/dev/null; echo a b c | tr a-z A-Z | grep -q 'A B C'; sort -n </dev/null; sha256sum /etc/hostname >/dev/null
# python: threads, subprocess, a venv
python3 - <<'EOF'
import threading, subprocess, sys
out = []
ts = [threading.Thread(target=lambda i=i: out.append(i)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
assert sorted(out) == list(range(8))
assert subprocess.run(["echo", "sub"], capture_output=True, text=True).stdout == "sub\n"
EOF
python3 -m venv --without-pip venv && ./venv/bin/python -c 'import sys; assert sys.prefix.endswith("venv")'
# git
git init -q repo && cd repo && git config user.email a@b && git config user.name a
echo hi > f && git add f && git commit -qm first && git log --oneline | grep -q first && cd ..
# gcc with threads, and make
cat > t.c <<'EOF'
#include <pthread.h>
#include <stdio.h>
static void *work(void *p) { return p; }
int main(void) { pthread_t t[4]; for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, work, 0); for (int i = 0; i < 4; i++) pthread_join(t[i], 0); puts("threads ok"); return 0; }
EOF
printf 't: t.c\n\tgcc -pthread -o t t.c\n' > Makefile
make -s && ./t
if command -v node >/dev/null; then node -e 'require("child_process").execSync("true"); console.log("node ok")'; fi
echo ALL-OK`
	r := jailed(t, ws, []string{"--timeout", "60s"}, script)
	if r.code != 0 || !strings.Contains(r.stdout, "ALL-OK") || !strings.Contains(r.stdout, "threads ok") {
		t.Fatalf("workloads failed under coding (exit %d):\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestMinimalRefusesExec: the minimal profile refuses exec as a policy
// decision, before any jail is built.
func TestMinimalRefusesExec(t *testing.T) {
	ws := workspace(t)
	r := runCLI(t, nil, "--workspace", ws, "--profile", "minimal", "--", "sh", "-c", "echo RAN")
	if r.code != 125 || strings.Contains(r.stdout, "RAN") || !strings.Contains(r.stderr, "denied by policy") {
		t.Errorf("minimal exec: %+v", r)
	}
}

// TestBlockedSyscallAudited: a blocked ptrace or bpf attempt appears in the
// call's audit record, and the log verifies.
func TestBlockedSyscallAudited(t *testing.T) {
	ws := workspace(t)
	logf := filepath.Join(t.TempDir(), "audit.jsonl")
	r := runCLI(t, nil, "--workspace", ws, "--audit-file", logf, "--", "python3", "-c",
		"import ctypes; l = ctypes.CDLL(None); l.ptrace(0, 0, 0, 0); l.syscall(321, 0, 0, 0)")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	data, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	var blocked string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Action  string `json:"action"`
			Blocked []struct {
				Syscall string `json:"syscall"`
				Count   int    `json:"count"`
			} `json:"blockedSyscalls"`
		}
		json.Unmarshal([]byte(line), &rec)
		if rec.Action == "tool_call" {
			blocked = fmt.Sprint(rec.Blocked)
		}
	}
	if blocked != "[{ptrace 1} {bpf 1}]" {
		t.Errorf("the outcome record's blocked calls are %s, want ptrace and bpf once each:\n%s", blocked, data)
	}
	if !strings.Contains(string(data), `"engine":"`+engine()+`"`) {
		t.Errorf("audit record does not name the engine %s:\n%s", engine(), data)
	}
	if v := runCLI(t, nil, "audit", "verify", "--file", logf); v.code != 0 || !strings.Contains(v.stdout, "OK") {
		t.Errorf("audit verify: %+v", v)
	}
	// The attempt is an alert (exit 1: findings), through the CLI's
	// hand-over to openclaw-gateway.
	a := runCLI(t, nil, "audit", "alerts", "--file", logf, "--since", "1h")
	if a.code != 1 || !strings.Contains(a.stdout, "blocked_syscalls") || !strings.Contains(a.stdout, "attempted ptrace") || !strings.Contains(a.stdout, "attempted bpf") {
		t.Errorf("audit alerts: %+v", a)
	}
}
