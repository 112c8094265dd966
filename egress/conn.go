package egress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxResponseHead bounds an upstream's response head (net/http's
// ReadResponse has no bound of its own).
const maxResponseHead = 256 << 10

// bodyBufSize is the chunk in which plain HTTP bodies are relayed.
const bodyBufSize = 64 << 10

// max1xx bounds the interim responses relayed before the final one.
const max1xx = 16

// clientConn gives each read the deadline of the phase the connection is
// in: a fixed one while a request head is read (the slowloris bound), the
// idle timeout otherwise; each write gets the idle timeout.
type clientConn struct {
	net.Conn
	idle         time.Duration
	headDeadline time.Time
	aborted      atomic.Bool
}

func (c *clientConn) Read(b []byte) (int, error) {
	d := c.headDeadline
	if d.IsZero() {
		d = time.Now().Add(c.idle)
	}
	_ = c.Conn.SetReadDeadline(d)
	// Checked after the deadline is set: abortReads sets the flag before
	// its own deadline, so either this sees the flag or its deadline wins.
	if c.aborted.Load() {
		return 0, errAborted
	}
	return c.Conn.Read(b)
}

// abortReads makes a read in progress, and every later one, fail at once
// (from another goroutine; the connection stays open for writing).
func (c *clientConn) abortReads() {
	c.aborted.Store(true)
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
}

var errAborted = errors.New("reads aborted")

func (c *clientConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(b)
}

// serveConn serves one client connection: requests one after another
// (keep-alive), each checked on its own, until the client closes, a
// request is refused, or a CONNECT turns the connection into a tunnel.
func (p *Proxy) serveConn(raw net.Conn) {
	cc := &clientConn{Conn: raw, idle: p.policy.idle}
	br := bufio.NewReaderSize(cc, readBufSize)
	for first := true; ; first = false {
		if !first {
			// Between requests the client may wait up to the idle timeout;
			// once a byte comes, the head must follow within HeadTimeout.
			cc.headDeadline = time.Now().Add(p.policy.idle)
			if _, err := br.Peek(1); err != nil {
				return
			}
		}
		cc.headDeadline = time.Now().Add(p.opts.HeadTimeout)
		rq, err := readRequest(br)
		cc.headDeadline = time.Time{}
		var ref *refusal
		switch {
		case errors.As(err, &ref):
			p.refuseRequest(cc, ref)
			return
		case err != nil:
			if first && isTimeout(err) {
				p.refuseRequest(cc, badRequest(http.StatusRequestTimeout, "no request within %s", p.opts.HeadTimeout))
			}
			return
		case rq.connect:
			p.serveConnect(cc, raw, br, rq)
			return
		}
		if !p.forward(cc, br, rq) {
			return
		}
	}
}

// refuseRequest records and answers a request refused before any dial.
func (p *Proxy) refuseRequest(cc *clientConn, ref *refusal) {
	e := p.rec.begin(ref.method)
	if ref.target.port != 0 {
		e.setTarget(ref.target)
	}
	e.refuse(ref.reason, ref.detail)
	e.finish()
	p.answer(cc, e, ref)
}

// answer sends a refusal and closes the connection so that it is read.
func (p *Proxy) answer(cc *clientConn, e *record, ref *refusal) {
	what := e.c.Method
	if e.c.Host != "" {
		what += " " + e.c.Host
	}
	p.logf("egress: refused %s: %s (%s)", strings.TrimSpace(what), ref.reason, ref.detail)
	writeRefusal(cc.Conn, ref)
	lingerClose(cc.Conn)
}

// serveConnect checks and dials a CONNECT target, answers 200, and turns
// the connection into a tunnel.
func (p *Proxy) serveConnect(cc *clientConn, raw net.Conn, br *bufio.Reader, rq *request) {
	e := p.rec.begin(http.MethodConnect)
	e.setTarget(rq.target)
	defer e.finish()
	up, ref := p.connectUpstream(rq.target, e)
	if ref != nil {
		e.refuse(ref.reason, ref.detail)
		p.answer(cc, e, ref)
		return
	}
	defer p.untrack(up)
	if _, err := io.WriteString(cc, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		return
	}
	var pending []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		pending = append([]byte(nil), b...)
	}
	// From here on the raw connection: nothing parses the stream again,
	// and TCP to TCP can splice.
	p.runTunnel(raw, up, e, pending)
}

// forward carries one plain HTTP request to its origin and the response
// back, and reports whether the client connection may serve another
// request. Every request gets its own upstream connection, dialed after
// its own check and closed after its response (Connection: close): an
// upstream connection is never reused, so nothing of one request's
// authority carries over to the next, and every entry's Address is the
// address that request reached. Plain HTTP is rare (package managers use
// HTTPS through CONNECT), so the lost reuse costs little.
func (p *Proxy) forward(cc *clientConn, br *bufio.Reader, rq *request) bool {
	req := rq.req
	e := p.rec.begin(req.Method)
	e.setTarget(rq.target)
	defer e.finish()
	up, ref := p.connectUpstream(rq.target, e)
	if ref != nil {
		e.refuse(ref.reason, ref.detail)
		p.answer(cc, e, ref)
		return false
	}
	defer p.untrack(up)
	defer up.Close()
	mc := &meteredConn{Conn: up, p: p, e: e, idle: p.policy.idle}
	head := &io.LimitedReader{R: mc, N: maxResponseHead}
	// Bodies move in chunks of bodyBufSize: with bufio's default 4 KiB
	// a 1 GiB download took a quarter of a million reads and writes, each
	// with its deadline and budget, and ran at a seventh of a direct one.
	ubr := bufio.NewReaderSize(head, bodyBufSize)

	out := outgoingRequest(req, rq.target)
	body, _ := out.Body.(*clientBody)
	wrote := make(chan error, 1)
	go func() {
		uw := bufio.NewWriterSize(mc, bodyBufSize)
		err := out.Write(uw)
		if err == nil {
			err = uw.Flush()
		}
		if body != nil && body.err != nil {
			// The client failed mid-body: stop waiting for a response.
			up.Close()
		}
		wrote <- err
	}()

	bw := bufio.NewWriterSize(cc, bodyBufSize)
	resp, err := p.readResponse(ubr, out, bw, req)
	if err != nil {
		werr := waitWriter(wrote, up, cc, body)
		if errors.Is(err, errLimitBytes) || errors.Is(werr, errLimitBytes) {
			e.refuse(ReasonLimitBytes, "cut: the call's maxBytes was reached")
			writeRefusal(cc.Conn, &refusal{status: http.StatusForbidden, reason: ReasonLimitBytes, msg: "this call used up its network byte budget"})
		} else {
			status := upstreamStatus(err)
			e.c.Detail = "upstream: " + err.Error()
			p.logf("egress: %s %s: no response: %v", req.Method, rq.target.authority(), err)
			writeRefusal(cc.Conn, &refusal{status: status, msg: "the upstream server did not answer"})
		}
		lingerClose(cc.Conn)
		return false
	}
	head.N = math.MaxInt64
	keep := !req.Close && req.ProtoAtLeast(1, 1)
	prepareResponse(resp, req, keep)
	if spliced, serr := p.spliceBody(cc, up, ubr, bw, resp, req, e); spliced {
		// resp.Body never saw the spliced bytes: its Close must not wait
		// for them (the upstream is never reused).
		err = serr
		up.Close()
	} else {
		err = resp.Write(bw)
		if err == nil {
			err = bw.Flush()
		}
	}
	if err != nil {
		// Closing the body of an unfinished response would drain the
		// upstream (net/http's body.Close reads to the end): cut it first.
		up.Close()
	}
	resp.Body.Close()
	werr := waitWriter(wrote, up, cc, body)
	if errors.Is(werr, errBodyUnsent) {
		// The client is still sending a body nobody reads: let it see
		// the response before the close (see lingerClose).
		lingerClose(cc.Conn)
	}
	if errors.Is(err, errLimitBytes) || errors.Is(werr, errLimitBytes) {
		e.refuse(ReasonLimitBytes, "cut: the call's maxBytes was reached")
		p.logf("egress: cut %s %s: %s", req.Method, rq.target.authority(), ReasonLimitBytes)
		return false
	}
	if err != nil {
		e.c.Detail = "response cut: " + err.Error()
		return false
	}
	return keep && werr == nil
}

// spliceBody relays a response whose body has a known length with
// splice(2), as a tunnel's bytes are (splice_linux.go): the head is
// written here, the part of the body already read with it is copied, and
// exactly the rest is spliced from the upstream, under the same budget and
// idle timeout. Not a byte past the length is read: the client connection
// stays in step for its next request. It reports false (nothing written)
// for a response it leaves to resp.Write: no length, a body that must not
// be sent (HEAD, 1xx, 204, 304), or connections that cannot splice.
func (p *Proxy) spliceBody(cc *clientConn, up net.Conn, ubr *bufio.Reader, bw *bufio.Writer, resp *http.Response, req *http.Request, e *record) (bool, error) {
	n := resp.ContentLength
	_, tcp1 := cc.Conn.(*net.TCPConn)
	_, tcp2 := up.(*net.TCPConn)
	if n <= 0 || len(resp.TransferEncoding) > 0 || req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified || !tcp1 || !tcp2 {
		return false, nil
	}
	fmt.Fprintf(bw, "HTTP/%d.%d %s\r\n", resp.ProtoMajor, resp.ProtoMinor, resp.Status)
	h := resp.Header.Clone()
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	if resp.Close {
		h.Set("Connection", "close")
	}
	_ = h.Write(bw)
	_, _ = bw.WriteString("\r\n")
	// What the head's reads brought of the body (already in the budget).
	b, _ := ubr.Peek(int(min(int64(ubr.Buffered()), n)))
	_, _ = bw.Write(b)
	if err := bw.Flush(); err != nil {
		return true, err
	}
	t := &tunnel{p: p, e: e, idle: p.policy.idle, client: cc.Conn, upstream: up}
	t.touch()
	ok, err := t.splice(cc.Conn, up, e.addDown, n-int64(len(b)))
	if !ok {
		// The head is out: the body cannot follow another way.
		return true, errors.New("the body could not be spliced")
	}
	return true, err
}

// waitWriter collects the request writer once the response is complete
// (or failed). A writer that has not reported may just not have run yet,
// or may be blocked: on the upstream (which is never reused, so closing it
// costs nothing) or on the client, still sending a body nobody reads (an
// early 413, say). Only in that last case is the client connection out of
// step: its reads are aborted and errBodyUnsent says it cannot carry
// another request.
func waitWriter(wrote chan error, up net.Conn, cc *clientConn, body *clientBody) error {
	select {
	case err := <-wrote:
		return err
	default:
	}
	up.Close()
	if body == nil || body.eof.Load() {
		// No body, or all of it read: the client connection is in step,
		// whatever the writer says about the upstream.
		if err := <-wrote; errors.Is(err, errLimitBytes) {
			return err
		}
		return nil
	}
	cc.abortReads()
	err := <-wrote
	if errors.Is(err, errLimitBytes) {
		return err
	}
	return fmt.Errorf("%w: %v", errBodyUnsent, err)
}

var errBodyUnsent = errors.New("request body not sent whole")

// readResponse reads the final response, relaying interim 1xx answers
// (100 Continue, 103 Early Hints) to an HTTP/1.1 client. A 101 is refused:
// Upgrade is hop-by-hop and never forwarded, so no upstream may switch.
func (p *Proxy) readResponse(ubr *bufio.Reader, out *http.Request, bw *bufio.Writer, req *http.Request) (*http.Response, error) {
	for i := 0; ; i++ {
		resp, err := http.ReadResponse(ubr, out)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 {
			return resp, nil
		}
		if resp.StatusCode == http.StatusSwitchingProtocols || i >= max1xx {
			return nil, fmt.Errorf("unexpected %s", resp.Status)
		}
		if !req.ProtoAtLeast(1, 1) {
			continue // HTTP/1.0 clients get no 1xx (RFC 9110 section 15.2)
		}
		h := sanitizeHeader(resp.Header)
		fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
		_ = h.Write(bw)
		_, _ = bw.WriteString("\r\n")
		if err := bw.Flush(); err != nil {
			return nil, err
		}
	}
}

// prepareResponse readies an upstream response for the client: hop-by-hop
// fields dropped, framing chosen for the client (chunked when the length
// is unknown and the client speaks 1.1, so that the connection can stay
// open; read to close for 1.0).
func prepareResponse(resp *http.Response, req *http.Request, keep bool) {
	resp.Header = sanitizeHeader(resp.Header)
	resp.Status = safeStatus(resp)
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	resp.Close = !keep
	if !req.ProtoAtLeast(1, 1) {
		resp.Proto, resp.ProtoMinor = "HTTP/1.0", 0
		resp.TransferEncoding = nil
		resp.Close = true
		return
	}
	if resp.ContentLength < 0 && keep {
		resp.TransferEncoding = []string{"chunked"}
	}
}

// safeStatus is the status line's code and reason for the client: the
// upstream's reason when it is only tab, space, visible ASCII and
// obs-text (RFC 9112 section 4), else the standard one. A bare CR in it
// would end the line early for a lenient client, which would then read a
// header the proxy never checked.
func safeStatus(resp *http.Response) string {
	_, reason, _ := strings.Cut(resp.Status, " ")
	for _, c := range []byte(reason) {
		if c != '\t' && (c < ' ' || c == 0x7f) {
			reason = ""
			break
		}
	}
	if reason == "" {
		reason = http.StatusText(resp.StatusCode)
	}
	return fmt.Sprintf("%03d %s", resp.StatusCode, reason)
}

// outgoingRequest is the request as the origin gets it: origin-form
// target, the checked authority as Host, hop-by-hop and Proxy-* fields
// removed (Proxy-Authorization never leaves), no User-Agent added, and
// Connection: close.
func outgoingRequest(req *http.Request, t target) *http.Request {
	h := sanitizeHeader(req.Header)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = nil // present but empty: Request.Write adds none
	}
	out := &http.Request{
		Method:           req.Method,
		URL:              &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery, ForceQuery: req.URL.ForceQuery},
		Proto:            "HTTP/1.1",
		ProtoMajor:       1,
		ProtoMinor:       1,
		Header:           h,
		Host:             t.hostAuthority(80),
		ContentLength:    req.ContentLength,
		TransferEncoding: req.TransferEncoding,
		Close:            true,
		Body:             http.NoBody,
	}
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = &clientBody{r: req.Body}
	}
	return out
}

// clientBody is a request body read from the client. Its Close does not
// drain the rest (net/http's would read on without bound): when a body is
// not sent whole, the client connection is closed instead.
type clientBody struct {
	r   io.Reader
	err error       // the read error, for the writer goroutine
	eof atomic.Bool // read to its end
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		b.eof.Store(true)
	case err != nil:
		b.err = err
	}
	return n, err
}

func (b *clientBody) Close() error { return nil }

// hopHeaders are the hop-by-hop fields of RFC 9110 section 7.6.1 (and the
// older RFC 2616 list), which a proxy must not forward.
var hopHeaders = map[string]bool{
	"connection": true, "proxy-connection": true, "keep-alive": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true,
	"proxy-authenticate": true, "proxy-authorization": true,
}

// sanitizeHeader returns a copy without hop-by-hop fields, without the
// fields the Connection header names, and without any Proxy-* field.
func sanitizeHeader(in http.Header) http.Header {
	drop := map[string]bool{}
	for k, vs := range in {
		if strings.EqualFold(k, "Connection") {
			for _, v := range vs {
				for _, f := range strings.Split(v, ",") {
					drop[strings.ToLower(strings.TrimSpace(f))] = true
				}
			}
		}
	}
	out := make(http.Header, len(in))
	for k, vs := range in {
		l := strings.ToLower(k)
		if hopHeaders[l] || drop[l] || strings.HasPrefix(l, "proxy-") {
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// meteredConn is an upstream connection of plain HTTP: every byte in
// either direction is taken from the call's budget before it moves, and
// every read and write has the idle timeout.
type meteredConn struct {
	net.Conn
	p    *Proxy
	e    *record
	idle time.Duration
}

func (m *meteredConn) Read(b []byte) (int, error) {
	_ = m.Conn.SetReadDeadline(time.Now().Add(m.idle))
	n, err := m.Conn.Read(b)
	if n > 0 {
		k := m.p.take(int64(n))
		m.e.addDown(k)
		if k < int64(n) {
			return int(k), errLimitBytes
		}
	}
	return n, err
}

func (m *meteredConn) Write(b []byte) (int, error) {
	k := m.p.take(int64(len(b)))
	if k == 0 && len(b) > 0 {
		return 0, errLimitBytes
	}
	_ = m.Conn.SetWriteDeadline(time.Now().Add(m.idle))
	n, err := m.Conn.Write(b[:k])
	m.e.addUp(int64(n))
	m.p.giveBack(k - int64(n))
	if err == nil && k < int64(len(b)) {
		err = errLimitBytes
	}
	return n, err
}
