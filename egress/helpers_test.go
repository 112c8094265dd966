package egress

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// safety bounds how long a test waits for a condition before failing; it
// is never the condition itself.
const safety = 10 * time.Second

// dialLog records every address the proxy dials.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
	// redirect maps a dialed address to the one really connected to (to
	// stand for a port a test cannot bind, such as 443).
	redirect map[string]string
	// wrap hides *net.TCPConn, forcing the userspace copy.
	wrap bool
}

func (d *dialLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	to := addr
	if r, ok := d.redirect[addr]; ok {
		to = r
	}
	d.mu.Unlock()
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, to)
	if err == nil && d.wrap {
		c = struct{ net.Conn }{c}
	}
	return c, err
}

func (d *dialLog) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// testProxy is a proxy serving on a loopback listener, shut down with the
// test.
type testProxy struct {
	*Proxy
	addr  string
	dials *dialLog
	done  chan error
}

func startProxy(t testing.TB, cfg Config, o Options) *testProxy {
	t.Helper()
	pol, err := cfg.Compile()
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return startPolicy(t, pol, o)
}

func startPolicy(t testing.TB, pol *Policy, o Options) *testProxy {
	t.Helper()
	dl := &dialLog{}
	if o.Dial == nil {
		o.Dial = dl.dial
	}
	if o.Resolver == nil {
		// No test reaches the real DNS: a name not in Hosts fails.
		o.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return nil, fmt.Errorf("no such host %s (test resolver)", host)
		}
	}
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: NewProxy(pol, o), addr: l.Addr().String(), dials: dl, done: make(chan error, 1)}
	go func() { tp.done <- tp.Serve(l) }()
	t.Cleanup(func() {
		tp.Shutdown()
		select {
		case err := <-tp.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(safety):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return tp
}

func (tp *testProxy) url() *url.URL { return &url.URL{Scheme: "http", Host: tp.addr} }

// client is an http.Client that goes through the proxy.
func (tp *testProxy) client(roots *x509.CertPool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:             http.ProxyURL(tp.url()),
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			DisableKeepAlives: false,
		},
		Timeout: safety,
	}
}

// wantEntry finds the one report entry for host (or fails).
func wantEntry(t *testing.T, rep Report, host string) Conn {
	t.Helper()
	var found []Conn
	for _, c := range rep.Connections {
		if c.Host == host {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one report entry for %q, got %d: %+v", host, len(found), rep.Connections)
	}
	return found[0]
}

// portOf returns the port of a listener address.
func portOf(t testing.TB, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// rawConn is a client connection to the proxy spoken to by hand.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialProxy(t testing.TB, tp *testProxy) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(safety))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// head reads a response head: status code and header.
func (r *rawConn) head() (int, http.Header) {
	r.t.Helper()
	tp := textproto.NewReader(r.br)
	line, err := tp.ReadLine()
	if err != nil {
		r.t.Fatalf("reading a status line: %v", err)
	}
	f := strings.SplitN(line, " ", 3)
	if len(f) < 2 {
		r.t.Fatalf("bad status line %q", line)
	}
	code, _ := strconv.Atoi(f[1])
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		r.t.Fatalf("reading a header: %v", err)
	}
	return code, http.Header(h)
}

// response reads a full response to a request with the given method.
// get asks the proxy for hp's root (HTTP/1.1, absolute form) and reads
// the answer.
func (r *rawConn) get(hp string) (*http.Response, string) {
	r.send("GET http://" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n")
	return r.response("GET")
}

func (r *rawConn) response(method string) (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("reading a body: %v", err)
	}
	return resp, string(b)
}

// connect sends a CONNECT and returns the status and the refusal reason.
func (r *rawConn) connect(target string) (int, string) {
	r.t.Helper()
	r.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
	code, h := r.head()
	if code != 200 {
		if n, _ := strconv.Atoi(h.Get("Content-Length")); n > 0 {
			_, _ = io.CopyN(io.Discard, r.br, int64(n))
		}
	}
	return code, h.Get("X-Egress-Reason")
}

// closed waits until the proxy closes the connection (EOF or reset) and
// fails if it is still open after safety.
func (r *rawConn) closed() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(safety))
	_, err := io.Copy(io.Discard, r.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatal("the proxy did not close the connection")
	}
}

// echoServer is a plain TCP server that writes back what it reads.
func echoServer(t testing.TB) (addr string, accepted func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// sourceServer writes size bytes to every connection, then closes it.
func sourceServer(t testing.TB, size int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.CopyN(c, zeros{}, size)
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// webServer is an httptest server that records the requests it gets.
type webServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newWebServer(t testing.TB) *webServer {
	ws := &webServer{}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/early" {
			w.WriteHeader(http.StatusRequestEntityTooLarge) // without reading the body
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		ws.mu.Lock()
		ws.reqs = append(ws.reqs, r)
		ws.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/big/"):
			n, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/big/"), 10, 64)
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			_, _ = io.CopyN(w, zeros{}, n)
		case r.URL.Path == "/echo":
			fmt.Fprintf(w, "%s %s body=%q", r.Method, r.URL.RequestURI(), body)
		default:
			fmt.Fprintf(w, "hello from %s", r.Host)
		}
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *webServer) requests() []*http.Request {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]*http.Request(nil), ws.reqs...)
}

// tlsServer is an HTTPS server with a fresh self-signed certificate for
// name; roots trusts it.
func tlsServer(t testing.TB, name string) (srv *httptest.Server, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "secure hello, tls=%v", r.TLS != nil)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, roots
}
