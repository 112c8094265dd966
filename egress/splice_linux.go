package egress

import (
	"errors"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// splice copies src to dst without copying through user space when both
// are TCP connections: (*net.TCPConn).ReadFrom of an *io.LimitedReader
// around a *net.TCPConn is splice(2) through a pipe (Go's
// internal/poll.Splice). The budget is still exact: each step first waits
// until src is readable and asks the kernel how many bytes are queued
// (SIOCINQ, tcp(7)), reserves that many (at most one chunk), and splices
// exactly the reserved count, which is already there, so no reservation
// is ever held while waiting for data. It reports false when it cannot
// splice (then nothing was read).
//
// With limit >= 0 it copies exactly limit bytes and stops (a response
// body of known length: a byte past it is never read); an end of stream
// before that is io.ErrUnexpectedEOF.
func (t *tunnel) splice(dst, src net.Conn, count func(int64), limit int64) (bool, error) {
	d, ok1 := dst.(*net.TCPConn)
	s, ok2 := src.(*net.TCPConn)
	if !ok1 || !ok2 {
		return false, nil
	}
	rc, err := s.SyscallConn()
	if err != nil {
		return false, nil
	}
	for limit != 0 {
		avail, err := t.waitQueued(s, rc)
		if err != nil {
			return true, err
		}
		if avail == 0 {
			if limit > 0 {
				return true, io.ErrUnexpectedEOF
			}
			return true, nil // end of stream
		}
		want := min(int64(avail), chunk)
		if limit > 0 {
			want = min(want, limit)
		}
		k := t.p.take(want)
		if k > 0 {
			_ = d.SetWriteDeadline(time.Now().Add(t.idle))
			w, err := d.ReadFrom(&io.LimitedReader{R: s, N: k})
			count(w)
			t.p.giveBack(k - w)
			if limit > 0 {
				limit -= w
			}
			if w > 0 {
				t.touch()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return true, errIdle
			}
			if err != nil {
				return true, err
			}
		}
		if k < want {
			return true, errLimitBytes
		}
	}
	return true, nil
}

// waitQueued waits, with the tunnel's idle deadline, until src has bytes
// queued or is at its end; it returns how many are queued (0 at the end).
// SIOCINQ alone cannot tell the end of the stream from "nothing yet", so
// an empty queue is told apart with a non-blocking MSG_PEEK of one byte
// (recv(2)): 0 is the peer's FIN, EAGAIN means wait (the poller then waits
// for readability, as for any read).
func (t *tunnel) waitQueued(src *net.TCPConn, rc interface {
	Read(func(uintptr) bool) error
}) (int, error) {
	for {
		_ = src.SetReadDeadline(t.readDeadline())
		var avail int
		var ferr error
		err := rc.Read(func(fd uintptr) bool {
			n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
			if err != nil {
				ferr = err
				return true
			}
			if n > 0 {
				avail = n
				return true
			}
			var b [1]byte
			m, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case err == unix.EAGAIN || err == unix.EINTR:
				return false
			case err != nil:
				ferr = os.NewSyscallError("recvfrom", err)
			default:
				avail = m // 0: end of stream; 1: bytes arrived just now
			}
			return true
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if t.idleFor() < t.idle {
				continue // the other direction moved: still alive
			}
			return 0, errIdle
		}
		if err != nil {
			return 0, err
		}
		return avail, ferr
	}
}
