package runner

import (
	"context"
	"io"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/plan"
)

// callIO is where a call's jail reads and writes: the call's stdin, and
// the writers of its stdout and stderr (events, the CLI's terminal, or a
// file tool's reply buffer).
type callIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// tr times the call's stages (OPENCLAW_TRACE=1).
	tr *trace
	// egress is the call's allowlist (plan.NetworkAllowlist), served by
	// the proxy on the listener the jail made.
	egress Egress
	// started, when set, is told that the jail runs: the process that ends
	// it with sig, and its cgroup's directories (the call registry).
	started func(pid int, sig syscall.Signal, cgroup []string)
}

// engine builds the jail of a plan, runs its command and reports how it
// ended. nativeEngine (native.go, package jail) is the default; runcEngine
// (runc.go) builds the same jail with runc's libcontainer. The teardown it
// returns takes the jail apart (unmounts, the cgroup); the caller runs it
// once the result is out, also after an error when it is not nil.
type engine interface {
	name() string
	run(ctx context.Context, p *plan.Plan, cio *callIO) (res *Result, teardown func(), err error)
}

// watch kills a call when its timeout passes or ctx is canceled. stop
// ends the watch and says which of the two killed it, if either did.
func watch(ctx context.Context, timeout time.Duration, kill func()) (stop func() (timedOut, canceled bool)) {
	timer := time.NewTimer(timeout)
	done := make(chan struct{})
	why := make(chan string, 1)
	go func() {
		select {
		case <-timer.C:
			why <- "timeout"
		case <-ctx.Done():
			why <- "canceled"
		case <-done:
			return
		}
		kill()
	}()
	return func() (bool, bool) {
		timer.Stop()
		close(done)
		select {
		case w := <-why:
			return w == "timeout", w == "canceled"
		default:
			return false, false
		}
	}
}
