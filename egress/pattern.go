package egress

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// defaultPorts are the ports of a pattern written without one: plain HTTP
// and HTTPS, nothing else (a pattern never opens SSH, SMTP or a database).
var defaultPorts = []int{80, 443}

// Pattern is one compiled entry of an allowlist.
type Pattern struct {
	// Host is the canonical ASCII name (lower case, punycode, no trailing
	// dot); for a wildcard, the name under the "*.".
	Host string
	// Wildcard: any name at least one label below Host (a.Host, a.b.Host),
	// never Host itself. "*.pythonhosted.org" admits
	// files.pythonhosted.org, not pythonhosted.org: list the apex too if it
	// is wanted, so that one entry never admits more than it reads.
	Wildcard bool
	// Port is the one port admitted; 0 means 80 and 443.
	Port int
}

// ParsePattern reads "pypi.org", "*.pythonhosted.org", "github.com:443" or
// "mirror.internal:8080". IP literals are refused (addresses are admitted
// through allowAddresses), and so is a wildcard over a public suffix
// ("*.com", "*.co.uk"): it would admit every name anybody can register.
func ParsePattern(s string) (Pattern, error) {
	var p Pattern
	raw := strings.TrimSpace(s)
	if raw == "" {
		return p, errors.New("empty host pattern")
	}
	if strings.Contains(raw, "://") || strings.ContainsAny(raw, "/?#@") {
		return p, fmt.Errorf("host pattern %q: write a host name, optionally with :port, not a URL", s)
	}
	host := raw
	if strings.HasPrefix(raw, "[") || strings.Count(raw, ":") > 1 {
		return p, fmt.Errorf("host pattern %q: IP literals are not host patterns; put the address in allowAddresses", s)
	}
	if i := strings.LastIndexByte(raw, ':'); i >= 0 {
		port, err := parsePort(raw[i+1:])
		if err != nil {
			return p, fmt.Errorf("host pattern %q: %w", s, err)
		}
		p.Port, host = port, raw[:i]
	}
	if strings.HasPrefix(host, "*.") {
		p.Wildcard, host = true, host[2:]
	}
	if strings.Contains(host, "*") {
		return p, fmt.Errorf("host pattern %q: a wildcard is only allowed as a whole first label (*.example.org)", s)
	}
	name, err := canonicalName(host)
	if errors.Is(err, errIPLiteral) {
		return p, fmt.Errorf("host pattern %q: IP literals are not host patterns; put the address in allowAddresses", s)
	}
	if err != nil {
		return p, fmt.Errorf("host pattern %q: %w", s, err)
	}
	p.Host = name
	if p.Wildcard {
		if ps, icann := publicsuffix.PublicSuffix(name); icann && ps == name {
			return p, fmt.Errorf("host pattern %q: %q is a public suffix; a wildcard over it admits every domain registered under it", s, name)
		}
	}
	return p, nil
}

// String is the canonical text of the pattern; ParsePattern(p.String())
// gives p back.
func (p Pattern) String() string {
	s := p.Host
	if p.Wildcard {
		s = "*." + s
	}
	if p.Port != 0 {
		s += ":" + strconv.Itoa(p.Port)
	}
	return s
}

// ports is the set of ports the pattern admits.
func (p Pattern) ports() []int {
	if p.Port == 0 {
		return defaultPorts
	}
	return []int{p.Port}
}

func (p Pattern) matchPort(port int) bool {
	for _, q := range p.ports() {
		if q == port {
			return true
		}
	}
	return false
}

// matchHost reports whether a canonical name is in the pattern's host set.
func (p Pattern) matchHost(name string) bool {
	if p.Wildcard {
		return strings.HasSuffix(name, "."+p.Host)
	}
	return name == p.Host
}

// coversHost reports whether every name c admits is admitted by p.
func (p Pattern) coversHost(c Pattern) bool {
	if !p.Wildcard {
		return !c.Wildcard && c.Host == p.Host
	}
	// *.a covers x.a (exact), *.a (same set) and *.x.a (a subset).
	return c.Host == p.Host && c.Wildcard || strings.HasSuffix(c.Host, "."+p.Host)
}
