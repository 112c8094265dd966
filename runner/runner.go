// Package runner runs one tool call end to end: policy, plan, cgroup,
// seccomp and jail, wait, kill, report. It is the only package that wires
// the mechanisms together; each of them (jail, seccomp, cgroups) knows
// nothing of the others, and the profile decides what they apply.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/seccomp"
	"golang.org/x/sys/unix"
)

// DefaultJailID is the host uid and gid that root of a jail maps to when
// the workspace belongs to root and nothing else is configured: nobody and
// nogroup exist on every Linux host and by convention own no files, so a
// jail running as them can touch only what is world-accessible or what the
// runner gave it (its workspace).
const DefaultJailID = 65534

// Hostname of every jail (its UTS namespace).
const Hostname = "openclaw"

// Options configure a Runner.
type Options struct {
	Profile *profiles.Profile
	// Workspace is the host directory bound read-write at /workspace.
	Workspace string
	// UID and GID are the host ids jail root maps to; 0 means: the owner
	// of the workspace when that is not root, else DefaultJailID. An
	// unprivileged runner always maps to itself.
	UID, GID int
	// Limits override the profile's limits field by field.
	Limits profiles.Limits
	// Term is the TERM value passed into the jail (the CLI passes its own).
	Term string
	// FS is tools.fs: allowed and denied host paths.
	FS FSPolicy
	// Exec is the exec command policy (nil: none); ExecDisabled refuses
	// exec altogether (OpenClaw's tools.exec.mode "deny").
	Exec         *policy.Exec
	ExecDisabled bool
	// Audit receives one record per call and per denial; nil: none.
	Audit *audit.Log
	// ToolBinary serves the file tools inside their jails (helper mode);
	// default: this executable.
	ToolBinary string
	// Secrets resolves the secrets a call names (exec secretEnv).
	Secrets SecretResolver
	// Prewarm keeps up to this many jails of the exec tier built ahead of
	// their calls (0: none). Each serves one call (see warm.go). The
	// native engine only.
	Prewarm int
	// Engine builds the jails: "native" (default) or "runc" (see runc.go).
	Engine string
	// RuncHelper is the runc engine's helper binary; default:
	// openclaw-run-runc beside this executable.
	RuncHelper string
}

// SecretResolver finds a secret's value by name.
type SecretResolver interface {
	Get(name string) (string, error)
}

// Runner runs calls in fresh jails. It is safe for concurrent use.
type Runner struct {
	opts     Options
	limits   profiles.Limits
	uid, gid int
	rootfs   *RootFS
	warm     warmPool
	engine   engine
	// teardowns counts the calls whose teardown runs after their result
	// (see afterResult); Close waits for them.
	teardowns sync.WaitGroup
}

// New checks the options and prepares what every call shares (the root
// filesystem layout). Nothing is created on the host.
func New(o Options) (*Runner, error) {
	if o.Profile == nil {
		return nil, errors.New("runner: no profile")
	}
	r := &Runner{opts: o, limits: o.Profile.Limits.Override(o.Limits)}
	if err := r.limits.Validate(); err != nil {
		return nil, fmt.Errorf("runner: limits: %w", err)
	}
	ws, err := os.Stat(o.Workspace)
	if err != nil {
		return nil, fmt.Errorf("runner: workspace: %w", err)
	}
	r.uid, r.gid = ChooseIDs(ws, o.UID, o.GID)
	r.rootfs, err = BuildRootFS(o.Workspace, Hostname, o.FS)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if r.engine, err = r.newEngine(); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if r.engine.name() != EngineNative {
		r.opts.Prewarm = 0 // only the native engine pre-warms jails
	}
	return r, nil
}

// Sweep removes the cgroups that runners killed mid-call left behind
// (their jails died with them; the cgroup directories did not), and the
// empty directories of runc helpers killed with them. It is cheap enough
// to run at every start.
func Sweep() (int, error) {
	n, err := cgroups.Sweep()
	return n + runcjail.SweepDirs(), err
}

// stdinFile returns the file to give the jail as stdin, and, for a reader
// that is not a file, a function that copies it into the pipe (run once
// the jail has its end).
func stdinFile(in io.Reader) (*os.File, func(), error) {
	switch f := in.(type) {
	case nil:
		null, err := os.Open(os.DevNull)
		return null, nil, err
	case *os.File:
		dup, err := dupFile(f)
		return dup, nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("stdin pipe: %w", err)
	}
	return r, func() {
		io.Copy(w, in)
		w.Close()
	}, nil
}

// dupFile returns a copy of f that the runner may close.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("dup stdin: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Ready checks that this host can build jails now: user namespaces are
// enabled, seccomp can notify, and this runner may create cgroups. The
// gateway's /readyz reports it.
func Ready() error {
	var errs []error
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		errs = append(errs, errors.New("user namespaces are disabled (user.max_user_namespaces = 0)"))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail"); err != nil || !strings.Contains(string(b), "user_notif") {
		errs = append(errs, errors.New("seccomp user notification is not available"))
	}
	if _, err := cgroups.Bases(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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

// ChooseIDs applies the documented rule for the host ids of jail root.
func ChooseIDs(ws os.FileInfo, uid, gid int) (int, int) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid()
	}
	if uid > 0 {
		if gid <= 0 {
			gid = uid
		}
		return uid, gid
	}
	if st, ok := ws.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return int(st.Uid), int(st.Gid)
	}
	return DefaultJailID, DefaultJailID
}

// Engine names the engine that builds this runner's jails.
func (r *Runner) Engine() string { return r.engine.name() }

// IDs returns the host uid and gid that jail root maps to.
func (r *Runner) IDs() (int, int) { return r.uid, r.gid }

// Limits returns the effective limits of a call.
func (r *Runner) Limits() profiles.Limits { return r.limits }

// Command is one program to run in a jail.
type Command struct {
	Argv []string
	// Path, when set, is the program's absolute path in the jail, and
	// Argv[0] only its name.
	Path string
	// Dir is the working directory inside the jail; default /workspace.
	Dir string
	// Env are extra variables (K=V) on top of the fixed base.
	Env []string
	// Stdin: an *os.File is given to the jail as is; any other reader is
	// copied in through a pipe; nil means /dev/null.
	Stdin io.Reader
	// Binds are added to the jail's filesystem for this call only.
	Binds []jail.Bind
	// Stdout and Stderr receive the jail's output through pipes, counted
	// against the output cap (nil: discarded, still counted).
	Stdout, Stderr io.Writer
	// Timeout overrides the profile's; 0 keeps it.
	Timeout time.Duration
	// Who asked, for the audit log.
	SessionID, UserID, Channel string
	// Params are the tool parameters as the caller gave them (audited,
	// redacted); nil means {"command": Argv}.
	Params map[string]any
	// callID, when set by Run, names the call in the audit log.
	callID string
}

// program is the path a pre-warmed jail executes.
func (c *Command) program() string {
	if c.Path != "" {
		return c.Path
	}
	return c.Argv[0]
}

// Result is how a call ended and what it used: the status taxonomy of the
// product (a timeout or an OOM kill is an outcome, not a Go error).
type Result struct {
	ExitCode       int    `json:"exitCode"`
	Signal         string `json:"signal,omitempty"`
	TimedOut       bool   `json:"timedOut"`
	OOMKilled      bool   `json:"oomKilled"`
	Canceled       bool   `json:"canceled,omitempty"`
	DurationMs     int64  `json:"durationMs"`
	CPUUserMs      uint64 `json:"cpuUserMs"`
	CPUSystemMs    uint64 `json:"cpuSystemMs"`
	MaxMemoryBytes uint64 `json:"maxMemoryBytes"`
	// OutputTruncated: stdout+stderr exceeded maxOutput; the rest was
	// read and discarded, so the command was not disturbed.
	OutputTruncated bool  `json:"outputTruncated"`
	OutputBytes     int64 `json:"outputBytes"`
	// SetupMs is the time from the call to the jailed process running.
	SetupMs float64 `json:"setupMs"`
	// Prewarmed: the jail was built before the call arrived (and served
	// this call alone).
	Prewarmed bool `json:"prewarmed,omitempty"`
	// BlockedSyscalls are the dangerous system calls the jail attempted
	// and the filter refused (reported by the seccomp supervisor).
	BlockedSyscalls []seccomp.Blocked `json:"blockedSyscalls"`
}

// ErrPolicy is wrapped by refusals of the profile (not of the kernel).
var ErrPolicy = errors.New("denied by policy")

// Exec runs cmd with the exec tier of the profile. It returns an error
// only when the call could not run as asked (policy, setup); how the
// program ended is in the Result.
func (r *Runner) Exec(ctx context.Context, cmd Command) (*Result, error) {
	p := r.opts.Profile
	if cmd.Params == nil {
		cmd.Params = map[string]any{"command": cmd.Argv}
	}
	if cmd.callID == "" {
		cmd.callID = newCallID()
	}
	rec := audit.Record{Timestamp: time.Now().UTC(), SessionID: cmd.SessionID, UserID: cmd.UserID, Channel: cmd.Channel,
		Tool: "exec", Parameters: cmd.Params, CallID: cmd.callID, Profile: p.Name}
	if len(cmd.Argv) == 0 {
		return nil, errors.New("no command")
	}
	if err := r.checkExec(cmd); err != nil {
		rec.Action, rec.Decision, rec.Reason = "denial", "deny", err.Error()
		return nil, errors.Join(err, r.record(rec))
	}
	res, err := r.run(ctx, p.ExecTier, cmd)
	rec.Action, rec.Decision, rec.Limits, rec.Engine = "tool_call", "allow", r.limits, r.Engine()
	if err != nil {
		rec.Reason = err.Error()
		rec.Result = &audit.Outcome{Success: false, ExitCode: -1}
		rec.DurationMs = time.Since(rec.Timestamp).Milliseconds()
	} else {
		rec.Result = &audit.Outcome{Success: res.ExitCode == 0 && !res.TimedOut, ExitCode: res.ExitCode}
		rec.DurationMs = res.DurationMs
		rec.Usage = map[string]any{"cpuUserMs": res.CPUUserMs, "cpuSystemMs": res.CPUSystemMs, "maxMemoryBytes": res.MaxMemoryBytes,
			"timedOut": res.TimedOut, "oomKilled": res.OOMKilled, "outputTruncated": res.OutputTruncated, "signal": res.Signal}
		if len(res.BlockedSyscalls) > 0 {
			rec.Blocked = res.BlockedSyscalls
		}
	}
	if aerr := r.record(rec); aerr != nil {
		return res, aerr
	}
	return res, err
}

// checkExec applies the profile and the command policy to an exec call.
func (r *Runner) checkExec(cmd Command) error {
	p := r.opts.Profile
	switch {
	case !p.Allows("exec") || p.ExecTier == "":
		return fmt.Errorf("%w: profile %q does not allow exec", ErrPolicy, p.Name)
	case r.opts.ExecDisabled:
		return fmt.Errorf("%w: exec is disabled (tools.exec.mode is \"deny\")", ErrPolicy)
	case r.opts.Exec == nil:
		return nil
	}
	var d policy.Decision
	if s, ok := cmd.Params["command"].(string); ok {
		d = r.opts.Exec.Check(s) // a shell string, as exec gives it to sh -c
	} else {
		d = r.opts.Exec.CheckArgv(cmd.Argv)
	}
	if !d.Allowed {
		return fmt.Errorf("%w: %s", ErrPolicy, d.Reason)
	}
	return nil
}

// record appends to the audit log, if any.
func (r *Runner) record(rec audit.Record) error {
	if r.opts.Audit == nil {
		return nil
	}
	return r.opts.Audit.Append(rec)
}

// newCallID returns a random call id.
func newCallID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (r *Runner) run(ctx context.Context, tier string, cmd Command) (*Result, error) {
	start := time.Now()
	tr := newTrace(start)
	defer tr.print()
	lim := r.limits
	timeout := lim.Timeout.D()
	if cmd.Timeout > 0 {
		timeout = cmd.Timeout
	}
	dir := cmd.Dir
	if dir == "" {
		dir = WorkspaceDir
	}
	return r.engine.run(ctx, &plannedCall{tier: tier, cmd: cmd, env: Env(r.opts.Term, cmd.Env), dir: dir,
		timeout: timeout, start: start, tr: tr})
}

// plannedCall is one call as the runner resolved it, for an engine.
type plannedCall struct {
	tier    string
	cmd     Command
	env     []string
	dir     string
	timeout time.Duration
	start   time.Time
	tr      *trace
}

// engine builds the jail of one call from the runner's plan, runs it and
// reports how it ended. nativeEngine (package jail) is the default;
// runcEngine (runc.go) builds the same jail with libcontainer.
type engine interface {
	name() string
	run(ctx context.Context, c *plannedCall) (*Result, error)
}

// nativeEngine is the engine of package jail: cold jails, or pre-warmed
// ones taken from the runner's pool.
type nativeEngine struct{ r *Runner }

func (nativeEngine) name() string { return EngineNative }

func (e nativeEngine) run(ctx context.Context, c *plannedCall) (*Result, error) {
	r, tier, cmd, env, dir, timeout, start, tr := e.r, c.tier, c.cmd, c.env, c.dir, c.timeout, c.start, c.tr
	var proc *jail.Process
	j := r.takeWarm(tier, cmd, env, dir)
	if j != nil {
		// A pre-warmed jail: built before this call, used by it alone.
		j.out.dst = [2]io.Writer{cmd.Stdout, cmd.Stderr}
		var err error
		proc, err = j.pend.Exec(cmd.program(), cmd.Argv, env, dir)
		tr.mark("warm exec")
		if err != nil {
			j.close()
			return nil, err
		}
		j.proc = proc
		go feedStdin(j.stdinW, cmd.Stdin)
	} else {
		var err error
		if j, err = r.build(tier, &cmd, env, dir, tr); err != nil {
			return nil, err
		}
		proc = j.proc
		tr.mark("jail start")
	}
	defer r.afterResult(ctx, func() {
		j.close()
		tr.mark("teardown")
		// The next call's jail is built once this one is over, so that
		// building it does not compete with this call for the CPU; here,
		// so that Close waits for it too.
		if r.opts.Prewarm > 0 && tier == r.opts.Profile.ExecTier {
			r.prewarm(tier)
		}
	})
	if j.feed != nil {
		go j.feed()
	}
	cg, _ := j.cg.get() // placed: the jail is running
	j.out.start()
	var sup *seccomp.Supervisor
	if l := proc.Listener(); l >= 0 {
		var err error
		if sup, err = seccomp.Supervise(l); err != nil {
			proc.Kill()
			proc.Wait()
			return nil, err
		}
	}
	res := &Result{SetupMs: float64(time.Since(start).Microseconds()) / 1000, Prewarmed: j.pend != nil}

	stop := watch(ctx, timeout, func() {
		proc.Kill()
		cg.Kill()
	})
	st, werr := proc.Wait()
	res.TimedOut, res.Canceled = stop()
	tr.mark("wait")
	res.OutputBytes, res.OutputTruncated = j.out.wait()
	if sup != nil {
		res.BlockedSyscalls = sup.Stop()
	}
	// Whatever the jail's init left (it cannot: its pid namespace dies
	// with it) is killed before the stats are read and the cgroup removed.
	cg.Kill()
	res.DurationMs = time.Since(start).Milliseconds()
	if werr != nil {
		return nil, werr
	}
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
	return res, nil
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
