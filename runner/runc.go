package runner

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"golang.org/x/sys/unix"
)

// Engines are the jail engines a runner can use. native (package jail) is
// the default; runc builds the same jail with runc's libcontainer through
// its helper binary (package runcjail). Both apply one plan: the root
// filesystem of BuildRootFS, the profile's limits and environment, the
// tier's seccomp rules; the differential posture test holds them to the
// same posture seen from inside.
var Engines = []string{"native", "runc"}

// EngineNative and EngineRunc name the engines.
const (
	EngineNative = "native"
	EngineRunc   = "runc"
)

// runRunc runs one call under the runc engine. It differs from the native
// path in who owns the pieces, not in what the call gets:
//   - the cgroup is libcontainer's (it refuses to run without owning the
//     devices controller); the runner names where it goes
//     (cgroups.ForeignPath) so that Sweep finds a crashed call's, and
//     receives the statistics in the helper's result;
//   - a timeout or cancel is a SIGTERM to the helper, which kills the
//     jail's init and with it the pid namespace;
//   - no jail is pre-warmed: libcontainer starts a container with its
//     command.
func (r *Runner) runRunc(ctx context.Context, tier string, cmd Command, env []string, dir string, timeout time.Duration, start time.Time) (*Result, error) {
	lim := r.limits
	cgPath, err := cgroups.ForeignPath(cgroups.NewName())
	if err != nil {
		return nil, err
	}
	out, err := newOutput(int64(lim.MaxOutput), cmd.Stdout, cmd.Stderr)
	if err != nil {
		return nil, err
	}
	defer out.closeAll()
	stdin, feed, err := stdinFile(cmd.Stdin)
	if err != nil {
		return nil, err
	}
	plan := &runcjail.Plan{
		Args: cmd.Argv, Env: env, Dir: dir, Hostname: Hostname,
		HostUID: r.uid, HostGID: r.gid,
		Binds:    append(r.rootfs.Binds[:len(r.rootfs.Binds):len(r.rootfs.Binds)], cmd.Binds...),
		Masks:    r.rootfs.Masks,
		Files:    r.rootfs.Files,
		Symlinks: r.rootfs.Symlinks,
		TmpSize:  int64(lim.TmpSize),
		Rlimits:  jailRlimits(lim),
		Tier:     tier,
		Memory:   int64(lim.Memory), CPUs: lim.CPUs, Pids: int64(lim.Pids),
		CgroupPath: cgPath,
	}
	proc, err := runcjail.Start(r.runcHelper, plan, stdin, out.w[0], out.w[1])
	stdin.Close() // the helper holds its own copy
	if err != nil {
		return nil, err
	}
	if feed != nil {
		go feed()
	}
	forked := time.Since(start)
	out.start()

	stop := watch(ctx, timeout, proc.Kill)
	rr, werr := proc.Wait()
	res := &Result{}
	res.TimedOut, res.Canceled = stop()
	res.OutputBytes, res.OutputTruncated = out.wait()
	res.DurationMs = time.Since(start).Milliseconds()
	if werr != nil {
		return nil, werr
	}
	res.SetupMs = float64(forked.Microseconds())/1000 + rr.StartedMs
	res.ExitCode = rr.ExitCode
	if rr.Signal != 0 {
		res.Signal = unix.SignalName(unix.Signal(rr.Signal))
		res.ExitCode = 128 + rr.Signal
	}
	res.CPUUserMs, res.CPUSystemMs, res.MaxMemoryBytes = rr.CPUUserMs, rr.CPUSystemMs, rr.MaxMemoryBytes
	res.OOMKilled = rr.OOMKills > 0
	res.BlockedSyscalls = rr.Blocked
	return res, nil
}

// checkEngine resolves the engine of a runner and, for runc, its helper.
func checkEngine(o *Options) (string, error) {
	switch o.Engine {
	case "", EngineNative:
		return "", nil
	case EngineRunc:
		// The helper builds the jail's root as root in a mount namespace
		// of its own, and libcontainer's rootless mode (no cgroups
		// without systemd, no id ranges) is not used: an unprivileged
		// runner has the native engine, which is made for it.
		if os.Geteuid() != 0 {
			return "", fmt.Errorf("the runc engine needs root (this runner is uid %d); unprivileged runners use the native engine", os.Geteuid())
		}
		return runcjail.Helper(o.RuncHelper)
	}
	return "", fmt.Errorf("unknown engine %q (engines: native, runc)", o.Engine)
}
