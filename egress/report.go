package egress

import (
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Reason codes of refusals: the Reason of a Conn, counted by metrics. A
// code names the class, never the detail (that is Conn.Detail, for the
// operator only).
const (
	// ReasonNotAllowed: the name is on no allowlist entry.
	ReasonNotAllowed = "not_allowed"
	// ReasonPortNotAllowed: the name is listed, but not with this port.
	ReasonPortNotAllowed = "port_not_allowed"
	// ReasonAddressRefused: every address of the name is in a refused range
	// (loopback, private, link-local, metadata...), see allowAddresses.
	ReasonAddressRefused = "address_refused"
	// ReasonIPLiteral: the target is an address (or a numeric form of one)
	// not admitted by allowAddresses on ports 80/443.
	ReasonIPLiteral = "ip_literal"
	// ReasonHostMismatch: a plain HTTP request whose Host header names
	// another authority than its absolute URI.
	ReasonHostMismatch = "host_mismatch"
	// ReasonLimitConnections: MaxConnections were already open.
	ReasonLimitConnections = "limit_connections"
	// ReasonLimitBytes: the call's MaxBytes were used up; a connection
	// that crossed it was cut.
	ReasonLimitBytes = "limit_bytes"
	// ReasonResolveFailed: the name did not resolve (or timed out).
	ReasonResolveFailed = "resolve_failed"
	// ReasonDialFailed: no checked address accepted the connection.
	ReasonDialFailed = "dial_failed"
	// ReasonBadRequest: malformed, oversized, too slow, not absolute-form,
	// or not HTTP/1.x.
	ReasonBadRequest = "bad_request"
)

// MaxReportConns is how many Conn entries a Report keeps; later ones are
// only counted (Truncated is then true).
const MaxReportConns = 256

// Report is what one call did on the network.
type Report struct {
	// Connections lists tunnels (CONNECT) and plain HTTP requests, and the
	// refusals, in the order they started.
	Connections []Conn `json:"connections"`
	// Allowed and Refused count every entry, kept or not.
	Allowed int `json:"allowed"`
	Refused int `json:"refused"`
	// RefusedBy counts the refusals by reason code, every one of them
	// (the gateway's openclaw_egress_refusals_total).
	RefusedBy map[string]int `json:"refusedBy,omitempty"`
	// BytesUp (towards the upstreams) and BytesDown, over the whole call.
	BytesUp   int64 `json:"bytesUp"`
	BytesDown int64 `json:"bytesDown"`
	// Truncated: more than MaxReportConns entries; the rest were counted.
	Truncated bool `json:"truncated,omitempty"`
}

// Conn is one tunnel, one plain HTTP request, or one refusal.
type Conn struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method,omitempty"`
	Host   string    `json:"host,omitempty"`
	Port   int       `json:"port,omitempty"`
	// Address is the address dialed (ip:port), the only one connected to.
	Address string `json:"address,omitempty"`
	// Allowed is false for a refusal, and for a connection cut by a limit.
	Allowed bool `json:"allowed"`
	// Reason is a refusal code (Reason*), empty when allowed.
	Reason string `json:"reason,omitempty"`
	// Detail says more for the operator ("10.0.0.5 is private (RFC
	// 1918)"); it is never sent into the jail.
	Detail     string `json:"detail,omitempty"`
	BytesUp    int64  `json:"bytesUp"`
	BytesDown  int64  `json:"bytesDown"`
	DurationMs int64  `json:"durationMs"`
}

// recorder accumulates a Report.
type recorder struct {
	mu        sync.Mutex
	conns     []Conn
	allowed   int
	refused   int
	refusedBy map[string]int
	truncated bool
	up, down  atomic.Int64
}

// record is one entry being filled in while its connection lives.
type record struct {
	rec      *recorder
	c        Conn
	start    time.Time
	up, down atomic.Int64
	done     bool
}

func (r *recorder) begin(method string) *record {
	now := time.Now()
	return &record{rec: r, start: now, c: Conn{Time: now, Method: method}}
}

func (e *record) setTarget(t target) {
	e.c.Host, e.c.Port = t.host(), t.port
}

// addUp and addDown count carried bytes on the entry and the call.
func (e *record) addUp(n int64) {
	e.up.Add(n)
	e.rec.up.Add(n)
}

func (e *record) addDown(n int64) {
	e.down.Add(n)
	e.rec.down.Add(n)
}

// refuse marks the entry refused (or cut) with a reason code and detail.
// The first reason wins: a cut after a refusal does not overwrite it.
func (e *record) refuse(reason, detail string) {
	if e.c.Reason != "" {
		return
	}
	e.c.Reason, e.c.Detail = reason, detail
}

// finish closes the entry into the report; later calls do nothing.
func (e *record) finish() {
	if e.done {
		return
	}
	e.done = true
	c := e.c
	c.Allowed = c.Reason == ""
	c.BytesUp, c.BytesDown = e.up.Load(), e.down.Load()
	c.DurationMs = time.Since(e.start).Milliseconds()
	r := e.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Allowed {
		r.allowed++
	} else {
		r.refused++
		if r.refusedBy == nil {
			r.refusedBy = map[string]int{}
		}
		r.refusedBy[c.Reason]++
	}
	if len(r.conns) >= MaxReportConns {
		r.truncated = true
		return
	}
	r.conns = append(r.conns, c)
}

func (r *recorder) report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		Connections: append([]Conn(nil), r.conns...),
		Allowed:     r.allowed,
		Refused:     r.refused,
		RefusedBy:   maps.Clone(r.refusedBy),
		BytesUp:     r.up.Load(),
		BytesDown:   r.down.Load(),
		Truncated:   r.truncated,
	}
	sort.SliceStable(rep.Connections, func(i, j int) bool { return rep.Connections[i].Time.Before(rep.Connections[j].Time) })
	return rep
}
