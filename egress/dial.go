package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// connectUpstream is the checked dial: the policy decides the target, the
// proxy resolves the name itself, checks every address, and dials only
// addresses it checked, by number. Nothing re-resolves between the check
// and the dial (no TOCTOU, no DNS rebinding): Options.Dial receives an
// "ip:port". When a name has both allowed and refused addresses, only the
// allowed ones are tried, in the resolver's order; the refused ones are
// noted in the entry's Detail.
func (p *Proxy) connectUpstream(t target, e *record) (net.Conn, *refusal) {
	var addrs []netip.Addr
	if t.literal() {
		if reason, detail := p.policy.checkLiteral(t.addr, t.port); reason != "" {
			return nil, &refusal{status: http.StatusForbidden, reason: reason,
				msg: "IP-literal targets are not allowed here; name the host", detail: detail}
		}
		if why := p.policy.checkAddr(t.addr); why != "" {
			return nil, &refusal{status: http.StatusForbidden, reason: ReasonAddressRefused,
				msg: "the address is not on the public internet", detail: why}
		}
		addrs = []netip.Addr{t.addr}
	} else {
		switch p.policy.checkName(t.name, t.port) {
		case ReasonNotAllowed:
			return nil, &refusal{status: http.StatusForbidden, reason: ReasonNotAllowed,
				msg: fmt.Sprintf("%s is not on the allowlist", t.name)}
		case ReasonPortNotAllowed:
			return nil, &refusal{status: http.StatusForbidden, reason: ReasonPortNotAllowed,
				msg: fmt.Sprintf("port %d is not allowed for %s", t.port, t.name)}
		}
		resolved, err := p.resolve(t.name)
		if err != nil {
			return nil, &refusal{status: upstreamStatus(err), reason: ReasonResolveFailed,
				msg: fmt.Sprintf("%s did not resolve", t.name), detail: err.Error()}
		}
		var refused []string
		for _, a := range resolved {
			a = a.Unmap()
			if why := p.policy.checkAddr(a); why != "" {
				refused = append(refused, why)
				continue
			}
			addrs = append(addrs, a)
		}
		if len(addrs) == 0 {
			return nil, &refusal{status: http.StatusForbidden, reason: ReasonAddressRefused,
				msg:    fmt.Sprintf("%s resolves only to addresses that are not on the public internet", t.name),
				detail: strings.Join(refused, "; ")}
		}
		if len(refused) > 0 {
			e.c.Detail = "skipped " + strings.Join(refused, "; ")
		}
	}
	c, addr, err := p.dialChecked(addrs, t.port)
	if err != nil {
		return nil, &refusal{status: upstreamStatus(err), reason: ReasonDialFailed,
			msg: fmt.Sprintf("could not connect to %s", t.authority()), detail: err.Error()}
	}
	e.c.Address = addr
	if !p.track(c) {
		c.Close()
		return nil, &refusal{status: http.StatusServiceUnavailable, reason: ReasonDialFailed,
			msg: "the proxy is shutting down", detail: "shut down"}
	}
	return c, nil
}

// resolve returns a name's addresses: Config.Hosts first, else the
// resolver, within ConnectTimeout.
func (p *Proxy) resolve(name string) ([]netip.Addr, error) {
	if a, ok := p.policy.hosts[name]; ok {
		return []netip.Addr{a}, nil
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ConnectTimeout)
	defer cancel()
	addrs, err := p.opts.Resolver(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", name, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", name)
	}
	return addrs, nil
}

// dialChecked connects to the first of addrs that answers, all within
// ConnectTimeout, each attempt getting an equal share of what is left (as
// net.Dialer does for a name with several addresses).
func (p *Proxy) dialChecked(addrs []netip.Addr, port int) (net.Conn, string, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ConnectTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var first error
	for i, a := range addrs {
		addr := netip.AddrPortFrom(a, uint16(port)).String()
		share := time.Until(deadline) / time.Duration(len(addrs)-i)
		actx, acancel := context.WithTimeout(ctx, share)
		c, err := p.opts.Dial(actx, "tcp", addr)
		acancel()
		if err == nil {
			return c, addr, nil
		}
		if first == nil {
			first = fmt.Errorf("dial %s: %w", addr, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", first
}

// upstreamStatus is 504 for a timeout, else 502.
func upstreamStatus(err error) int {
	if isTimeout(err) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
