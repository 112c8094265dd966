package runner

import (
	"fmt"
	"os"
)

// Egress is the allowlist a jail whose network is "allowlist" is served
// (docs/network.md): the operator's, which a call may only narrow, and
// the proxy that serves it on the listener the jail made in its own
// network namespace. Package egress implements both. The runner does not
// link the proxy itself, so that the CLI's cold start stays lean (an HTTP
// stack costs milliseconds of every start): the gateway serves it in
// process, the CLI in a helper process (cmd/openclaw-run/egress.go).
type Egress interface {
	// Narrow returns the allowlist narrowed to a call's patterns; an
	// error names a pattern the operator's list does not cover.
	Narrow(allow []string) (Egress, error)
	// Serve serves the allowlist on listener (the runner keeps its own
	// copy) until the Proxy is stopped.
	Serve(listener *os.File) (Proxy, error)
}

// Proxy is one call's egress proxy.
type Proxy interface {
	// Stop ends the proxy and every connection of the call (it is safe to
	// call more than once) and returns its report of every connection:
	// whole, for the audit record, and without the operator's details
	// (how a refused name resolved, which private range it fell in), for
	// the caller.
	Stop() (audit, caller any)
}

// proxyEnv points a jail's tools at the proxy listening on addr inside
// its network namespace. Both spellings, because tools disagree: curl and
// wget read only http_proxy, npm and git https_proxy or HTTPS_PROXY, Go,
// Python and Node either; NODE_USE_ENV_PROXY=1 makes Node's own fetch honor
// them (Node 24). NO_PROXY keeps the jail's loopback direct. A tool that
// honors none of them reaches nothing: there is no other route out.
func proxyEnv(port int) []string {
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	return []string{
		"HTTP_PROXY=" + u, "http_proxy=" + u,
		"HTTPS_PROXY=" + u, "https_proxy=" + u,
		"ALL_PROXY=" + u, "all_proxy=" + u,
		"NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1",
		"NODE_USE_ENV_PROXY=1",
	}
}
