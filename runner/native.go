package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/seccomp"
	"golang.org/x/sys/unix"
)

// nativeEngine is the engine of package jail: a pre-warmed jail whose plan
// matches the call's (warm.go), else a cold one (cold.go).
type nativeEngine struct{ r *Runner }

func (nativeEngine) name() string { return EngineNative }

func (e nativeEngine) run(ctx context.Context, p *plan.Plan, cio *callIO) (*Result, func(), error) {
	r := e.r
	start := time.Now()
	tr := cio.tr
	if tr == nil {
		tr = newTrace(start)
	}
	j := r.takeWarm(p)
	prewarmed := j != nil
	if prewarmed {
		// A pre-warmed jail: built before this call, used by it alone.
		j.out.use(p.Limits.MaxOutput, cio.stdout, cio.stderr)
		proc, err := j.pend.Exec(&p.Command)
		tr.mark("warm exec")
		j.pend = nil // its program (and its 256 KiB command block) is no longer needed
		if err != nil {
			j.close()
			return nil, nil, setupErr("jail", err)
		}
		j.proc = proc
		go feedStdin(j.stdinW, cio.stdin)
		j.stdinW = nil
	} else {
		var err error
		if j, err = r.build(p, cio, tr); err != nil {
			return nil, nil, err
		}
		tr.mark("jail start")
	}
	proc := j.proc
	teardown := func() {
		j.close()
		tr.mark("teardown")
		// The next call's jail is built once this one is over, so that
		// building it does not compete with this call for the CPU; here,
		// so that Close waits for it too.
		if r.opts.Prewarm > 0 && p.Tool == "exec" {
			r.prewarm()
		}
	}
	if j.feed != nil {
		go j.feed()
	}
	cg, _ := j.cg.get() // placed: the jail is running
	if cio.started != nil {
		var dirs []string
		if cg != nil {
			dirs = cg.Path()
		}
		// The jail's init: its death ends its pid namespace, every process.
		cio.started(proc.Pid, syscall.SIGKILL, dirs)
	}
	if m := proc.Pty(); m != nil {
		j.out = ptyOutput(p.Limits.MaxOutput, m, cio.stdout)
		go feedPty(m, cio.stdin)
	}
	j.out.start()
	// The egress proxy, on the listener the jail made in its own network
	// namespace (jail step 22): this call's allowlist, its connections
	// recorded, all of them ended with the call.
	var px Proxy
	if f := proc.ProxyListener(); f != nil {
		var err error
		if cio.egress == nil {
			err = errors.New("no allowlist for the call")
		} else {
			px, err = cio.egress.Serve(f)
		}
		if err != nil {
			proc.Kill()
			proc.Wait()
			return nil, teardown, setupErr("proxy", err)
		}
	}
	var sup *seccomp.Supervisor
	if l := proc.Listener(); l >= 0 {
		var err error
		if sup, err = seccomp.Supervise(l); err != nil {
			proc.Kill()
			proc.Wait()
			return nil, teardown, setupErr("seccomp", err)
		}
	}
	res := &Result{SetupMs: float64(time.Since(start).Microseconds()) / 1000, Prewarmed: prewarmed}

	stop := watch(ctx, time.Duration(p.Limits.TimeoutMs)*time.Millisecond, func() {
		proc.Kill()
		cg.Kill()
		if px != nil {
			px.Stop() // the call's connections end with it
		}
	})
	st, werr := proc.Wait()
	// The call's duration ends with its jail, not when a slow client has
	// taken the last of its output (that could be any time later).
	res.DurationMs = time.Since(start).Milliseconds()
	res.TimedOut, res.Canceled = stop()
	tr.mark("wait")
	// Whatever the jail's init left (it cannot: its pid namespace dies
	// with it) is killed before the output is drained, the stats are read
	// and the cgroup removed.
	cg.Kill()
	res.OutputBytes, res.OutputTruncated = j.out.wait()
	if sup != nil {
		res.BlockedSyscalls = sup.Stop()
	}
	if px != nil {
		res.egressAudit, res.Egress = px.Stop()
	}
	if werr != nil {
		return nil, teardown, setupErr("jail", werr)
	}
	// The staging layer goes to Run, which commits it; the jail's
	// teardown no longer closes it.
	res.layer, j.layer = j.layer, nil
	res.ExitCode = st.Code
	if st.Signal != 0 {
		res.Signal = unix.SignalName(st.Signal)
		res.ExitCode = 128 + int(st.Signal)
	}
	if s, err := cg.Stats(); err == nil {
		res.CPUUserMs, res.CPUSystemMs, res.MaxMemoryBytes = s.CPUUserMs, s.CPUSystemMs, s.MaxMemoryBytes
		res.OOMKilled = s.OOMKills > 0
	}
	tr.mark("stats")
	return res, teardown, nil
}

// feedStdin copies a call's stdin into a warm jail's stdin pipe.
func feedStdin(w *os.File, in io.Reader) {
	if in != nil {
		io.Copy(w, in)
	}
	w.Close()
}

// feedPty copies a call's stdin into its jail's pty. At the end of the
// input it sends the terminal's end-of-file character (^D, VEOF in
// canonical mode), as a terminal user would.
func feedPty(m *os.File, in io.Reader) {
	if in == nil {
		return
	}
	io.Copy(m, in)
	m.Write([]byte{4})
}
