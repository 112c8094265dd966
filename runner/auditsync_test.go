package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/profiles"
)

// orderAuditor records, in order, what the runner asks of the audit log
// and when the intent's sync is waited for; syncErr is that sync's result.
type orderAuditor struct {
	mu      sync.Mutex
	steps   []string
	syncErr error
}

func (a *orderAuditor) step(s string) {
	a.mu.Lock()
	a.steps = append(a.steps, s)
	a.mu.Unlock()
}

func (a *orderAuditor) Intent(r audit.Record) (audit.IntentRef, error) {
	a.step("intent+sync")
	return audit.IntentRef{Seq: 1, Hash: "h"}, nil
}

func (a *orderAuditor) IntentThenSync(r audit.Record) (audit.IntentRef, func() error, error) {
	a.step("intent")
	return audit.IntentRef{Seq: 1, Hash: "h"}, func() error { a.step("synced"); return a.syncErr }, nil
}

func (a *orderAuditor) Append(r audit.Record) error { a.step(r.Action); return nil }
func (a *orderAuditor) AddSecret(string)            {}

// With auditSync "before-result" the outcome record may be appended while
// the intent's sync is under way, but the result goes out only once the
// sync is over; a sync that failed makes Run return an *AuditError (the
// call ran: its result still goes out). With "before-jail" the intent is
// durable before anything else.
func TestResultWaitsForTheIntentSync(t *testing.T) {
	testutil.RequireRoot(t)
	ws := t.TempDir()
	os.Chown(ws, 4242, 4242)
	b, _ := profiles.Builtin()
	params, _ := json.Marshal(map[string]any{"command": "true"})
	for _, tc := range []struct {
		mode    string
		syncErr error
		want    []string
	}{
		{AuditSyncBeforeResult, nil, []string{"intent", "tool_call", "synced", "event:result"}},
		{AuditSyncBeforeResult, errors.New("EIO"), []string{"intent", "tool_call", "synced", "event:result"}},
		{AuditSyncBeforeJail, nil, []string{"intent+sync", "tool_call", "event:result"}},
	} {
		a := &orderAuditor{syncErr: tc.syncErr}
		r, err := New(Options{Profile: b["coding"], Workspace: ws, Audit: a, AuditSync: tc.mode})
		if err != nil {
			t.Fatal(err)
		}
		err = r.Run(context.Background(), Call{Tool: "exec", Params: params}, func(e Event) error {
			if e.Type != "start" {
				a.step("event:" + e.Type)
			}
			return nil
		})
		r.Close()
		var ae *AuditError
		if tc.syncErr != nil && !errors.As(err, &ae) {
			t.Errorf("%s, sync fails: Run returned %v, want an *AuditError", tc.mode, err)
		}
		if tc.syncErr == nil && err != nil {
			t.Errorf("%s: %v", tc.mode, err)
		}
		if got := a.steps; !slices.Equal(got, tc.want) {
			t.Errorf("%s (sync error %v): steps %q, want %q", tc.mode, tc.syncErr, got, tc.want)
		}
	}
}
