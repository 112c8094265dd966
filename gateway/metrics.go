package gateway

import (
	"net/http"

	"github.com/openclaw-run/openclaw-run/egress"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricNames are every metric /metrics exports (the dashboard test checks
// that the Grafana JSON uses no other).
var MetricNames = []string{
	"openclaw_requests_total", "openclaw_tool_calls_total", "openclaw_denials_total",
	"openclaw_call_duration_seconds", "openclaw_jail_setup_seconds", "openclaw_active_calls",
	"openclaw_sessions", "openclaw_stream_bytes_total", "openclaw_auth_failures_total",
	"openclaw_panics_total",
	"openclaw_queued_calls", "openclaw_max_concurrent_calls", "openclaw_max_queued_calls",
	"openclaw_egress_connections_total", "openclaw_egress_bytes_total", "openclaw_egress_refusals_total",
}

// Outcomes of a tool call as openclaw_tool_calls_total counts them besides
// the error codes: a result with exit code 0, and one with another exit
// code (the call ran; its command failed).
const (
	statusOK          = "ok"
	statusExitNonzero = "exit_nonzero"
)

type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	calls        *prometheus.CounterVec
	denials      *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	setup        prometheus.Histogram
	active       prometheus.Gauge
	sessions     prometheus.Gauge
	bytes        prometheus.Counter
	authFailures prometheus.Counter
	panics       prometheus.Counter
	// queued counts admitted calls waiting for a slot; maxRun and
	// maxQueue are the limits (gateway.maxConcurrent and maxQueue).
	queued   prometheus.Gauge
	maxRun   prometheus.Gauge
	maxQueue prometheus.Gauge
	// The egress proxy's (network allowlist) connections by decision and
	// bytes by direction, from each call's report.
	egressConns    *prometheus.CounterVec
	egressBytes    *prometheus.CounterVec
	egressRefusals *prometheus.CounterVec
}

func newMetrics(maxRun, maxQueue int) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openclaw_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openclaw_tool_calls_total", Help: "Tool calls by tool and outcome (ok or the error code)."}, []string{"tool", "status"})
	m.denials = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openclaw_denials_total", Help: "Refused calls by reason."}, []string{"reason"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "openclaw_call_duration_seconds", Help: "Time from request to the call's result.",
		Buckets: []float64{.005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 120}}, []string{"tool"})
	m.setup = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "openclaw_jail_setup_seconds", Help: "Time to build a jail, from the call to the jailed program running.",
		Buckets: []float64{.002, .005, .01, .015, .02, .03, .05, .1, .25}})
	m.active = prometheus.NewGauge(prometheus.GaugeOpts{Name: "openclaw_active_calls", Help: "Calls running now (each in its own jail)."})
	m.sessions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "openclaw_sessions", Help: "Sessions in the store."})
	m.bytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "openclaw_stream_bytes_total", Help: "Bytes of stdout and stderr streamed to clients."})
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "openclaw_auth_failures_total", Help: "Requests refused for a missing or wrong token."})
	m.panics = prometheus.NewCounter(prometheus.CounterOpts{Name: "openclaw_panics_total", Help: "Panics recovered in requests and calls (each is a bug; the gateway went on)."})
	m.queued = prometheus.NewGauge(prometheus.GaugeOpts{Name: "openclaw_queued_calls", Help: "Calls admitted and waiting for a slot (at most openclaw_max_queued_calls; more are refused with 429)."})
	m.maxRun = prometheus.NewGauge(prometheus.GaugeOpts{Name: "openclaw_max_concurrent_calls", Help: "gateway.maxConcurrent: calls that run at once."})
	m.maxQueue = prometheus.NewGauge(prometheus.GaugeOpts{Name: "openclaw_max_queued_calls", Help: "gateway.maxQueue: calls that may wait for a slot."})
	m.egressConns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openclaw_egress_connections_total", Help: "Connections and requests through the egress proxy, allowed or refused."}, []string{"decision"})
	m.egressRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openclaw_egress_refusals_total", Help: "Egress connections and requests refused, by reason (not_allowed, port_not_allowed, address_refused, ip_literal, host_mismatch, limit_*, ...; docs/network.md)."}, []string{"reason"})
	m.egressBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "openclaw_egress_bytes_total", Help: "Bytes through the egress proxy, up (to the upstreams) or down."}, []string{"direction"})
	m.maxRun.Set(float64(maxRun))
	m.maxQueue.Set(float64(maxQueue))
	m.reg.MustRegister(m.requests, m.calls, m.denials, m.latency, m.setup, m.active, m.sessions, m.bytes, m.authFailures,
		m.queued, m.maxRun, m.maxQueue, m.egressConns, m.egressBytes, m.egressRefusals, m.panics)
	for _, d := range []string{"allowed", "refused"} {
		m.egressConns.WithLabelValues(d)
	}
	for _, d := range []string{"up", "down"} {
		m.egressBytes.WithLabelValues(d)
	}
	for _, r := range []string{egress.ReasonNotAllowed, egress.ReasonPortNotAllowed, egress.ReasonAddressRefused, egress.ReasonIPLiteral, egress.ReasonHostMismatch} {
		m.egressRefusals.WithLabelValues(r)
	}
	// The series a dashboard or an alert divides by exist from the start,
	// at 0, instead of appearing with their first event.
	for _, tool := range []string{"exec", "process", "read", "write", "edit"} {
		for _, st := range []string{statusOK, statusExitNonzero} {
			m.calls.WithLabelValues(tool, st)
		}
		m.latency.WithLabelValues(tool)
	}
	for _, reason := range []string{"overload", "channel", "policy_denied", "invalid_params"} {
		m.denials.WithLabelValues(reason)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
