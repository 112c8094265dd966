package runner

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/seccomp"
	"github.com/openclaw-run/openclaw-run/staging"
)

// jailed is one jail of the native engine and what the runner holds for
// it: its output pipes, its stdin, its cgroup. A cold jail is started
// with its command; a warm one (pend) was built before its call, from its
// plan's jail, and waits for the command.
type jailed struct {
	plan   *plan.Plan
	out    *output
	stdin  *os.File // the runner's copy of the jail's stdin, closed once the jail has its own
	stdinW *os.File // warm: the write end of the jail's stdin pipe
	feed   func()   // cold: copies the call's stdin into the pipe
	cg     *pendingCgroup
	pend   *jail.Pending
	proc   *jail.Process
	built  time.Time
	// layer is the call's staging layer (plan.Jail.Staging), handed to
	// the call's result for the commit, closed here otherwise.
	layer *staging.Layer
	// expiry destroys a warm jail no call took (warm.go); stopped when
	// one does, so that a used jail is not kept for its whole idle time.
	expiry *time.Timer
	once   sync.Once
}

// build makes the jail of p. With cio it starts p's command (cold); with
// a nil cio it prepares a deferred jail that waits for its command
// (pre-warmed).
func (r *Runner) build(p *plan.Plan, cio *callIO, tr *trace) (*jailed, error) {
	prog, err := seccomp.Compile(p.Jail.Tier)
	if err != nil {
		return nil, setupErr("seccomp", err)
	}
	j := &jailed{plan: p, built: time.Now()}
	var stdout, stderr io.Writer
	var stdin io.Reader
	if cio != nil {
		stdin, stdout, stderr = cio.stdin, cio.stdout, cio.stderr
	}
	pty := p.Command.Pty != nil
	if !pty {
		if j.out, err = newOutput(p.Limits.MaxOutput, stdout, stderr); err != nil {
			return nil, setupErr("jail", err)
		}
	}
	switch {
	case pty:
		// The pty replaces the jail's stdio; its stdin is copied into the
		// master once the jail runs (native.go).
	case cio != nil:
		j.stdin, j.feed, err = stdinFile(stdin)
	default:
		j.stdin, j.stdinW, err = os.Pipe()
	}
	if err != nil {
		j.close()
		return nil, setupErr("jail", err)
	}
	// On cgroup v1 the cgroup is made while the jail is being built (the
	// child waits at its barrier until it is placed); on v2 it must exist
	// before clone, which puts the child straight into it.
	v2 := cgroups.Mode() == "v2"
	j.cg = startCgroup(cgroups.Limits{MemoryBytes: p.Jail.Memory, CPUs: p.Jail.CPUs, Pids: p.Jail.Pids}, !v2)
	cgFD := -1
	if v2 {
		cg, err := j.cg.get()
		if err != nil {
			j.close()
			return nil, setupErr("cgroup", err)
		}
		cgFD = cg.FD()
		tr.mark("cgroup")
	}
	if st := p.Jail.Staging; st != nil {
		var ws string
		for _, b := range p.Jail.Binds {
			if b.Staged {
				ws = b.Source
			}
		}
		if j.layer, err = staging.NewLayer(ws, st.Disk, st.Inodes); err != nil {
			j.close()
			return nil, setupErr("staging", err)
		}
	}
	spec := &jail.Spec{
		Plan:          p,
		Seccomp:       prog.Filter,
		SeccompNotify: prog.Notify,
		Stdin:         j.stdin,
		CgroupFD:      cgFD,
		HoldMounts:    true,
		BeforeExec: func(pid int) error {
			cg, err := j.cg.get()
			if err != nil {
				return setupErr("cgroup", err)
			}
			return setupErr("cgroup", cg.Place(pid))
		},
	}
	if j.out != nil {
		spec.Stdout, spec.Stderr = j.out.w[0], j.out.w[1]
	}
	if j.layer != nil {
		spec.StagedTree = j.layer.Tree()
	}
	if cio != nil {
		j.proc, err = jail.Start(spec)
	} else {
		spec.Deferred = true
		j.pend, err = jail.Prepare(spec)
	}
	if err != nil {
		j.close()
		return nil, setupErr("jail", err)
	}
	if j.stdin != nil {
		j.stdin.Close() // the jail holds its own copy; EOF and EPIPE follow the jail
		j.stdin = nil
	}
	return j, nil
}

// close releases what the runner holds for a jail: a waiting jail is
// killed, the pipes closed, the cgroup deleted.
func (j *jailed) close() {
	j.once.Do(func() {
		if j.expiry != nil {
			j.expiry.Stop()
		}
		if j.pend != nil {
			j.pend.Discard() // a no-op once it ran its command
		}
		if j.proc != nil {
			j.proc.Release() // the jail's mounts go here
			for _, f := range []*os.File{j.proc.Pty(), j.proc.ProxyListener()} {
				if f != nil {
					f.Close()
				}
			}
		}
		if j.out != nil {
			j.out.closeAll()
		}
		for _, f := range []*os.File{j.stdin, j.stdinW} {
			if f != nil {
				f.Close()
			}
		}
		if j.cg != nil {
			j.cg.release()
		}
		if j.layer != nil {
			j.layer.Close()
		}
	})
}

// pendingCgroup is a call's cgroup being created, possibly concurrently
// with the jail.
type pendingCgroup struct {
	done chan struct{}
	c    *cgroups.Cgroup
	err  error
}

func startCgroup(l cgroups.Limits, async bool) *pendingCgroup {
	p := &pendingCgroup{done: make(chan struct{})}
	make := func() {
		p.c, p.err = cgroups.New(l)
		close(p.done)
	}
	if async {
		go make()
	} else {
		make()
	}
	return p
}

func (p *pendingCgroup) get() (*cgroups.Cgroup, error) {
	<-p.done
	return p.c, p.err
}

// release deletes the cgroup once it exists, whatever happened.
func (p *pendingCgroup) release() {
	<-p.done
	if p.c != nil {
		p.c.Delete()
	}
}
