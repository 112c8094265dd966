package audit

import (
	"errors"
	"fmt"
)

// UnavailableError is an append (or a probe) that could not be made: the
// file could not be opened, locked, written, synced or repaired. Nothing
// of a failed write stays in the log, unless Rollback says that cutting
// it back failed too (then the next append quarantines the torn tail).
// errors.Is(err, syscall.ENOSPC) and the like see the cause.
type UnavailableError struct {
	Op   string // open, lock, read, write, fdatasync, quarantine, rotate, probe, identify
	Path string
	Err  error
	// Rollback is the failure to truncate a failed write away, if any.
	Rollback error
}

func (e *UnavailableError) Error() string {
	s := fmt.Sprintf("audit log unavailable: %s %s: %v", e.Op, e.Path, e.Err)
	if e.Rollback != nil {
		s += "; " + e.Rollback.Error()
	}
	return s
}

func (e *UnavailableError) Unwrap() []error {
	if e.Rollback != nil {
		return []error{e.Err, e.Rollback}
	}
	return []error{e.Err}
}

// TamperedError is a log whose last line ends in a newline but is not a
// sealed record or fails its hash: it was edited, not cut by a crash.
// Appends refuse (fail closed) until an operator has looked.
type TamperedError struct {
	Path   string
	Reason string // what is wrong, e.g. "last line: hash mismatch: the line was edited"
}

func (e *TamperedError) Error() string {
	return fmt.Sprintf("audit log %s was edited (%s), so appends are refused; run 'openclaw-run audit verify'", e.Path, e.Reason)
}

// ErrTampered matches every *TamperedError with errors.Is.
var ErrTampered = errors.New("audit log tampered")

func (e *TamperedError) Is(target error) bool { return target == ErrTampered }
