package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Policy is a compiled Config: what a call may reach and with what limits.
// It decides and does no I/O; it is immutable and safe to share.
type Policy struct {
	patterns   []Pattern
	hosts      map[string]netip.Addr
	allowAddrs []netip.Prefix
	maxConns   int
	maxBytes   int64
	idle       time.Duration
}

// Patterns returns the allowlist, canonical.
func (p *Policy) Patterns() []Pattern { return append([]Pattern(nil), p.patterns...) }

// Config returns the policy as a Config: canonical patterns and the
// effective limits (defaults filled in), for audit and `config show`.
func (p *Policy) Config() Config {
	c := Config{MaxConnections: p.maxConns, MaxBytes: p.maxBytes, IdleTimeout: p.idle}
	for _, pat := range p.patterns {
		c.Allow = append(c.Allow, pat.String())
	}
	if len(p.hosts) > 0 {
		c.Hosts = map[string]string{}
		for n, a := range p.hosts {
			c.Hosts[n] = a.String()
		}
	}
	for _, pre := range p.allowAddrs {
		c.AllowAddresses = append(c.AllowAddresses, pre.String())
	}
	return c
}

// Narrow returns the policy of one call that asks for the hosts in allow:
// every one of them must be covered by the operator's list (the same or a
// narrower set of names, and ports the operator's entries admit for all of
// those names), else the error names the pattern. An empty list keeps the
// operator's list. Hosts, allowAddresses and limits are the operator's.
func (p *Policy) Narrow(allow []string) (*Policy, error) {
	if len(allow) == 0 {
		return p, nil
	}
	n := *p
	n.patterns = nil
	var errs []error
	for _, s := range allow {
		c, err := ParsePattern(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if port, ok := p.covers(c); !ok {
			errs = append(errs, fmt.Errorf("host pattern %q is not within the operator's sandbox.network.allow (%s)", s, uncovered(c, port)))
			continue
		}
		n.patterns = append(n.patterns, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &n, nil
}

// covers reports whether the union of the operator patterns admits every
// (name, port) that c admits; if not, the first port not covered (0 when
// no operator pattern covers c's names at all).
func (p *Policy) covers(c Pattern) (int, bool) {
	hostCovered := false
	for _, port := range c.ports() {
		ok := false
		for _, o := range p.patterns {
			if o.coversHost(c) {
				hostCovered = true
				if o.matchPort(port) {
					ok = true
					break
				}
			}
		}
		if !ok {
			if !hostCovered {
				return 0, false
			}
			return port, false
		}
	}
	return 0, true
}

func uncovered(c Pattern, port int) string {
	if port == 0 {
		return "no entry admits all of its names"
	}
	return fmt.Sprintf("port %d is not admitted for %s", port, c.Host)
}

// checkName decides a (canonical name, port) target against the allowlist:
// "" when admitted, else ReasonNotAllowed or ReasonPortNotAllowed.
func (p *Policy) checkName(name string, port int) string {
	hostSeen := false
	for _, pat := range p.patterns {
		if pat.matchHost(name) {
			if pat.matchPort(port) {
				return ""
			}
			hostSeen = true
		}
	}
	if hostSeen {
		return ReasonPortNotAllowed
	}
	return ReasonNotAllowed
}

// literalPorts are the only ports an IP-literal target may use.
var literalPorts = map[int]bool{80: true, 443: true}

// checkLiteral decides an IP-literal target: it is admitted only when an
// allowAddresses prefix holds it and the port is 80 or 443. Names are the
// allowlist; an address the operator listed is a deliberate exception for
// a local mirror, and even then no other service on that host (SSH, a
// database, the gateway's port) is reachable by number. A mirror on another
// port gets a name in Hosts and a pattern with that port.
func (p *Policy) checkLiteral(a netip.Addr, port int) (string, string) {
	a = a.Unmap()
	listed := false
	for _, pre := range p.allowAddrs {
		if pre.Contains(a) {
			listed = true
			break
		}
	}
	if !listed {
		return ReasonIPLiteral, fmt.Sprintf("%s is not in allowAddresses", a)
	}
	if !literalPorts[port] {
		return ReasonIPLiteral, fmt.Sprintf("port %d: an IP literal may use ports 80 and 443 only", port)
	}
	return "", ""
}
