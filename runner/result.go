package runner

import (
	"errors"
	"fmt"

	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/runner/tools"
	"github.com/openclaw-run/openclaw-run/seccomp"
	"github.com/openclaw-run/openclaw-run/staging"
)

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
	// Limits are the limits that were in force (after the call narrowed
	// the profile's).
	Limits *Limits `json:"limits,omitempty"`
	// Changes lists what the call changed in its workspace, and what
	// became of it (committed, held, discarded: docs/staging.md);
	// ChangesError says why they could not be committed.
	Changes      *staging.Changes `json:"changes,omitempty"`
	ChangesError string           `json:"changesError,omitempty"`
	// layer is the call's staging layer, committed by Run.
	layer *staging.Layer
	// Egress lists every connection the call's jail made through the
	// egress proxy (network allowlist), refused ones with their reason.
	Egress any `json:"egress,omitempty"`
	// egressAudit is the same report with the operator's details, for
	// the audit record.
	egressAudit any
}

// Limits are a call's limits in force, as the result and the audit record
// show them.
type Limits struct {
	Memory    int64   `json:"memory"`
	CPUs      float64 `json:"cpus"`
	Pids      int64   `json:"pids"`
	TimeoutMs int64   `json:"timeoutMs"`
	MaxOutput int64   `json:"maxOutput"`
	TmpSize   int64   `json:"tmpSize"`
	FileSize  uint64  `json:"fileSize"`
	OpenFiles uint64  `json:"openFiles"`
}

// ErrPolicy is wrapped by refusals of the profile and the config (not of
// the kernel).
var ErrPolicy = errors.New("denied by policy")

// SetupError is a call whose jail could not be built: nothing of the
// call ran. Step names the mechanism (plan, cgroup, seccomp, jail, proxy,
// audit) and Err the cause; codes are derived from the type, never from
// the text.
type SetupError struct {
	Step string
	Err  error
}

func (e *SetupError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

func setupErr(step string, err error) error {
	if err == nil {
		return nil
	}
	var se *SetupError
	if errors.As(err, &se) {
		return err
	}
	return &SetupError{Step: step, Err: err}
}

// AuditError is a call refused because its intent could not be recorded
// durably: nothing ran (an unaudited call never runs).
type AuditError struct{ Err error }

func (e *AuditError) Error() string {
	return fmt.Sprintf("the call was refused: its audit record cannot be written (%v)", e.Err)
}
func (e *AuditError) Unwrap() error { return e.Err }

// Error codes of error events besides the tools' (tools.Code*).
const (
	// CodeAudit: the audit log cannot take the call's intent (full disk,
	// a tampered tail): nothing ran. The gateway answers 503.
	CodeAudit = "audit_unavailable"
)

// ErrorCode maps a call's error to the fixed event codes, from its type.
func ErrorCode(err error) string {
	var te *tools.Error
	var ae *AuditError
	var se *SetupError
	var ce *jail.ChildError
	var re *runcjail.SetupError
	switch {
	case errors.As(err, &te):
		return te.Code
	case errors.Is(err, ErrPolicy):
		return tools.CodeDenied
	case errors.As(err, &ae):
		return CodeAudit
	case errors.Is(err, jail.ErrNotFound), errors.As(err, &ce), errors.As(err, &re), errors.As(err, &se):
		return tools.CodeSetup
	}
	return tools.CodeInternal
}

// Exit codes of the CLI besides the jailed command's own (docs/cli.md;
// the conventions of timeout(1) and env(1)).
const (
	ExitTimeout  = 124 // the call hit its timeout and was killed
	ExitSetup    = 125 // the jail could not be set up, or the call was refused
	ExitNotExec  = 126 // the command exists but could not be executed
	ExitNotFound = 127 // the command does not exist inside the jail
)

// ExitCode is the CLI's exit code for a call that did not run.
func ExitCode(err error) int {
	var ce *jail.ChildError
	switch {
	case errors.Is(err, jail.ErrNotFound):
		return ExitNotFound
	case errors.As(err, &ce) && ce.NotExecutable():
		return ExitNotExec
	}
	return ExitSetup
}
