package egress

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity asked for the pipe of each spliced direction
// (F_SETPIPE_SZ, fcntl(2); the default /proc/sys/fs/pipe-max-size). It is
// also the most one step moves: a step fills the pipe from the source in
// one splice and drains it into the destination.
const pipeSize = 1 << 20

// urgentBuf is the most a step moves at TCP's urgent mark (see fill).
const urgentBuf = 512

const spliceFlags = unix.SPLICE_F_NONBLOCK | unix.SPLICE_F_MOVE

// splice copies src to dst without copying through user space when both
// are TCP connections: splice(2) from src into a pipe of its own, then
// from the pipe into dst, both non-blocking, each waiting in Go's poller
// (syscall.RawConn) when the kernel says EAGAIN. It reports false when it
// cannot splice (then nothing was read).
//
// The budget stays exact without holding a reservation while waiting:
// each step first moves what src has queued into the pipe, then takes
// budget for exactly that many bytes, and forwards only what the budget
// covered (the rest dies with the pipe, and the connection is cut). So no
// byte past the budget reaches dst, and what is reserved is what is being
// forwarded.
//
// With limit >= 0 it copies exactly limit bytes and stops (a response
// body of known length: no splice asks for a byte past it, so none is
// read); an end of stream before that is io.ErrUnexpectedEOF.
func (t *tunnel) splice(dst, src net.Conn, count func(int64), limit int64) (bool, error) {
	d, ok1 := dst.(*net.TCPConn)
	s, ok2 := src.(*net.TCPConn)
	if !ok1 || !ok2 {
		return false, nil
	}
	if limit == 0 {
		return true, nil // a small body came whole with its head: no pipe needed
	}
	rc, err1 := s.SyscallConn()
	wc, err2 := d.SyscallConn()
	if err1 != nil || err2 != nil || oobInline(rc) != nil {
		return false, nil
	}
	p, err := newPipe()
	if err != nil {
		return false, nil
	}
	if a, ok := d.LocalAddr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		renoOnLoopback(wc)
	}
	defer p.close()
	// The deadlines are set once and renewed only when they pass (in fill
	// and drain, while something still moves), not per step: each
	// SetDeadline is a timer update.
	_ = s.SetReadDeadline(t.readDeadline())
	_ = d.SetWriteDeadline(t.readDeadline())
	for limit != 0 {
		want := pipeSize
		if limit > 0 {
			want = int(min(limit, pipeSize))
		}
		n, err := t.fill(s, rc, p, want)
		if err != nil {
			return true, err
		}
		if n == 0 {
			if limit > 0 {
				return true, io.ErrUnexpectedEOF
			}
			return true, nil // end of stream
		}
		k := int(t.p.take(int64(n)))
		w, err := t.drain(d, wc, p, k)
		count(int64(w))
		t.p.giveBack(int64(k - w))
		if limit > 0 {
			limit -= int64(w)
		}
		if err != nil {
			return true, err
		}
		if k < n {
			return true, errLimitBytes
		}
	}
	return true, nil
}

// fill moves up to most bytes queued on src into the pipe, which is empty,
// waiting (with the idle timeout) until there are some; 0 is the end of
// the stream.
//
// splice(2) from a TCP socket stops at the urgent mark (tcp_read_sock in
// net/ipv4/tcp.c cuts each read there and returns nothing at it), so a
// peer that sends MSG_OOB could stall the tunnel (EAGAIN although bytes
// are queued, with nothing left to wake the poller) or make it spin (0,
// which is not the end of the stream when the FIN is queued behind). With
// SO_OOBINLINE (socket(7)) the urgent byte is an ordinary byte of the
// stream, which recv(2) reads past the mark: there, a short recv moves the
// bytes at the mark (into the pipe, so that they go on as any others).
func (t *tunnel) fill(s *net.TCPConn, rc syscall.RawConn, p *pipe, most int) (int, error) {
	for {
		var n int
		var ferr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				m, e := unix.Splice(int(fd), nil, p.w, nil, most, spliceFlags)
				switch {
				case m > 0:
					n = int(m)
					return true
				case e == unix.EINTR:
					continue
				case e != nil && e != unix.EAGAIN:
					ferr = os.NewSyscallError("splice", e)
					return true
				}
				// 0 (the end) or EAGAIN (nothing queued), unless at the mark.
				m2, eof, e2 := atMark(int(fd), p, most)
				switch {
				case e2 != nil:
					ferr = e2
					return true
				case m2 > 0:
					n = m2
					return true
				}
				return e == nil || eof // wait on EAGAIN
			}
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if t.idleFor() < t.idle {
				_ = s.SetReadDeadline(t.readDeadline()) // the other direction moved
				continue
			}
			return 0, errIdle
		}
		if err == nil {
			err = ferr
		}
		if n > 0 {
			t.touch()
		}
		return n, err
	}
}

// atMark moves up to most bytes from the urgent mark of fd into the pipe
// with recv(2), if fd is at the mark (SIOCATMARK, tcp(7)). It moves
// nothing when fd is not at the mark, or when the urgent byte has not
// arrived yet (the peer's urgent pointer can come first: EAGAIN, and the
// byte's arrival wakes the poller); eof is recv's end of stream.
func atMark(fd int, p *pipe, most int) (n int, eof bool, err error) {
	at, err := unix.IoctlGetInt(fd, unix.SIOCATMARK)
	if err != nil {
		return 0, false, os.NewSyscallError("ioctl SIOCATMARK", err)
	}
	if at == 0 {
		return 0, false, nil
	}
	var b [urgentBuf]byte
	for {
		n, _, err = unix.Recvfrom(fd, b[:min(most, len(b))], unix.MSG_DONTWAIT)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == unix.EAGAIN:
		return 0, false, nil
	case err != nil:
		return 0, false, os.NewSyscallError("recvfrom", err)
	case n == 0:
		return 0, true, nil
	}
	// The pipe is empty and holds far more than urgentBuf: one write.
	w, err := unix.Write(p.w, b[:n])
	if err == nil && w != n {
		err = io.ErrShortWrite
	}
	return n, false, os.NewSyscallError("write", err)
}

// drain moves n bytes from the pipe into dst, waiting (with the idle
// timeout) while dst does not take them, and returns how many it moved.
func (t *tunnel) drain(d *net.TCPConn, wc syscall.RawConn, p *pipe, n int) (int, error) {
	done := 0
	for done < n {
		var derr error
		err := wc.Write(func(fd uintptr) bool {
			before := done
			for done < n {
				m, e := unix.Splice(p.r, nil, int(fd), nil, n-done, spliceFlags)
				switch {
				case m > 0:
					done += int(m)
					continue
				case e == unix.EINTR:
					continue
				case e == unix.EAGAIN: // the pipe holds bytes: dst is full
					if done > before {
						t.touch()
					}
					return false
				case e == nil:
					e = io.ErrNoProgress // cannot be: the pipe holds bytes
				}
				derr = os.NewSyscallError("splice", e)
				return true
			}
			t.touch()
			return true
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if t.idleFor() < t.idle {
				_ = d.SetWriteDeadline(t.readDeadline()) // still moving
				continue
			}
			return done, errIdle
		}
		if err == nil {
			err = derr
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// oobInline sets SO_OOBINLINE on a socket (see fill).
func oobInline(rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1)
	})
	if err == nil {
		err = serr
	}
	return err
}

// renoOnLoopback makes a loopback socket (the jail's side of a tunnel)
// send with Reno (TCP_CONGESTION, tcp(7)). The host's default may be BBR,
// which paces at about the rate it measured, so that its sender sets a
// timer for most packets (tcp_pacing_check, net/ipv4/tcp_output.c); the
// pacing rate the kernel derives for Reno on loopback (cwnd over a round
// trip of microseconds) is far above what the relay can send, so it
// hardly ever waits. On loopback, where nothing queues and nothing is
// lost, BBR's pacing bought nothing and cost the relay close to a third
// of its CPU time per byte. Reno is always built in and always allowed;
// if the kernel refuses, the socket keeps its congestion control.
func renoOnLoopback(wc syscall.RawConn) {
	_ = wc.Control(func(fd uintptr) {
		_ = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "reno")
	})
}

// pipe is the pipe of one spliced direction; both ends non-blocking.
type pipe struct{ r, w int }

func newPipe() (*pipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	// A smaller pipe (F_SETPIPE_SZ refused: over pipe-max-size or the
	// user's pipe quota) still works, in more steps.
	_, _ = unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	return &pipe{r: fds[0], w: fds[1]}, nil
}

func (p *pipe) close() {
	unix.Close(p.r)
	unix.Close(p.w)
}
