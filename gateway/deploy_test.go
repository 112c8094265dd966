package gateway

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/config"
)

// The Grafana dashboard is valid JSON and uses only metrics that /metrics
// exports (with the _bucket series of histograms).
func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/openclaw-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exported := map[string]bool{}
	for _, n := range MetricNames {
		exported[n] = true
		exported[n+"_bucket"] = true
	}
	// Every exported name is registered for real.
	m := newMetrics(1, 1)
	m.requests.WithLabelValues("x", "200")
	m.calls.WithLabelValues("x", "ok")
	m.denials.WithLabelValues("x")
	m.latency.WithLabelValues("x")
	fams, _ := m.reg.Gather()
	registered := map[string]bool{}
	for _, f := range fams {
		registered[f.GetName()] = true
	}
	for _, n := range MetricNames {
		if !registered[n] {
			t.Errorf("MetricNames lists %s, which /metrics does not export", n)
		}
	}
	name := regexp.MustCompile(`openclaw_[a-z_]+`)
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used++
				if !exported[n] {
					t.Errorf("panel %q uses %s, which /metrics does not export", p.Title, n)
				}
			}
		}
	}
	if used == 0 || len(dash.Panels) < 8 {
		t.Errorf("the dashboard shows too little: %d panels, %d metric uses", len(dash.Panels), used)
	}
}

func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed: the unit is checked where systemd is (make vm-test)")
	}
	// The HA template is verified as an instance of itself.
	tmpl, _ := os.ReadFile("../deploy/systemd/openclaw-gateway@.service")
	inst := filepath.Join(t.TempDir(), "openclaw-gateway@18789.service")
	os.WriteFile(inst, tmpl, 0o644)
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", "../deploy/systemd/openclaw-gateway.service", inst).CombinedOutput()
	// A missing binary on the test host is expected; anything else is not.
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.Contains(l, "/usr/local/bin/openclaw-gateway") && !strings.Contains(l, "Failed to prepare filename") &&
			!strings.Contains(l, "/etc/openclaw/gateway.env") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("systemd-analyze verify (%v):\n%s", err, strings.Join(bad, "\n"))
	}
}

// TestDockerFiles checks the container files as far as a host without a
// Docker daemon allows: what the Dockerfile copies exists, the entrypoint
// parses, the baked config validates, compose sets each documented
// privilege and checks health on a real route. With a daemon, it builds.
func TestDockerFiles(t *testing.T) {
	df, err := os.ReadFile("../deploy/docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^COPY ([^-\n][^\n]*)$`).FindAllStringSubmatch(string(df), -1) {
		f := strings.Fields(m[1])
		for _, src := range f[:len(f)-1] {
			if src == "." {
				continue
			}
			if _, err := os.Stat("../" + src); err != nil {
				t.Errorf("Dockerfile copies %s: %v", src, err)
			}
		}
	}
	if out, err := exec.Command("sh", "-n", "../deploy/docker/entrypoint.sh").CombinedOutput(); err != nil {
		t.Errorf("entrypoint.sh: %v %s", err, out)
	}
	if st, err := os.Stat("../deploy/docker/entrypoint.sh"); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("entrypoint.sh is not executable: %v", err)
	}
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "from-compose-0123456789") // compose.yaml requires it
	cfg, _ := os.ReadFile("../deploy/docker/openclaw.json")
	res := config.Parse(cfg, []string{"minimal", "coding", "full"})
	if err := res.Err(); err != nil {
		t.Errorf("deploy/docker/openclaw.json: %v", err)
	}
	compose, _ := os.ReadFile("../deploy/docker/compose.yaml")
	for _, want := range []string{"- SYS_ADMIN", "seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined",
		"cgroup: private", `"127.0.0.1:18789:18789"`, "OPENCLAW_GATEWAY_TOKEN: ${OPENCLAW_GATEWAY_TOKEN:?", "http://127.0.0.1:18789/healthz"} {
		if !strings.Contains(string(compose), want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	s, _ := New(Options{Config: config.Defaults(), Token: "0123456789abcdef0123"})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:18789/healthz", nil))
	if rec.Code != 200 {
		t.Errorf("the health check's /healthz answers %d", rec.Code)
	}
	if exec.Command("docker", "info").Run() != nil {
		t.Log("no Docker daemon here: the image is not built")
		return
	}
	if out, err := exec.Command("docker", "build", "-f", "../deploy/docker/Dockerfile", "-t", "openclaw-run:test", "..").CombinedOutput(); err != nil {
		t.Errorf("docker build: %v\n%s", err, out)
	}
}

// TestHADeployFiles: the compose HA stack has three gateways, Redis and
// nginx wired to each other, and its gateway config validates.
func TestHADeployFiles(t *testing.T) {
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "from-compose-0123456789")
	cfg, _ := os.ReadFile("../deploy/docker/openclaw-ha.json")
	res := config.Parse(cfg, []string{"minimal", "coding", "full"})
	if err := res.Err(); err != nil {
		t.Errorf("deploy/docker/openclaw-ha.json: %v", err)
	}
	if res.Config.Sessions.Store.Type != "redis" || !strings.Contains(res.Config.Sessions.Store.URL, "redis:6379") {
		t.Errorf("openclaw-ha.json does not use the compose Redis: %+v", res.Config.Sessions.Store)
	}
	compose, _ := os.ReadFile("../deploy/docker/compose-ha.yaml")
	ngx, _ := os.ReadFile("../deploy/docker/nginx-ha.conf")
	for _, svc := range []string{"gateway-1", "gateway-2", "gateway-3"} {
		if !strings.Contains(string(compose), "\n  "+svc+":\n") || !strings.Contains(string(compose), "OPENCLAW_ADVERTISE_ADDR: "+svc+":18789") {
			t.Errorf("compose-ha.yaml lacks the service %s or its advertised address", svc)
		}
		if !strings.Contains(string(ngx), "server "+svc+":18789") {
			t.Errorf("nginx-ha.conf does not balance to %s", svc)
		}
	}
	for _, want := range []string{"\n  redis:\n", "\n  nginx:\n", "./nginx-ha.conf:/etc/nginx/conf.d/default.conf", "workspaces:/srv/openclaw/workspace", "--appendonly"} {
		if !strings.Contains(string(compose), want) {
			t.Errorf("compose-ha.yaml lacks %q", want)
		}
	}
}
