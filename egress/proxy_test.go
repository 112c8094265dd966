package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The upstreams of these tests all listen on loopback; Config.Hosts names
// them and allowAddresses 127.0.0.0/8 lets the proxy reach them, unless a
// test shows what happens without.
var loopback = []string{"127.0.0.0/8"}

func TestPlainHTTPAllowed(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("web.test:%d", port)},
		Hosts:          map[string]string{"web.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	resp, err := tp.client(nil).Get(fmt.Sprintf("http://web.test:%d/hello", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != fmt.Sprintf("hello from web.test:%d", port) {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	tp.Shutdown()
	rep := tp.Report()
	e := wantEntry(t, rep, "web.test")
	if !e.Allowed || e.Method != "GET" || e.Port != port || e.Address != ws.Listener.Addr().String() || e.BytesDown == 0 || e.BytesUp == 0 {
		t.Errorf("entry %+v", e)
	}
	if rep.Allowed != 1 || rep.Refused != 0 || rep.BytesDown != e.BytesDown {
		t.Errorf("report %+v", rep)
	}
}

func TestConnectTLSAllowed(t *testing.T) {
	srv, roots := tlsServer(t, "secure.test")
	port := portOf(t, srv.Listener.Addr().String())
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("secure.test:%d", port)},
		Hosts:          map[string]string{"secure.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	resp, err := tp.client(roots).Get(fmt.Sprintf("https://secure.test:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "secure hello, tls=true" || resp.TLS == nil {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	tp.Shutdown()
	e := wantEntry(t, tp.Report(), "secure.test")
	if !e.Allowed || e.Method != "CONNECT" || e.Address != srv.Listener.Addr().String() || e.BytesUp == 0 || e.BytesDown == 0 {
		t.Errorf("entry %+v", e)
	}
}

func TestNameNotAllowed(t *testing.T) {
	tp := startProxy(t, Config{Allow: []string{"pypi.org"}, Hosts: map[string]string{"evil.test": "127.0.0.1"}, AllowAddresses: loopback}, Options{})
	r := dialProxy(t, tp)
	if code, reason := r.connect("evil.test:443"); code != 403 || reason != ReasonNotAllowed {
		t.Errorf("CONNECT evil.test:443: %d %s", code, reason)
	}
	r.closed()
	r = dialProxy(t, tp)
	r.send("GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n")
	resp, body := r.response("GET")
	if resp.StatusCode != 403 || !strings.Contains(body, ReasonNotAllowed) || strings.Contains(body, "127.0.0.1") {
		t.Errorf("GET http://evil.test/: %d %q", resp.StatusCode, body)
	}
	// The apex of a wildcard and a look-alike suffix are other names.
	tp2 := startProxy(t, Config{Allow: []string{"*.pythonhosted.org"}}, Options{})
	for _, target := range []string{"pythonhosted.org:443", "evilpythonhosted.org:443", "pythonhosted.org.evil.test:443"} {
		r := dialProxy(t, tp2)
		if code, reason := r.connect(target); code != 403 || reason != ReasonNotAllowed {
			t.Errorf("CONNECT %s: %d %s", target, code, reason)
		}
	}
	if d := append(tp.dials.list(), tp2.dials.list()...); len(d) != 0 {
		t.Errorf("dialed %v", d)
	}
	tp.Shutdown()
	rep := tp.Report()
	if rep.Refused != 2 || rep.Allowed != 0 || rep.Connections[0].Reason != ReasonNotAllowed {
		t.Errorf("report %+v", rep)
	}
}

func TestPortNotAllowed(t *testing.T) {
	ws := newWebServer(t)
	gateway := newWebServer(t) // stands for the gateway on another local port
	port := portOf(t, ws.Listener.Addr().String())
	gwPort := portOf(t, gateway.Listener.Addr().String())
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("web.test:%d", port)},
		Hosts:          map[string]string{"web.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	r := dialProxy(t, tp)
	if code, reason := r.connect(fmt.Sprintf("web.test:%d", gwPort)); code != 403 || reason != ReasonPortNotAllowed {
		t.Errorf("CONNECT to the gateway's port: %d %s", code, reason)
	}
	r = dialProxy(t, tp)
	r.send(fmt.Sprintf("GET http://web.test:%d/ HTTP/1.1\r\nHost: web.test:%d\r\n\r\n", gwPort, gwPort))
	if resp, _ := r.response("GET"); resp.StatusCode != 403 || resp.Header.Get("X-Egress-Reason") != ReasonPortNotAllowed {
		t.Errorf("GET on the gateway's port: %d", resp.StatusCode)
	}
	if d := tp.dials.list(); len(d) != 0 {
		t.Errorf("dialed %v", d)
	}
	if n := len(gateway.requests()); n != 0 {
		t.Errorf("the gateway stand-in got %d requests", n)
	}
}

func TestIPLiterals(t *testing.T) {
	echo, accepted := echoServer(t)
	port := portOf(t, echo)
	tp := startProxy(t, Config{Allow: []string{fmt.Sprintf("echo.test:%d", port)}, AllowAddresses: loopback}, Options{})
	// Every numeric spelling of an address is refused: the IP literal
	// rule admits loopback (in allowAddresses) on 80 and 443 only, and
	// numbers that are not clean addresses are not names either.
	connects := []string{
		fmt.Sprintf("127.0.0.1:%d", port),
		fmt.Sprintf("[::1]:%d", port),
		fmt.Sprintf("[::ffff:127.0.0.1]:%d", port),
		fmt.Sprintf("[::ffff:7f00:1]:%d", port),
		fmt.Sprintf("2130706433:%d", port),
		fmt.Sprintf("0x7f000001:%d", port),
		fmt.Sprintf("0x7f.1:%d", port),
		fmt.Sprintf("0177.0.0.1:%d", port),
		fmt.Sprintf("127.1:%d", port),
		fmt.Sprintf("127.0.0.01:%d", port),
		fmt.Sprintf("017700000001:%d", port),
		fmt.Sprintf("１２７.０.０.１:%d", port), // full-width digits
		"8.8.8.8:443", // public, but not in allowAddresses
		"169.254.169.254:80",
		"[fd00:ec2::254]:80",
		"[::1]:22",
		"[fe80::1%25lo]:443",
		"[fe80::1%lo]:443",
		"::1:443",
	}
	for _, target := range connects {
		r := dialProxy(t, tp)
		code, reason := r.connect(target)
		if code != 403 && code != 400 {
			t.Errorf("CONNECT %s: %d %s", target, code, reason)
		}
		if code == 403 && reason != ReasonIPLiteral {
			t.Errorf("CONNECT %s: reason %s", target, reason)
		}
	}
	gets := []string{
		fmt.Sprintf("http://127.0.0.1:%d/", port),
		fmt.Sprintf("http://2130706433:%d/", port),
		fmt.Sprintf("http://[::1]:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port),
		fmt.Sprintf("http://0x7f.0.0.1:%d/", port),
		"http://169.254.169.254/latest/meta-data/",
	}
	for _, u := range gets {
		r := dialProxy(t, tp)
		host := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/latest/meta-data/")
		host = strings.TrimSuffix(host, "/")
		r.send("GET " + u + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
		resp, _ := r.response("GET")
		if resp.StatusCode != 403 && resp.StatusCode != 400 {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
		}
	}
	if d := tp.dials.list(); len(d) != 0 {
		t.Errorf("dialed %v", d)
	}
	if accepted() != 0 {
		t.Errorf("the upstream got %d connections", accepted())
	}
}

// An address in allowAddresses is admitted as a literal on 443 (the
// dial is redirected to the echo server: a test cannot bind port 443).
func TestIPLiteralAdmitted(t *testing.T) {
	echo, _ := echoServer(t)
	dl := &dialLog{redirect: map[string]string{"127.0.0.1:443": echo}}
	tp := startProxy(t, Config{AllowAddresses: []string{"127.0.0.1/32"}}, Options{Dial: dl.dial})
	r := dialProxy(t, tp)
	if code, reason := r.connect("127.0.0.1:443"); code != 200 {
		t.Fatalf("CONNECT 127.0.0.1:443: %d %s", code, reason)
	}
	r.send("ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(r.br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	if d := dl.list(); len(d) != 1 || d[0] != "127.0.0.1:443" {
		t.Errorf("dialed %v", d)
	}
	r = dialProxy(t, tp)
	if code, reason := r.connect("127.0.0.2:443"); code != 403 || reason != ReasonIPLiteral {
		t.Errorf("CONNECT 127.0.0.2:443 (not listed): %d %s", code, reason)
	}
}

func TestNameResolvesToRefusedRange(t *testing.T) {
	echo, accepted := echoServer(t)
	port := portOf(t, echo)
	allow := []string{fmt.Sprintf("local.test:%d", port), fmt.Sprintf("mixed.test:%d", port), fmt.Sprintf("inner.test:%d", port)}

	// Static Hosts to loopback without allowAddresses: refused.
	tp := startProxy(t, Config{Allow: allow, Hosts: map[string]string{"local.test": "127.0.0.1"}}, Options{})
	r := dialProxy(t, tp)
	if code, reason := r.connect(fmt.Sprintf("local.test:%d", port)); code != 403 || reason != ReasonAddressRefused {
		t.Errorf("CONNECT local.test: %d %s", code, reason)
	}
	if d := tp.dials.list(); len(d) != 0 {
		t.Errorf("dialed %v", d)
	}
	tp.Shutdown()
	if e := wantEntry(t, tp.Report(), "local.test"); !strings.Contains(e.Detail, "loopback") || e.Address != "" {
		t.Errorf("entry %+v", e)
	}

	// A resolver returning a mix: only the allowed address is dialed.
	var mu sync.Mutex
	var asked []string
	resolver := func(ctx context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		asked = append(asked, host)
		mu.Unlock()
		switch host {
		case "mixed.test":
			return []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("169.254.169.254"),
				netip.MustParseAddr("::ffff:192.168.1.1"), netip.MustParseAddr("127.0.0.1")}, nil
		case "inner.test":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:10.1.1.1")}, nil
		}
		return nil, errors.New("no such host")
	}
	tp = startProxy(t, Config{Allow: allow, AllowAddresses: []string{"127.0.0.1/32"},
		Hosts: map[string]string{"local.test": "127.0.0.1"}}, Options{Resolver: resolver})
	r = dialProxy(t, tp)
	if code, reason := r.connect(fmt.Sprintf("mixed.test:%d", port)); code != 200 {
		t.Fatalf("CONNECT mixed.test: %d %s", code, reason)
	}
	if d := tp.dials.list(); len(d) != 1 || d[0] != echo {
		t.Errorf("dialed %v, want only %s", d, echo)
	}
	r2 := dialProxy(t, tp)
	if code, reason := r2.connect(fmt.Sprintf("inner.test:%d", port)); code != 403 || reason != ReasonAddressRefused {
		t.Errorf("CONNECT inner.test: %d %s", code, reason)
	}
	// Hosts takes precedence: the resolver is never asked for local.test.
	r3 := dialProxy(t, tp)
	if code, _ := r3.connect(fmt.Sprintf("local.test:%d", port)); code != 200 {
		t.Errorf("CONNECT local.test with allowAddresses: %d", code)
	}
	// A byte echoed through each tunnel: the upstream has accepted both
	// (a 200 says only that the proxy's dial completed).
	for _, c := range []*rawConn{r, r3} {
		c.c.Write([]byte("x"))
		c.c.SetReadDeadline(time.Now().Add(safety))
		if b, err := c.br.ReadByte(); err != nil || b != 'x' {
			t.Errorf("echo through the tunnel: %q %v", b, err)
		}
	}
	r.c.Close()
	r3.c.Close()
	tp.Shutdown()
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, ",") != "mixed.test,inner.test" {
		t.Errorf("resolver asked for %v", asked)
	}
	rep := tp.Report()
	if e := wantEntry(t, rep, "mixed.test"); e.Address != echo || !strings.Contains(e.Detail, "10.0.0.1") || !strings.Contains(e.Detail, "metadata") {
		t.Errorf("mixed entry %+v", e)
	}
	if accepted() != 2 {
		t.Errorf("the upstream got %d connections, want 2", accepted())
	}
}

func TestHostHeaderMismatch(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("web.test:%d", port), "evil.test"},
		Hosts:          map[string]string{"web.test": "127.0.0.1", "evil.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	for _, host := range []string{"evil.test", fmt.Sprintf("evil.test:%d", port), "web.test", "web.test:1", "", "127.0.0.1"} {
		r := dialProxy(t, tp)
		r.send(fmt.Sprintf("GET http://web.test:%d/ HTTP/1.1\r\nHost: %s\r\n\r\n", port, host))
		resp, _ := r.response("GET")
		if resp.StatusCode != 403 || resp.Header.Get("X-Egress-Reason") != ReasonHostMismatch {
			t.Errorf("Host %q: %d %s", host, resp.StatusCode, resp.Header.Get("X-Egress-Reason"))
		}
	}
	// Two Host headers are malformed.
	r := dialProxy(t, tp)
	r.send(fmt.Sprintf("GET http://web.test:%d/ HTTP/1.1\r\nHost: web.test:%d\r\nHost: evil.test\r\n\r\n", port, port))
	if resp, _ := r.response("GET"); resp.StatusCode != 400 {
		t.Errorf("two Host headers: %d", resp.StatusCode)
	}
	if d := tp.dials.list(); len(d) != 0 {
		t.Errorf("dialed %v", d)
	}
	// The same authority in another case and with a trailing dot matches;
	// the upstream gets the canonical Host.
	r = dialProxy(t, tp)
	r.send(fmt.Sprintf("GET http://WEB.test.:%d/ HTTP/1.1\r\nHost: web.TEST:%d\r\n\r\n", port, port))
	if resp, body := r.response("GET"); resp.StatusCode != 200 || body != fmt.Sprintf("hello from web.test:%d", port) {
		t.Errorf("same authority: %d %q", resp.StatusCode, body)
	}
}

// A CONNECT written into an established tunnel is payload: it reaches the
// upstream (an echo server) and comes back byte for byte, and the proxy
// dials nothing else.
func TestConnectInsideTunnel(t *testing.T) {
	echo, accepted := echoServer(t)
	port := portOf(t, echo)
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("echo.test:%d", port)},
		Hosts:          map[string]string{"echo.test": "127.0.0.1", "evil.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	r := dialProxy(t, tp)
	if code, reason := r.connect(fmt.Sprintf("echo.test:%d", port)); code != 200 {
		t.Fatalf("CONNECT: %d %s", code, reason)
	}
	inner := "CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\nGET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n"
	r.send(inner)
	got := make([]byte, len(inner))
	if _, err := io.ReadFull(r.br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != inner {
		t.Errorf("the tunnel answered %q", got)
	}
	r.c.Close()
	tp.Shutdown()
	if d := tp.dials.list(); len(d) != 1 || d[0] != echo {
		t.Errorf("dialed %v", d)
	}
	if n := len(tp.Report().Connections); n != 1 || accepted() != 1 {
		t.Errorf("%d report entries, %d upstream connections", n, accepted())
	}
}

// Bytes a client sends right behind its CONNECT head, before the 200, go
// to the upstream first, in order.
func TestConnectPipelinedBytes(t *testing.T) {
	echo, _ := echoServer(t)
	port := portOf(t, echo)
	tp := startProxy(t, Config{Allow: []string{fmt.Sprintf("echo.test:%d", port)}, Hosts: map[string]string{"echo.test": "127.0.0.1"}, AllowAddresses: loopback}, Options{})
	r := dialProxy(t, tp)
	r.send(fmt.Sprintf("CONNECT echo.test:%d HTTP/1.1\r\nHost: x\r\n\r\nearly-bytes", port))
	if code, _ := r.head(); code != 200 {
		t.Fatalf("CONNECT: %d", code)
	}
	r.send("+late")
	got := make([]byte, len("early-bytes+late"))
	if _, err := io.ReadFull(r.br, got); err != nil || string(got) != "early-bytes+late" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestAbsoluteForm(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("web.test:%d", port)},
		Hosts:          map[string]string{"web.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	hp := fmt.Sprintf("web.test:%d", port)
	r := dialProxy(t, tp)
	r.send("GET HTTP://WEB.TEST:" + fmt.Sprint(port) + "/echo?q=1&r=%2F HTTP/1.1\r\nHost: " + hp + "\r\n\r\n")
	if resp, body := r.response("GET"); resp.StatusCode != 200 || body != `GET /echo?q=1&r=%2F body=""` {
		t.Errorf("absolute-form: %d %q", resp.StatusCode, body)
	}
	reqs := ws.requests()
	if len(reqs) != 1 || reqs[0].Host != hp || reqs[0].RequestURI != "/echo?q=1&r=%2F" {
		t.Errorf("upstream saw %+v", reqs)
	}
	bad := []string{
		"GET / HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",                           // origin-form
		"GET /http://" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",         // still origin-form
		"OPTIONS * HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",                       // asterisk-form
		"GET https://" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",         // https is CONNECT's
		"GET ftp://" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",           // other scheme
		"GET http://" + hp + "@evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n", // userinfo
		"GET http://user:pw@" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",
		"GET http://web%2etest:" + fmt.Sprint(port) + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n", // percent-encoded host
		"GET http:///x HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",                                   // no host
		"GET http:" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",                            // opaque
		"GET http://" + hp + "/ HTTP/1.1\r\n\r\n",                                              // 1.1 without Host
		"GET http://" + hp + "/ HTTP/2.0\r\nHost: " + hp + "\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"CONNECT " + hp + "/path HTTP/1.1\r\nHost: " + hp + "\r\n\r\n",
		"CONNECT web.test HTTP/1.1\r\nHost: web.test\r\n\r\n", // no port
		"CONNECT " + hp + " HTTP/1.1\r\nHost: " + hp + "\r\nContent-Length: 5\r\n\r\nhello",
	}
	for _, req := range bad {
		r := dialProxy(t, tp)
		r.send(req)
		code, _ := r.head()
		if code != 400 && code != 505 {
			t.Errorf("%q: %d", strings.SplitN(req, "\r\n", 2)[0], code)
		}
		r.closed()
	}
	if n := len(ws.requests()); n != 1 {
		t.Errorf("the upstream got %d requests, want 1", n)
	}
	// HTTP/1.0 without Host is fine: the URI carries the authority.
	r = dialProxy(t, tp)
	r.send("GET http://" + hp + "/ HTTP/1.0\r\n\r\n")
	if resp, body := r.response("GET"); resp.StatusCode != 200 || body != "hello from "+hp {
		t.Errorf("HTTP/1.0: %d %q", resp.StatusCode, body)
	}
	r.closed() // 1.0: closed after the response
}

func TestKeepAliveEachRequestChecked(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	other := newWebServer(t)
	oport := portOf(t, other.Listener.Addr().String())
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("web.test:%d", port)},
		Hosts:          map[string]string{"web.test": "127.0.0.1", "evil.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	hp := fmt.Sprintf("web.test:%d", port)

	// Two allowed requests on one connection, then one not allowed.
	r := dialProxy(t, tp)
	for i := 0; i < 2; i++ {
		if resp, _ := r.get(hp); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	ehp := fmt.Sprintf("evil.test:%d", oport)
	r.send("GET http://" + ehp + "/ HTTP/1.1\r\nHost: " + ehp + "\r\n\r\n")
	if resp, _ := r.response("GET"); resp.StatusCode != 403 || resp.Header.Get("X-Egress-Reason") != ReasonNotAllowed {
		t.Errorf("third request: %d", resp.StatusCode)
	}
	r.closed()

	// A CONNECT after a plain request is checked too.
	r = dialProxy(t, tp)
	if resp, _ := r.get(hp); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	if code, reason := r.connect(ehp); code != 403 || reason != ReasonNotAllowed {
		t.Errorf("CONNECT after a request: %d %s", code, reason)
	}
	// Pipelined: both requests in one write, the second not allowed.
	r = dialProxy(t, tp)
	r.send("GET http://" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\nGET http://" + ehp + "/ HTTP/1.1\r\nHost: " + ehp + "\r\n\r\n")
	if resp, _ := r.response("GET"); resp.StatusCode != 200 {
		t.Errorf("pipelined first: %d", resp.StatusCode)
	}
	if resp, _ := r.response("GET"); resp.StatusCode != 403 {
		t.Errorf("pipelined second: %d", resp.StatusCode)
	}
	if n := len(other.requests()); n != 0 {
		t.Errorf("the other server got %d requests", n)
	}
	// Every allowed request had its own upstream connection.
	for _, d := range tp.dials.list() {
		if d != ws.Listener.Addr().String() {
			t.Errorf("dialed %s", d)
		}
	}
	if n := len(tp.dials.list()); n != 4 {
		t.Errorf("%d dials for 4 allowed requests", n)
	}
}

func TestHopByHopAndProxyHeadersStripped(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	tp := startProxy(t, Config{Allow: []string{fmt.Sprintf("web.test:%d", port)}, Hosts: map[string]string{"web.test": "127.0.0.1"}, AllowAddresses: loopback}, Options{})
	hp := fmt.Sprintf("web.test:%d", port)
	r := dialProxy(t, tp)
	r.send("POST http://" + hp + "/echo HTTP/1.1\r\nHost: " + hp + "\r\n" +
		"Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r\nProxy-Connection: keep-alive\r\nproxy-foo: 1\r\n" +
		"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\n" +
		"X-Kept: yes\r\nAuthorization: Bearer for-the-origin\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\n\r\n")
	resp, body := r.response("POST")
	if resp.StatusCode != 200 || body != `POST /echo body="hello"` {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	reqs := ws.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	h := reqs[0].Header
	for _, k := range []string{"Proxy-Authorization", "Proxy-Connection", "Proxy-Foo", "X-Hop", "Keep-Alive", "Te", "Upgrade"} {
		if v := h.Values(k); len(v) > 0 {
			t.Errorf("upstream got %s: %v", k, v)
		}
	}
	if h.Get("X-Kept") != "yes" || h.Get("Authorization") != "Bearer for-the-origin" {
		t.Errorf("end-to-end fields lost: %v", h)
	}
	if ua := h.Values("User-Agent"); len(ua) != 0 {
		t.Errorf("the proxy added a User-Agent: %v", ua)
	}
}

func TestRequestBodyAndExpectContinue(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	tp := startProxy(t, Config{Allow: []string{fmt.Sprintf("web.test:%d", port)}, Hosts: map[string]string{"web.test": "127.0.0.1"}, AllowAddresses: loopback}, Options{})
	hp := fmt.Sprintf("web.test:%d", port)
	r := dialProxy(t, tp)
	// The client waits for 100 Continue before sending its body: the
	// proxy relays the upstream's 100.
	r.send("PUT http://" + hp + "/echo HTTP/1.1\r\nHost: " + hp + "\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	if code, _ := r.head(); code != 100 {
		t.Fatalf("want 100 Continue, got %d", code)
	}
	r.send("data")
	if resp, body := r.response("PUT"); resp.StatusCode != 200 || body != `PUT /echo body="data"` {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
}

// An upstream that answers before the request body is complete: the
// client gets the answer and the connection closes, without waiting for a
// body nobody reads.
func TestEarlyResponse(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	tp := startProxy(t, Config{Allow: []string{fmt.Sprintf("web.test:%d", port)}, Hosts: map[string]string{"web.test": "127.0.0.1"}, AllowAddresses: loopback}, Options{})
	hp := fmt.Sprintf("web.test:%d", port)
	r := dialProxy(t, tp)
	r.send("POST http://" + hp + "/early HTTP/1.1\r\nHost: " + hp + "\r\nContent-Length: 10000000\r\n\r\n" + strings.Repeat("x", 1024))
	if resp, _ := r.response("POST"); resp.StatusCode != 413 {
		t.Errorf("got %d", resp.StatusCode)
	}
	r.closed()
}

func TestMalformedAndOversized(t *testing.T) {
	tp := startProxy(t, Config{Allow: []string{"web.test"}}, Options{HeadTimeout: 300 * time.Millisecond})
	cases := map[string]struct {
		req  string
		want int
	}{
		"long request line":     {"GET http://web.test/" + strings.Repeat("a", 40<<10) + " HTTP/1.1\r\nHost: web.test\r\n\r\n", 431},
		"many headers":          {"GET http://web.test/ HTTP/1.1\r\nHost: web.test\r\n" + strings.Repeat("X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 2000) + "\r\n", 431},
		"garbage":               {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
		"no version":            {"GET http://web.test/\r\nHost: web.test\r\n\r\n", 400},
		"bad header line":       {"GET http://web.test/ HTTP/1.1\r\nHost: web.test\r\nno colon here\r\n\r\n", 400},
		"space before colon":    {"GET http://web.test/ HTTP/1.1\r\nHost : web.test\r\n\r\n", 400},
		"two content-lengths":   {"POST http://web.test/ HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		"bad transfer-encoding": {"POST http://web.test/ HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n", 400},
		"control in target":     {"GET http://web.test/\x01 HTTP/1.1\r\nHost: web.test\r\n\r\n", 400},
	}
	for name, c := range cases {
		r := dialProxy(t, tp)
		r.send(c.req)
		if code, _ := r.head(); code != c.want {
			t.Errorf("%s: %d, want %d", name, code, c.want)
		}
		r.closed()
	}
	// Slowloris: a head that never ends gets 408 after HeadTimeout.
	r := dialProxy(t, tp)
	r.send("GET http://web.test/ HTTP/1.1\r\nHost: web.test\r\nX-Slow: ")
	if code, _ := r.head(); code != 408 {
		t.Errorf("slow head: %d", code)
	}
	r.closed()
	// A connection that sends nothing is closed too.
	r = dialProxy(t, tp)
	if code, _ := r.head(); code != 408 {
		t.Errorf("silent connection: %d", code)
	}
	r.closed()
	tp.Shutdown()
	rep := tp.Report()
	for _, c := range rep.Connections {
		if c.Allowed || c.Reason != ReasonBadRequest {
			t.Errorf("entry %+v", c)
		}
	}
	if rep.Refused != len(cases)+2 {
		t.Errorf("refused %d, want %d", rep.Refused, len(cases)+2)
	}
}

func TestMaxConnections(t *testing.T) {
	echo, _ := echoServer(t)
	port := portOf(t, echo)
	tp := startProxy(t, Config{
		Allow: []string{fmt.Sprintf("echo.test:%d", port)}, Hosts: map[string]string{"echo.test": "127.0.0.1"},
		AllowAddresses: loopback, MaxConnections: 3,
	}, Options{})
	target := fmt.Sprintf("echo.test:%d", port)
	for i := 0; i < 3; i++ {
		r := dialProxy(t, tp)
		if code, _ := r.connect(target); code != 200 {
			t.Fatalf("tunnel %d: %d", i, code)
		}
		r.send("x")
		if b, err := r.br.ReadByte(); err != nil || b != 'x' {
			t.Fatalf("tunnel %d echo: %v", i, err)
		}
	}
	// The three tunnels are open and served: more are refused at once.
	for i := 0; i < 5; i++ {
		r := dialProxy(t, tp)
		r.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
		code, h := r.head()
		if code != 429 || h.Get("X-Egress-Reason") != ReasonLimitConnections {
			t.Errorf("connection %d over the limit: %d", i, code)
		}
	}
	tp.Shutdown()
	rep := tp.Report()
	n := 0
	for _, c := range rep.Connections {
		if c.Reason == ReasonLimitConnections {
			n++
		}
	}
	if n != 5 || rep.Refused != 5 || rep.Allowed != 3 {
		t.Errorf("report: %d limit_connections entries, %+v", n, rep)
	}
}

func TestMaxBytesTunnel(t *testing.T) {
	for _, generic := range []bool{false, true} {
		t.Run(fmt.Sprintf("generic=%v", generic), func(t *testing.T) {
			const max = 1 << 20
			src := sourceServer(t, 4<<20)
			port := portOf(t, src)
			dl := &dialLog{wrap: generic}
			tp := startProxy(t, Config{
				Allow: []string{fmt.Sprintf("big.test:%d", port)}, Hosts: map[string]string{"big.test": "127.0.0.1"},
				AllowAddresses: loopback, MaxBytes: max,
			}, Options{Dial: dl.dial})
			r := dialProxy(t, tp)
			if code, _ := r.connect(fmt.Sprintf("big.test:%d", port)); code != 200 {
				t.Fatalf("CONNECT: %d", code)
			}
			n, _ := io.Copy(io.Discard, r.br)
			if n != max {
				t.Errorf("the client received %d bytes, want exactly %d", n, max)
			}
			// The budget is used up: a new connection is refused.
			r2 := dialProxy(t, tp)
			code, _ := r2.head()
			if code != 403 {
				t.Errorf("after the budget: %d", code)
			}
			tp.Shutdown()
			rep := tp.Report()
			e := wantEntry(t, rep, "big.test")
			if e.Allowed || e.Reason != ReasonLimitBytes || e.BytesDown != max {
				t.Errorf("entry %+v", e)
			}
			if rep.BytesUp+rep.BytesDown != max {
				t.Errorf("carried %d+%d bytes, budget %d", rep.BytesUp, rep.BytesDown, max)
			}
		})
	}
}

// Concurrent tunnels share the budget and never overdraw it together.
func TestMaxBytesConcurrent(t *testing.T) {
	const max = 3 << 20
	src := sourceServer(t, 1<<20)
	port := portOf(t, src)
	tp := startProxy(t, Config{
		Allow: []string{fmt.Sprintf("big.test:%d", port)}, Hosts: map[string]string{"big.test": "127.0.0.1"},
		AllowAddresses: loopback, MaxBytes: max,
	}, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	for i := 0; i < 8; i++ {
		r := dialProxy(t, tp)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.send(fmt.Sprintf("CONNECT big.test:%d HTTP/1.1\r\nHost: big.test\r\n\r\n", port))
			line, err := r.br.ReadString('\n')
			if err != nil || !strings.Contains(line, " 200 ") {
				return // refused once the budget is gone
			}
			_, _ = r.br.ReadString('\n')
			n, _ := io.Copy(io.Discard, r.br)
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	tp.Shutdown()
	rep := tp.Report()
	if total > max || rep.BytesUp+rep.BytesDown > max {
		t.Errorf("carried %d bytes (report %d), budget %d", total, rep.BytesUp+rep.BytesDown, max)
	}
	if total != rep.BytesDown {
		t.Errorf("clients received %d, report says %d", total, rep.BytesDown)
	}
}

func TestMaxBytesPlainHTTP(t *testing.T) {
	ws := newWebServer(t)
	port := portOf(t, ws.Listener.Addr().String())
	tp := startProxy(t, Config{
		Allow: []string{fmt.Sprintf("web.test:%d", port)}, Hosts: map[string]string{"web.test": "127.0.0.1"},
		AllowAddresses: loopback, MaxBytes: 1 << 20,
	}, Options{})
	resp, err := tp.client(nil).Get(fmt.Sprintf("http://web.test:%d/big/%d", port, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 1<<20 {
		t.Errorf("read %d bytes, err %v: want a cut before 1 MiB", n, err)
	}
	tp.Shutdown()
	rep := tp.Report()
	e := wantEntry(t, rep, "web.test")
	if e.Allowed || e.Reason != ReasonLimitBytes {
		t.Errorf("entry %+v", e)
	}
	if rep.BytesUp+rep.BytesDown > 1<<20 {
		t.Errorf("carried %d bytes", rep.BytesUp+rep.BytesDown)
	}
}

func TestIdleTimeout(t *testing.T) {
	echo, _ := echoServer(t)
	port := portOf(t, echo)
	tp := startProxy(t, Config{
		Allow: []string{fmt.Sprintf("echo.test:%d", port)}, Hosts: map[string]string{"echo.test": "127.0.0.1"},
		AllowAddresses: loopback, IdleTimeout: 300 * time.Millisecond,
	}, Options{})
	r := dialProxy(t, tp)
	if code, _ := r.connect(fmt.Sprintf("echo.test:%d", port)); code != 200 {
		t.Fatalf("CONNECT: %d", code)
	}
	r.closed() // nothing moves: the proxy closes the tunnel
	tp.Shutdown()
	if e := wantEntry(t, tp.Report(), "echo.test"); !e.Allowed || !strings.Contains(e.Detail, "idle") {
		t.Errorf("entry %+v", e)
	}
}

// A download whose other direction is silent is not idle.
func TestIdleOneDirectionBusy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const ticks = 15
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for i := 0; i < ticks; i++ {
			<-tk.C // pacing the workload, not synchronization
			if _, err := c.Write([]byte{'.'}); err != nil {
				return
			}
		}
	}()
	port := portOf(t, l.Addr().String())
	tp := startProxy(t, Config{
		Allow: []string{fmt.Sprintf("slow.test:%d", port)}, Hosts: map[string]string{"slow.test": "127.0.0.1"},
		AllowAddresses: loopback, IdleTimeout: 2 * time.Second,
	}, Options{})
	r := dialProxy(t, tp)
	if code, _ := r.connect(fmt.Sprintf("slow.test:%d", port)); code != 200 {
		t.Fatalf("CONNECT: %d", code)
	}
	n, _ := io.Copy(io.Discard, r.br)
	if n != ticks {
		t.Errorf("received %d bytes, want %d: the tunnel was cut", n, ticks)
	}
}

func TestShutdownEndsTunnels(t *testing.T) {
	echo, _ := echoServer(t)
	port := portOf(t, echo)
	tp := startProxy(t, Config{
		Allow: []string{fmt.Sprintf("echo.test:%d", port)}, Hosts: map[string]string{"echo.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{})
	var rs []*rawConn
	for i := 0; i < 3; i++ {
		r := dialProxy(t, tp)
		if code, _ := r.connect(fmt.Sprintf("echo.test:%d", port)); code != 200 {
			t.Fatalf("CONNECT: %d", code)
		}
		r.send("x")
		if _, err := r.br.ReadByte(); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	idle := dialProxy(t, tp) // a connection that has not sent a request yet
	tp.Shutdown()
	for _, r := range append(rs, idle) {
		r.closed()
	}
	select {
	case err := <-tp.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		tp.done <- nil // for the cleanup
	case <-time.After(safety):
		t.Fatal("Serve did not return")
	}
	rep := tp.Report()
	if rep.Allowed != 3 || len(rep.Connections) < 3 {
		t.Errorf("report %+v", rep)
	}
	// After Shutdown, Serve on a new listener returns at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Serve(l); err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Error("the listener was left open")
	}
}

func TestUpstreamFailures(t *testing.T) {
	// A port nothing listens on: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := portOf(t, l.Addr().String())
	l.Close()
	resolver := func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "slow.test" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, errors.New("no such host")
	}
	tp := startProxy(t, Config{
		Allow:          []string{fmt.Sprintf("dead.test:%d", dead), "nx.test", "slow.test"},
		Hosts:          map[string]string{"dead.test": "127.0.0.1"},
		AllowAddresses: loopback,
	}, Options{Resolver: resolver, ConnectTimeout: 300 * time.Millisecond})
	cases := []struct {
		target string
		code   int
		reason string
	}{
		{fmt.Sprintf("dead.test:%d", dead), 502, ReasonDialFailed},
		{"nx.test:443", 502, ReasonResolveFailed},
		{"slow.test:443", 504, ReasonResolveFailed},
	}
	for _, c := range cases {
		r := dialProxy(t, tp)
		code, reason := r.connect(c.target)
		if code != c.code || reason != c.reason {
			t.Errorf("CONNECT %s: %d %s, want %d %s", c.target, code, reason, c.code, c.reason)
		}
	}
}

func TestReportTruncated(t *testing.T) {
	tp := startProxy(t, Config{Allow: []string{"pypi.org"}}, Options{})
	const n = MaxReportConns + 20
	for i := 0; i < n; i++ {
		r := dialProxy(t, tp)
		r.connect("evil.test:443")
		r.c.Close()
	}
	tp.Shutdown()
	rep := tp.Report()
	if !rep.Truncated || len(rep.Connections) != MaxReportConns || rep.Refused != n {
		t.Errorf("truncated=%v entries=%d refused=%d", rep.Truncated, len(rep.Connections), rep.Refused)
	}
}

// A call's narrowed policy is what its proxy enforces: a host the
// operator allows but the call did not ask for is refused.
func TestNarrowedPolicyEnforced(t *testing.T) {
	echo, _ := echoServer(t)
	port := portOf(t, echo)
	op := mustCompile(t, Config{
		Allow:          []string{fmt.Sprintf("a.test:%d", port), fmt.Sprintf("b.test:%d", port)},
		Hosts:          map[string]string{"a.test": "127.0.0.1", "b.test": "127.0.0.1"},
		AllowAddresses: loopback,
	})
	call, err := op.Narrow([]string{fmt.Sprintf("a.test:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	tp := startPolicy(t, call, Options{})
	if code, _ := dialProxy(t, tp).connect(fmt.Sprintf("a.test:%d", port)); code != 200 {
		t.Errorf("a.test: %d", code)
	}
	if code, reason := dialProxy(t, tp).connect(fmt.Sprintf("b.test:%d", port)); code != 403 || reason != ReasonNotAllowed {
		t.Errorf("b.test: %d %s", code, reason)
	}
}

// IPv6 destinations are dialed by number in brackets; a public IPv6
// address needs no allowAddresses (the dial is redirected to a local
// echo server standing for it).
func TestIPv6Upstream(t *testing.T) {
	echo, _ := echoServer(t)
	dl := &dialLog{redirect: map[string]string{"[2606:4700::1111]:443": echo}}
	tp := startProxy(t, Config{Allow: []string{"v6.test"}, Hosts: map[string]string{"v6.test": "2606:4700::1111"}}, Options{Dial: dl.dial})
	r := dialProxy(t, tp)
	if code, reason := r.connect("v6.test:443"); code != 200 {
		t.Fatalf("CONNECT v6.test:443: %d %s", code, reason)
	}
	r.send("six")
	got := make([]byte, 3)
	if _, err := io.ReadFull(r.br, got); err != nil || string(got) != "six" {
		t.Fatalf("echo %q %v", got, err)
	}
	if d := dl.list(); len(d) != 1 || d[0] != "[2606:4700::1111]:443" {
		t.Errorf("dialed %v", d)
	}
	r.c.Close()
	tp.Shutdown()
	if e := wantEntry(t, tp.Report(), "v6.test"); e.Address != "[2606:4700::1111]:443" || !e.Allowed {
		t.Errorf("entry %+v", e)
	}
}

// A flood of connections beyond MaxConnections costs no goroutine per
// connection: they are refused in the accept loop, and at most
// maxLingering of them linger.
func TestConnectionFloodBounded(t *testing.T) {
	echo, _ := echoServer(t)
	port := portOf(t, echo)
	target := fmt.Sprintf("echo.test:%d", port)
	tp := startProxy(t, Config{
		Allow: []string{target}, Hosts: map[string]string{"echo.test": "127.0.0.1"},
		AllowAddresses: loopback, MaxConnections: 4,
	}, Options{Logf: func(string, ...any) {}})
	for i := 0; i < 4; i++ {
		r := dialProxy(t, tp)
		if code, _ := r.connect(target); code != 200 {
			t.Fatalf("tunnel %d: %d", i, code)
		}
		r.send("x")
		if _, err := r.br.ReadByte(); err != nil {
			t.Fatal(err)
		}
	}
	base := runtime.NumGoroutine()
	const flood = 300
	for i := 0; i < flood; i++ {
		r := dialProxy(t, tp) // kept open until the test ends
		if code, _ := r.head(); code != 429 {
			t.Fatalf("connection %d: %d", i, code)
		}
	}
	if extra := runtime.NumGoroutine() - base; extra > maxLingering+4 {
		t.Errorf("%d connections over the limit hold %d goroutines", flood, extra)
	}
	if rep := tp.Report(); rep.Refused != flood {
		t.Errorf("refused %d, want %d", rep.Refused, flood)
	}
}

// A body of known length is relayed exactly (spliced): an upstream that
// sends more than its Content-Length and keeps its connection open neither
// smuggles those bytes into the client's next response nor stalls the
// proxy; a large body arrives whole; HEAD gets no body.
func TestPlainBodyExactLength(t *testing.T) {
	const size = 3<<20 + 17
	body := strings.Repeat("a", size)
	hp, tp := rawUpstream(t, func(c net.Conn, req *http.Request) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		if req.Method != http.MethodHead {
			io.WriteString(c, body)
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
		time.Sleep(safety) // and keep the connection open
	})
	r := dialProxy(t, tp)
	for i := 0; i < 2; i++ {
		resp, got := r.get(hp)
		if resp.StatusCode != 200 || got != body {
			t.Fatalf("response %d: %d, %d bytes (want %d), starts %q", i, resp.StatusCode, len(got), size, got[:min(len(got), 16)])
		}
	}
	r.send("HEAD http://" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n")
	if resp, got := r.response("HEAD"); resp.StatusCode != 200 || got != "" || resp.ContentLength != size {
		t.Fatalf("HEAD: %d %q %d", resp.StatusCode, got, resp.ContentLength)
	}
	// The connection is still in step: one more request gets its response.
	if resp, got := r.get(hp); resp.StatusCode != 200 || got != body {
		t.Fatalf("after HEAD: %d, %d bytes", resp.StatusCode, len(got))
	}
	tp.Shutdown()
	if rep := tp.Report(); rep.BytesDown < 3*size {
		t.Errorf("reported %d bytes down for three bodies of %d", rep.BytesDown, size)
	}
}

// A status reason with a bare CR reaches the client as the standard
// reason: a lenient client would end the line there and read a header
// the proxy never checked.
func TestStatusReasonSanitized(t *testing.T) {
	hp, tp := rawUpstream(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\rX-Smuggled: 1\r\nContent-Length: 2\r\n\r\nok")
	})
	r := dialProxy(t, tp)
	r.send("GET http://" + hp + "/ HTTP/1.1\r\nHost: " + hp + "\r\n\r\n")
	line, err := r.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("status line %q %v", line, err)
	}
}

// rawUpstream serves each request with answer, writing raw bytes (what a
// misbehaving server sends), and returns the allowed name:port and a
// proxy for it.
func rawUpstream(t *testing.T, answer func(c net.Conn, req *http.Request)) (string, *testProxy) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				answer(c, req)
			}()
		}
	}()
	hp := fmt.Sprintf("web.test:%d", portOf(t, l.Addr().String()))
	return hp, startProxy(t, Config{Allow: []string{hp}, Hosts: map[string]string{"web.test": "127.0.0.1"}, AllowAddresses: loopback}, Options{})
}
