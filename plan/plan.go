// Package plan is the value that describes one tool call's jail: what the
// runner decided at the call's start, from the profile, the config and the
// call, and what every engine applies without deciding anything.
//
//	call -> policy -> plan.Plan -> cgroup + seccomp + jail (native or runc) -> stream -> audit
//
// A Plan is data: it is built once per call (globs expanded, symlinks
// resolved, limits narrowed), checked by one Validate that both engines
// run (the native engine in package jail, the runc engine in its helper
// binary, which receives the Plan as JSON), compared field by field to
// decide whether a pre-warmed jail may serve a call, and recorded in the
// audit log. It has no behaviour of its own and imports nothing of the
// product, so that the lowest layer (jail) can depend on it.
package plan

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"
)

// Plan is one call: its command, its jail and the limits in force.
type Plan struct {
	// CallID names the call in the audit log and in the result.
	CallID string `json:"callId"`
	// Tool is the tool being called (exec, read, ...).
	Tool string `json:"tool"`
	// Command is what runs in the jail. It is the only part a
	// pre-warmed jail receives after it was built.
	Command Command `json:"command"`
	// Jail is everything the jail is built from before its command
	// arrives. A pre-warmed jail serves a call only when its Jail equals
	// the call's (SameJail).
	Jail Jail `json:"jail"`
	// Limits are the per-call limits in force, after the call narrowed
	// what the profile and config allow.
	Limits Limits `json:"limits"`
}

// Command is the program of a call.
type Command struct {
	// Args is the command line. Args[0] is an absolute path inside the
	// jail, or a bare name looked up in the PATH of Env (as execvp does).
	Args []string `json:"args"`
	// Path, when set, is the absolute path of the program to run, and
	// Args[0] only its name (as execve takes them); no PATH search.
	Path string `json:"path,omitempty"`
	// Env is the complete environment of the jailed process. Nothing of
	// the runner's own environment is added.
	Env []string `json:"env"`
	// Dir is the working directory inside the jail (absolute).
	Dir string `json:"dir"`
	// Pty, when set, gives the command a pseudo-terminal of the jail's
	// own devpts instance as its stdin, stdout, stderr and controlling
	// terminal, of this size.
	Pty *Pty `json:"pty,omitempty"`
}

// Pty is a terminal's size in characters.
type Pty struct {
	Cols uint16 `json:"cols"`
	Rows uint16 `json:"rows"`
}

// Jail is the jail itself: namespaces are always all of them; these are
// the parts that vary.
type Jail struct {
	// Hostname is set in the jail's UTS namespace.
	Hostname string `json:"hostname"`
	// HostUID and HostGID are the host ids that root inside the jail maps
	// to. Never 0: root in the jail is never root on the host.
	HostUID int `json:"hostUid"`
	HostGID int `json:"hostGid"`
	// Binds are host paths made visible in the jail, in order.
	Binds []Bind `json:"binds"`
	// Masks hide paths below the binds (deniedPaths): a directory gets an
	// empty read-only tmpfs, a file /dev/null. Deny beats allow.
	Masks []Mask `json:"masks,omitempty"`
	// Pins are directories (jail paths, below a writable bind) bound onto
	// themselves so that they are mount points: rename(2), rmdir(2) and
	// unlink(2) of a mount point fail with EBUSY in the jail's mount
	// namespace, so a call cannot move a masked path away from the name
	// the next call's plan looks for (see docs/design.md, "Denied paths").
	Pins []string `json:"pins,omitempty"`
	// Files are synthesized regular files (the jail's /etc) created in
	// the read-only root before it is sealed.
	Files []File `json:"files"`
	// Symlinks are created in the root, e.g. the merged-usr links.
	Symlinks []Symlink `json:"symlinks"`
	// TmpSize bounds the tmpfs at /tmp and /dev/shm, in bytes: an
	// unbounded tmpfs is host memory.
	TmpSize int64 `json:"tmpSize"`
	// Rlimits are applied before execve.
	Rlimits []Rlimit `json:"rlimits"`
	// Tier names the seccomp tier loaded at the end of the jail's setup.
	Tier string `json:"tier"`
	// Network is the jail's network.
	Network Network `json:"network"`
	// Memory, CPUs and Pids are the call's cgroup limits.
	Memory int64   `json:"memory"`
	CPUs   float64 `json:"cpus"`
	Pids   int64   `json:"pids"`
	// Staging, when set, puts the call's writes to its workspace in a
	// staging layer of its own (package staging): the bind marked Staged
	// gets an overlay whose upper layer holds at most Disk bytes and
	// Inodes inodes, and the runner commits, holds or discards it after
	// the call.
	Staging *Staging `json:"staging,omitempty"`
}

// Staging is a call's staging layer's limits.
type Staging struct {
	Disk   int64 `json:"disk"`
	Inodes int64 `json:"inodes"`
}

// Network is what the jail's network namespace holds: always a fresh one
// with only loopback up.
type Network struct {
	// Mode is NetworkNone (loopback only) or NetworkAllowlist (loopback,
	// and a proxy listener that the jail's setup creates inside the
	// namespace and hands to the runner, which serves the call's egress
	// allowlist through it).
	Mode string `json:"mode"`
	// ProxyPort is the loopback port of that listener (allowlist only).
	ProxyPort int `json:"proxyPort,omitempty"`
}

// Network modes.
const (
	NetworkNone      = "none"
	NetworkAllowlist = "allowlist"
)

// Limits are a call's limits that are not part of its jail.
type Limits struct {
	// TimeoutMs kills the whole jail when it passes.
	TimeoutMs int64 `json:"timeoutMs"`
	// MaxOutput caps stdout+stderr; the rest is read and discarded.
	MaxOutput int64 `json:"maxOutput"`
}

// Bind makes the host path Source visible at Target inside the jail.
type Bind struct {
	// Source is an absolute host path without symlinks in any component
	// (the runner resolved them). Engines open it with
	// RESOLVE_NO_SYMLINKS, so a component swapped for a symlink after
	// resolution fails the start instead of binding elsewhere.
	Source string `json:"source"`
	// Target is an absolute path inside the jail.
	Target string `json:"target"`
	// Writable binds stay read-write; every other bind is read-only. All
	// binds are nosuid and nodev, recursively.
	Writable bool `json:"writable,omitempty"`
	// File: the source is a regular file (its mount point is a file).
	File bool `json:"file,omitempty"`
	// Staged: the jail sees the staging layer over Source, not Source
	// itself (Jail.Staging).
	Staged bool `json:"staged,omitempty"`
}

// Mask hides Path (inside the jail); Dir says whether it is a directory.
type Mask struct {
	Path string `json:"path"`
	Dir  bool   `json:"dir,omitempty"`
}

// File is a synthesized regular file in the jail's root.
type File struct {
	Path string `json:"path"`
	Data []byte `json:"data"`
	Mode uint32 `json:"mode"`
}

// Symlink is a symbolic link at Path pointing to Target.
type Symlink struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// Rlimit is one setrlimit(2) resource.
type Rlimit struct {
	Resource int    `json:"resource"`
	Cur      uint64 `json:"cur"`
	Max      uint64 `json:"max"`
}

// SameJail reports whether a jail built for p may serve q: every part of
// the jail is equal (the command, the call id and the per-call limits may
// differ). A pre-warmed jail built before a deniedPaths glob matched a new
// file, or before a limit changed, is therefore never used.
func SameJail(p, q *Plan) bool {
	return reflect.DeepEqual(p.Jail, q.Jail)
}

// Reserved are jail paths the jail itself builds; a plan may not bind,
// mask or synthesize over them (the masked /proc, the minimal /dev, the
// private /tmp) nor over the root.
var Reserved = []string{"/", "/proc", "/dev", "/tmp", "/.oldroot"}

// Masked and read-only /proc paths of every jail, under either engine:
// runc's defaults (runtime-spec config-linux.md maskedPaths and
// readonlyPaths): kernel memory, keys, timers and scheduler details of
// the host, and the writable sysctl tree.
var (
	MaskedProcFiles = []string{"/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/sysrq-trigger", "/proc/kallsyms",
		"/proc/kpagecount", "/proc/kpageflags", "/proc/kpagecgroup", "/proc/interrupts"}
	MaskedProcDirs    = []string{"/proc/acpi", "/proc/scsi", "/proc/asound", "/proc/firmware", "/proc/driver"}
	ReadonlyProcPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"}
)

// Devices are the host character devices bound into every jail's /dev:
// the ones every program may expect. Nothing else of the host's /dev
// (disks, kmsg, mem, the runner's tty) is visible.
var Devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// DevSymlinks are the links of every jail's /dev.
var DevSymlinks = []Symlink{{Path: "/dev/ptmx", Target: "pts/ptmx"}, {Path: "/dev/fd", Target: "/proc/self/fd"},
	{Path: "/dev/stdin", Target: "/proc/self/fd/0"}, {Path: "/dev/stdout", Target: "/proc/self/fd/1"},
	{Path: "/dev/stderr", Target: "/proc/self/fd/2"}}

// check is one named rule a plan must pass (runc's
// libcontainer/configs/validate style: small, named, all reported).
type check struct {
	name string
	fn   func(*Plan) error
}

// commandChecks apply to the command; jailChecks to the jail. A jail built
// ahead of its command (pre-warmed) is checked with jailChecks only, and
// its command with commandChecks when it arrives.
var commandChecks = []check{
	{"command", func(p *Plan) error {
		if len(p.Command.Args) == 0 || p.Command.Args[0] == "" {
			return errors.New("no command")
		}
		return nil
	}},
	{"program path", func(p *Plan) error {
		if p.Command.Path != "" && !path.IsAbs(p.Command.Path) {
			return fmt.Errorf("%q is not absolute", p.Command.Path)
		}
		return noNUL(p.Command.Path)
	}},
	{"working directory", func(p *Plan) error {
		if !clean(p.Command.Dir) {
			return fmt.Errorf("%q is not a clean absolute path", p.Command.Dir)
		}
		return noNUL(p.Command.Dir)
	}},
	{"arguments", func(p *Plan) error {
		for _, a := range p.Command.Args {
			if err := noNUL(a); err != nil {
				return err
			}
		}
		return nil
	}},
	{"environment", func(p *Plan) error {
		for _, e := range p.Command.Env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" || strings.IndexByte(e, 0) >= 0 {
				return fmt.Errorf("malformed entry %q", e)
			}
		}
		return nil
	}},
	{"pty", func(p *Plan) error {
		if t := p.Command.Pty; t != nil && (t.Cols == 0 || t.Rows == 0) {
			return fmt.Errorf("size %dx%d", t.Cols, t.Rows)
		}
		return nil
	}},
}

var jailChecks = []check{
	{"host ids", func(p *Plan) error {
		if p.Jail.HostUID <= 0 || p.Jail.HostGID <= 0 {
			return fmt.Errorf("jail root must map to an unprivileged host uid:gid, got %d:%d", p.Jail.HostUID, p.Jail.HostGID)
		}
		return nil
	}},
	{"hostname", func(p *Plan) error {
		if h := p.Jail.Hostname; h == "" || len(h) > 64 || strings.ContainsAny(h, "/\x00") {
			return fmt.Errorf("invalid hostname %q", h)
		}
		return nil
	}},
	{"seccomp tier", func(p *Plan) error {
		if p.Jail.Tier == "" {
			return errors.New("no seccomp tier: a jail never runs unfiltered")
		}
		return nil
	}},
	{"limits", func(p *Plan) error {
		j := p.Jail
		if j.Memory <= 0 || j.CPUs <= 0 || j.Pids <= 0 || j.TmpSize <= 0 {
			return fmt.Errorf("every limit must be set (memory %d, cpus %g, pids %d, tmp %d): an unbounded call is a host at risk",
				j.Memory, j.CPUs, j.Pids, j.TmpSize)
		}
		return nil
	}},
	{"binds", func(p *Plan) error {
		var errs []error
		for _, b := range p.Jail.Binds {
			if !clean(b.Source) {
				errs = append(errs, fmt.Errorf("source %q is not a clean absolute path", b.Source))
			}
			if err := target(b.Target); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", b.Source, err))
			}
		}
		return errors.Join(errs...)
	}},
	{"masks", func(p *Plan) error {
		var errs []error
		for _, m := range p.Jail.Masks {
			if err := target(m.Path); err != nil {
				errs = append(errs, err)
			}
		}
		for _, d := range p.Jail.Pins {
			if err := target(d); err != nil {
				errs = append(errs, fmt.Errorf("pin: %w", err))
			}
		}
		return errors.Join(errs...)
	}},
	{"files", func(p *Plan) error {
		var errs []error
		for _, f := range p.Jail.Files {
			if err := target(f.Path); err != nil {
				errs = append(errs, err)
			}
			// No setuid, setgid or sticky bit on anything the runner
			// creates (the root is nosuid too, but a plan is refused
			// rather than trusted to that).
			if f.Mode&^0o777 != 0 {
				errs = append(errs, fmt.Errorf("%s: mode %o has special bits", f.Path, f.Mode))
			}
		}
		for _, l := range p.Jail.Symlinks {
			if err := target(l.Path); err != nil {
				errs = append(errs, fmt.Errorf("symlink: %w", err))
			}
			if err := noNUL(l.Target); err != nil {
				errs = append(errs, fmt.Errorf("symlink %s: %w", l.Path, err))
			}
		}
		return errors.Join(errs...)
	}},
	{"staging", func(p *Plan) error {
		staged := 0
		for _, b := range p.Jail.Binds {
			if b.Staged {
				staged++
				if !b.Writable || b.File {
					return fmt.Errorf("the staged bind %s must be a writable directory", b.Target)
				}
			}
		}
		switch s := p.Jail.Staging; {
		case s == nil && staged > 0:
			return errors.New("a staged bind without a staging layer")
		case s != nil && staged != 1:
			return fmt.Errorf("a staging layer needs exactly one staged bind, got %d", staged)
		case s != nil && (s.Disk <= 0 || s.Inodes <= 0):
			return fmt.Errorf("staging limits must be set (disk %d, inodes %d)", s.Disk, s.Inodes)
		}
		return nil
	}},
	{"network", func(p *Plan) error {
		switch n := p.Jail.Network; n.Mode {
		case NetworkNone:
			if n.ProxyPort != 0 {
				return errors.New("a proxy port without the allowlist mode")
			}
		case NetworkAllowlist:
			if n.ProxyPort <= 0 || n.ProxyPort > 65535 {
				return fmt.Errorf("proxy port %d out of range", n.ProxyPort)
			}
		default:
			return fmt.Errorf("unknown mode %q (none, allowlist)", n.Mode)
		}
		return nil
	}},
}

// Validate runs every check of the command and the jail and reports all
// failures. Both engines run it before anything touches the kernel.
func (p *Plan) Validate() error {
	return errors.Join(run(p, commandChecks), run(p, jailChecks))
}

// ValidateJail checks the jail alone: a pre-warmed jail is built before
// its command exists.
func (p *Plan) ValidateJail() error { return run(p, jailChecks) }

// ValidateCommand checks the command alone: what a pre-warmed jail
// receives.
func (p *Plan) ValidateCommand() error { return run(p, commandChecks) }

func run(p *Plan, checks []check) error {
	var errs []error
	for _, c := range checks {
		if err := c.fn(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid plan: %w", err)
	}
	return nil
}

// clean reports whether p is an absolute path in its cleanest form.
func clean(p string) bool { return path.IsAbs(p) && path.Clean(p) == p }

// target checks a path inside the jail: clean, absolute, not reserved.
func target(p string) error {
	if !clean(p) {
		return fmt.Errorf("target %q is not a clean absolute path", p)
	}
	if err := noNUL(p); err != nil {
		return err
	}
	for _, r := range Reserved {
		if p == r || (r != "/" && strings.HasPrefix(p, r+"/")) {
			return fmt.Errorf("target %q is reserved by the jail", p)
		}
	}
	return nil
}

func noNUL(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%q contains a NUL byte", s)
	}
	return nil
}

// MountPoints returns the directories a root must have for binds, files,
// links and the extra directories, with their parents, parents first, and
// which bind targets are files (they need an empty file to bind onto).
func MountPoints(j *Jail, extra ...string) (dirs []string, fileTargets map[string]bool) {
	dirs = append([]string(nil), extra...)
	fileTargets = map[string]bool{}
	for _, b := range j.Binds {
		if b.File {
			dirs = append(dirs, path.Dir(b.Target))
			fileTargets[b.Target] = true
		} else {
			dirs = append(dirs, b.Target)
		}
	}
	for _, f := range j.Files {
		dirs = append(dirs, path.Dir(f.Path))
	}
	for _, l := range j.Symlinks {
		dirs = append(dirs, path.Dir(l.Path))
	}
	return WithParents(dirs), fileTargets
}

// WithParents returns dirs and all their ancestors (except /), sorted so
// that parents come first, without duplicates.
func WithParents(dirs []string) []string {
	set := map[string]bool{}
	for _, d := range dirs {
		for d != "/" && d != "." && d != "" && !set[d] {
			set[d] = true
			d = path.Dir(d)
		}
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
