package egress

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"net/http"
	"net/textproto"
	"os"
	"strings"
)

// MaxHeaderBytes bounds a request head (request line and header fields).
// 32 KiB holds the largest cookies and tokens that package managers and
// git send, and is what a connection's read buffer is sized for.
const MaxHeaderBytes = 32 << 10

// readBufSize is the client read buffer: a whole head must fit, since it
// is examined (peeked) before net/http consumes it.
const readBufSize = MaxHeaderBytes + 1024

// request is one parsed client request.
type request struct {
	req     *http.Request
	connect bool
	target  target
}

// refusal is a request the proxy answers itself: status and reason code,
// the text sent into the jail (short, no host internals), and a detail
// for the operator's report.
type refusal struct {
	status int
	reason string
	msg    string
	detail string
	// method and target, when known, for the report.
	method string
	target target
}

func (r *refusal) Error() string { return r.reason + ": " + r.msg }

func badRequest(status int, format string, args ...any) *refusal {
	msg := fmt.Sprintf(format, args...)
	return &refusal{status: status, reason: ReasonBadRequest, msg: msg, detail: msg}
}

// errNoRequest is a connection that closed (or idled out) cleanly between
// requests: nothing to answer, nothing to record.
var errNoRequest = errors.New("no request")

// headLen returns the length of the request head at the front of br, the
// request line through the empty line that ends the header section,
// without consuming it. It reads more as needed, up to MaxHeaderBytes.
// Lines end in LF, optionally preceded by CR, as net/textproto reads them
// (RFC 9112 section 2.2 allows a lone LF).
func headLen(br *bufio.Reader) (int, error) {
	scanned := 0   // bytes already searched
	lineStart := 0 // start of the line being searched
	for {
		want := br.Buffered()
		if want <= scanned {
			want = scanned + 1 // block for at least one more byte
		}
		buf, err := br.Peek(min(want, MaxHeaderBytes+1))
		for i := scanned; i < len(buf); i++ {
			if buf[i] != '\n' {
				continue
			}
			line := buf[lineStart:i]
			if lineStart > 0 && (len(line) == 0 || len(line) == 1 && line[0] == '\r') {
				if i+1 > MaxHeaderBytes {
					return 0, errHeadTooLarge
				}
				return i + 1, nil
			}
			lineStart = i + 1
		}
		scanned = len(buf)
		if scanned > MaxHeaderBytes {
			return 0, errHeadTooLarge
		}
		if err != nil {
			if scanned > 0 && (err == io.EOF || errors.Is(err, os.ErrDeadlineExceeded)) {
				return 0, fmt.Errorf("%w after %d bytes of a request head: %w", errPartialHead, scanned, err)
			}
			return 0, err
		}
	}
}

var (
	errHeadTooLarge = errors.New("request head too large")
	errPartialHead  = errors.New("incomplete request")
)

// readRequest reads and checks one request. It returns errNoRequest for a
// clean end of the connection before a request (or a read error with no
// bytes of one); a *refusal for everything the proxy answers itself.
//
// net/http's ReadRequest does the parsing (the same code as http.Server,
// with its checks of methods, versions, header syntax, Content-Length and
// Transfer-Encoding). It drops the Host header of an absolute-form request,
// so the head is also read with net/textproto, which ReadRequest uses
// underneath, to see it: both read the same bytes with the same parser.
func readRequest(br *bufio.Reader) (*request, error) {
	n, err := headLen(br)
	switch {
	case errors.Is(err, errHeadTooLarge):
		return nil, badRequest(http.StatusRequestHeaderFieldsTooLarge, "request head larger than %d bytes", MaxHeaderBytes)
	case errors.Is(err, errPartialHead) && errors.Is(err, os.ErrDeadlineExceeded):
		return nil, badRequest(http.StatusRequestTimeout, "request head not complete in time")
	case errors.Is(err, errPartialHead):
		return nil, badRequest(http.StatusBadRequest, "connection closed within a request head")
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errNoRequest, err)
	}
	head, _ := br.Peek(n)
	hostHeaders, err := headerValues(head, "Host")
	if err != nil {
		_, _ = br.Discard(n)
		return nil, badRequest(http.StatusBadRequest, "malformed request head")
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, badRequest(http.StatusBadRequest, "malformed request: %s", safeText(err.Error()))
	}
	rq, err := checkRequest(req, hostHeaders)
	var ref *refusal
	if errors.As(err, &ref) {
		ref.method = req.Method
	}
	return rq, err
}

// headerValues returns the values of one field in a request head.
func headerValues(head []byte, key string) ([]string, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	return h.Values(key), nil
}

// checkRequest holds a parsed request to what this proxy serves: HTTP/1.x;
// CONNECT to an authority (host:port, nothing else); or an absolute-form
// http:// URI whose Host header, if any, names the same authority.
// Origin-form ("GET / HTTP/1.1") and asterisk-form requests are refused:
// the proxy is not an origin server.
func checkRequest(req *http.Request, hostHeaders []string) (*request, error) {
	if req.ProtoMajor != 1 {
		return nil, badRequest(http.StatusHTTPVersionNotSupported, "only HTTP/1.x is served")
	}
	if req.Method == http.MethodConnect {
		return checkConnect(req)
	}
	raw := req.RequestURI
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || strings.HasPrefix(raw, "/") {
		return nil, badRequest(http.StatusBadRequest, "not a proxy request: the request target must be an absolute http:// URI (RFC 9112 section 3.2.2)")
	}
	switch strings.ToLower(scheme) {
	case "http":
	case "https":
		return nil, badRequest(http.StatusBadRequest, "https:// goes through CONNECT")
	default:
		return nil, badRequest(http.StatusBadRequest, "scheme %q is not served", safeText(scheme))
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	// Userinfo ("http://allowed@evil/") and percent-encoding in the
	// authority are where URL parsers disagree: refused, not interpreted.
	if strings.ContainsAny(authority, "@%\\") {
		return nil, badRequest(http.StatusBadRequest, "userinfo or percent-encoding in the request authority")
	}
	u := req.URL
	if u == nil || u.Scheme != "http" || u.Opaque != "" || u.User != nil || u.Host != authority {
		return nil, badRequest(http.StatusBadRequest, "malformed request URI")
	}
	t, ref := targetOf(u.Host, 80)
	if ref != nil {
		return nil, ref
	}
	switch len(hostHeaders) {
	case 0:
		if req.ProtoAtLeast(1, 1) {
			// RFC 9112 section 3.2: a 1.1 request without Host is a 400.
			return nil, badRequest(http.StatusBadRequest, "an HTTP/1.1 request needs a Host header")
		}
	case 1:
		h, ref := targetOf(hostHeaders[0], 80)
		if ref != nil || h != t {
			detail := fmt.Sprintf("Host %q, request URI %s", safeText(hostHeaders[0]), t.authority())
			return nil, &refusal{status: http.StatusForbidden, reason: ReasonHostMismatch,
				msg: "the Host header names another host than the request URI", detail: detail, target: t}
		}
	default:
		return nil, badRequest(http.StatusBadRequest, "more than one Host header")
	}
	return &request{req: req, target: t}, nil
}

// checkConnect holds a CONNECT to RFC 9110 section 9.3.6: the target is
// host:port and nothing more, and the request has no content. The Host
// header of a CONNECT is not compared: nothing reads it (the target is the
// authority), and Node's http.request sets it to the proxy's own address.
func checkConnect(req *http.Request) (*request, error) {
	raw := req.RequestURI
	if raw == "" || strings.ContainsAny(raw, "/?#@%\\") {
		return nil, badRequest(http.StatusBadRequest, "CONNECT needs host:port as its target")
	}
	if req.ContentLength != 0 || len(req.TransferEncoding) > 0 {
		return nil, badRequest(http.StatusBadRequest, "a CONNECT request has no content")
	}
	t, ref := targetOf(raw, 0)
	if ref != nil {
		return nil, ref
	}
	return &request{req: req, connect: true, target: t}, nil
}

// targetOf reads an authority (host[:port]) into a target; def is the
// port when none is given, 0 when one is required.
func targetOf(authority string, def int) (target, *refusal) {
	host, port := authority, ""
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		host, port = authority[:i], authority[i+1:]
		if port == "" {
			// "host:" is allowed by RFC 3986 and means the default.
			if def == 0 {
				return target{}, badRequest(http.StatusBadRequest, "a port is required")
			}
		}
	}
	if strings.Count(host, ":") > 0 && !strings.HasPrefix(host, "[") {
		return target{}, badRequest(http.StatusBadRequest, "an IPv6 address must be in brackets")
	}
	t, err := parseTarget(host, port, def)
	if errors.Is(err, errIPLiteral) {
		return target{}, &refusal{status: http.StatusForbidden, reason: ReasonIPLiteral,
			msg: "the target is a numeric address form; name the host", detail: safeText(authority)}
	}
	if err != nil {
		return target{}, badRequest(http.StatusBadRequest, "bad target %q: %s", safeText(authority), safeText(err.Error()))
	}
	return t, nil
}

// safeText keeps what the proxy echoes short and printable.
func safeText(s string) string {
	const max = 200
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
