package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Lockout counts failed authentications per client address and locks an
// address out after too many. It is an interface so that several gateways
// can share the counters (HA), and an attacker cannot spread guesses.
type Lockout interface {
	// Locked reports whether addr is locked out, and until when. An error
	// (the shared store is unreachable) refuses the request: fail closed.
	Locked(addr string) (bool, time.Time, error)
	// Fail records a failure and reports whether addr is now locked.
	Fail(addr string) (bool, error)
}

// Resetter is a Lockout that can be cleared (POST /v1/admin/reset).
type Resetter interface {
	// Reset ends every lockout and forgets the counted failures; it
	// returns how many addresses were locked.
	Reset() (int, error)
}

// memLockout is the single-gateway Lockout.
type memLockout struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	lock   time.Duration
	seen   map[string]*failures
}

type failures struct {
	times []time.Time
	until time.Time
}

// NewLockout locks an address for lock after max failures within window.
func NewLockout(max int, window, lock time.Duration) Lockout {
	return &memLockout{max: max, window: window, lock: lock, seen: map[string]*failures{}}
}

func (l *memLockout) Locked(addr string) (bool, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.seen[addr]
	if f == nil {
		return false, time.Time{}, nil
	}
	return time.Now().Before(f.until), f.until, nil
}

func (l *memLockout) Reset() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	now := time.Now()
	for _, f := range l.seen {
		if now.Before(f.until) {
			n++
		}
	}
	l.seen = map[string]*failures{}
	return n, nil
}

func (l *memLockout) Fail(addr string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	f := l.seen[addr]
	if f == nil {
		if len(l.seen) > 100000 { // bounded memory under a spray of addresses
			l.seen = map[string]*failures{}
		}
		f = &failures{}
		l.seen[addr] = f
	}
	kept := f.times[:0]
	for _, t := range f.times {
		if now.Sub(t) < l.window {
			kept = append(kept, t)
		}
	}
	f.times = append(kept, now)
	if len(f.times) >= l.max {
		f.until = now.Add(l.lock)
		f.times = nil
		return true, nil
	}
	return false, nil
}

// clientAddr is the peer's IP address (the gateway does not trust
// X-Forwarded-For: behind a proxy, lockouts apply to the proxy).
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	// Behind a reverse proxy every request comes from the proxy: one
	// client's bad tokens would lock out all of them. Only a listed proxy
	// is believed about the client's address (X-Real-IP, which the shipped
	// nginx config sets from $remote_addr and a client cannot forge).
	if ip, err := netip.ParseAddr(host); err == nil && len(trusted) > 0 {
		for _, p := range trusted {
			if p.Contains(ip.Unmap()) {
				if real, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
					return real.String()
				}
				break
			}
		}
	}
	return host
}

// ParseProxies reads gateway.trustedProxies: addresses or CIDR prefixes.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("gateway.trustedProxies: %q is neither an address nor a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// originAllowed matches an Origin header against the allowOrigins
// patterns: the scheme must be equal; in the host, "*" stands for exactly
// one label or address octet (so "http://192.168.1.*" admits
// http://192.168.1.7 but not http://192.168.1.evil.example); a pattern
// without a port admits any port, one with a port ("*" allowed) only that.
func originAllowed(origin string, patterns []string) bool {
	os, oh, op, ok := splitOrigin(origin)
	if !ok {
		return false
	}
	for _, p := range patterns {
		ps, ph, pp, ok := splitOrigin(p)
		if !ok || ps != os {
			continue
		}
		if pp != "" && pp != "*" && pp != op {
			continue
		}
		if hostMatch(ph, oh) {
			return true
		}
	}
	return false
}

func splitOrigin(o string) (scheme, host, port string, ok bool) {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || rest == "" || strings.ContainsAny(rest, "/?#@") {
		return "", "", "", false
	}
	host = rest
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	}
	return strings.ToLower(scheme), strings.ToLower(host), port, true
}

func hostMatch(pattern, host string) bool {
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if pl[i] == "*" {
			if hl[i] == "" || strings.ContainsAny(hl[i], ":[]") {
				return false
			}
			continue
		}
		if pl[i] != hl[i] {
			return false
		}
	}
	return true
}
