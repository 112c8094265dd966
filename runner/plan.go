package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/openclaw-run/openclaw-run/hostpath"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/openclaw-run/openclaw-run/profiles"
	"golang.org/x/sys/unix"
)

// HelperPath is where the tool helper binary appears in a file tool's jail.
const HelperPath = "/run/openclaw-run/tool"

// ProxyPort is the loopback port of the egress proxy's listener inside a
// jail whose network is an allowlist: any port would do, the namespace is
// the jail's own; 3128 is the one proxies are known by.
const ProxyPort = 3128

// limitsOf returns the limits of a call: the runner's, narrowed by what
// the call asked (a value above the runner's keeps the runner's).
func (r *Runner) limitsOf(req *request) profiles.Limits {
	l := r.limits
	narrow := func(cur *profiles.Size, want profiles.Size) {
		if want > 0 && want < *cur {
			*cur = want
		}
	}
	narrow(&l.Memory, req.limits.Memory)
	narrow(&l.MaxOutput, req.limits.MaxOutput)
	if req.limits.CPUs > 0 && req.limits.CPUs < l.CPUs {
		l.CPUs = req.limits.CPUs
	}
	if req.limits.Pids > 0 && req.limits.Pids < l.Pids {
		l.Pids = req.limits.Pids
	}
	if req.timeout > 0 && req.timeout < l.Timeout.D() {
		l.Timeout = profiles.Duration(req.timeout)
	}
	return l
}

// plan decides the whole jail of one call, now: the workspace and allowed
// paths resolved and checked against the path policy, the denied globs
// expanded (a file that matches them and was created by an earlier call is
// masked in this one), the limits narrowed, the command resolved.
func (r *Runner) plan(id string, req *request, call *Call) (*plan.Plan, error) {
	lim := r.limitsOf(req)
	tier := r.opts.Profile.ExecTier
	var extra []plan.Bind
	if req.file {
		// The launcher's filter must allow the helper's execve; the
		// helper then narrows itself to the file tier before it touches a
		// file (tools.Serve).
		tier = "coding"
		helper, err := r.helper()
		if err != nil {
			return nil, setupErr("plan", err)
		}
		extra = append(extra, plan.Bind{Source: helper, Target: HelperPath, File: true})
	}
	for _, b := range call.Binds {
		// The CLI's per-call binds: the operator's, judged by the same
		// path policy as allowedPaths.
		bind, err := r.allowed(b)
		if err != nil {
			return nil, err
		}
		extra = append(extra, bind)
	}
	network := req.network
	switch {
	case req.file:
		network = plan.NetworkNone // the file tier has no sockets at all
	case req.warm:
		network = r.opts.Network
	}
	j, err := r.jailPlan(lim, tier, network, extra)
	if err != nil {
		return nil, err
	}
	p := &plan.Plan{CallID: id, Tool: req.tool, Jail: *j,
		Limits: plan.Limits{TimeoutMs: lim.Timeout.D().Milliseconds(), MaxOutput: int64(lim.MaxOutput)}}
	switch {
	case req.warm:
		// A pre-warmed jail: its command comes with its call.
		p.Command = plan.Command{Dir: WorkspaceDir}
		return p, setupErr("plan", p.ValidateJail())
	case req.file:
		p.Command = plan.Command{Args: []string{HelperPath, "__tool", r.opts.Profile.FileTier, req.tool},
			Env: Env("", nil), Dir: WorkspaceDir}
	default:
		p.Command = r.command(req, &p.Jail)
	}
	if err := p.Validate(); err != nil {
		return nil, setupErr("plan", err)
	}
	return p, nil
}

// command is exec's program: a plain command with literal words runs
// without a shell in between (one exec fewer), anything else is sh -c, as
// OpenClaw runs it; the CLI's argv runs as given.
func (r *Runner) command(req *request, j *plan.Jail) plan.Command {
	env := req.env
	if j.Network.Mode == plan.NetworkAllowlist {
		// Last, so that they win: HTTP_PROXY and friends point at the
		// proxy's listener in the jail's own namespace. A program that
		// ignores them reaches nothing: there is no other route out.
		env = append(append([]string(nil), env...), proxyEnv(j.Network.ProxyPort)...)
	}
	c := plan.Command{Env: Env(r.opts.Term, env), Dir: req.dir, Pty: req.pty}
	switch {
	case req.argv != nil:
		c.Args = req.argv
	default:
		c.Args = []string{"/bin/sh", "-c", req.command}
		if words, ok := policy.SimpleArgv(req.command); ok {
			if prog := lookPath(words[0], req.env, j); prog != "" {
				c.Args, c.Path = words, prog
			}
		}
	}
	if c.Path == "" && strings.HasPrefix(c.Args[0], "/") {
		c.Path = c.Args[0]
	}
	if c.Path == "" {
		c.Path = lookPath(c.Args[0], req.env, j)
	}
	return c
}

// jailPlan is the jail of a call with these limits, tier and extra binds.
func (r *Runner) jailPlan(lim profiles.Limits, tier, network string, extra []plan.Bind) (*plan.Jail, error) {
	l, err := hostLayout()
	if err != nil {
		return nil, setupErr("plan", err)
	}
	j := &plan.Jail{
		Hostname: Hostname, HostUID: r.uid, HostGID: r.gid,
		Binds:    append([]plan.Bind(nil), l.binds...),
		Symlinks: l.symlinks,
		Files:    l.files,
		TmpSize:  int64(lim.TmpSize),
		Rlimits:  r.rlimits(lim),
		Tier:     tier,
		Network:  plan.Network{Mode: network},
		Memory:   int64(lim.Memory), CPUs: lim.CPUs, Pids: int64(lim.Pids),
	}
	if network == plan.NetworkAllowlist {
		j.Network.ProxyPort = ProxyPort
	}
	ws, err := filepath.Abs(r.opts.Workspace)
	if err == nil {
		ws, err = filepath.EvalSymlinks(ws)
	}
	if err != nil {
		return nil, setupErr("plan", fmt.Errorf("workspace: %w", err))
	}
	j.Binds = append(j.Binds, plan.Bind{Source: ws, Target: WorkspaceDir, Writable: true, Staged: r.staged})
	if r.staged {
		j.Staging = &plan.Staging{Disk: lim.StagingDisk(), Inodes: lim.StagingInodes()}
	}
	for _, a := range r.opts.FS.Allowed {
		b, err := r.allowed(a)
		if err != nil {
			return nil, err
		}
		j.Binds = append(j.Binds, b)
	}
	j.Binds = append(j.Binds, extra...)
	if err := deny(j, r.opts.FS.Denied); err != nil {
		return nil, err
	}
	return j, nil
}

// allowed resolves an allowed path (or a per-call bind) and checks it
// against the path policy, symlinks resolved, in both directions.
func (r *Runner) allowed(a AllowedPath) (plan.Bind, error) {
	if !filepath.IsAbs(a.Path) {
		return plan.Bind{}, fmt.Errorf("%w: allowed path %q is not absolute", ErrPolicy, a.Path)
	}
	if err := r.paths.Check(a.Path); err != nil {
		return plan.Bind{}, fmt.Errorf("%w: allowed path: %v (list it in tools.fs.force to bind it anyway)", ErrPolicy, err)
	}
	src, err := filepath.EvalSymlinks(a.Path)
	if err != nil {
		return plan.Bind{}, setupErr("plan", fmt.Errorf("allowed path: %w", err))
	}
	st, err := os.Stat(src)
	if err != nil {
		return plan.Bind{}, setupErr("plan", fmt.Errorf("allowed path: %w", err))
	}
	target := filepath.Clean(a.Path)
	if a.Target != "" {
		target = path.Clean(a.Target)
	}
	if hostpath.Within(target, WorkspaceDir) || hostpath.Within(target, HelperPath) {
		return plan.Bind{}, invalidParams("bind target %s would cover the workspace or the tool helper", target)
	}
	return plan.Bind{Source: src, Target: target, Writable: a.Writable, File: !st.IsDir()}, nil
}

// deny applies deniedPaths to j: a bind whose source lies in a denied path
// is dropped, and a denied path inside a bind is masked (deny beats allow;
// the workspace is no exception). The globs are expanded now, at the
// call's start. In a writable bind every directory between the bind and a
// masked path is pinned (plan.Jail.Pins), so that no call can rename the
// masked path out of the name the next call's globs look for.
func deny(j *plan.Jail, patterns []string) error {
	var denied []string
	for _, pat := range patterns {
		m, err := filepath.Glob(pat)
		if err != nil {
			return fmt.Errorf("%w: denied path %q: %v", ErrPolicy, pat, err)
		}
		for _, p := range m {
			r, err := filepath.EvalSymlinks(p)
			if errors.Is(err, os.ErrNotExist) {
				continue // gone since the glob: nothing to hide
			}
			if err != nil {
				// Fail closed: a denied path we cannot resolve might
				// stay visible.
				return setupErr("plan", fmt.Errorf("denied path %s: %w", p, err))
			}
			denied = append(denied, r)
		}
	}
	if len(denied) == 0 {
		return nil
	}
	kept := j.Binds[:0:0]
	for _, b := range j.Binds {
		drop := false
		for _, d := range denied {
			if hostpath.Within(b.Source, d) {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, b)
		}
	}
	j.Binds = kept
	pins := map[string]bool{}
	for _, d := range denied {
		for _, b := range j.Binds {
			if !hostpath.Within(d, b.Source) || d == b.Source {
				continue
			}
			st, err := os.Lstat(d)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return setupErr("plan", fmt.Errorf("denied path %s: %w", d, err))
			}
			// A file with other names is visible through them: this plan
			// cannot find them (they may be anywhere in the bind), so it
			// refuses rather than pretend to hide it.
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && st.Mode().IsRegular() && sys.Nlink > 1 {
				return fmt.Errorf("%w: denied path %s has %d hard links; its other names would stay visible (remove them, or deny the directory that holds them)",
					ErrPolicy, d, sys.Nlink)
			}
			rel, _ := filepath.Rel(b.Source, d)
			target := filepath.Join(b.Target, rel)
			j.Masks = append(j.Masks, plan.Mask{Path: target, Dir: st.IsDir()})
			if b.Writable {
				for dir := filepath.Dir(target); dir != b.Target && dir != "/"; dir = filepath.Dir(dir) {
					pins[dir] = true
				}
			}
		}
	}
	for _, d := range plan.WithParents(keys(pins)) {
		if pins[d] {
			j.Pins = append(j.Pins, d) // parents first
		}
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rlimits are the rlimits of every jail. A runner that may not raise a
// jail's limits above its own hard limits (no CAP_SYS_RESOURCE in the
// initial user namespace: an unprivileged runner, or root in a container
// or a sandbox that dropped it) gets them clamped to those, with a
// warning, rather than a jail that cannot start.
func (r *Runner) rlimits(lim profiles.Limits) []plan.Rlimit {
	out := []plan.Rlimit{
		{Resource: unix.RLIMIT_CORE, Cur: 0, Max: 0},
		{Resource: unix.RLIMIT_NOFILE, Cur: uint64(lim.OpenFiles), Max: uint64(lim.OpenFiles)},
		{Resource: unix.RLIMIT_FSIZE, Cur: uint64(lim.FileSize), Max: uint64(lim.FileSize)},
	}
	if canRaise() {
		return out
	}
	for i := range out {
		var own unix.Rlimit
		if unix.Getrlimit(out[i].Resource, &own) != nil || out[i].Max <= own.Max {
			continue
		}
		clampWarn.Do(func() {
			r.warn("the profile's %s of %d is above this runner's hard limit %d, which it may not raise (no CAP_SYS_RESOURCE): jails get %d (raise the hard limit of the service, e.g. LimitNOFILE= in its systemd unit)",
				rlimitName(out[i].Resource), out[i].Max, own.Max, own.Max)
		})
		out[i].Max = own.Max
		out[i].Cur = min(out[i].Cur, own.Max)
	}
	return out
}

var (
	canRaise  = sync.OnceValue(jail.CanRaiseRlimits)
	clampWarn sync.Once
)

func rlimitName(r int) string {
	switch r {
	case unix.RLIMIT_NOFILE:
		return "openFiles (RLIMIT_NOFILE)"
	case unix.RLIMIT_FSIZE:
		return "fileSize (RLIMIT_FSIZE)"
	}
	return fmt.Sprintf("rlimit %d", r)
}

// lookPath finds name as execvp in the jail would: in the jail's PATH (the
// base one: a call that sets its own PATH keeps sh -c), on the host's
// copy of the system directories the jail binds at the same place, and
// not under a mask. "" means: leave it to sh -c (or to the jail's own
// PATH search).
func lookPath(name string, env []string, j *plan.Jail) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return ""
		}
	}
	var cands []string
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			return "" // relative to the jail's working directory
		}
		cands = []string{name}
	} else {
		for _, dir := range strings.Split(strings.TrimPrefix(Env("", nil)[0], "PATH="), ":") {
			cands = append(cands, dir+"/"+name)
		}
	}
	for _, c := range cands {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			continue
		}
		st, err := os.Stat(real)
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			continue
		}
		bound := false
		for _, b := range j.Binds {
			if b.Source == b.Target && !b.Writable && hostpath.Within(real, b.Source) {
				bound = true
			}
		}
		for _, m := range j.Masks {
			if hostpath.Within(real, m.Path) || hostpath.Within(c, m.Path) {
				return ""
			}
		}
		if !bound {
			return ""
		}
		return c
	}
	return ""
}

// helper returns the host path of the binary that serves file tools: this
// executable, or Options.ToolBinary.
func (r *Runner) helper() (string, error) {
	p := r.opts.ToolBinary
	if p == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("locate the tool helper: %w", err)
		}
		p = exe
	}
	return filepath.EvalSymlinks(p)
}
