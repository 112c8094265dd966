//go:build integration && openclaw

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// benchExecs is the number of `exec /bin/true` calls in the bench turn.
const benchExecs = 15

// bench (OPENCLAW_BENCH=1): OpenClaw's exec of /bin/true through our
// backend against OpenClaw's own host exec (sandbox off), on the same mock
// turn, in one run, and where the time of a jailed exec goes. Numbers are
// printed for BENCHMARKS.md, never asserted: the machine is shared.
func (s *ocSuite) bench(t *testing.T) {
	// /bin/true ignores its argument, which keeps OpenClaw's loop
	// detection from taking the calls for a model stuck in a loop.
	steps := make([]step, benchExecs)
	for i := range steps {
		steps[i] = step{"exec", map[string]any{"command": fmt.Sprintf("/bin/true %d", i)}}
	}
	jail := s.newHome(t, "bench-jail", s.pluginConfig(t, nil))
	host := s.newHome(t, "bench-host", s.pluginConfig(t, nil))
	host.sandboxOff = true
	host.writeConfig(t)

	// Two rounds, interleaved, so that drift in the machine's load falls on both.
	lat := map[string][]time.Duration{}
	for round := 0; round < 2; round++ {
		for _, c := range []struct {
			name string
			h    *ocHome
		}{{"openclaw-run", jail}, {"host", host}} {
			script := fmt.Sprintf("bench-%s-%d", strings.ReplaceAll(c.name, "-", ""), round)
			res := c.h.turn(t, fmt.Sprintf("bench-%s-%d", c.name, round), s.script(t, script, steps), false)
			if len(res) != benchExecs {
				t.Fatalf("%s: %d results for %d execs: %q", c.name, len(res), benchExecs, res)
			}
			lat[c.name] = append(lat[c.name], s.stepLatencies(t, script)...)
		}
	}

	// Where a jailed exec's time goes: the jail itself (our audit log's
	// duration of each call), the openclaw-run process around it (the same
	// command run directly, outside OpenClaw), and the rest, which is
	// OpenClaw's and the plugin's.
	var jailMs []time.Duration
	readJSONL(t, filepath.Join(jail.runState, "audit", "audit.jsonl"), func(b []byte) {
		var r struct {
			Tool     string `json:"tool"`
			Duration int64  `json:"duration"`
		}
		if json.Unmarshal(b, &r) == nil && r.Tool == "exec" {
			jailMs = append(jailMs, time.Duration(r.Duration)*time.Millisecond)
		}
	})
	var cli []time.Duration
	for i := 0; i < benchExecs; i++ {
		cmd := exec.Command(binary, "--workspace", jail.ws, "--", "/bin/true")
		cmd.Env = append(os.Environ(), "OPENCLAW_RUN_STATE_DIR="+t.TempDir(), "OPENCLAW_STATE_DIR="+t.TempDir())
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openclaw-run -- /bin/true: %v: %s", err, out)
		}
		cli = append(cli, time.Since(start))
	}
	ours, theirs := median(lat["openclaw-run"]), median(lat["host"])
	var b strings.Builder
	fmt.Fprintf(&b, "OpenClaw exec of /bin/true, %d calls per backend in 2 interleaved rounds (one model turn per call, mock model):\n", 2*benchExecs)
	fmt.Fprintf(&b, "| backend | median per call | p90 |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| OpenClaw host exec (sandbox off) | %s | %s |\n", ms(theirs), ms(p90(lat["host"])))
	fmt.Fprintf(&b, "| openclaw-run backend (fresh jail per call) | %s | %s |\n", ms(ours), ms(p90(lat["openclaw-run"])))
	fmt.Fprintf(&b, "ratio %.2fx, +%s per call\n", float64(ours)/float64(theirs), ms(ours-theirs))
	fmt.Fprintf(&b, "| where a jailed call's time goes (medians) | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| the jail (build, run /bin/true, tear down; audit duration) | %s |\n", ms(median(jailMs)))
	fmt.Fprintf(&b, "| openclaw-run process, start to exit (direct, outside OpenClaw) | %s |\n", ms(median(cli)))
	fmt.Fprintf(&b, "| OpenClaw and the plugin (per-call latency minus the process) | %s |\n", ms(ours-median(cli)))
	t.Log("\n" + b.String())
}

// stepLatencies returns, for one mock script, the time from each model
// request that issued a tool call to the next request: the tool call as
// OpenClaw ran it, plus OpenClaw's own handling of the turn.
func (s *ocSuite) stepLatencies(t *testing.T, script string) []time.Duration {
	t.Helper()
	var ts []int64
	readJSONL(t, s.mockLog, func(b []byte) {
		var e struct {
			T      int64  `json:"t"`
			Script string `json:"script"`
		}
		if json.Unmarshal(b, &e) == nil && e.Script == script {
			ts = append(ts, e.T)
		}
	})
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, time.Duration(ts[i]-ts[i-1])*time.Millisecond)
	}
	return out
}

func median(d []time.Duration) time.Duration { return quantile(d, 0.5) }
func p90(d []time.Duration) time.Duration    { return quantile(d, 0.9) }

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1)+0.5)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
