package egress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/openclaw-run/openclaw-run/profiles"
)

// Defaults of the limits, taken when a Config leaves them zero.
const (
	// DefaultMaxConnections bounds the client connections open at once.
	// Package managers open few in parallel (pip and Go about 10, npm up to
	// 16 sockets per host by default), so 64 leaves headroom while keeping
	// goroutines (at most three per connection) and buffers (about 40 KiB
	// per connection) small.
	DefaultMaxConnections = 64
	// DefaultMaxBytes bounds the bytes carried in one call, both directions
	// summed: 1 GiB holds a large pip or npm install and bounds what one
	// call can move out through an allowed host. Raise it for CUDA wheels.
	DefaultMaxBytes int64 = 1 << 30
	// DefaultIdleTimeout closes a connection on which nothing moved in
	// either direction for this long: 60 s is the keep-alive timeout most
	// servers use and outlasts a slow server-side step (a git server
	// counting objects) without keeping dead tunnels for the whole call.
	DefaultIdleTimeout = 60 * time.Second

	// maxMaxConnections caps what an operator may configure: every
	// connection costs goroutines, descriptors and a splice pipe.
	maxMaxConnections = 4096
)

// Config is the operator's sandbox.network section.
type Config struct {
	// Allow lists host patterns: "pypi.org", "*.pythonhosted.org",
	// "github.com:443". Without a port a pattern admits 80 and 443.
	Allow []string `json:"allow,omitempty"`
	// Hosts maps a name to an address, as curl --resolve does: the proxy
	// uses it instead of DNS for that name (private mirrors, tests). The
	// address is checked like any other: a private one needs
	// allowAddresses too.
	Hosts map[string]string `json:"hosts,omitempty"`
	// AllowAddresses lists CIDR prefixes (or single addresses) exempt from
	// the refusal of special ranges (loopback, private, link-local,
	// metadata...), for a mirror on the local network. They also admit IP
	// literal targets in those prefixes, on ports 80 and 443 only.
	AllowAddresses []string `json:"allowAddresses,omitempty"`
	// MaxConnections bounds client connections open at once (0: 64).
	MaxConnections int `json:"maxConnections,omitempty"`
	// MaxBytes bounds bytes carried per call, both directions (0: 1 GiB).
	// In JSON a number of bytes or a size string ("512M", "2G").
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// IdleTimeout closes a connection idle in both directions (0: 60s).
	// In JSON a duration string ("60s") or a number of seconds.
	IdleTimeout time.Duration `json:"idleTimeout,omitempty"`
}

// configJSON is Config as written in openclaw.json: sizes and durations
// are read the way the rest of the file reads them (profiles.Size,
// profiles.Duration).
type configJSON struct {
	Allow          []string          `json:"allow,omitempty"`
	Hosts          map[string]string `json:"hosts,omitempty"`
	AllowAddresses []string          `json:"allowAddresses,omitempty"`
	MaxConnections int               `json:"maxConnections,omitempty"`
	MaxBytes       profiles.Size     `json:"maxBytes,omitempty"`
	IdleTimeout    profiles.Duration `json:"idleTimeout,omitempty"`
}

// UnmarshalJSON reads the section; an unknown key is an error.
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil {
		return fmt.Errorf("sandbox.network: %w", err)
	}
	*c = Config{Allow: j.Allow, Hosts: j.Hosts, AllowAddresses: j.AllowAddresses,
		MaxConnections: j.MaxConnections, MaxBytes: int64(j.MaxBytes), IdleTimeout: j.IdleTimeout.D()}
	return nil
}

// MarshalJSON writes sizes and durations in their readable forms.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{Allow: c.Allow, Hosts: c.Hosts, AllowAddresses: c.AllowAddresses,
		MaxConnections: c.MaxConnections, MaxBytes: profiles.Size(c.MaxBytes), IdleTimeout: profiles.Duration(c.IdleTimeout)})
}

// Compile checks every entry and returns the policy. Every bad entry is
// reported, each naming itself; nothing is dropped silently.
func (c Config) Compile() (*Policy, error) {
	p := &Policy{
		hosts:    map[string]netip.Addr{},
		maxConns: c.MaxConnections,
		maxBytes: c.MaxBytes,
		idle:     c.IdleTimeout,
	}
	var errs []error
	for _, s := range c.Allow {
		pat, err := ParsePattern(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("sandbox.network.allow: %w", err))
			continue
		}
		p.patterns = append(p.patterns, pat)
	}
	names := make([]string, 0, len(c.Hosts))
	for n := range c.Hosts {
		names = append(names, n)
	}
	sort.Strings(names) // errors in a stable order
	for _, n := range names {
		if err := p.addHost(n, c.Hosts[n]); err != nil {
			errs = append(errs, fmt.Errorf("sandbox.network.hosts: %w", err))
		}
	}
	for _, s := range c.AllowAddresses {
		pre, err := parseAllowAddress(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("sandbox.network.allowAddresses: %w", err))
			continue
		}
		p.allowAddrs = append(p.allowAddrs, pre)
	}
	errs = append(errs, p.applyLimitDefaults()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (p *Policy) addHost(name, addr string) error {
	n, err := canonicalName(name)
	if err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil || a.Zone() != "" {
		return fmt.Errorf("entry %q: %q is not an IP address", name, addr)
	}
	if _, dup := p.hosts[n]; dup {
		return fmt.Errorf("entry %q: %s is listed twice (names compare case-insensitively)", name, n)
	}
	p.hosts[n] = a.Unmap()
	return nil
}

func (p *Policy) applyLimitDefaults() []error {
	var errs []error
	switch {
	case p.maxConns < 0 || p.maxConns > maxMaxConnections:
		errs = append(errs, fmt.Errorf("sandbox.network.maxConnections: %d is not from 1 to %d (0: the default %d)", p.maxConns, maxMaxConnections, DefaultMaxConnections))
	case p.maxConns == 0:
		p.maxConns = DefaultMaxConnections
	}
	switch {
	case p.maxBytes < 0:
		errs = append(errs, fmt.Errorf("sandbox.network.maxBytes: %d is negative (0: the default 1G)", p.maxBytes))
	case p.maxBytes == 0:
		p.maxBytes = DefaultMaxBytes
	}
	switch {
	case p.idle < 0:
		errs = append(errs, fmt.Errorf("sandbox.network.idleTimeout: %s is negative (0: the default %s)", p.idle, DefaultIdleTimeout))
	case p.idle == 0:
		p.idle = DefaultIdleTimeout
	}
	return errs
}
