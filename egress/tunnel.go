package egress

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

var (
	errLimitBytes = errors.New("the call's byte budget is used up")
	errIdle       = errors.New("idle timeout")
)

// copyBufs holds the buffers of the generic (non-splice) copy path.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// take reserves up to n bytes of the call's budget and returns how many it
// got; 0 when the budget is used up. The budget is shared by every
// connection of the call and is never overdrawn: a byte is reserved
// before it is forwarded, so a call carries at most MaxBytes.
func (p *Proxy) take(n int64) int64 {
	for {
		left := p.budget.Load()
		if left <= 0 || n <= 0 {
			return 0
		}
		k := min(n, left)
		if p.budget.CompareAndSwap(left, left-k) {
			return k
		}
	}
}

// giveBack returns reserved bytes that were not forwarded.
func (p *Proxy) giveBack(n int64) {
	if n > 0 {
		p.budget.Add(n)
	}
}

// tunnel is a CONNECT after its 200: a raw byte stream in both directions
// that the proxy never parses again. Whatever the client writes into it,
// a second CONNECT included, goes to the upstream it was checked for.
type tunnel struct {
	p                *Proxy
	e                *record
	idle             time.Duration
	client, upstream net.Conn
	last             atomic.Int64 // UnixNano of the last byte moved, either way
	abortOnce        sync.Once
	cause            error
}

// runTunnel carries bytes until both sides are done, a limit cuts the
// connection, or the idle timeout passes with nothing moving. pending is
// what the client sent after its CONNECT head before the 200 (already
// read into the head buffer); it goes first.
func (p *Proxy) runTunnel(client, upstream net.Conn, e *record, pending []byte) {
	t := &tunnel{p: p, e: e, idle: p.policy.idle, client: client, upstream: upstream}
	t.touch()
	if len(pending) > 0 {
		if err := t.writeBudgeted(upstream, pending, e.addUp); err != nil {
			t.abort(err)
		}
	}
	if t.cause == nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			t.pipe(upstream, client, e.addUp)
		}()
		t.pipe(client, upstream, e.addDown)
		<-done
	}
	client.Close()
	upstream.Close()
	switch {
	case errors.Is(t.cause, errLimitBytes):
		e.refuse(ReasonLimitBytes, "cut: the call's maxBytes was reached")
		p.logf("egress: cut CONNECT %s: %s", e.c.Host, ReasonLimitBytes)
	case errors.Is(t.cause, errIdle) && e.c.Detail == "":
		e.c.Detail = "closed after the idle timeout"
	case p.ctx.Err() != nil && e.c.Detail == "":
		e.c.Detail = "ended by shutdown (the call ended)"
	}
}

func (t *tunnel) touch() { t.last.Store(time.Now().UnixNano()) }

// idleFor is how long nothing moved in either direction.
func (t *tunnel) idleFor() time.Duration { return time.Duration(time.Now().UnixNano() - t.last.Load()) }

// readDeadline is when this tunnel becomes idle unless something moves.
func (t *tunnel) readDeadline() time.Time { return time.Unix(0, t.last.Load()).Add(t.idle) }

// abort ends the tunnel at once (both connections closed); the first
// cause is kept.
func (t *tunnel) abort(err error) {
	t.abortOnce.Do(func() {
		t.cause = err
		t.client.Close()
		t.upstream.Close()
	})
}

// pipe copies src to dst. At src's end of stream it half-closes dst so
// that the other direction can finish (TCP half-close, as a client that
// sends its request and shuts down its write side expects); on any error
// it aborts the whole tunnel.
func (t *tunnel) pipe(dst, src net.Conn, count func(int64)) {
	var err error
	if ok, serr := t.splice(dst, src, count, -1); ok {
		err = serr
	} else {
		err = t.copyGeneric(dst, src, count)
	}
	if err != nil {
		t.abort(err)
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	t.abort(nil) // no half-close: end the tunnel
}

// copyGeneric is the userspace copy for connections that cannot splice.
// Bytes are read, then budget is taken for them: only what the budget
// covers is written.
func (t *tunnel) copyGeneric(dst, src net.Conn, count func(int64)) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := t.readIdle(src, buf)
		if n > 0 {
			if werr := t.writeBudgeted(dst, buf[:n], count); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readIdle reads with the tunnel's idle deadline: a deadline that passes
// while the other direction moved is renewed.
func (t *tunnel) readIdle(src net.Conn, b []byte) (int, error) {
	for {
		_ = src.SetReadDeadline(t.readDeadline())
		n, err := src.Read(b)
		if n > 0 {
			t.touch()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = nil
			}
			return n, err
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if t.idleFor() < t.idle {
				continue
			}
			return 0, errIdle
		}
		return n, err
	}
}

// writeBudgeted writes b as far as the budget covers it; errLimitBytes if
// it did not cover all of it.
func (t *tunnel) writeBudgeted(dst net.Conn, b []byte, count func(int64)) error {
	k := t.p.take(int64(len(b)))
	if k > 0 {
		_ = dst.SetWriteDeadline(time.Now().Add(t.idle))
		w, err := dst.Write(b[:k])
		count(int64(w))
		t.p.giveBack(k - int64(w))
		if w > 0 {
			t.touch()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errIdle
		}
		if err != nil {
			return err
		}
	}
	if k < int64(len(b)) {
		return errLimitBytes
	}
	return nil
}
