package jail

import (
	"errors"
	"fmt"
	"os"

	"github.com/openclaw-run/openclaw-run/plan"
	"golang.org/x/sys/unix"
)

// Spec is everything the jail needs to start one process: the call's plan
// (decided and validated by the runner, validated again here) and what
// only the running runner can give (the compiled filter, open files, the
// cgroup). Start refuses a Spec rather than guess.
type Spec struct {
	// Plan is the call's jail and command. A Deferred jail is built from
	// Plan.Jail alone; its command comes with Pending.Exec.
	Plan *plan.Plan

	// Seccomp is the compiled filter of Plan.Jail.Tier, loaded after the
	// last setup step that needs a call it refuses (docs/design.md, step 27). A nil filter is refused.
	Seccomp []unix.SockFilter
	// SeccompNotify loads the filter with a listener (for a filter whose
	// refusals are SECCOMP_RET_USER_NOTIF); Process.Listener returns it.
	SeccompNotify bool

	// Stdin, Stdout and Stderr become fds 0, 1 and 2 in the jail; nil means
	// /dev/null. No other fd crosses into the jail. With Plan.Command.Pty
	// the pty replaces all three.
	Stdin, Stdout, Stderr *os.File

	// StagedTree is the staging layer's overlay (a detached mount the
	// runner made, package staging), attached in place of the bind marked
	// Staged; -1 or 0 when the plan has none.
	StagedTree int

	// CgroupFD, when > 0, is an open cgroup v2 directory: the child is cloned
	// straight into it (CLONE_INTO_CGROUP), so it never runs outside it.
	CgroupFD int
	// Deferred builds the jail without its command: Prepare returns it
	// waiting, and Pending.Exec gives it its command (a pre-warmed,
	// single-use jail).
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

	// unfiltered runs without a seccomp filter: jail's own tests only
	// (export_test.go), never a plan.
	unfiltered bool
}

// validate is the list of checks a Spec must pass before anything touches
// the kernel: the plan's own checks (the same Validate the runc engine's
// helper runs) and what belongs to this engine.
func (s *Spec) validate() error {
	if s.Plan == nil {
		return errors.New("no plan")
	}
	var errs []error
	if s.Deferred {
		errs = append(errs, s.Plan.ValidateJail())
	} else {
		errs = append(errs, s.Plan.Validate())
	}
	if s.Seccomp == nil && !s.unfiltered {
		errs = append(errs, errors.New("no seccomp filter"))
	}
	if s.SeccompNotify && s.unfiltered {
		errs = append(errs, errors.New("a listener needs a filter"))
	}
	if len(s.Seccomp) > 0xffff {
		errs = append(errs, fmt.Errorf("seccomp filter too long: %d instructions", len(s.Seccomp)))
	}
	if s.Plan.Jail.Staging != nil && s.StagedTree <= 0 {
		errs = append(errs, errors.New("a staging layer in the plan, and no staged tree"))
	}
	if s.Deferred && s.Plan.Command.Pty != nil {
		errs = append(errs, errors.New("a pre-warmed jail has no pty (its command is not known when it is built)"))
	}
	return errors.Join(errs...)
}
