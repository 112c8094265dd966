//go:build integration

package integration

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// upstreams are the test's servers on the host's loopback, which the jail
// can reach only through the egress proxy, by the names of
// sandbox.network.hosts.
type upstreams struct {
	plain, tls, other *httptest.Server
	port              func(*httptest.Server) string
}

func startUpstreams(t *testing.T) *upstreams {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from "+r.Host) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(bytes.Repeat([]byte("x"), 1<<20)) })
	u := &upstreams{plain: httptest.NewServer(mux), tls: httptest.NewTLSServer(mux), other: httptest.NewServer(mux)}
	t.Cleanup(func() { u.plain.Close(); u.tls.Close(); u.other.Close() })
	u.port = func(s *httptest.Server) string { _, p, _ := net.SplitHostPort(s.Listener.Addr().String()); return p }
	return u
}

// networkConfig writes a config whose coding jails reach mirror.test and
// secure.test (both the host's loopback) on the upstreams' ports only.
func networkConfig(t *testing.T, u *upstreams, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`{"sandbox": {"networks": {"coding": "allowlist"}, "network": {
		"allow": ["mirror.test:%s", "secure.test:%s", "internal.test:%s"],
		"hosts": {"mirror.test": "127.0.0.1", "secure.test": "127.0.0.1", "internal.test": "10.11.12.13"},
		"allowAddresses": ["127.0.0.0/8"], "maxBytes": "256K" %s}}}`, u.port(u.plain), u.port(u.tls), u.port(u.plain), extra)
	f := filepath.Join(t.TempDir(), "openclaw.json")
	os.WriteFile(f, []byte(cfg), 0o600)
	return f
}

const egressProbes = `
import os, socket, ssl, sys, urllib.request, urllib.error
def get(url, ctx=None):
    try:
        return urllib.request.urlopen(url, timeout=10, context=ctx).read().decode()[:80]
    except urllib.error.HTTPError as e:
        return "HTTP %d %s" % (e.code, e.headers.get("X-Egress-Reason"))
    except Exception as e:
        return "ERR " + type(e).__name__
P, S, O = sys.argv[1], sys.argv[2], sys.argv[3]
insecure = ssl._create_unverified_context()
print("plain:", get("http://mirror.test:%s/hello" % P))
print("https:", get("https://secure.test:%s/hello" % S, insecure))
print("notallowed:", get("http://evil.test:%s/hello" % P))
print("port:", get("http://mirror.test:%s/hello" % O))
print("literal:", get("http://10.11.12.13:%s/hello" % P))
print("private:", get("http://internal.test:%s/hello" % P))
print("big:", len(get("http://mirror.test:%s/big" % P)))
for host in ("127.0.0.1", "10.11.12.13"):
    try:
        socket.create_connection((host, int(P)), timeout=3); print("direct", host, "CONNECTED")
    except Exception as e:
        print("direct", host, "refused", type(e).__name__)
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(("GET http://mirror.test:%s/hello HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n" % P).encode())
print("hostheader:", s.recv(200).split(b"\r\n")[0].decode())
`

// A jail with network "allowlist" reaches the allowed names on their
// allowed ports, over HTTP and HTTPS (CONNECT), and nothing else: not a
// name off the list, not another port, not an IP literal, not a name
// that resolves to a private range, not its host's loopback directly;
// downloads stop at the byte limit; every attempt is in the result and
// the audit record.
func TestEgressAllowlist(t *testing.T) {
	ws := workspace(t)
	u := startUpstreams(t)
	cfg := networkConfig(t, u, "")
	logf := filepath.Join(t.TempDir(), "audit.jsonl")
	script := filepath.Join(ws, "probes.py")
	os.WriteFile(script, []byte(egressProbes), 0o644)
	r := runCLI(t, nil, "--config", cfg, "--workspace", ws, "--audit-file", logf, "--",
		"python3", "/workspace/probes.py", u.port(u.plain), u.port(u.tls), u.port(u.other))
	if engine() == "runc" {
		if r.code != 125 || !strings.Contains(r.stderr, "runc engine does not serve network") {
			t.Fatalf("the runc engine must refuse a network allowlist: %+v", r)
		}
		return
	}
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	want := map[string]string{
		"plain:":      "hello from mirror.test",
		"https:":      "hello from secure.test",
		"notallowed:": "HTTP 403 not_allowed",
		"port:":       "HTTP 403 port_not_allowed",
		"literal:":    "HTTP 403 ip_literal",
		"private:":    "HTTP 403 address_refused",
	}
	for k, v := range want {
		line := lineWith(r.stdout, k)
		if !strings.Contains(line, v) {
			t.Errorf("%s got %q, want %q\n%s", k, line, v, r.stdout)
		}
	}
	if l := lineWith(r.stdout, "big:"); l == "big: 80" {
		t.Errorf("a 1 MiB download passed a 256 KiB byte limit: %s", l)
	}
	for _, host := range []string{"127.0.0.1", "10.11.12.13"} {
		if l := lineWith(r.stdout, "direct "+host); !strings.Contains(l, "refused") {
			t.Errorf("a direct connection without the proxy: %s", l)
		}
	}
	if l := lineWith(r.stdout, "hostheader:"); !strings.Contains(l, " 400") && !strings.Contains(l, " 403") {
		t.Errorf("a Host header that differs from the request's target was forwarded: %s", l)
	}
	// The audit record lists every attempt, with the reasons and bytes.
	b, _ := os.ReadFile(logf)
	var out struct {
		Egress struct {
			Connections []struct {
				Host    string `json:"host"`
				Allowed bool   `json:"allowed"`
				Reason  string `json:"reason"`
				Down    int64  `json:"bytesDown"`
			} `json:"connections"`
			Refused int `json:"refused"`
		} `json:"egress"`
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(l, `"action":"tool_call"`) {
			json.Unmarshal([]byte(l), &out)
		}
	}
	reasons := map[string]bool{}
	var down int64
	for _, c := range out.Egress.Connections {
		reasons[c.Reason] = true
		down += c.Down
	}
	for _, r := range []string{"not_allowed", "port_not_allowed", "address_refused", "limit_bytes"} {
		if !reasons[r] {
			t.Errorf("the audit record lacks a %s refusal: %+v", r, out.Egress)
		}
	}
	if out.Egress.Refused < 4 || down == 0 {
		t.Errorf("the audit record's egress: %+v", out.Egress)
	}
}

func lineWith(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// A real client, unchanged: Go's module fetcher downloads a module from a
// module proxy the test serves, through the egress proxy (HTTP_PROXY).
func TestEgressRealClientGoModDownload(t *testing.T) {
	ws := workspace(t)
	if engine() == "runc" {
		t.Log("the runc engine refuses network allowlist (TestEgressAllowlist asserts it)")
		return
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, body := range map[string]string{
		"example.test/hello@v1.0.0/go.mod":   "module example.test/hello\n",
		"example.test/hello@v1.0.0/hello.go": "package hello\n\nconst Hello = \"hi\"\n",
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	mod := http.NewServeMux()
	mod.HandleFunc("/example.test/hello/@v/list", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "v1.0.0") })
	mod.HandleFunc("/example.test/hello/@v/v1.0.0.info", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"Version":"v1.0.0","Time":"2026-01-01T00:00:00Z"}`)
	})
	mod.HandleFunc("/example.test/hello/@v/v1.0.0.mod", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "module example.test/hello\n") })
	mod.HandleFunc("/example.test/hello/@v/v1.0.0.zip", func(w http.ResponseWriter, r *http.Request) { w.Write(zbuf.Bytes()) })
	srv := httptest.NewServer(mod)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// The jail sees the host's /usr: a Go installed there is the client.
	if _, err := os.Stat("/usr/local/go/bin/go"); err != nil {
		if p, err := exec.LookPath("go"); err != nil || !strings.HasPrefix(p, "/usr/") {
			t.Skip("no Go toolchain under /usr on this machine (the VM has none): TestEgressAllowlist checks the proxy with curl and python")
		}
	}
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"sandbox": {"networks": {"coding": "allowlist"}, "network": {
		"allow": ["goproxy.test:%s"], "hosts": {"goproxy.test": "127.0.0.1"}, "allowAddresses": ["127.0.0.1/32"]}}}`, port)), 0o600)
	os.WriteFile(filepath.Join(ws, "go.mod"), []byte("module demo\n\ngo 1.21\n\nrequire example.test/hello v1.0.0\n"), 0o644)
	os.Chown(filepath.Join(ws, "go.mod"), jailUID, jailUID)
	r := runCLI(t, nil, "--config", cfg, "--workspace", ws, "--timeout", "120s",
		"--env", "GOPROXY=http://goproxy.test:"+port, "--env", "GOSUMDB=off", "--env", "GOTOOLCHAIN=local",
		"--env", "GOMODCACHE=/tmp/mod", "--env", "GOCACHE=/tmp/cache", "--env", "GOFLAGS=-mod=mod",
		"--", "sh", "-c", "PATH=$PATH:/usr/local/go/bin; go mod download -json example.test/hello@v1.0.0 && cat /tmp/mod/example.test/hello@v1.0.0/hello.go")
	if r.code != 0 || !strings.Contains(r.stdout, `const Hello = "hi"`) {
		t.Fatalf("go mod download through the egress proxy: %+v", r)
	}
}

// A real client, unchanged: pip downloads a package from a package index
// (PEP 503) the test serves, through the egress proxy (HTTPS_PROXY and
// HTTP_PROXY, which pip's HTTP library reads). The jail's pip is the
// host's: python3 -m pip, or the pip wheel Debian ships for venv
// (python3-pip-whl), run from the wheel as pip's own bootstrap does. Every
// host of the suite has one of them, the VM included.
func TestEgressRealClientPipDownload(t *testing.T) {
	ws := workspace(t)
	if engine() == "runc" {
		t.Log("the runc engine refuses network allowlist (TestEgressAllowlist asserts it)")
		return
	}
	whl := wheel(t, "hello", "1.0.0", map[string]string{"hello/__init__.py": "HELLO = 'hi'\n"})
	sum := sha256.Sum256(whl)
	name := "hello-1.0.0-py3-none-any.whl"
	var fetched atomic.Int32
	index := http.NewServeMux()
	index.HandleFunc("/simple/hello/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<!DOCTYPE html><html><body><a href=\"/files/%s#sha256=%x\">%s</a></body></html>\n", name, sum, name)
	})
	index.HandleFunc("/files/"+name, func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write(whl)
	})
	srv := httptest.NewServer(index)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cfg := filepath.Join(t.TempDir(), "openclaw.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"sandbox": {"networks": {"coding": "allowlist"}, "network": {
		"allow": ["pypi.test:%s"], "hosts": {"pypi.test": "127.0.0.1"}, "allowAddresses": ["127.0.0.1/32"]}}}`, port)), 0o600)
	script := `if python3 -m pip --version >/dev/null 2>&1; then pip() { python3 -m pip "$@"; }
else w=$(ls /usr/share/python-wheels/pip-*.whl | head -n 1); pip() { python3 "$w/pip" "$@"; }; fi
pip download --no-cache-dir --disable-pip-version-check --no-deps --trusted-host pypi.test --index-url http://pypi.test:` + port + `/simple/ --dest /tmp/d hello==1.0.0 &&
ls /tmp/d`
	r := runCLI(t, nil, "--config", cfg, "--workspace", ws, "--timeout", "120s", "--", "sh", "-c", script)
	if r.code != 0 || !strings.Contains(r.stdout, name) || fetched.Load() == 0 {
		t.Fatalf("pip download through the egress proxy (the wheel fetched %d times): %+v", fetched.Load(), r)
	}
}

// wheel builds a minimal pure-Python wheel (PEP 427) of name and version
// with files.
func wheel(t *testing.T, name, version string, files map[string]string) []byte {
	t.Helper()
	info := fmt.Sprintf("%s-%s.dist-info/", name, version)
	files[info+"METADATA"] = fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version)
	files[info+"WHEEL"] = "Wheel-Version: 1.0\nGenerator: openclaw-run-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	var record strings.Builder
	for path, body := range files {
		h := sha256.Sum256([]byte(body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", path, base64.RawURLEncoding.EncodeToString(h[:]), len(body))
	}
	fmt.Fprintf(&record, "%sRECORD,,\n", info)
	files[info+"RECORD"] = record.String()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for path, body := range files {
		w, err := zw.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Over the gateway a call may narrow the operator's allowlist or turn
// the network off, never widen it; and without an allowlist profile a
// jail has no proxy and no route.
func TestEgressGatewayNarrowsOnly(t *testing.T) {
	if engine() == "runc" {
		t.Log("the runc engine refuses network allowlist (TestEgressAllowlist asserts it)")
		return
	}
	u := startUpstreams(t)
	b, _ := os.ReadFile(networkConfig(t, u, ""))
	g := startGateway(t, string(b))
	call := func(args map[string]any) (int, string) {
		body, _ := json.Marshal(map[string]any{"sessionId": "n", "args": args})
		r, out := g.post(t, "/v1/tools/exec", g.token, "", string(body))
		return r.StatusCode, out
	}
	get := fmt.Sprintf("python3 -c \"import urllib.request as u; print(u.urlopen('http://mirror.test:%s/hello').read().decode())\"", u.port(u.plain))
	if code, out := call(map[string]any{"command": get}); code != 200 || !strings.Contains(out, "hello from mirror.test") {
		t.Errorf("the operator's allowlist: %d %s", code, out)
	}
	if code, out := call(map[string]any{"command": get, "allowHosts": []string{"mirror.test:" + u.port(u.plain)}}); code != 200 || !strings.Contains(out, "hello from mirror.test") {
		t.Errorf("a narrowed list that still covers the host: %d %s", code, out)
	}
	if code, out := call(map[string]any{"command": get, "allowHosts": []string{"secure.test:" + u.port(u.tls)}}); code != 200 || strings.Contains(out, "hello from") {
		t.Errorf("a narrowed list without the host still reached it: %d %s", code, out)
	}
	if code, out := call(map[string]any{"command": "true", "allowHosts": []string{"*.example.org"}}); code != 403 || !strings.Contains(out, "policy_denied") {
		t.Errorf("a call widened the operator's allowlist: %d %s", code, out)
	}
	if code, out := call(map[string]any{"command": get, "network": "none"}); code != 200 || strings.Contains(out, "hello from") {
		t.Errorf("network none still reached the host: %d %s", code, out)
	}
	g2 := startGateway(t, `{}`)
	body, _ := json.Marshal(map[string]any{"args": map[string]any{"command": "echo proxy=$http_proxy; " + get}})
	r, out := g2.post(t, "/v1/tools/exec", g2.token, "", string(body))
	if r.StatusCode != 200 || strings.Contains(out, "hello from") || !strings.Contains(out, `proxy=\n`) {
		t.Errorf("a jail without an allowlist has a proxy or a route: %s", out)
	}
}
