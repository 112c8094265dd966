package runner

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/staging"
	"golang.org/x/sys/unix"
)

// EngineNative and EngineRunc name the engines a runner can use. native
// (package jail) is the default; runc builds the same jail with runc's
// libcontainer through its helper binary (package runcjail). Both apply
// one plan: the root filesystem of BuildRootFS, the profile's limits and
// environment, the tier's seccomp rules; the differential posture test
// holds them to the same posture seen from inside.
const (
	EngineNative = "native"
	EngineRunc   = "runc"
)

// runcEngine runs calls through the helper binary at helper.
type runcEngine struct {
	r      *Runner
	helper string
}

func (runcEngine) name() string { return EngineRunc }

// run runs one call under the runc engine. It differs from the native
// path in who owns the pieces, not in what the call gets:
//   - the cgroup is libcontainer's (it refuses to run without owning the
//     devices controller); the runner names where it goes
//     (cgroups.ForeignPath) so that Sweep finds a crashed call's, and
//     receives the statistics in the helper's result;
//   - a timeout or cancel is a SIGTERM to the helper, which kills the
//     jail's init and with it the pid namespace;
//   - no jail is pre-warmed: libcontainer starts a container with its
//     command.
func (e runcEngine) run(ctx context.Context, p *plan.Plan, cio *callIO) (*Result, func(), error) {
	start := time.Now()
	if err := runcjail.Supported(p); err != nil {
		return nil, nil, setupErr("jail", err)
	}
	cgPath, err := cgroups.ForeignPath(cgroups.NewName())
	if err != nil {
		return nil, nil, setupErr("cgroup", err)
	}
	out, err := newOutput(p.Limits.MaxOutput, cio.stdout, cio.stderr)
	if err != nil {
		return nil, nil, setupErr("jail", err)
	}
	defer out.closeAll()
	stdin, feed, err := stdinFile(cio.stdin)
	if err != nil {
		return nil, nil, setupErr("jail", err)
	}
	var layer *staging.Layer
	var staged *os.File
	if st := p.Jail.Staging; st != nil {
		for _, b := range p.Jail.Binds {
			if b.Staged {
				layer, err = staging.NewLayer(b.Source, st.Disk, st.Inodes)
			}
		}
		if err != nil {
			stdin.Close()
			return nil, nil, setupErr("staging", err)
		}
		fd, err := unix.FcntlInt(uintptr(layer.Tree()), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			layer.Close()
			stdin.Close()
			return nil, nil, setupErr("staging", err)
		}
		staged = os.NewFile(uintptr(fd), "staged")
		defer staged.Close() // the helper holds its own copy once started
	}
	fail := func(err error) (*Result, func(), error) {
		if layer != nil {
			layer.Close()
		}
		return nil, nil, err
	}
	proc, err := runcjail.Start(e.helper, &runcjail.Request{Plan: p, CgroupPath: cgPath}, stdin, out.w[0], out.w[1], staged)
	stdin.Close() // the helper holds its own copy
	if err != nil {
		return fail(setupErr("jail", err))
	}
	if feed != nil {
		go feed()
	}
	if cio.started != nil {
		cio.started(proc.Pid(), syscall.SIGTERM, nil) // the helper takes its jail down on SIGTERM
	}
	forked := time.Since(start)
	out.start()

	stop := watch(ctx, time.Duration(p.Limits.TimeoutMs)*time.Millisecond, proc.Kill)
	rr, werr := proc.Wait()
	// The call's duration ends with its jail, not when a slow client has
	// taken the last of its output (that could be any time later).
	res := &Result{DurationMs: time.Since(start).Milliseconds()}
	res.TimedOut, res.Canceled = stop()
	res.OutputBytes, res.OutputTruncated = out.wait()
	if werr != nil {
		return fail(werr)
	}
	res.layer = layer
	res.SetupMs = float64(forked.Microseconds())/1000 + rr.StartedMs
	res.ExitCode = rr.ExitCode
	if rr.Signal != 0 {
		res.Signal = unix.SignalName(unix.Signal(rr.Signal))
		res.ExitCode = 128 + rr.Signal
	}
	res.CPUUserMs, res.CPUSystemMs, res.MaxMemoryBytes = rr.CPUUserMs, rr.CPUSystemMs, rr.MaxMemoryBytes
	res.OOMKilled = rr.OOMKills > 0
	res.BlockedSyscalls = rr.Blocked
	// The helper took the jail, its cgroup and its files down before it
	// reported: nothing is left to tear down.
	return res, nil, nil
}

// newEngine returns the engine the options name, and for runc finds its
// helper.
func (r *Runner) newEngine() (engine, error) {
	switch r.opts.Engine {
	case "", EngineNative:
		return nativeEngine{r}, nil
	case EngineRunc:
		// The helper builds the jail's root as root in a mount namespace
		// of its own, and libcontainer's rootless mode (no cgroups
		// without systemd, no id ranges) is not used: an unprivileged
		// runner has the native engine, which is made for it.
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("the runc engine needs root (this runner is uid %d); unprivileged runners use the native engine", os.Geteuid())
		}
		helper, err := runcjail.Helper(r.opts.RuncHelper)
		if err != nil {
			return nil, err
		}
		return runcEngine{r, helper}, nil
	}
	return nil, fmt.Errorf("unknown engine %q (engines: native, runc)", r.opts.Engine)
}
