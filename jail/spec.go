package jail

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Spec is everything the jail needs to start one process. Every field is
// already decided; Start validates the Spec and refuses it rather than guess.
type Spec struct {
	// Args is the command line. Args[0] is an absolute path inside the jail,
	// or a bare name looked up in the PATH of Env (as execvp does).
	Args []string
	// Path, when set, is the absolute path of the program to run, and
	// Args[0] only its name (as execve takes them); no PATH search.
	Path string
	// Env is the complete environment of the jailed process. Nothing of the
	// runner's own environment is added.
	Env []string
	// Dir is the working directory inside the jail (absolute).
	Dir string
	// Hostname is set in the jail's UTS namespace.
	Hostname string

	// HostUID and HostGID are the host ids that root inside the jail maps to.
	// They must not be 0: root in the jail is never root on the host.
	// When the runner is not root itself, they must be its own ids, the only
	// mapping an unprivileged process may write (user_namespaces(7)).
	HostUID, HostGID int

	// Binds are host paths made visible in the jail, in order.
	Binds []Bind
	// Masks hide paths inside the jail after the binds are in place: a
	// directory gets an empty read-only tmpfs over it, a file /dev/null.
	// (The runner's deniedPaths: deny beats allow.)
	Masks []Mask
	// Files are synthesized files (for example /etc/passwd) created in the
	// jail's read-only root before it is sealed.
	Files []File
	// Symlinks are created in the jail's root, e.g. the merged-usr links.
	Symlinks []Symlink
	// TmpSize is the size limit of the tmpfs mounted at /tmp and /dev/shm,
	// in bytes; required, because an unbounded tmpfs is host memory.
	TmpSize int64
	// Rlimits are applied before execve.
	Rlimits []Rlimit

	// Seccomp is the filter loaded as the last step before execve.
	// A nil filter is refused unless Unfiltered is set.
	Seccomp []unix.SockFilter
	// SeccompNotify loads the filter with a listener (for a filter whose
	// refusals are SECCOMP_RET_USER_NOTIF); Process.Listener returns it.
	SeccompNotify bool
	// Unfiltered runs without a seccomp filter. Only tests and the baseline
	// benchmark set it; no profile can.
	Unfiltered bool

	// Stdin, Stdout and Stderr become fds 0, 1 and 2 in the jail; nil means
	// /dev/null. No other fd crosses into the jail.
	Stdin, Stdout, Stderr *os.File

	// CgroupFD, when > 0, is an open cgroup v2 directory: the child is cloned
	// straight into it (CLONE_INTO_CGROUP), so it never runs outside it.
	CgroupFD int
	// Deferred builds the jail without its command: Prepare returns it
	// waiting, and Pending.Exec gives it Args, Env and Dir (a pre-warmed,
	// single-use jail). Args and Env are then ignored; Dir is created.
	Deferred bool

	// HoldMounts keeps a reference to the jail's mount namespace from the
	// barrier until Process.Release. When the jail's init exits, the
	// kernel then does not unmount the jail's few dozen mounts in that
	// exit, before the runner can reap it: Release does it, after the
	// call's result has gone out.
	HoldMounts bool

	// BeforeExec runs in the parent while the child waits at the barrier,
	// after the id maps are written and before any of the child's setup.
	// cgroup v1 placement happens here (the child has not executed anything
	// of its own yet). An error aborts the start.
	BeforeExec func(pid int) error
}

// Bind makes the host path Source visible at Target inside the jail.
type Bind struct {
	// Source is an absolute host path without symlinks in any component
	// (the caller resolves them). The child opens it with
	// RESOLVE_NO_SYMLINKS, so a component swapped for a symlink after
	// resolution makes the start fail instead of binding elsewhere.
	Source string
	// Target is an absolute path inside the jail.
	Target string
	// Writable binds stay read-write; every other bind is read-only.
	// All binds are nosuid and nodev, recursively.
	Writable bool
}

// Mask hides Path (inside the jail); Dir says whether it is a directory.
type Mask struct {
	Path string
	Dir  bool
}

// File is a synthesized regular file in the jail's root.
type File struct {
	Path string
	Data []byte
	Mode uint32
}

// Symlink is a symbolic link at Path pointing to Target.
type Symlink struct {
	Path, Target string
}

// Rlimit is one setrlimit(2) resource.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// validate is the list of checks a Spec must pass before anything touches
// the kernel. Each returns a specific error.
func (s *Spec) validate() error {
	var errs []error
	if (len(s.Args) == 0 || s.Args[0] == "") && !s.Deferred {
		errs = append(errs, errors.New("no command"))
	}
	if s.Path != "" && !path.IsAbs(s.Path) {
		errs = append(errs, fmt.Errorf("program path %q is not absolute", s.Path))
	}
	if !path.IsAbs(s.Dir) {
		errs = append(errs, fmt.Errorf("working directory %q is not absolute", s.Dir))
	}
	if s.HostUID <= 0 || s.HostGID <= 0 {
		errs = append(errs, fmt.Errorf("jail root must map to an unprivileged host uid:gid, got %d:%d", s.HostUID, s.HostGID))
	}
	if s.Seccomp == nil && !s.Unfiltered {
		errs = append(errs, errors.New("no seccomp filter"))
	}
	if s.SeccompNotify && s.Unfiltered {
		errs = append(errs, errors.New("a listener needs a filter"))
	}
	if len(s.Seccomp) > 0xffff {
		errs = append(errs, fmt.Errorf("seccomp filter too long: %d instructions", len(s.Seccomp)))
	}
	if s.TmpSize <= 0 {
		errs = append(errs, errors.New("tmpfs size must be set"))
	}
	if s.Hostname == "" || len(s.Hostname) > 64 {
		errs = append(errs, fmt.Errorf("invalid hostname %q", s.Hostname))
	}
	for _, b := range s.Binds {
		if !filepath.IsAbs(b.Source) || filepath.Clean(b.Source) != b.Source {
			errs = append(errs, fmt.Errorf("bind source %q is not a clean absolute path", b.Source))
		}
		if err := checkTarget(b.Target); err != nil {
			errs = append(errs, fmt.Errorf("bind %s: %w", b.Source, err))
		}
	}
	for _, m := range s.Masks {
		if err := checkTarget(m.Path); err != nil {
			errs = append(errs, fmt.Errorf("mask: %w", err))
		}
	}
	for _, f := range s.Files {
		if err := checkTarget(f.Path); err != nil {
			errs = append(errs, fmt.Errorf("file: %w", err))
		}
		if f.Mode&^0o777 != 0 {
			errs = append(errs, fmt.Errorf("file %s: mode %o has special bits", f.Path, f.Mode))
		}
	}
	for _, l := range s.Symlinks {
		if err := checkTarget(l.Path); err != nil {
			errs = append(errs, fmt.Errorf("symlink: %w", err))
		}
	}
	for _, e := range s.Env {
		if !strings.Contains(e, "=") || strings.IndexByte(e, 0) >= 0 {
			errs = append(errs, fmt.Errorf("malformed environment entry %q", e))
		}
	}
	for _, a := range s.Args {
		if strings.IndexByte(a, 0) >= 0 {
			errs = append(errs, errors.New("argument contains a NUL byte"))
		}
	}
	return errors.Join(errs...)
}

// reserved are jail paths the jail itself builds; a Spec may not bind or
// synthesize over them (the masked /proc, the minimal /dev).
var reserved = []string{"/", "/proc", "/dev", "/tmp", "/.oldroot"}

func checkTarget(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("target %q is not a clean absolute path", p)
	}
	for _, r := range reserved {
		if p == r || (r != "/" && strings.HasPrefix(p, r+"/")) {
			return fmt.Errorf("target %q is reserved by the jail", p)
		}
	}
	return nil
}
