package seccomp

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The families issue 20 names as dangerous are all refused.
func TestRefusedFamiliesCoverTheKnownDangerousOnes(t *testing.T) {
	have := map[uint32]bool{}
	for _, f := range refusedFamilies {
		if have[f.af] {
			t.Errorf("%s listed twice", f.name)
		}
		have[f.af] = true
		if f.why == "" {
			t.Errorf("%s has no reason", f.name)
		}
		for _, ok := range []uint32{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK} {
			if f.af == ok {
				t.Errorf("%s is refused but ordinary programs need it", f.name)
			}
		}
	}
	for _, af := range []uint32{unix.AF_PACKET, unix.AF_ALG, unix.AF_VSOCK, unix.AF_KEY, unix.AF_XDP, unix.AF_RDS,
		unix.AF_TIPC, unix.AF_BLUETOOTH, unix.AF_CAN, unix.AF_LLC, unix.AF_NFC, unix.AF_PPPOX, unix.AF_X25,
		unix.AF_AX25, unix.AF_IEEE802154, unix.AF_SMC, unix.AF_KCM, unix.AF_QIPCRTR, unix.AF_MCTP} {
		if !have[af] {
			t.Errorf("family %d (%s) is not refused", af, SocketFamily(uint64(af), 0))
		}
	}
}

// Every family and netlink protocol, through both calls, in every tier:
// allowed, refused and reported (coding, full), refused in the kernel
// (file), or unknown (ENOSYS). The high word of the int arguments is
// ignored as the kernel ignores it.
func TestSocketFamiliesAsData(t *testing.T) {
	eperm, enosys := want(syscall.EPERM), want(syscall.ENOSYS)
	notify := uint32(unix.SECCOMP_RET_USER_NOTIF)
	refused := map[uint32]bool{}
	for _, f := range refusedFamilies {
		refused[f.af] = true
	}
	allowed := map[uint32]bool{unix.AF_UNIX: true, unix.AF_INET: true, unix.AF_INET6: true}
	for _, tier := range []string{"coding", "full", "file"} {
		prog, err := Compile(tier)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"socket", "socketpair"} {
			check := func(domain, proto uint64, wantRet uint32) {
				t.Helper()
				for _, high := range []uint64{0, 0xdead << 32} {
					if got := run(t, prog.Filter, auditArchX8664, nr(t, call), domain|high, unix.SOCK_STREAM, proto|high); got != wantRet {
						t.Errorf("%s: %s(%s) = %#x, want %#x", tier, call, SocketFamily(domain, proto), got, wantRet)
					}
				}
			}
			for af := uint32(0); af < 64; af++ {
				var wantRet uint32
				switch {
				case tier == "file":
					wantRet = eperm
				case af == unix.AF_NETLINK:
					continue // below, per protocol
				case allowed[af]:
					wantRet = retAllow
				case refused[af]:
					wantRet = notify
				default:
					wantRet = enosys // not a family this kernel implements (or AF_UNSPEC)
				}
				check(uint64(af), 0, wantRet)
			}
			if tier == "file" {
				check(unix.AF_NETLINK, unix.NETLINK_ROUTE, eperm)
				continue
			}
			check(unix.AF_NETLINK, unix.NETLINK_ROUTE, retAllow)
			for p := uint64(1); p < netlinkMaxLinks; p++ {
				check(unix.AF_NETLINK, p, notify)
			}
			// Outside [0, MAX_LINKS) the kernel itself has no such protocol.
			for _, p := range []uint64{netlinkMaxLinks, 1000, 0xffffffff} {
				check(unix.AF_NETLINK, p, enosys)
			}
		}
	}
}

func TestSocketFamilyNames(t *testing.T) {
	for _, c := range []struct {
		domain, proto uint64
		want          string
	}{
		{unix.AF_PACKET, 0, "AF_PACKET"},
		{unix.AF_ALG | 7<<32, 0, "AF_ALG"},
		{unix.AF_NETLINK, unix.NETLINK_NETFILTER, "AF_NETLINK/NETLINK_NETFILTER"},
		{unix.AF_NETLINK, 31, "AF_NETLINK/protocol 31"},
		{200, 0, "family 200"},
	} {
		if got := SocketFamily(c.domain, c.proto); got != c.want {
			t.Errorf("SocketFamily(%d, %d) = %q, want %q", c.domain, c.proto, got, c.want)
		}
	}
	sock := describe(int32(nr(t, "socket")), [6]uint64{unix.AF_VSOCK, unix.SOCK_STREAM, 0})
	if sock != (Blocked{Syscall: "socket", Family: "AF_VSOCK"}) {
		t.Errorf("describe(socket AF_VSOCK) = %+v", sock)
	}
	if b := describe(int32(nr(t, "ptrace")), [6]uint64{unix.AF_VSOCK}); b != (Blocked{Syscall: "ptrace"}) {
		t.Errorf("describe(ptrace) = %+v: only socket calls carry a family", b)
	}
}

func TestDumpShowsSocketFamilies(t *testing.T) {
	tier := Tiers()["coding"]
	prog, err := Compile("coding")
	if err != nil {
		t.Fatal(err)
	}
	out := Dump(tier, prog)
	for _, want := range []string{"AF_PACKET: raw link-layer packets", "CVE-2016-8655", "AF_VSOCK", "CVE-2021-26708",
		"netlink protocols 16-31", "socketpair", "# program: precompiled for"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump of coding lacks %q", want)
		}
	}
}

// The supervisor refuses a dangerous family and reports it, on the real
// kernel: the coding filter is loaded, with a listener, on one locked
// thread that is thrown away afterwards (a goroutine that exits while
// locked takes its thread with it: runtime.LockOSThread), so nothing else
// of the test process is filtered. no_new_privs is per thread too, and it
// lets an unprivileged test load a filter.
func TestSupervisorReportsSocketFamilies(t *testing.T) {
	prog, err := Compile("coding")
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		errs    map[string]error
		blocked []Blocked
		err     error
	}
	done := make(chan outcome)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var o outcome
		defer func() { done <- o }()
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			o.err = err
			return
		}
		fprog := unix.SockFprog{Len: uint16(len(prog.Filter)), Filter: &prog.Filter[0]}
		fd, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fprog)))
		if e != 0 {
			o.err = e
			return
		}
		sup, err := Supervise(int(fd))
		if err != nil {
			o.err = err
			return
		}
		o.errs = map[string]error{}
		// unix.Socket uses RawSyscall, which keeps this thread's P while
		// the call waits for the supervisor: a garbage collection that
		// needs every P would then wait for it, and the supervisor for
		// the collection. unix.Syscall hands the P back while blocked.
		try := func(name, call string, domain, typ, proto int) {
			nr := unix.SYS_SOCKET
			var pair [2]int32
			var a3 uintptr
			if call == "socketpair" {
				nr, a3 = unix.SYS_SOCKETPAIR, uintptr(unsafe.Pointer(&pair))
			}
			r, _, e := unix.Syscall6(uintptr(nr), uintptr(domain), uintptr(typ), uintptr(proto), a3, 0, 0)
			if e != 0 {
				o.errs[name] = e
				return
			}
			o.errs[name] = nil
			if call == "socketpair" {
				unix.Close(int(pair[0]))
				unix.Close(int(pair[1]))
			} else {
				unix.Close(int(r))
			}
		}
		try("AF_PACKET", "socket", unix.AF_PACKET, unix.SOCK_RAW, 0)
		try("AF_PACKET again", "socket", unix.AF_PACKET, unix.SOCK_DGRAM, 0)
		try("NETLINK_NETFILTER", "socket", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_NETFILTER)
		try("AF_UNIX", "socket", unix.AF_UNIX, unix.SOCK_STREAM, 0)
		try("family 46", "socket", 46, unix.SOCK_STREAM, 0)
		try("socketpair AF_UNIX", "socketpair", unix.AF_UNIX, unix.SOCK_STREAM, 0)
		try("socketpair AF_ALG", "socketpair", unix.AF_ALG, unix.SOCK_SEQPACKET, 0)
		o.blocked = sup.Stop()
	}()
	o := <-done
	if o.err != nil {
		t.Fatalf("loading the filter on a test thread: %v", o.err)
	}
	for name, want := range map[string]error{"AF_PACKET": unix.EPERM, "AF_PACKET again": unix.EPERM,
		"NETLINK_NETFILTER": unix.EPERM, "AF_UNIX": nil, "family 46": unix.ENOSYS, "socketpair AF_UNIX": nil,
		"socketpair AF_ALG": unix.EPERM} {
		got, ran := o.errs[name]
		if !ran || (got != want && !errors.Is(got, want)) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	wantBlocked := []Blocked{{Syscall: "socket", Family: "AF_PACKET", Count: 2},
		{Syscall: "socket", Family: "AF_NETLINK/NETLINK_NETFILTER", Count: 1},
		{Syscall: "socketpair", Family: "AF_ALG", Count: 1}}
	if len(o.blocked) != len(wantBlocked) {
		t.Fatalf("blocked %+v, want %+v", o.blocked, wantBlocked)
	}
	for i := range wantBlocked {
		if o.blocked[i] != wantBlocked[i] {
			t.Errorf("blocked[%d] = %+v, want %+v", i, o.blocked[i], wantBlocked[i])
		}
	}
}
