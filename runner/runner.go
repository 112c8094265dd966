// Package runner runs one tool call end to end. Its Run is the single
// pipeline every transport (CLI, gateway, MCP, the OpenClaw plugin) goes
// through:
//
//	call -> parameters and policy (request.go) -> plan (plan.go)
//	     -> audit intent -> engine: cgroup + seccomp + jail (native.go, runc.go)
//	     -> stream (stream.go) -> audit outcome -> result event -> teardown
//
// It is the only package that wires the mechanisms together; each of them
// (plan, jail, seccomp, cgroups) knows nothing of the others, and the
// profile and config decide what they apply.
package runner

import (
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
	"github.com/openclaw-run/openclaw-run/hostpath"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/seccomp"
	"github.com/openclaw-run/openclaw-run/staging"
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

// Options configure a Runner: what the operator decided. A call may only
// narrow them.
type Options struct {
	Profile *profiles.Profile
	// Workspace is the host directory bound read-write at /workspace.
	Workspace string
	// UID and GID are the host ids jail root maps to; 0 means: the owner
	// of the workspace when that is not root, else DefaultJailID. An
	// unprivileged runner always maps to itself.
	UID, GID int
	// Limits override the profile's limits field by field (the operator's
	// config and CLI flags; a call's own parameters only narrow).
	Limits profiles.Limits
	// Term is the TERM value passed into the jail (the CLI passes its own).
	Term string
	// FS is tools.fs: allowed and denied host paths.
	FS FSPolicy
	// Exec is the exec command policy (nil: none); ExecDisabled refuses
	// exec altogether (OpenClaw's tools.exec.mode "deny").
	Exec         *policy.Exec
	ExecDisabled bool
	// Audit receives the intent of every call before its jail exists, its
	// outcome after, and every refusal. nil only in tests: a transport
	// always gives one (an unwritable audit log refuses every call).
	Audit Auditor
	// AuditSync says when a call's intent must be on disk (fdatasync):
	// AuditSyncBeforeResult (the default: written before the jail runs,
	// on disk before the result) or AuditSyncBeforeJail.
	AuditSync string
	// ToolBinary serves the file tools inside their jails (helper mode);
	// default: this executable.
	ToolBinary string
	// Secrets resolves the secrets a call names (exec secretEnv).
	Secrets SecretResolver
	// Prewarm keeps up to this many jails of the exec tier built ahead of
	// their calls (0: none). Each serves one call (see warm.go). The
	// native engine only.
	Prewarm int
	// Staging puts every call's workspace writes in a staging layer of
	// its own (package staging): StagingOn, StagingOff, or StagingAuto
	// (the default: on when this runner can make the layers, i.e. it is
	// root). Review "hold" keeps a call's changes until they are approved;
	// OnAbort "commit" keeps the changes of a call that timed out, was
	// canceled or OOM-killed (the default discards them).
	Staging string
	Review  string
	OnAbort string
	// UndoAge and UndoBytes bound how long, and how much, the workspace
	// keeps committed calls' pre-images for undo (sandbox.undoRetention).
	UndoAge   time.Duration
	UndoBytes int64
	// Network is the network of exec jails: plan.NetworkNone or
	// plan.NetworkAllowlist ("": the profile's). Egress is the operator's
	// allowlist, which a call may only narrow (egress.Policy.Narrow).
	Network string
	Egress  Egress
	// Engine builds the jails: "native" (default) or "runc" (see runc.go).
	Engine string
	// RuncHelper is the runc engine's helper binary; default:
	// openclaw-run-runc beside this executable.
	RuncHelper string
	// Background tears a call's jail down after its result event, in
	// the background (a gateway: the client does not wait for unmounts
	// and cgroup removal); Close waits for it. Otherwise inline, before
	// Run returns (the CLI).
	Background bool
	// Warn receives warnings about what the runner had to adjust (a
	// resource limit clamped to what it may set). nil: stderr.
	Warn func(msg string)
}

// FSPolicy is tools.fs after configuration: extra host paths to show, and
// host paths (globs) never to show, whatever else would.
type FSPolicy struct {
	Allowed []AllowedPath
	Denied  []string
	// Paths judges every host path a jail is given (allowed paths and
	// per-call binds), symlinks resolved; nil: hostpath.Default.
	Paths *hostpath.Policy
}

// AllowedPath is a host path bound into the jail: at the same path, or at
// Target.
type AllowedPath struct {
	Path     string
	Target   string
	Writable bool
}

// SecretResolver finds the value of a secret a call names
// (*secrets.Resolver): only names the operator declared, never the
// gateway's own credentials.
type SecretResolver interface {
	ForCall(name string) (string, error)
}

// Staging modes (Options.Staging).
const (
	StagingAuto = "auto"
	StagingOn   = "on"
	StagingOff  = "off"
)

// Store returns the workspace's staging store, or nil (no staging): the
// CLI's and the gateway's changes, approve, reject and undo.
func (r *Runner) Store() *staging.Store {
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	return r.store
}

// holdStore keeps the staging store open for a call until releaseStore.
// A runner the gateway closed may still serve a call (one in flight when
// its runner was replaced, or one that took it just before): the store
// closes when the last such call ends, and a call on a closed runner
// opens it again. A store closed under a running call lost its changes.
func (r *Runner) holdStore() error {
	if !r.staged {
		return nil
	}
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	if r.store == nil {
		st, err := staging.OpenStore(r.opts.Workspace)
		if err != nil {
			return err
		}
		r.store = st
	}
	r.inflight++
	return nil
}

func (r *Runner) releaseStore() {
	if !r.staged {
		return
	}
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	r.inflight--
	r.closeIdleStore()
}

// closeIdleStore closes the store of a closed runner that no call holds
// (storeMu held).
func (r *Runner) closeIdleStore() {
	if r.closed && r.inflight == 0 && r.store != nil {
		r.store.Close()
		r.store = nil
	}
}

// When a call's intent reaches the disk. Both write it before anything of
// the call runs, so it survives the death of the runner (crash, OOM,
// kill -9): the kernel holds it. They differ on power loss in the
// fraction of a millisecond between the jail's start and the sync, and in
// cost: an fdatasync (0.15-0.5 ms here) on every call's path, or in
// parallel with it (docs/design.md).
const (
	AuditSyncBeforeResult = "before-result"
	AuditSyncBeforeJail   = "before-jail"
)

// Auditor is the audit log as the runner uses it (*audit.Log).
type Auditor interface {
	// Intent durably records a call before any of its code runs; an error
	// refuses the call.
	Intent(audit.Record) (audit.IntentRef, error)
	// IntentThenSync records it, written (in the kernel) when it returns,
	// and returns a wait for the sync.
	IntentThenSync(audit.Record) (audit.IntentRef, func() error, error)
	// Append records an outcome or a refusal.
	Append(audit.Record) error
	// AddSecret redacts a value from every later record.
	AddSecret(string)
}

// Runner runs calls in fresh jails. It is safe for concurrent use.
type Runner struct {
	opts     Options
	limits   profiles.Limits
	uid, gid int
	paths    *hostpath.Policy
	warm     warmPool
	engine   engine
	// staged says that calls write through staging layers; store is the
	// workspace's staging store, open while the runner is or a call runs
	// (holdStore), nil otherwise.
	staged   bool
	storeMu  sync.Mutex
	store    *staging.Store
	inflight int  // calls holding the store
	closed   bool // Close was called
	// teardowns counts the calls whose teardown runs after their result
	// (Options.Background); Close waits for them.
	teardowns sync.WaitGroup
}

// New checks the options. Nothing is created on the host, and nothing of
// the jail is decided yet: every call's plan is made when it starts.
func New(o Options) (*Runner, error) {
	if o.Profile == nil {
		return nil, errors.New("runner: no profile")
	}
	r := &Runner{opts: o, limits: o.Profile.Limits.Override(o.Limits), paths: o.FS.Paths}
	if err := r.limits.Validate(); err != nil {
		return nil, fmt.Errorf("runner: limits: %w", err)
	}
	ws, err := os.Stat(o.Workspace)
	if err != nil {
		return nil, fmt.Errorf("runner: workspace: %w", err)
	}
	if !ws.IsDir() {
		return nil, fmt.Errorf("runner: workspace %s is not a directory", o.Workspace)
	}
	if r.paths == nil {
		r.paths = hostpath.Default("", "", nil)
	}
	if r.opts.Network == "" {
		r.opts.Network = o.Profile.Network
	}
	switch r.opts.Network {
	case plan.NetworkNone:
	case plan.NetworkAllowlist:
		if r.opts.Egress == nil {
			return nil, errors.New("runner: network allowlist without an egress policy (sandbox.network)")
		}
	default:
		return nil, fmt.Errorf("runner: unknown network %q (none, allowlist)", r.opts.Network)
	}
	// What every call of this process needs and computes once (the
	// tier's filter, the host's layout of system paths) is made now, on
	// another core, while the rest of the runner and its first call's
	// request, plan and audit intent are: a cold CLI call waited for both
	// in turn. A call that needs them first waits for the same result.
	if o.Profile.ExecTier != "" {
		go seccomp.Compile(o.Profile.ExecTier)
	}
	go hostLayout()
	r.uid, r.gid = ChooseIDs(ws, o.UID, o.GID)
	if st, ok := ws.Sys().(*syscall.Stat_t); ok && r.uid == DefaultJailID && st.Uid == 0 && ws.Mode().Perm()&0o002 == 0 {
		// The first run of a new user, as root in a directory of root's:
		// say why the command will get "Permission denied" on its writes.
		r.warn("the workspace %s is root's, and jail root maps to uid %d (nobody), which cannot write it: "+
			"chown %d:%d %s, or map jail root to the uid that should own the files with --uid UID (sandbox.uid)",
			o.Workspace, DefaultJailID, DefaultJailID, DefaultJailID, o.Workspace)
	}
	if r.engine, err = r.newEngine(); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	switch o.Staging {
	case "", StagingAuto:
		if staging.Available() != nil {
			break
		}
		fallthrough
	case StagingOn:
		if err := staging.Available(); err != nil {
			return nil, fmt.Errorf("runner: sandbox.staging is on, but %v (set it to auto or off)", err)
		}
		// Opening the store finishes a commit a crash interrupted.
		if r.store, err = staging.OpenStore(o.Workspace); err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
		r.staged = true
	case StagingOff:
	default:
		return nil, fmt.Errorf("runner: unknown staging mode %q (auto, on, off)", o.Staging)
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

// Limits returns the limits of a call that does not narrow them.
func (r *Runner) Limits() profiles.Limits { return r.limits }

// Profile returns the runner's profile.
func (r *Runner) Profile() *profiles.Profile { return r.opts.Profile }

// warn reports an adjustment the runner made.
func (r *Runner) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.opts.Warn != nil {
		r.opts.Warn(msg)
		return
	}
	fmt.Fprintf(os.Stderr, "openclaw-run: warning: %s\n", msg)
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
