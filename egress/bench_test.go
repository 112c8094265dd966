package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// benchSource writes size bytes to every connection in large writes, so
// that the source is not what limits the transfer.
func benchSource(b *testing.B, size int64) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	buf := make([]byte, 1<<20)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for left := size; left > 0; {
					n, err := c.Write(buf[:min(left, int64(len(buf)))])
					if err != nil {
						return
					}
					left -= int64(n)
				}
			}()
		}
	}()
	return l.Addr().String()
}

// drain reads a connection to its end in large reads.
func drain(b *testing.B, r io.Reader, want int64) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != want {
		b.Fatalf("received %d bytes, want %d", n, want)
	}
}

// proxyConnect opens a tunnel to target through the proxy.
func proxyConnect(b *testing.B, proxy, target string) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		b.Fatalf("CONNECT: %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil {
		b.Fatal(err)
	}
	return c, br
}

// BenchmarkTunnel is the throughput of a download through a CONNECT tunnel
// (splice between TCP sockets, and the userspace copy for comparison)
// against the same download straight over loopback. MB/s is the figure;
// the target is tunnel >= 50% of direct (size is per operation; set it to
// 1 << 30 for the 1 GiB measurement).
func BenchmarkTunnel(b *testing.B) {
	const size = 256 << 20
	src := benchSource(b, size)
	port := portOf(b, src)
	target := fmt.Sprintf("bench.test:%d", port)
	cfg := Config{Allow: []string{target}, Hosts: map[string]string{"bench.test": "127.0.0.1"},
		AllowAddresses: loopback, MaxBytes: 1 << 60}
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			c, err := net.Dial("tcp", src)
			if err != nil {
				b.Fatal(err)
			}
			drain(b, c, size)
			c.Close()
		}
	})
	for _, mode := range []struct {
		name string
		wrap bool
	}{{"splice", false}, {"copy", true}} {
		b.Run(mode.name, func(b *testing.B) {
			dl := &dialLog{wrap: mode.wrap}
			tp := startProxy(b, cfg, Options{Dial: dl.dial, Logf: quiet})
			b.SetBytes(size)
			for b.Loop() {
				c, br := proxyConnect(b, tp.addr, target)
				drain(b, br, size)
				c.Close()
			}
		})
	}
}

// BenchmarkConnectLatency is the time of one connection and a one-byte
// round trip, straight and through the proxy (CONNECT, checks, dial, 200).
// The difference of the two is the latency the proxy adds per connection;
// the target is under 1 ms.
func BenchmarkConnectLatency(b *testing.B) {
	echo, _ := echoServer(b)
	port := portOf(b, echo)
	target := fmt.Sprintf("echo.test:%d", port)
	roundTrip := func(b *testing.B, c net.Conn, r io.Reader) {
		if _, err := c.Write([]byte{'x'}); err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		if _, err := io.ReadFull(r, one[:]); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			c, err := net.Dial("tcp", echo)
			if err != nil {
				b.Fatal(err)
			}
			roundTrip(b, c, c)
		}
	})
	b.Run("proxy", func(b *testing.B) {
		tp := startProxy(b, Config{Allow: []string{target}, Hosts: map[string]string{"echo.test": "127.0.0.1"},
			AllowAddresses: loopback, MaxConnections: maxMaxConnections}, Options{Logf: quiet})
		for b.Loop() {
			c, br := proxyConnect(b, tp.addr, target)
			roundTrip(b, c, br)
		}
	})
}

func quiet(string, ...any) {}
