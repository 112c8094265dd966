package main

// The costs of the staged workspace (issue 24) and of the egress proxy
// (issue 23), each measured side by side with the same call without it,
// interleaved in one run.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// configFile writes an openclaw.json for the CLI rows below.
func configFile(dir, name, body string) string {
	p := filepath.Join(dir, name)
	must(os.WriteFile(p, []byte(body), 0o600))
	return p
}

// freshWorkspace is an empty workspace owned like the bench's.
func freshWorkspace() string {
	ws, err := os.MkdirTemp("", "openclaw-bench-ws-")
	must(err)
	must(os.Chown(ws, 4242, 4242))
	must(os.Chmod(ws, 0o755))
	return ws
}

// medianOf runs each named command n times, interleaved, each in a fresh
// workspace made outside the timing, and returns the medians.
func medianOf(n int, names []string, cmds map[string]func(ws string) *exec.Cmd) map[string]time.Duration {
	times := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		for _, name := range names {
			ws := freshWorkspace()
			c := cmds[name](ws)
			var errb strings.Builder
			c.Stderr = &errb
			t0 := time.Now()
			err := c.Run()
			d := time.Since(t0)
			os.RemoveAll(ws)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s: %v: %s\n", name, err, errb.String())
				exit(1)
			}
			times[name] = append(times[name], d)
		}
	}
	out := map[string]time.Duration{}
	for k, v := range times {
		out[k] = pct(v, 50)
	}
	return out
}

// stagingSection: calls that write, with and without the staging layer
// (whose commit copies the call's changes into the workspace).
func stagingSection(bin, dir string) string {
	off := configFile(dir, "staging-off.json", `{"sandbox": {"staging": "off"}}`)
	on := configFile(dir, "staging-on.json", `{"sandbox": {"staging": "on"}}`)
	const small = `mkdir d && cd d && i=0; while [ $i -lt 10000 ]; do echo $i > f$i; i=$((i+1)); done`
	const big = `head -c 1073741824 /dev/zero > big`
	cmd := func(cfg, script string) func(ws string) *exec.Cmd {
		return func(ws string) *exec.Cmd {
			return exec.Command(bin, "--config", cfg, "--workspace", ws, "--profile", "coding", "--memory", "3G",
				"--disk", "2G", "--disk-inodes", "20000", "--timeout", "5m", "--", "sh", "-c", script)
		}
	}
	cmds := map[string]func(string) *exec.Cmd{
		"small, staged": cmd(on, small), "small, direct": cmd(off, small),
		"big, staged": cmd(on, big), "big, direct": cmd(off, big),
	}
	names := []string{"small, staged", "small, direct", "big, staged", "big, direct"}
	m := medianOf(5, names, cmds)
	var b strings.Builder
	b.WriteString("\n## Staged workspace writes: calls that write\n\n")
	b.WriteString("Cold CLI calls (coding profile, `--memory 3G --disk 2G`), each in a fresh empty workspace, 5 interleaved runs, medians. " +
		"*staged* writes through the call's overlay and commits its changes into the workspace after the jail is gone; *direct* " +
		"(`sandbox.staging: off`) writes the workspace itself. The rows without writes (`/bin/true`, staging on or off) are in the first table.\n\n")
	b.WriteString("| call | staged ms | direct ms | staged / direct |\n|---|---|---|---|\n")
	for _, c := range []struct{ label, key string }{{"10,000 small files (sh loop of echo > f$i)", "small"}, {"one 1 GiB file (head -c 1G /dev/zero)", "big"}} {
		s, d := m[c.key+", staged"], m[c.key+", direct"]
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2fx |\n", c.label, ms(s), ms(d), float64(s)/float64(d))
	}
	return b.String()
}

// blobServer serves /1g (1 GiB of zeros) and /small (a few bytes) on the
// host's loopback.
func blobServer() (port int, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	zero := make([]byte, 1<<20)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "ok\n")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		for i := 0; i < 1024; i++ {
			if _, err := w.Write(zero); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	return ln.Addr().(*net.TCPAddr).Port, func() { srv.Close() }
}

// egressSection: a download through the egress proxy against the same
// download straight over the host's loopback, the added cost of one
// connection, and a call under the allowlist against one with no network.
func egressSection(bin, dir string) string {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return "\n## Egress proxy\n\nNot measured: curl is not installed.\n"
	}
	port, stop := blobServer()
	defer stop()
	cfg := configFile(dir, "egress.json", fmt.Sprintf(`{"sandbox": {"network": {"allow": ["blob.test:%d"],
		"hosts": {"blob.test": "127.0.0.1"}, "allowAddresses": ["127.0.0.1/32"], "maxBytes": "2G"}}}`, port))
	const conns = 200
	smallURLs := func(host string) []string {
		var out []string
		for i := 0; i < conns; i++ {
			out = append(out, "-H", "Connection: close", "http://"+host+":"+strconv.Itoa(port)+"/small")
		}
		return out
	}
	jailed := func(args ...string) func(ws string) *exec.Cmd {
		return func(ws string) *exec.Cmd {
			return exec.Command(bin, append([]string{"--config", cfg, "--network", "allowlist", "--workspace", ws,
				"--profile", "coding", "--timeout", "5m", "--"}, args...)...)
		}
	}
	host := func(args ...string) func(ws string) *exec.Cmd {
		return func(string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	}
	cmds := map[string]func(string) *exec.Cmd{
		"1g proxy":     jailed(curl, "-sS", "-o", "/dev/null", fmt.Sprintf("http://blob.test:%d/1g", port)),
		"1g direct":    host(curl, "-sS", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/1g", port)),
		"small proxy":  jailed(append([]string{curl, "-sS", "-o", "/dev/null"}, smallURLs("blob.test")...)...),
		"small direct": host(append([]string{curl, "-sS", "-o", "/dev/null"}, smallURLs("127.0.0.1")...)...),
		"true none": func(ws string) *exec.Cmd {
			return exec.Command(bin, "--workspace", ws, "--profile", "coding", "--", "/bin/true")
		},
		"true allow": jailed("/bin/true"),
		"jail only":  jailed(curl, "-sS", "-o", "/dev/null", fmt.Sprintf("http://blob.test:%d/small", port)),
	}
	names := []string{"1g proxy", "1g direct", "small proxy", "small direct", "true none", "true allow", "jail only"}
	m := medianOf(9, names, cmds)
	var b strings.Builder
	b.WriteString("\n## Egress proxy (network: allowlist)\n\n")
	b.WriteString("curl against a server on the host's loopback, 9 interleaved runs, medians. *proxy*: curl in a cold CLI jail with " +
		"`--network allowlist`, through the audited egress proxy (the name checked against the allowlist, the address against the " +
		"private-range rule); *direct*: the same curl on the host, no jail, no proxy.\n\n")
	b.WriteString("| figure | proxy | direct | ratio |\n|---|---|---|---|\n")
	gib := func(d time.Duration) float64 { return 1 / d.Seconds() }
	// The proxied download's time holds its cold jail's start and the
	// proxy's (the one-request jailed curl measures both): taken out, as
	// for the latency below, it is the proxy's throughput alone.
	p, d := m["1g proxy"]-m["jail only"], m["1g direct"]
	fmt.Fprintf(&b, "| 1 GiB download, GiB/s (the jail's start taken out) | %.2f | %.2f | %.0f%% of direct (target >= 50%%) |\n", gib(p), gib(d), 100*d.Seconds()/p.Seconds())
	fmt.Fprintf(&b, "| the same, the jail's start included | %.2f | %.2f | %.0f%% of direct |\n", gib(m["1g proxy"]), gib(d), 100*d.Seconds()/m["1g proxy"].Seconds())
	// One small request per connection: the jail's own start is taken
	// out by a one-request jailed curl; what is left is conns-1 requests
	// through the proxy, against conns-1 straight ones.
	per := (m["small proxy"]-m["jail only"])/(conns-1) - m["small direct"]/conns
	fmt.Fprintf(&b, "| added latency per connection (%d connections, Connection: close) | %.2f ms | - | target < 1 ms |\n", conns, ms(per))
	fmt.Fprintf(&b, "| cold CLI `/bin/true`, ms | %.1f (allowlist) | %.1f (none) | %.2fx |\n", ms(m["true allow"]), ms(m["true none"]),
		float64(m["true allow"])/float64(m["true none"]))
	return b.String()
}
