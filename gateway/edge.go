package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
)

// The edge of every route, the gateway's own and those mounted beside
// them (/mcp): a panic is a 500 for its request, never the end of the
// gateway; and the Host header must name this gateway.

// edge wraps h in the checks every route gets: recovery and Host.
func (s *Server) edge(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.recoverHTTP(w, r)
		if err := s.checkHost(r); err != nil {
			s.refuse(r, "host", err)
			writeErr(w, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// recoverHTTP ends a handler's panic with a 500 (when nothing was written
// yet) and a log line with the stack. net/http would recover it too, but
// only on the request's goroutine and by dropping the connection without
// an answer.
func (s *Server) recoverHTTP(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel itself
		panic(v) // net/http's own way to abort a response
	}
	s.o.Logger.Error("panic in a request: recovered", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	s.metrics.panics.Inc()
	writeError(w, http.StatusInternalServerError, "internal", "internal error (logged); the gateway goes on")
}

// Recovered turns a panic of the calling goroutine into *err (when err is
// not nil). Deferred first in every goroutine the gateway starts and every
// entry point a library calls (MCP tool handlers): an unrecovered panic in
// any goroutine ends the process, and every other session's calls with it.
func (s *Server) Recovered(what string, err *error) {
	v := recover() // works only in the deferred function itself
	if v == nil {
		return
	}
	s.o.Logger.Error("panic: recovered", "in", what, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	s.metrics.panics.Inc()
	if err != nil {
		*err = &httpError{http.StatusInternalServerError, "internal", fmt.Sprintf("internal error in %s (logged); the gateway goes on", what)}
	}
}

// checkHost refuses a request whose Host header names something else than
// this gateway: a web page whose name was rebound to 127.0.0.1 (DNS
// rebinding) reaches the gateway with its own name in Host. Allowed are
// address literals (a rebinding needs a name), localhost, the names in
// gateway.allowedHosts, the host of gateway.advertiseAddr (the other
// gateways of a cluster forward to it), and any name from a trusted proxy
// (gateway.trustedProxies), whose server_name decides which names reach
// it.
func (s *Server) checkHost(r *http.Request) error {
	host := r.Host
	if host == "" {
		return nil // HTTP/1.0 without Host: no browser sends that
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil // resolved to loopback by the resolver itself (RFC 6761)
	}
	for _, a := range s.cfg.Gateway.AllowedHosts {
		if hostMatch(strings.ToLower(a), host) {
			return nil
		}
	}
	adv := []string{s.cfg.Gateway.AdvertiseAddr}
	if s.o.Cluster != nil {
		adv = append(adv, s.o.Cluster.Self().Addr) // from OPENCLAW_ADVERTISE_ADDR too
	}
	for _, a := range adv {
		if h, _, err := net.SplitHostPort(a); err == nil && strings.EqualFold(h, host) {
			return nil
		}
	}
	if s.fromProxy(r) {
		return nil
	}
	return &httpError{http.StatusMisdirectedRequest, "host_denied",
		fmt.Sprintf("Host %q is not this gateway's (list it in gateway.allowedHosts)", r.Host)}
}

// fromProxy reports whether the peer is one of gateway.trustedProxies.
func (s *Server) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range s.proxies {
		if p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}
