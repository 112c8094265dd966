package gateway

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
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
	m := newMetrics()
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
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", "../deploy/systemd/openclaw-gateway.service").CombinedOutput()
	// A missing binary on the test host is expected; anything else is not.
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.Contains(l, "/usr/local/bin/openclaw-gateway") && !strings.Contains(l, "Failed to prepare filename") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("systemd-analyze verify (%v):\n%s", err, strings.Join(bad, "\n"))
	}
}
