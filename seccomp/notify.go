package seccomp

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blocked is one refused dangerous system call of a call, and how often.
type Blocked struct {
	Syscall string `json:"syscall"`
	// Family is the address family of a refused socket or socketpair
	// ("AF_PACKET", "AF_NETLINK/NETLINK_NETFILTER"): there the argument,
	// not the call, is what was dangerous. Each family counts apart.
	Family string `json:"family,omitempty"`
	Count  int    `json:"count"`
}

// Supervisor answers the notified (dangerous) system calls of one jail
// with EPERM and records them, so that an attempt at ptrace, bpf, mount or
// a nested user namespace shows in the call's result and audit line.
type Supervisor struct {
	f    *os.File
	done chan struct{}

	mu     sync.Mutex
	counts map[Blocked]int // keyed by Syscall and Family, Count zero
	order  []Blocked
}

// seccompNotif is struct seccomp_notif (linux/seccomp.h).
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// Supervise takes ownership of a seccomp listener fd and serves it until
// every process of the filter is gone or Stop is called. The fd is waited
// on through the Go netpoller, so an idle jail costs no thread.
func Supervise(listener int) (*Supervisor, error) {
	if err := unix.SetNonblock(listener, true); err != nil {
		unix.Close(listener)
		return nil, fmt.Errorf("seccomp listener: %w", err)
	}
	s := &Supervisor{f: os.NewFile(uintptr(listener), "seccomp-listener"), done: make(chan struct{}), counts: map[Blocked]int{}}
	rc, err := s.f.SyscallConn()
	if err != nil {
		s.f.Close()
		return nil, err
	}
	go func() {
		defer close(s.done)
		for {
			var hup bool
			err := rc.Read(func(fd uintptr) bool {
				pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				if n, _ := unix.Poll(pfd, 0); n == 0 {
					return false // not ready: wait in the netpoller
				}
				if pfd[0].Revents&unix.POLLIN == 0 {
					hup = true // no process uses the filter any more
					return true
				}
				s.serve(int(fd))
				return true
			})
			if err != nil || hup {
				return
			}
		}
	}()
	return s, nil
}

// serve receives one notification and refuses it. The receive does not
// block: a notification withdrawn after poll (its task was killed) makes
// it return ENOENT.
func (s *Supervisor) serve(fd int) {
	var n seccompNotif
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n))); e != 0 {
		return // ENOENT (withdrawn) or EINTR: poll again
	}
	s.record(describe(n.nr, n.args))
	resp := seccompNotifResp{id: n.id, error: -int32(syscall.EPERM)}
	unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
}

// describe names a refused call for the report: the call, and for the
// socket calls the family that made it dangerous.
func describe(nr int32, args [6]uint64) Blocked {
	b := Blocked{Syscall: SyscallName(nr)}
	if b.Syscall == "socket" || b.Syscall == "socketpair" {
		b.Family = SocketFamily(args[0], args[2])
	}
	return b
}

func (s *Supervisor) record(b Blocked) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[b] == 0 {
		s.order = append(s.order, b)
	}
	s.counts[b]++
}

// Stop ends supervision and returns what was refused, in order of first
// attempt. A jail still running after Stop gets ENOSYS for notified calls:
// still refused.
func (s *Supervisor) Stop() []Blocked {
	s.f.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Blocked, 0, len(s.order))
	for _, b := range s.order {
		b.Count = s.counts[b]
		out = append(out, b)
	}
	return out
}

// SyscallName names a native system call number: from the table generated
// with the embedded programs when there is one, else from libseccomp.
func SyscallName(nr int32) string {
	if n, ok := syscallNames[nr]; ok {
		return n
	}
	if n := libseccompName(nr); n != "" {
		return n
	}
	return fmt.Sprintf("syscall_%d", nr)
}
