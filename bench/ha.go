package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// haSection measures the HA load of issue 11: 200 concurrent calls spread
// over two gateways that share a real redis-server (docs/ha.md). Empty
// when redis-server is not installed.
func haSection(bin string) string {
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: redis-server not installed; skipping the HA figures")
		return ""
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, _ := os.MkdirTemp("", "openclaw-bench-redis-")
	defer os.RemoveAll(dir)
	rs := exec.Command(redisBin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no")
	must(rs.Start())
	defer func() { rs.Process.Signal(os.Interrupt); rs.Wait() }()
	time.Sleep(300 * time.Millisecond)
	ws, _ := os.MkdirTemp("", "openclaw-bench-ha-ws-")
	defer os.RemoveAll(ws)
	const token = "bench-ha-token-0123456789abcdef"
	var gws []*gateway
	for _, id := range []string{"a", "b"} {
		cfg := fmt.Sprintf(`{"sessions": {"store": {"type": "redis", "url": "redis://127.0.0.1:%d/0"}},
			"gateway": {"id": %q, "maxQueue": 256}, "sandbox": {"workspace": %q}}`, port, id, ws)
		g := startGatewayCfg(bin, cfg, token)
		if g == nil {
			return ""
		}
		defer g.stop()
		gws = append(gws, g)
	}
	const n = 200
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(g *gateway) {
			defer wg.Done()
			s := time.Now()
			err := g.call()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			lat = append(lat, time.Since(s))
		}(gws[i%2])
	}
	wg.Wait()
	wall := time.Since(t0)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var b strings.Builder
	fmt.Fprintf(&b, "\n## HA: %d concurrent calls through two gateways sharing Redis\n\n", n)
	fmt.Fprintf(&b, "Two openclaw-gateways (sessions.store redis, a local redis-server, gateway.maxConcurrent 2 x CPUs each, maxQueue 256), "+
		"%d exec calls of /bin/true started at once, alternating between them (docs/ha.md; the same load runs through the shipped nginx config in integration/ha_test.go).\n\n", n)
	b.WriteString("| calls | errors | p50 ms | p99 ms | calls/s |\n|---|---|---|---|---|\n")
	if len(lat) == 0 {
		fmt.Fprintf(&b, "| %d | %d | - | - | - |\n", n, errs)
	} else {
		fmt.Fprintf(&b, "| %d | %d | %.0f | %.0f | %.0f |\n", n, errs, ms(pct(lat, 50)), ms(pct(lat, 99)), float64(len(lat))/wall.Seconds())
	}
	b.WriteString("\nThe latency is queueing: with 2 cores and 8 calls running at once in all, a call waits for about n/8 calls before it; the rate is the figure to compare with the 8-way column above.\n")
	return b.String()
}
