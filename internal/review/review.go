// Package review makes an operator's decision on a call's staged changes
// (approve, reject, undo) with its audit records around it, for the CLI
// and the gateway's admin routes alike (docs/staging.md).
//
// The request is recorded before the decision is made, as a call's
// intent is recorded before its jail: a log that cannot take it refuses
// the decision, and a runner that dies after the decision leaves the
// request in the log. The outcome follows.
package review

import (
	"errors"
	"fmt"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/staging"
)

// Ops are the decisions, by name.
var Ops = map[string]func(*staging.Store, string) (*staging.Changes, error){
	"approve": (*staging.Store).Approve,
	"reject":  (*staging.Store).Reject,
	"undo":    (*staging.Store).Undo,
}

// Who made a decision, for its records.
type Who struct {
	Session, Client string
}

// ErrNotRecorded wraps the error of an audit log that took the request
// but not the outcome: the decision was made.
var ErrNotRecorded = errors.New("the decision was made but its outcome is not in the audit log")

// ErrAudit wraps the error of an audit log that could not take the
// request: no decision was made.
var ErrAudit = errors.New("the audit log cannot record the decision, so it is not made")

// Decide makes decision op on call in st, recorded in log.
func Decide(log *audit.Log, st *staging.Store, op, call string, who Who) (*staging.Changes, error) {
	do := Ops[op]
	if do == nil {
		return nil, fmt.Errorf("no review operation %q (approve, reject, undo)", op)
	}
	rec := audit.Record{Timestamp: time.Now().UTC(), SessionID: who.Session, Client: who.Client,
		Action: audit.ActionReview, Tool: op, CallID: call, Decision: "requested"}
	if err := log.Append(rec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAudit, err)
	}
	t0 := time.Now()
	ch, err := do(st, call)
	rec.Timestamp, rec.DurationMs, rec.Decision = t0.UTC(), time.Since(t0).Milliseconds(), "allow"
	if err != nil {
		rec.Decision, rec.Reason = "deny", err.Error()
	} else {
		rec.Changes = ch
	}
	if aerr := log.Append(rec); aerr != nil {
		if err != nil {
			return nil, err
		}
		return ch, fmt.Errorf("%w: %v", ErrNotRecorded, aerr)
	}
	return ch, err
}
