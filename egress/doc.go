// Package egress owns a call's way out to the network: the allowlist
// policy of sandbox.network (host patterns, static hosts, address ranges,
// limits) and the audited HTTP proxy that enforces it, with the per-call
// report of every connection. It does not create the network namespace or
// the listener (the jail does, inside the jail's own netns, and hands the
// listening socket to the runner), and it knows nothing of runner, jail or
// gateway.
//
// # Model
//
// A jail with network "allowlist" has its own network namespace with only
// lo. Its setup creates a listening TCP socket on 127.0.0.1 there and
// passes it out; the runner calls Proxy.Serve on it for the duration of
// the call and puts Env(addr) into the jail's environment. The jail has no
// route anywhere else: every way out is a request to this proxy, which
//
//   - checks the name against the allowlist (Policy; names compared in
//     their ASCII, punycode form, case-insensitively, without a trailing
//     dot; anything that is not a clean host name is refused, including
//     numeric forms like 2130706433 or 0x7f.1 that some parsers read as
//     addresses),
//   - resolves the name itself (Config.Hosts first), checks every address
//     against the refused ranges (loopback, private, link-local, CGNAT,
//     multicast, documentation, reserved, the cloud metadata service, and
//     the IPv4-mapped and NAT64/6to4 forms of them) unless allowAddresses
//     holds it, and
//   - dials only an address it checked, by number (no second resolution,
//     so no DNS rebinding between check and connect).
//
// It speaks HTTP CONNECT (after the 200 the connection is a raw byte
// tunnel that is never parsed again, so a CONNECT written inside a tunnel
// reaches the allowed upstream as bytes) and plain HTTP forward proxying
// (absolute-form URIs; each request on a keep-alive connection is checked
// on its own and gets its own upstream connection). Origin-form requests,
// IP-literal targets outside allowAddresses, Host headers that disagree
// with the URI, and Proxy-* fields going upstream are refused or removed.
// Limits per call: connections open at once, bytes in both directions
// (never overdrawn), idle time per connection, the size and arrival time
// of a request head. Refusals are 403 (policy), 429 (connections), 400 or
// 431 (malformed), 502/504 (upstream failure or timeout), with a short
// plain-text reason and an X-Egress-Reason code; Report holds every
// connection with its reason code and the address dialed.
//
// # Why not an off-the-shelf proxy
//
// Libraries such as elazarl/goproxy are built to inspect and rewrite
// traffic. What this needs is different, and it is where the holes of
// similar sandboxes were: a per-connection audit entry with the address
// actually dialed; a dial that connects only to an address the policy
// checked, with no re-resolution in between; refusal classes with stable
// reason codes; a tunnel that is never re-parsed; byte budgets shared
// across connections; and nothing else (no MITM, no caching). The HTTP
// parsing itself is net/http's (ReadRequest, Request.Write, ReadResponse,
// Response.Write): the same code as http.Server, and every forwarded
// request is re-serialized from its parsed form, so framing ambiguities
// (duplicate Content-Length, Transfer-Encoding games) are either refused
// by the parser or normalized, never passed through.
//
// # Tunnel throughput
//
// Between two TCP sockets a tunnel splices (splice(2) through a pipe of
// its own per direction, non-blocking, waiting in Go's poller), so the
// payload never enters user space; a plain-HTTP body of known length
// takes the same path, asking for no byte past its length. The byte
// budget stays exact: each step splices what is queued into the pipe,
// then takes budget for exactly that and forwards only what it covers,
// so nothing is reserved while a connection waits. Urgent data (MSG_OOB),
// where splice stops, is read inline (SO_OOBINLINE) and passed on as
// ordinary bytes. The jail's loopback side sends with Reno (see
// renoOnLoopback). Other connection types take a userspace copy with the
// same accounting.
//
// # Which tools honor which variable
//
// Env sets both spellings: curl honors http_proxy only in lower case
// (HTTP_PROXY is ignored, the CGI "httpoxy" precaution) and HTTPS_PROXY or
// https_proxy, ALL_PROXY, NO_PROXY in either case; wget reads the lower
// case ones; Go (net/http, the go command) reads both, upper case first;
// Python (urllib, requests, pip) reads both, lower case first; npm derives
// its proxy and https-proxy settings from HTTPS_PROXY, https_proxy,
// HTTP_PROXY and http_proxy; git uses libcurl's rules (and http.proxy);
// apt reads http_proxy and https_proxy; Node's own fetch and http honor
// them only with NODE_USE_ENV_PROXY=1 (Node 24+), which Env sets. Tools
// that ignore all of them (Java without -Dhttps.proxyHost, raw sockets)
// simply fail: there is no route but the proxy.
package egress
