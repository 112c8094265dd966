package runcjail

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/plan"
)

// script writes an executable shell script standing in for the helper's
// side of the protocol (the real helper runs in the integration suite,
// which needs it built with cgo).
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), HelperName)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func start(t *testing.T, helper string) *Process {
	t.Helper()
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	p, err := Start(helper, &Request{Plan: &plan.Plan{Command: plan.Command{Args: []string{"true"}}}}, null, null, null, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWaitReadsTheResult: every answer of the helper maps to what the
// runner reports: a result, a missing or non-executable command (127 and
// 126 in the CLI), a broken jail, and a helper that died without a word.
func TestWaitReadsTheResult(t *testing.T) {
	testutil.RequireRoot(t) // the helper starts in a mount namespace of its own
	cases := []struct {
		name, body string
		check      func(*Result, error) bool
	}{
		{"result", `head -c 20 <&3 >/dev/null; echo '{"exitCode":3,"signal":9,"oomKills":1,"blocked":[{"syscall":"ptrace","count":2}]}' >&4`,
			func(r *Result, err error) bool {
				return err == nil && r.ExitCode == 3 && r.Signal == 9 && r.OOMKills == 1 && len(r.Blocked) == 1
			}},
		{"not found", `echo '{"error":"start: exec: \"x\": executable file not found","exec":"notfound"}' >&4; exit 1`,
			func(_ *Result, err error) bool { return errors.Is(err, jail.ErrNotFound) }},
		{"not executable", `echo '{"error":"start: exec: \"x\": permission denied","exec":"notexec"}' >&4; exit 1`,
			func(_ *Result, err error) bool {
				var ce *jail.ChildError
				return errors.As(err, &ce) && ce.Errno == 13
			}},
		{"setup", `echo '{"error":"create: no cgroup"}' >&4; exit 1`,
			func(_ *Result, err error) bool {
				var se *SetupError
				return errors.As(err, &se) && strings.Contains(err.Error(), "no cgroup")
			}},
		{"crash", `kill -9 $$`,
			func(_ *Result, err error) bool {
				var se *SetupError
				return errors.As(err, &se) && strings.Contains(err.Error(), "no result")
			}},
	}
	for _, c := range cases {
		res, err := start(t, script(t, c.body)).Wait()
		if !c.check(res, err) {
			t.Errorf("%s: got %+v, %v", c.name, res, err)
		}
	}
}

// TestKillEndsTheCall: Kill is SIGTERM and the end of the plan pipe; a
// helper that ignores both is SIGKILLed after the grace period.
func TestKillEndsTheCall(t *testing.T) {
	testutil.RequireRoot(t)
	// Answers on the pipe's EOF, as the real helper does.
	p := start(t, script(t, `trap '' TERM; cat <&3 >/dev/null; echo '{"exitCode":137,"signal":9}' >&4`))
	time.AfterFunc(100*time.Millisecond, p.Kill)
	if res, err := p.Wait(); err != nil || res.Signal != 9 {
		t.Errorf("killed call: %+v, %v", res, err)
	}
	// Deaf to both: killed, and reported as a helper without a result.
	p = start(t, script(t, `trap '' TERM; exec 3<&-; sleep 30`))
	begin := time.Now()
	time.AfterFunc(100*time.Millisecond, p.Kill)
	if _, err := p.Wait(); err == nil || time.Since(begin) > 10*time.Second {
		t.Errorf("a deaf helper: %v after %v", err, time.Since(begin))
	}
}

func TestHelperLookup(t *testing.T) {
	if _, err := Helper("/nonexistent/" + HelperName); err == nil {
		t.Error("a missing explicit helper was accepted")
	}
	h := script(t, "exit 0")
	if got, err := Helper(h); err != nil || got != h {
		t.Errorf("explicit helper: %q, %v", got, err)
	}
}
