package runner

import (
	"context"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/seccomp"
	"golang.org/x/sys/unix"
)

// jailed is one jail and what the runner holds for it: its output pipes,
// its stdin, its cgroup. A cold jail is started with its command; a warm
// one (pend) was built before its call and waits for it.
type jailed struct {
	tier   string
	out    *output
	stdin  *os.File // the runner's copy of the jail's stdin, closed once the jail has its own
	stdinW *os.File // warm: the write end of the jail's stdin pipe
	feed   func()   // cold: copies the call's stdin into the pipe
	cg     *pendingCgroup
	pend   *jail.Pending
	proc   *jail.Process
	built  time.Time
	once   sync.Once
}

// build makes a jail for tier. With cmd it starts cmd (cold); with a nil
// cmd it prepares a deferred jail that waits for its command (warm).
func (r *Runner) build(tier string, cmd *Command, env []string, dir string, tr *trace) (*jailed, error) {
	prog, err := seccomp.Compile(tier)
	if err != nil {
		return nil, err
	}
	lim := r.limits
	j := &jailed{tier: tier, built: time.Now()}
	var stdout, stderr io.Writer
	var binds []jail.Bind
	if cmd != nil {
		stdout, stderr, binds = cmd.Stdout, cmd.Stderr, cmd.Binds
	}
	if j.out, err = newOutput(int64(lim.MaxOutput), stdout, stderr); err != nil {
		return nil, err
	}
	if cmd != nil {
		j.stdin, j.feed, err = stdinFile(cmd.Stdin)
	} else {
		j.stdin, j.stdinW, err = os.Pipe()
	}
	if err != nil {
		j.out.closeAll()
		return nil, err
	}
	// On cgroup v1 the cgroup is made while the jail is being built (the
	// child waits at its barrier until it is placed); on v2 it must exist
	// before clone, which puts the child straight into it.
	v2 := cgroups.Mode() == "v2"
	j.cg = startCgroup(cgroups.Limits{MemoryBytes: int64(lim.Memory), CPUs: lim.CPUs, Pids: int64(lim.Pids)}, !v2)
	cgFD := -1
	if v2 {
		cg, err := j.cg.get()
		if err != nil {
			j.close()
			return nil, err
		}
		cgFD = cg.FD()
		tr.mark("cgroup")
	}
	spec := &jail.Spec{
		Env:           env,
		Dir:           dir,
		Hostname:      Hostname,
		HostUID:       r.uid,
		HostGID:       r.gid,
		Binds:         append(r.rootfs.Binds[:len(r.rootfs.Binds):len(r.rootfs.Binds)], binds...),
		Files:         r.rootfs.Files,
		Symlinks:      r.rootfs.Symlinks,
		Masks:         r.rootfs.Masks,
		TmpSize:       int64(lim.TmpSize),
		Rlimits:       jailRlimits(lim),
		Seccomp:       prog.Filter,
		SeccompNotify: prog.Notify,
		Stdin:         j.stdin,
		Stdout:        j.out.w[0],
		Stderr:        j.out.w[1],
		CgroupFD:      cgFD,
		HoldMounts:    true,
		BeforeExec: func(pid int) error {
			cg, err := j.cg.get()
			if err != nil {
				return err
			}
			return cg.Place(pid)
		},
	}
	if cmd != nil {
		spec.Args, spec.Path = cmd.Argv, cmd.Path
		j.proc, err = jail.Start(spec)
	} else {
		spec.Deferred, spec.Dir = true, WorkspaceDir
		j.pend, err = jail.Prepare(spec)
	}
	if err != nil {
		j.close()
		return nil, err
	}
	j.stdin.Close() // the jail holds its own copy; EOF and EPIPE follow the jail
	j.stdin = nil
	return j, nil
}

// jailRlimits are the rlimits of every jail, whatever its engine.
func jailRlimits(lim profiles.Limits) []jail.Rlimit {
	return []jail.Rlimit{
		{Resource: unix.RLIMIT_CORE, Cur: 0, Max: 0},
		{Resource: unix.RLIMIT_NOFILE, Cur: uint64(lim.OpenFiles), Max: uint64(lim.OpenFiles)},
		{Resource: unix.RLIMIT_FSIZE, Cur: uint64(lim.FileSize), Max: uint64(lim.FileSize)},
	}
}

// close releases what the runner holds for a jail: a waiting jail is
// killed, the pipes closed, the cgroup deleted.
func (j *jailed) close() {
	j.once.Do(func() {
		if j.pend != nil {
			j.pend.Discard() // a no-op once it ran its command
		}
		if j.proc != nil {
			j.proc.Release() // the jail's mounts go here
		}
		j.out.closeAll()
		for _, f := range []*os.File{j.stdin, j.stdinW} {
			if f != nil {
				f.Close()
			}
		}
		j.cg.release()
	})
}

// feedStdin copies a call's stdin into a warm jail's stdin pipe.
func feedStdin(w *os.File, in io.Reader) {
	if in != nil {
		io.Copy(w, in)
	}
	w.Close()
}

// Pre-warmed jails. A gateway runner keeps up to Options.Prewarm jails
// of its exec tier built ahead: after each call it builds the next one,
// so the next call of the session skips the jail setup. Each is used by
// one call and then destroyed like any other; an idle one is destroyed
// after warmIdle. warmSlots bounds how many wait on the whole host.
var (
	warmSlots = make(chan struct{}, 2*runtime.NumCPU()+2)
	warmIdle  = time.Minute
)

type warmPool struct {
	mu     sync.Mutex
	jails  []*jailed
	closed bool
	// building counts jails being built for the pool: calls ending together
	// must not each build one only to throw all but one away.
	building int
}

// takeWarm returns a waiting jail for this call, or nil: none is ready, or
// the call needs what a pre-warmed jail cannot give (extra binds, a bare
// command name, another tier, a command too large for its block).
func (r *Runner) takeWarm(tier string, cmd Command, env []string, dir string) *jailed {
	if r.opts.Prewarm == 0 || tier != r.opts.Profile.ExecTier || len(cmd.Binds) > 0 || !jail.Fits(cmd.program(), cmd.Argv, env, dir) {
		return nil
	}
	r.warm.mu.Lock()
	defer r.warm.mu.Unlock()
	for len(r.warm.jails) > 0 {
		j := r.warm.jails[0]
		r.warm.jails = r.warm.jails[1:]
		<-warmSlots
		if time.Since(j.built) < warmIdle {
			return j
		}
		go j.close()
	}
	return nil
}

// prewarm builds one waiting jail for tier, unless the pool is full.
func (r *Runner) prewarm(tier string) {
	r.warm.mu.Lock()
	if r.warm.closed || len(r.warm.jails)+r.warm.building >= r.opts.Prewarm {
		r.warm.mu.Unlock()
		return
	}
	select {
	case warmSlots <- struct{}{}:
	default:
		r.warm.mu.Unlock()
		return // enough jails wait on this host
	}
	r.warm.building++
	r.warm.mu.Unlock()
	j, err := r.build(tier, nil, nil, WorkspaceDir, newTrace(time.Now()))
	r.warm.mu.Lock()
	r.warm.building--
	if err != nil {
		r.warm.mu.Unlock()
		<-warmSlots // the call that needs it will build one cold, and say why if it fails
		return
	}
	if r.warm.closed {
		r.warm.mu.Unlock()
		<-warmSlots
		j.close()
		return
	}
	r.warm.jails = append(r.warm.jails, j)
	r.warm.mu.Unlock()
	time.AfterFunc(warmIdle, func() { r.expire(j) })
}

// expire destroys j if it is still waiting.
func (r *Runner) expire(j *jailed) {
	r.warm.mu.Lock()
	for i, w := range r.warm.jails {
		if w == j {
			r.warm.jails = append(r.warm.jails[:i], r.warm.jails[i+1:]...)
			r.warm.mu.Unlock()
			<-warmSlots
			j.close()
			return
		}
	}
	r.warm.mu.Unlock()
}

// Prewarm builds the runner's waiting jails now (a gateway does it when a
// session starts).
func (r *Runner) Prewarm() {
	if r.opts.Prewarm > 0 {
		r.prewarm(r.opts.Profile.ExecTier)
	}
}

// Close destroys the runner's waiting jails and waits for the teardown
// of finished calls; later calls start cold.
func (r *Runner) Close() {
	defer r.teardowns.Wait()
	r.warm.mu.Lock()
	r.warm.closed = true
	jails := r.warm.jails
	r.warm.jails = nil
	r.warm.mu.Unlock()
	for _, j := range jails {
		<-warmSlots
		j.close()
	}
}

// A call that comes through Run (the gateway, MCP) is answered before its
// jail is taken apart: once the jail's init has exited, every process of
// the jail is dead, its output drained and its usage read, and what is
// left (unmounting the jail's mounts, removing its cgroup, building the
// next pre-warmed jail) runs after the result event has gone out, so that
// a client reading to the end of the response does not wait for it.
type teardownKey struct{}

type teardownList struct {
	mu    sync.Mutex
	funcs []func()
}

// withTeardown returns a context whose calls defer their teardown to run,
// which runs them in the background. A closed runner tears down inline:
// Close may be waiting already, and a WaitGroup must not grow from zero
// while it is waited on (the gateway closes runners still serving a call
// when it resets its runner cache).
func (r *Runner) withTeardown(ctx context.Context) (context.Context, func()) {
	r.warm.mu.Lock()
	defer r.warm.mu.Unlock()
	if r.warm.closed {
		return ctx, func() {}
	}
	l := &teardownList{}
	r.teardowns.Add(1)
	return context.WithValue(ctx, teardownKey{}, l), func() {
		go func() {
			defer r.teardowns.Done()
			l.mu.Lock()
			funcs := l.funcs
			l.funcs = nil
			l.mu.Unlock()
			for _, f := range funcs {
				f()
			}
		}()
	}
}

// afterResult runs f once the call's result is out (see withTeardown), or
// now when the caller answers only after it returns (the CLI).
func (r *Runner) afterResult(ctx context.Context, f func()) {
	if l, ok := ctx.Value(teardownKey{}).(*teardownList); ok {
		l.mu.Lock()
		l.funcs = append(l.funcs, f)
		l.mu.Unlock()
		return
	}
	f()
}
