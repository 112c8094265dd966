package egress

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzPattern: ParsePattern never panics; what it accepts is canonical,
// round-trips through String, matches its own host (exact) or no longer
// the apex (wildcard), and is never an address.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"pypi.org", "*.pythonhosted.org", "github.com:443", "mirror.internal:8080",
		"PyPI.org.", "bücher.example", "xn--bcher-kva.example", "*.com", "1.2.3.4", "[::1]:443", "2130706433",
		"0x7f.1", "a..b", "*.*.x", "x:0", "x:65536", "ＰＹＰＩ.org", "pypi。org", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		again, err := ParsePattern(p.String())
		if err != nil || again != p {
			t.Fatalf("%q -> %q does not round-trip: %+v %v", s, p.String(), again, err)
		}
		if c, err := canonicalName(p.Host); err != nil || c != p.Host {
			t.Fatalf("%q: host %q is not canonical (%q, %v)", s, p.Host, c, err)
		}
		if p.Port < 0 || p.Port > 65535 {
			t.Fatalf("%q: port %d", s, p.Port)
		}
		if p.Wildcard == p.matchHost(p.Host) {
			t.Fatalf("%q: matchHost of its own host = %v", s, p.matchHost(p.Host))
		}
		if tg, err := parseTarget(p.Host, "443", 0); err != nil || tg.literal() {
			t.Fatalf("%q: host %q reads as a target %+v, %v", s, p.Host, tg, err)
		}
	})
}

// FuzzRequest feeds bytes to the request reader: it never panics, never
// reads past the head limit, and whatever it accepts is a CONNECT to a
// host:port or an absolute http:// request, with a canonical target and a
// port in range.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n",
		"CONNECT [::1]:443 HTTP/1.1\r\n\r\n",
		"CONNECT 2130706433:443 HTTP/1.1\r\n\r\n",
		"GET http://pypi.org/simple/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
		"GET http://pypi.org/ HTTP/1.1\r\nHost: evil.test\r\n\r\n",
		"GET http://pypi.org@evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
		"POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
		"GET http://a.test/ HTTP/1.0\n\n",
		"GET http://[::ffff:127.0.0.1]:80/ HTTP/1.1\r\nHost: [::ffff:127.0.0.1]\r\n\r\n",
		"GET http://A.TEST.:80/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"\r\nGET http://a.test/ HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		br := bufio.NewReaderSize(src, readBufSize)
		rq, err := readRequest(br)
		consumed := len(data) - src.Len() - br.Buffered()
		if consumed > MaxHeaderBytes+readBufSize {
			t.Fatalf("consumed %d bytes", consumed)
		}
		var ref *refusal
		if errors.As(err, &ref) {
			if ref.status < 400 || ref.status > 599 || ref.reason == "" {
				t.Fatalf("refusal %+v", ref)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, errNoRequest) {
				t.Fatalf("neither a request, a refusal nor no request: %v", err)
			}
			return
		}
		tg := rq.target
		if tg.port < 1 || tg.port > 65535 {
			t.Fatalf("port %d", tg.port)
		}
		if tg.literal() == (tg.name != "") {
			t.Fatalf("target is both or neither a name and an address: %+v", tg)
		}
		if tg.literal() && (tg.addr.Is4In6() || tg.addr.Zone() != "") {
			t.Fatalf("address not unmapped or zoned: %v", tg.addr)
		}
		if !tg.literal() {
			if c, err := canonicalName(tg.name); err != nil || c != tg.name {
				t.Fatalf("name %q not canonical", tg.name)
			}
		}
		if rq.connect {
			if rq.req.Method != http.MethodConnect {
				t.Fatalf("connect flag on %s", rq.req.Method)
			}
			return
		}
		if rq.req.ProtoMajor != 1 || !strings.EqualFold(rq.req.URL.Scheme, "http") || rq.req.URL.User != nil {
			t.Fatalf("accepted %s %s %s", rq.req.Method, rq.req.RequestURI, rq.req.Proto)
		}
		out := outgoingRequest(rq.req, tg)
		for k := range out.Header {
			if strings.HasPrefix(strings.ToLower(k), "proxy-") || hopHeaders[strings.ToLower(k)] {
				t.Fatalf("outgoing request keeps %s", k)
			}
		}
		if out.Host != tg.hostAuthority(80) {
			t.Fatalf("outgoing Host %q", out.Host)
		}
	})
}
