//go:build linux

package egress

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tunnels waiting for data hold none of the budget: with three tunnels
// waiting in both directions, one download still gets all of it, exactly.
func TestBudgetFreeWhileWaiting(t *testing.T) {
	const max = 1 << 20
	src := sourceServer(t, 4<<20)
	echo, _ := echoServer(t)
	big, quiet := fmt.Sprintf("big.test:%d", portOf(t, src)), fmt.Sprintf("echo.test:%d", portOf(t, echo))
	tp := startProxy(t, Config{Allow: []string{big, quiet},
		Hosts:          map[string]string{"big.test": "127.0.0.1", "echo.test": "127.0.0.1"},
		AllowAddresses: loopback, MaxBytes: max}, Options{})
	for i := 0; i < 3; i++ {
		if code, _ := dialProxy(t, tp).connect(quiet); code != 200 {
			t.Fatalf("CONNECT %s: %d", quiet, code)
		}
	}
	r := dialProxy(t, tp)
	if code, _ := r.connect(big); code != 200 {
		t.Fatalf("CONNECT %s: %d", big, code)
	}
	if n, _ := io.Copy(io.Discard, r.br); n != max {
		t.Errorf("the download got %d bytes of a budget of %d that nothing else used", n, max)
	}
	tp.Shutdown()
	if rep := tp.Report(); rep.BytesUp+rep.BytesDown != max {
		t.Errorf("report: %d+%d bytes, want %d", rep.BytesUp, rep.BytesDown, max)
	}
}

// smallBufferTunnel is a tunnel from a client whose receive buffer, and
// the proxy's send buffer towards it, are small (so that the proxy's
// writes wait on the client), to a server sending size bytes.
func smallBufferTunnel(t *testing.T, size int64, idle time.Duration) (*testProxy, net.Conn, io.Reader) {
	const buf = 16 << 10
	small := func(opt int) func(string, string, syscall.RawConn) error {
		return func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, buf) })
			if err == nil {
				err = serr
			}
			return err
		}
	}
	src := sourceServer(t, size)
	target := fmt.Sprintf("big.test:%d", portOf(t, src))
	tp := startProxy(t, Config{Allow: []string{target}, Hosts: map[string]string{"big.test": "127.0.0.1"},
		AllowAddresses: loopback, IdleTimeout: idle}, Options{})
	// A second listener of the same proxy, whose connections inherit its
	// send buffer size.
	lc := net.ListenConfig{Control: small(syscall.SO_SNDBUF)}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tp.Serve(l)
	d := net.Dialer{Control: small(syscall.SO_RCVBUF)}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(safety))
	r := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	if code, _ := r.connect(target); code != 200 {
		t.Fatalf("CONNECT: %d", code)
	}
	return tp, c, r.br
}

// A client that reads slowly but steadily is not idle, even when the
// proxy needs much longer than the idle timeout to hand it what it read
// from the server in one step.
func TestIdleSlowReaderNotCut(t *testing.T) {
	const size = 1 << 20
	_, _, br := smallBufferTunnel(t, size, 200*time.Millisecond)
	// About 800 KB/s: the whole takes over a second, five idle timeouts.
	var n int64
	b := make([]byte, 16<<10)
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for {
		<-tk.C // pacing the reader, not synchronization
		m, err := br.Read(b)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
	}
	if n != size {
		t.Errorf("received %d bytes, want %d: the tunnel was cut", n, size)
	}
}

// A client that stops reading while the server still sends is idle: the
// proxy, waiting to write to it, ends the tunnel after the idle timeout.
func TestIdleStuckReader(t *testing.T) {
	const size = 64 << 20
	tp, c, br := smallBufferTunnel(t, size, 300*time.Millisecond)
	time.Sleep(time.Second) // the client reads nothing for over three idle timeouts
	n, err := io.Copy(io.Discard, br)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("after %d bytes: %v (want the end of the stream or a reset)", n, err)
	}
	if n >= size {
		t.Errorf("received all %d bytes: the tunnel was not cut", n)
	}
	c.Close()
	tp.Shutdown()
	if e := wantEntry(t, tp.Report(), "big.test"); !strings.Contains(e.Detail, "idle") {
		t.Errorf("entry %+v: want closed after the idle timeout", e)
	}
}

// The proxy's side of a loopback connection it splices into sends with
// Reno, whatever the host's default (see renoOnLoopback); its upstream
// connections to other hosts keep the default (not testable on loopback).
func TestRenoOnLoopback(t *testing.T) {
	src := sourceServer(t, 1<<20)
	target := fmt.Sprintf("big.test:%d", portOf(t, src))
	tp := startProxy(t, Config{Allow: []string{target}, Hosts: map[string]string{"big.test": "127.0.0.1"},
		AllowAddresses: loopback}, Options{})
	r := dialProxy(t, tp)
	if code, _ := r.connect(target); code != 200 {
		t.Fatalf("CONNECT: %d", code)
	}
	if _, err := r.br.ReadByte(); err != nil { // the download has begun
		t.Fatal(err)
	}
	var client *net.TCPConn // the proxy's end of r
	tp.mu.Lock()
	for c := range tp.conns {
		if c.RemoteAddr().String() == r.c.LocalAddr().String() {
			client = c.(*net.TCPConn)
		}
	}
	tp.mu.Unlock()
	if client == nil {
		t.Fatal("the proxy's end of the client connection is not tracked")
	}
	rc, err := client.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cc string
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		cc, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if cc != "reno" {
		t.Errorf("congestion control %q, want reno", cc)
	}
	_, _ = io.Copy(io.Discard, r.br)
}
