package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options are the proxy's hooks into the outside world.
type Options struct {
	// Resolver returns the addresses of a name (default: the system
	// resolver, net.DefaultResolver.LookupNetIP). Config.Hosts entries
	// take precedence and never reach it.
	Resolver func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dial connects to one checked address ("ip:port", never a name: a
	// Dial must not resolve). Default: a net.Dialer with ConnectTimeout.
	// The tunnel splices (zero-copy) when Dial returns a *net.TCPConn.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logf, if set, receives one line per refusal and per upstream error.
	Logf func(format string, args ...any)
	// ConnectTimeout bounds resolving and connecting to an upstream
	// (default 10s).
	ConnectTimeout time.Duration
	// HeadTimeout bounds receiving a request head once its first byte
	// came, and the first head of a connection (default 10s): the
	// slowloris bound.
	HeadTimeout time.Duration
}

const (
	defaultConnectTimeout = 10 * time.Second
	defaultHeadTimeout    = 10 * time.Second
	// refusalWriteTimeout bounds writing an answer to a connection the
	// proxy refuses or closes.
	refusalWriteTimeout = time.Second
	// maxLingering bounds the goroutines that let refused over-limit
	// connections read their 429 before the close (see lingerClose).
	maxLingering = 16
)

// Proxy is the egress proxy of one call. It is used once: Serve while the
// call runs, Shutdown when it ends, then Report.
type Proxy struct {
	policy *Policy
	opts   Options

	ctx    context.Context // canceled by Shutdown: ends resolves and dials
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	handlers  sync.WaitGroup

	active    atomic.Int64 // client connections being served
	budget    atomic.Int64 // bytes left of MaxBytes
	lingering chan struct{}

	rec recorder
}

// NewProxy returns a proxy enforcing p.
func NewProxy(p *Policy, o Options) *Proxy {
	if o.Resolver == nil {
		o.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.HeadTimeout <= 0 {
		o.HeadTimeout = defaultHeadTimeout
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: o.ConnectTimeout}
		o.Dial = d.DialContext
	}
	ctx, cancel := context.WithCancel(context.Background())
	px := &Proxy{
		policy:    p,
		opts:      o,
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
		lingering: make(chan struct{}, maxLingering),
	}
	px.budget.Store(p.maxBytes)
	return px
}

// Serve accepts connections on l until l is closed or Shutdown is called;
// it then returns nil (any other accept failure is returned). l is the
// listener the jail created inside its own network namespace. Serve may
// run on several listeners at once; after Shutdown it closes l and returns
// at once.
func (p *Proxy) Serve(l net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.Close()
		return nil
	}
	p.listeners[l] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.listeners, l)
		p.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !transientAcceptError(err) {
				return fmt.Errorf("egress: accept: %w", err)
			}
			// Out of descriptors or memory: wait for connections to end,
			// as http.Server does, instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.logf("egress: accept: %v; retrying in %v", err, backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-p.ctx.Done():
				t.Stop()
				return nil
			}
			continue
		}
		backoff = 0
		p.admit(c)
	}
}

func transientAcceptError(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// admit starts serving c, or refuses it when the call's limits are
// reached. The checks run here, in the accept loop, so that a flood of
// connections never becomes a flood of goroutines.
func (p *Proxy) admit(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	var ref *refusal
	switch {
	case p.budget.Load() <= 0:
		ref = &refusal{status: http.StatusForbidden, reason: ReasonLimitBytes,
			msg: "this call used up its network byte budget", detail: fmt.Sprintf("maxBytes %d reached", p.policy.maxBytes)}
	case !p.reserveSlot():
		ref = &refusal{status: http.StatusTooManyRequests, reason: ReasonLimitConnections,
			msg: "too many connections open at once", detail: fmt.Sprintf("maxConnections %d reached", p.policy.maxConns)}
	}
	if ref != nil {
		e := p.rec.begin("")
		e.refuse(ref.reason, ref.detail)
		e.finish()
		p.logf("egress: refused a connection: %s", ref.reason)
		writeRefusal(c, ref)
		select {
		case p.lingering <- struct{}{}:
			go func() {
				defer func() { <-p.lingering }()
				lingerClose(c)
				p.untrack(c)
			}()
		default:
			c.Close() // enough lingering already: plain close
			p.untrack(c)
		}
		return
	}
	p.handlers.Add(1)
	go func() {
		defer p.handlers.Done()
		defer p.active.Add(-1)
		defer p.untrack(c)
		defer c.Close()
		p.serveConn(c)
	}()
}

// reserveSlot takes one of the MaxConnections slots; false when all are
// taken. A compare-and-swap, so that several Serve loops cannot together
// pass the limit.
func (p *Proxy) reserveSlot() bool {
	for {
		n := p.active.Load()
		if n >= int64(p.policy.maxConns) {
			return false
		}
		if p.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// track registers a connection so that Shutdown can close it; false once
// shut down (the caller closes it).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Shutdown ends the proxy at once: it closes the listeners and every client
// and upstream connection, cancels resolves and dials in progress, and
// waits for the connection handlers to record their entries, so that
// Report is complete when it returns. The call's timeout and kill end its
// network this way. Shutdown is idempotent.
func (p *Proxy) Shutdown() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.cancel()
		for l := range p.listeners {
			l.Close()
		}
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.handlers.Wait()
}

// Report returns what the call did so far (everything, after Shutdown).
func (p *Proxy) Report() Report { return p.rec.report() }

func (p *Proxy) logf(format string, args ...any) {
	if p.opts.Logf != nil {
		p.opts.Logf(format, args...)
	}
}

// writeRefusal answers a request the proxy refuses: a short plain-text
// body with the reason code, and Connection: close.
func writeRefusal(w net.Conn, r *refusal) {
	body := "egress proxy: " + r.msg + "\n"
	reason := ""
	if r.reason != "" {
		body = "egress proxy: " + r.reason + ": " + r.msg + "\n"
		reason = "X-Egress-Reason: " + r.reason + "\r\n"
	}
	msg := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s",
		r.status, http.StatusText(r.status), len(body), reason, body)
	_ = w.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	_, _ = io.WriteString(w, msg)
}

// lingerClose closes a connection after an answer so that the answer is
// read: closing a socket with unread input makes the kernel send RST
// (RFC 1122 section 4.2.2.13), which can destroy the answer in flight
// before the client reads it. So: half-close, read and discard for a
// moment, then close. Bounded in time and bytes.
func lingerClose(c net.Conn) {
	defer c.Close()
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(refusalWriteTimeout))
	_, _ = io.CopyN(io.Discard, c, 256<<10)
}
