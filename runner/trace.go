package runner

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// trace records how long each stage of a call took, for OPENCLAW_TRACE=1
// (a per-stage breakdown when tuning; off by default, and free when off).
type trace struct {
	on    bool
	last  time.Time
	parts []string
}

var traceOn = os.Getenv("OPENCLAW_TRACE") == "1"

// EnableTrace turns the per-stage trace on for this process (the CLI's
// --log-level debug).
func EnableTrace() { traceOn = true }

func newTrace(start time.Time) *trace { return &trace{on: traceOn, last: start} }

func (t *trace) mark(stage string) {
	if !t.on {
		return
	}
	now := time.Now()
	t.parts = append(t.parts, fmt.Sprintf("%s=%.2fms", stage, float64(now.Sub(t.last).Microseconds())/1000))
	t.last = now
}

func (t *trace) print() {
	if t.on {
		fmt.Fprintf(os.Stderr, "openclaw-run trace: %s\n", strings.Join(t.parts, " "))
	}
}
