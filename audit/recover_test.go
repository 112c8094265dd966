package audit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/procid"
)

// helperEnv makes the re-executed test binary an intent writer that
// waits to be killed (see TestMain).
const helperEnv = "OPENCLAW_AUDIT_TEST_INTENT_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(intentHelper(path))
	}
	os.Exit(m.Run())
}

// intentHelper writes the intent of a call, says so on stdout, and blocks
// until its stdin closes (it is killed before).
func intentHelper(path string) int {
	l, err := Open(path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ref, err := l.Intent(Record{Timestamp: time.Now().UTC(), SessionID: "s-victim", Tool: "exec", CallID: "victim",
		Parameters: map[string]any{"command": "make test"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d\n", ref.Seq)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// A runner killed with SIGKILL between its intent and its outcome leaves
// a dangling intent; Recover records it abandoned, naming the runner;
// the intent of a live runner (this test) is left alone; a second
// recovery does nothing.
func TestKill9LeavesAnAbandonedCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	mine, err := l.Intent(Record{Timestamp: time.Now().UTC(), Tool: "read", CallID: "alive"})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the helper wrote no intent: %v", err)
	}
	seq, _ := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	victim, err := procid.Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	rep, err := VerifyReport(Files(path))
	if err != nil || rep.Problem != nil || len(rep.Dangling) != 2 {
		t.Fatalf("before recovery: %+v, %v; want 2 dangling intents", rep, err)
	}
	d := rep.Dangling[1]
	if d.CallID != "victim" || d.Seq != seq || d.Owner != string(victim) || d.Tool != "exec" || d.Time.IsZero() {
		t.Errorf("dangling %+v; want call victim, seq %d, owner %s", d, seq, victim)
	}

	got, err := l.Recover(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].CallID != "victim" {
		t.Fatalf("Recover recorded %+v, want the victim only", got)
	}
	recs := records(t, path)
	ab := recs[len(recs)-1]
	wantReason := fmt.Sprintf("runner %s died during call victim (crash, OOM or kill -9); its outcome is unknown", victim)
	if ab.Action != ActionAbandoned || ab.Intent == nil || ab.Intent.Seq != seq || ab.Intent.Hash != d.Hash ||
		ab.Reason != wantReason || ab.Owner != string(victim) || ab.SessionID != "s-victim" || ab.CallID != "victim" {
		t.Errorf("abandoned record %+v\nwant reason %q", ab, wantReason)
	}
	rep, err = VerifyReport(Files(path))
	if err != nil || rep.Problem != nil || rep.Abandoned != 1 || len(rep.Dangling) != 1 || rep.Dangling[0].CallID != "alive" {
		t.Fatalf("after recovery: %+v, %v; want only the live call dangling", rep, err)
	}
	if again, err := l.Recover(nil); err != nil || len(again) != 0 {
		t.Errorf("second recovery: %+v, %v", again, err)
	}
	// The live call ends: nothing dangles.
	if err := l.Append(Record{Action: ActionToolCall, Tool: "read", CallID: "alive", Intent: &mine, Result: &Outcome{Success: true}}); err != nil {
		t.Fatal(err)
	}
	if rep, _ := VerifyReport(Files(path)); len(rep.Dangling) != 0 || rep.Lines != 4 {
		t.Errorf("at the end: %+v", rep)
	}
}

// Recover looks at the current file and the newest rotated one; an
// outcome in the next file closes an intent of the previous one; an
// outcome that names another hash closes nothing.
func TestRecoverAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	l.MaxSize, l.Backups = 4<<10, 3
	closed, err := l.Intent(Record{Tool: "exec", CallID: "closed"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Intent(Record{Tool: "exec", CallID: "rotated"}); err != nil {
		t.Fatal(err)
	}
	pad := map[string]any{"pad": strings.Repeat("p", 1500)}
	for len(Files(path)) < 2 {
		if err := l.Append(Record{Action: ActionToolCall, Tool: "ls", Parameters: pad}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(Record{Action: ActionToolCall, Tool: "exec", CallID: "closed", Intent: &closed}); err != nil {
		t.Fatal(err)
	}
	forged := closed
	forged.Hash = strings.Repeat("0", 64)
	cur, err := l.Intent(Record{Tool: "exec", CallID: "current"})
	if err != nil {
		t.Fatal(err)
	}
	forged.Seq = cur.Seq
	if err := l.Append(Record{Action: ActionToolCall, Tool: "exec", CallID: "current", Intent: &forged}); err != nil {
		t.Fatal(err)
	}
	if files := Files(path); len(files) != 2 {
		t.Fatalf("files %v: the test needs the first intents in path.1 and the rest in path", files)
	}
	var asked []string
	got, err := l.Recover(func(owner string) bool { asked = append(asked, owner); return false })
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range got {
		ids = append(ids, d.CallID)
	}
	if fmt.Sprint(ids) != "[rotated current]" || len(asked) != 2 || asked[0] != string(procid.Self()) {
		t.Errorf("abandoned %v (asked about %v), want [rotated current]", ids, asked)
	}
	if n, err := VerifyFiles(Files(path)); err != nil || n == 0 {
		t.Fatalf("verify: %d, %v", n, err)
	}
}
