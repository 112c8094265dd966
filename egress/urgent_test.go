//go:build linux

package egress

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sendUrgent sends b with MSG_OOB: its last byte is TCP urgent data, and
// the urgent pointer of the receiver marks it (tcp(7)). splice(2) from a
// TCP socket stops at that mark (tcp_read_sock), which is what these
// tests aim at.
func sendUrgent(c net.Conn, b string) error {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), []byte(b), unix.MSG_OOB, nil)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return err
}

// urgentTunnel opens a tunnel through a fresh proxy to a loopback server
// and returns the client's connection (with its reader) and the server's.
func urgentTunnel(t *testing.T) (tp *testProxy, r *rawConn, up *net.TCPConn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	target := fmt.Sprintf("urg.test:%d", portOf(t, l.Addr().String()))
	tp = startProxy(t, Config{Allow: []string{target}, Hosts: map[string]string{"urg.test": "127.0.0.1"},
		AllowAddresses: loopback}, Options{})
	r = dialProxy(t, tp)
	if code, _ := r.connect(target); code != 200 {
		t.Fatalf("CONNECT: %d", code)
	}
	select {
	case c := <-accepted:
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(safety))
		return tp, r, c.(*net.TCPConn)
	case <-time.After(safety):
		t.Fatal("the proxy did not connect upstream")
	}
	return nil, nil, nil
}

// Urgent data (MSG_OOB) inside a tunnel, either way, is carried in order
// as an ordinary byte: the relay neither stops at the urgent mark (a
// splice that returns 0 there is not the end of the stream) nor drops the
// byte, the counts are exact, and the tunnel ends when both sides are done.
func TestUrgentDataTunnel(t *testing.T) {
	for _, dir := range []string{"up", "down"} {
		t.Run(dir, func(t *testing.T) {
			tp, r, up := urgentTunnel(t)
			// send writes into the tunnel, recv reads what came out of it.
			var send, recvConn net.Conn = r.c, up
			var recv io.Reader = up
			if dir == "down" {
				send, recvConn, recv = up, r.c, r.br
			}
			var total int64
			for i := 0; i < 3; i++ {
				before, after := fmt.Sprintf("before-%d-", i), fmt.Sprintf("-after-%d", i)
				if _, err := io.WriteString(send, before); err != nil {
					t.Fatal(err)
				}
				if err := sendUrgent(send, "!"); err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(send, after); err != nil {
					t.Fatal(err)
				}
				want := before + "!" + after
				got := make([]byte, len(want))
				if _, err := io.ReadFull(recv, got); err != nil || string(got) != want {
					t.Fatalf("round %d: received %q (%v), want %q", i, got, err, want)
				}
				total += int64(len(want))
			}
			// The sender is done: the receiver sees the end, closes, and
			// the sender sees the tunnel end.
			if err := send.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if rest, err := io.ReadAll(recv); err != nil || len(rest) != 0 {
				t.Fatalf("after the last round: %q, %v (want the end of the stream)", rest, err)
			}
			recvConn.Close()
			_ = send.SetReadDeadline(time.Now().Add(safety))
			if _, err := io.Copy(io.Discard, send); err != nil {
				t.Fatalf("the tunnel did not end: %v", err)
			}
			tp.Shutdown()
			e := wantEntry(t, tp.Report(), "urg.test")
			moved := e.BytesUp
			if dir == "down" {
				moved = e.BytesDown
			}
			if !e.Allowed || moved != total {
				t.Errorf("entry %+v: want %d bytes %s", e, total, dir)
			}
		})
	}
}

// A tunnel whose sender ends its stream right after urgent data does not
// spin: once the bytes are through, nothing moves and the process uses
// (almost) no CPU time.
func TestUrgentDataNoSpin(t *testing.T) {
	for _, dir := range []string{"up", "down"} {
		t.Run(dir, func(t *testing.T) {
			_, r, up := urgentTunnel(t)
			var send net.Conn = r.c
			var recv io.Reader = up
			if dir == "down" {
				send, recv = up, r.br
			}
			const window = 500 * time.Millisecond
			cpu0 := cpuTime(t)
			_, _ = io.WriteString(send, "data")
			if err := sendUrgent(send, "!"); err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(send, "more")
			// The end of the stream right behind the urgent data: a splice
			// at the mark then returns 0 although bytes are queued.
			if err := send.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 1)
			go func() {
				b := make([]byte, len("data!more"))
				n, _ := io.ReadFull(recv, b)
				got <- string(b[:n])
			}()
			// Carrying nine bytes takes well under a millisecond of CPU;
			// a relay stuck at the urgent mark spins instead.
			time.Sleep(window) // measuring, not synchronizing
			if used := cpuTime(t) - cpu0; used > window/4 {
				t.Errorf("the process used %v of CPU time in %v to carry 9 bytes: the relay spins", used, window)
			}
			_ = r.c.SetDeadline(time.Now().Add(time.Millisecond)) // ends the reader if still waiting
			_ = up.SetDeadline(time.Now().Add(time.Millisecond))
			if s := <-got; s != "data!more" {
				t.Errorf("received %q, want %q", s, "data!more")
			}
		})
	}
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A plain-HTTP body of known length with urgent data in it reaches the
// client whole and in order (the spliced body path), and the connection
// stays in step for the next request.
func TestUrgentDataPlainBody(t *testing.T) {
	const part1, part2 = "first part of the body ", " and the rest"
	body := part1 + "!" + part2
	hp, tp := rawUpstream(t, func(c net.Conn, req *http.Request) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), part1)
		if sendUrgent(c, "!") != nil {
			return
		}
		io.WriteString(c, part2)
		time.Sleep(safety) // and keep the connection open
	})
	r := dialProxy(t, tp)
	for i := 0; i < 2; i++ {
		resp, got := r.get(hp)
		if resp.StatusCode != 200 || got != body {
			t.Fatalf("response %d: %d %q, want %q", i, resp.StatusCode, got, body)
		}
	}
	tp.Shutdown()
	if rep := tp.Report(); rep.BytesDown < int64(2*len(body)) {
		t.Errorf("reported %d bytes down", rep.BytesDown)
	}
}
