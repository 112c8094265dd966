//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate and key for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (crt, key string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "openclaw.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"openclaw.example.com"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	crt, key = filepath.Join(dir, "openclaw.crt"), filepath.Join(dir, "openclaw.key")
	os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return crt, key
}

// startNginx runs deploy/nginx/openclaw.conf, with its host paths and
// ports pointed at the test's, in front of the gateway at upstream. It
// returns the HTTPS and HTTP base URLs.
func startNginx(t *testing.T, shipped, upstream, token string, more ...[2]string) (string, string) {
	t.Helper()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		// make root-test installs it and sets OPENCLAW_REQUIRE_SERVICES:
		// there a missing nginx fails the run (the VM image has none).
		if os.Getenv("OPENCLAW_REQUIRE_SERVICES") == "1" {
			t.Fatal("nginx is not installed (make test installs nginx-light)")
		}
		t.Skip("nginx is not installed (apt-get install nginx-light): the shipped reverse-proxy config is not run")
	}
	dir := t.TempDir()
	crt, key := selfSigned(t, dir)
	sum := sha1.Sum([]byte("s3cret-pass"))
	os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("alice:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "token.conf"), []byte(fmt.Sprintf("proxy_set_header Authorization \"Bearer %s\";\n", token)), 0o600)
	src, err := os.ReadFile(filepath.Join("..", "deploy", "nginx", shipped))
	if err != nil {
		t.Fatal(err)
	}
	httpsPort, httpPort := freePort(t), freePort(t)
	conf := string(src)
	repl := [][2]string{
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort)},
		{"listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", httpsPort)},
		{"/etc/nginx/tls/openclaw.crt", crt},
		{"/etc/nginx/tls/openclaw.key", key},
		{"/etc/nginx/openclaw.htpasswd", filepath.Join(dir, "htpasswd")},
		{"/etc/nginx/openclaw-token.conf", filepath.Join(dir, "token.conf")},
	}
	if upstream != "" {
		repl = append(repl, [2]string{"server 127.0.0.1:18789;", upstream})
	}
	for _, r := range append(repl, more...) {
		if !strings.Contains(conf, r[0]) && r[0] != "listen 80;" {
			t.Fatalf("deploy/nginx/%s no longer contains %q: update this test with it", shipped, r[0])
		}
		conf = strings.ReplaceAll(conf, r[0], r[1])
	}
	os.WriteFile(filepath.Join(dir, "openclaw.conf"), []byte(conf), 0o600)
	// The main file is the test's: paths in its temporary directory, and
	// workers as root because that directory is 0700.
	main := fmt.Sprintf(`user root; worker_processes 1; daemon off; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 2048; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;
    uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
    include %[1]s/openclaw.conf;
}
`, dir)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600)
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t on the shipped config: %v\n%s", err, out)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // master and its worker, started here
		cmd.Wait()
	})
	base := fmt.Sprintf("https://127.0.0.1:%d", httpsPort)
	if !eventually(10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("nginx did not start: %s\n%s", out, b)
	}
	return base, fmt.Sprintf("http://127.0.0.1:%d", httpPort)
}

var insecureTLS = &tls.Config{InsecureSkipVerify: true} // the test's own self-signed certificate

// TestNginxReverseProxy runs the shipped nginx config in front of a
// gateway: TLS, basic auth with the gateway token added by nginx, NDJSON
// streamed line by line, WebSocket upgrade, health without credentials.
func TestNginxReverseProxy(t *testing.T) {
	g := startGateway(t, `{"gateway": {"trustedProxies": ["127.0.0.1"], "allowOrigins": ["https://openclaw.example.com"]}}`)
	base, plain := startNginx(t, "openclaw.conf", "server "+strings.TrimPrefix(g.url, "http://")+";", g.token)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	if r, err := client.Get(plain + "/v1/tools/exec"); err != nil || r.StatusCode != http.StatusMovedPermanently {
		t.Errorf("plain http: %v %v", r, err)
	}
	if r, err := client.Get(base + "/healthz"); err != nil || r.StatusCode != 200 {
		t.Errorf("/healthz without credentials: %v %v", r, err)
	}
	post := func(user, pass, body string) *http.Response {
		req, _ := http.NewRequest("POST", base+"/v1/tools/exec", strings.NewReader(body))
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := post("", "", `{"args":{"command":"id"}}`); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no password: %s", r.Status)
	}
	if r := post("alice", "wrong", `{"args":{"command":"id"}}`); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %s", r.Status)
	}
	// NDJSON through nginx arrives line by line: the first line is read
	// well before the command ends.
	t0 := time.Now()
	r := post("alice", "s3cret-pass", `{"args":{"command":"echo first; sleep 1.5; echo second"}}`)
	if r.StatusCode != 200 {
		t.Fatalf("authenticated call: %s", r.Status)
	}
	sc := bufio.NewScanner(r.Body)
	var firstAt time.Duration
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if firstAt == 0 && strings.Contains(sc.Text(), "first") {
			firstAt = time.Since(t0)
		}
	}
	r.Body.Close()
	total := time.Since(t0)
	if firstAt == 0 || total-firstAt < time.Second || !strings.Contains(strings.Join(lines, "\n"), `"exitCode":0`) {
		t.Errorf("not streamed: first line at %s of %s:\n%s", firstAt, total, strings.Join(lines, "\n"))
	}

	// WebSocket through nginx, authenticated by the password only.
	wsThroughNginx(t, base, "via-nginx-ws")
}

// wsThroughNginx runs one exec over the WebSocket through nginx at base,
// with basic auth, and checks its output.
func wsThroughNginx(t *testing.T, base, word string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hdr := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pass"))},
		"Origin": {"https://openclaw.example.com"}}
	c, _, err := websocket.Dial(ctx, strings.Replace(base, "https", "wss", 1)+"/v1/ws",
		&websocket.DialOptions{HTTPHeader: hdr, HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS}}})
	if err != nil {
		t.Fatalf("websocket through nginx: %v", err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	wsjson.Write(ctx, c, map[string]any{"type": "req", "id": "w", "method": "tools.call", "params": map[string]any{"tool": "exec", "args": map[string]any{"command": "echo " + word}}})
	sawData := false
	for {
		var f map[string]any
		if err := wsjson.Read(ctx, c, &f); err != nil {
			t.Fatalf("websocket read: %v", err)
		}
		if p, _ := f["payload"].(map[string]any); f["type"] == "event" && p["data"] == word+"\n" {
			sawData = true
		}
		if f["type"] == "res" {
			if f["ok"] != true || !sawData {
				t.Errorf("websocket result: %v (output seen: %v)", f, sawData)
			}
			return
		}
	}
}
