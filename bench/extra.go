package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The figures of issue 8 beyond latency: streaming throughput, gateway
// memory, and scaling with concurrency and workspace size.

// streamFile writes an ASCII file of mb MiB (text, so that NDJSON carries
// it as JSON strings, not base64).
func streamFile(dir string, mb int) string {
	p := filepath.Join(dir, "stream.txt")
	f, err := os.Create(p)
	must(err)
	line := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-openclaw-run\n"), 1<<10)
	for written := 0; written < mb<<20; written += len(line) {
		_, err := f.Write(line)
		must(err)
	}
	must(f.Close())
	must(os.Chown(p, 4242, 4242))
	return p
}

// timeCmd runs a shell pipeline and returns how long it took.
func timeCmd(name string, args ...string) time.Duration {
	t0 := time.Now()
	c := exec.Command(name, args...)
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s %v: %v %s\n", name, args, err, errb.String())
		exit(1)
	}
	return time.Since(t0)
}

// streamSection measures cat of an mb MiB file: a raw pipe, the CLI, and
// the gateway's NDJSON (best of three each).
func streamSection(bin string, g *gateway, ws string, mb int) string {
	p := streamFile(ws, mb)
	defer os.Remove(p)
	best := func(f func() time.Duration) time.Duration {
		b := time.Duration(1 << 62)
		for i := 0; i < 3; i++ {
			b = min(b, f())
		}
		return b
	}
	raw := best(func() time.Duration { return timeCmd("sh", "-c", "cat "+p+" | cat > /dev/null") })
	cli := best(func() time.Duration {
		return timeCmd("sh", "-c", fmt.Sprintf("%s --workspace %s --max-output %dM -- cat /workspace/stream.txt > /dev/null", bin, ws, mb+1))
	})
	gw := time.Duration(0)
	if g != nil {
		gw = best(func() time.Duration {
			t0 := time.Now()
			req, _ := http.NewRequest("POST", g.url+"/v1/tools/exec", strings.NewReader(`{"args":{"command":"cat stream.txt"}}`))
			req.Header.Set("Authorization", "Bearer "+g.token)
			resp, err := g.client.Do(req)
			must(err)
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n < int64(mb)<<20 {
				fmt.Fprintf(os.Stderr, "bench: the gateway streamed %d bytes of %d MiB\n", n, mb)
				exit(1)
			}
			return time.Since(t0)
		})
	}
	rate := func(d time.Duration) float64 { return float64(mb) / d.Seconds() }
	measured["cliStream"] = 100 * raw.Seconds() / cli.Seconds()
	if g != nil {
		measured["gwStream"] = 100 * raw.Seconds() / gw.Seconds()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Streaming: cat of a %d MiB text file\n\n", mb)
	b.WriteString("| path | seconds | MiB/s | share of the raw pipe |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| raw pipe: `cat f \\| cat > /dev/null` | %.2f | %.0f | 100%% |\n", raw.Seconds(), rate(raw))
	fmt.Fprintf(&b, "| CLI: `openclaw-run -- cat f > /dev/null` | %.2f | %.0f | %.0f%% |\n", cli.Seconds(), rate(cli), 100*raw.Seconds()/cli.Seconds())
	if g != nil {
		fmt.Fprintf(&b, "| gateway NDJSON (read and discarded by the client) | %.2f | %.0f | %.0f%% |\n", gw.Seconds(), rate(gw), 100*raw.Seconds()/gw.Seconds())
	}
	b.WriteString("\nTargets (issue 8): the CLI at least 50% of the raw pipe, the gateway at least 25%. Best of three runs each.\n")
	return b.String()
}

func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// memorySection: the gateway's RSS idle, and its peak while n streaming
// calls are in flight at once.
func memorySection(g *gateway, n int) string {
	for i := 0; i < 5; i++ {
		must(g.call())
	}
	time.Sleep(time.Second)
	idle := rssKiB(g.cmd.Process.Pid)
	peak := idle
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				peak = max(peak, rssKiB(g.cmd.Process.Pid))
			}
		}
	}()
	var wg sync.WaitGroup
	errs := 0
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", g.url+"/v1/tools/exec", strings.NewReader(`{"args":{"command":"for i in $(seq 150); do echo streaming line $i; sleep 0.02; done"}}`))
			req.Header.Set("Authorization", "Bearer "+g.token)
			resp, err := g.client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				mu.Lock()
				errs++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	measured["idleMiB"] = float64(idle) / 1024
	measured["perCallMiB"] = float64(peak-idle) / 1024 / float64(n)
	var b strings.Builder
	b.WriteString("\n## Gateway memory\n\n")
	b.WriteString("| state | RSS MiB |\n|---|---|\n")
	fmt.Fprintf(&b, "| idle, after 5 calls | %.1f |\n", float64(idle)/1024)
	fmt.Fprintf(&b, "| peak with %d streaming calls in flight (%d errors) | %.1f |\n", n, errs, float64(peak)/1024)
	fmt.Fprintf(&b, "| per in-flight call | %.2f |\n", float64(peak-idle)/1024/float64(n))
	b.WriteString("\nTargets (issue 8): idle at most 30 MiB, at most 1 MiB per in-flight streaming call. The calls print a line every 20 ms for 3 s; this gateway runs with maxConcurrent 64, so all of them hold a jail at once.\n")
	return b.String()
}

// scalingSection: p50 latency and throughput of /bin/true through the
// gateway from 1 to 64 concurrent callers.
func scalingSection(g *gateway) string {
	var b strings.Builder
	b.WriteString("\n## Scaling with concurrency (gateway, /bin/true)\n\n")
	b.WriteString("| concurrent callers | calls | p50 ms | p99 ms | calls/s |\n|---|---|---|---|---|\n")
	for _, c := range []int{1, 2, 4, 8, 16, 32, 64} {
		per := max(4, 64/c)
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < c; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					s := time.Now()
					must(g.sessionCall(w))
					mu.Lock()
					lat = append(lat, time.Since(s))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		wall := time.Since(t0)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(&b, "| %d | %d | %.1f | %.1f | %.0f |\n", c, len(lat), ms(pct(lat, 50)), ms(pct(lat, 99)), float64(len(lat))/wall.Seconds())
	}
	b.WriteString("\nEach caller is a session of its own. The gateway runs at most maxConcurrent calls at once (64 here) on 2 cores: beyond a few callers the latency is queueing for the CPU.\n")
	return b.String()
}

// workspaceSection: the cold CLI's p50 with workspaces of growing size.
// The workspace is a bind mount: nothing is copied, so the time is flat.
func workspaceSection(bin string) string {
	var b strings.Builder
	b.WriteString("\n## Scaling with workspace size (cold CLI, /bin/true)\n\n")
	b.WriteString("| workspace | p50 ms |\n|---|---|\n")
	for _, c := range []struct {
		name  string
		files int
		mb    int
	}{{"empty", 0, 0}, {"10 000 files", 10000, 0}, {"one 1 GiB file", 0, 1024}} {
		ws, _ := os.MkdirTemp("", "openclaw-bench-wsize-")
		for i := 0; i < c.files; i++ {
			os.WriteFile(filepath.Join(ws, "f"+strconv.Itoa(i)), []byte("x"), 0o644)
		}
		if c.mb > 0 {
			f, _ := os.Create(filepath.Join(ws, "big"))
			f.Truncate(int64(c.mb) << 20)
			w := bufio.NewWriterSize(f, 1<<20)
			chunk := make([]byte, 1<<20)
			for i := 0; i < c.mb; i++ {
				w.Write(chunk)
			}
			w.Flush()
			f.Close()
		}
		os.Chown(ws, 4242, 4242)
		var lat []time.Duration
		for i := 0; i < 15; i++ {
			lat = append(lat, timeCmd(bin, "--workspace", ws, "--", "/bin/true"))
		}
		os.RemoveAll(ws)
		fmt.Fprintf(&b, "| %s | %.1f |\n", c.name, ms(pct(lat, 50)))
	}
	return b.String()
}
