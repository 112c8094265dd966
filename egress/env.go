package egress

// Env returns the environment that points a jail's tools at the proxy
// listening on addr (host:port inside the jail's network namespace). Both
// spellings are set because tools disagree (see the package doc): curl
// and wget read only the lower-case http_proxy, Go, Python and Node read
// either, npm and git read https_proxy or HTTPS_PROXY. NO_PROXY keeps the
// jail's own loopback direct. NODE_USE_ENV_PROXY=1 makes Node's built-in
// fetch and http honor the variables (Node 24 and later; older Node
// ignores it). A tool that honors none of them fails closed: the jail has
// no other route out.
func Env(addr string) []string {
	u := "http://" + addr
	return []string{
		"HTTP_PROXY=" + u, "http_proxy=" + u,
		"HTTPS_PROXY=" + u, "https_proxy=" + u,
		"ALL_PROXY=" + u, "all_proxy=" + u,
		"NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1",
		"NODE_USE_ENV_PROXY=1",
	}
}
