package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// appendN appends n tool_call records to a new log and returns it.
func appendN(t *testing.T, n int) (*Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := l.Append(Record{Timestamp: time.Now(), Action: ActionToolCall, Tool: "exec", CallID: fmt.Sprint("c", i),
			Parameters: map[string]any{"command": fmt.Sprint("echo ", i)}, Decision: "allow"}); err != nil {
			t.Fatal(err)
		}
	}
	return l, path
}

// records reads the records of a log file.
func records(t *testing.T, path string) []Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("not a record: %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// A log cut in the middle of its last line, as a crash leaves it, has a
// torn tail: Verify says so, not tampering; the next append quarantines
// the torn bytes, records the repair, and the chain verifies.
func TestTornTailIsQuarantined(t *testing.T) {
	_, path := appendN(t, 10)
	data, _ := os.ReadFile(path)
	cut := len(data) - 30
	if err := os.Truncate(path, int64(cut)); err != nil {
		t.Fatal(err)
	}
	tornStart := bytes.LastIndexByte(data[:cut], '\n') + 1
	torn := data[tornStart:cut]

	rep, err := VerifyReport(Files(path))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problem != nil || rep.Torn == nil {
		t.Fatalf("report: problem %v, torn %v; want a torn tail and no problem", rep.Problem, rep.Torn)
	}
	if rep.Torn.Line != 9 || rep.Torn.Offset != int64(tornStart) || rep.Torn.Bytes != int64(len(torn)) || rep.Lines != 9 {
		t.Errorf("torn %+v, lines %d; want after line 9 at %d, %d bytes", rep.Torn, rep.Lines, tornStart, len(torn))
	}
	msg := rep.Torn.Error()
	for _, want := range []string{fmt.Sprintf("torn tail: %d bytes after line 9", len(torn)), "not tampering", "openclaw-run audit repair"} {
		if !strings.Contains(msg, want) {
			t.Errorf("torn message %q lacks %q", msg, want)
		}
	}
	n, err := Verify(bytes.NewReader(data[:cut]))
	var tr *Torn
	var p *Problem
	if !errors.As(err, &tr) || errors.As(err, &p) || n != 9 {
		t.Errorf("Verify: %d, %v; want 9 lines and a *Torn", n, err)
	}

	// A new writer (a restarted gateway) appends: the tail is repaired first.
	l2, _ := Open(path, nil)
	if err := l2.Append(Record{Timestamp: time.Now(), Action: ActionToolCall, Tool: "read", CallID: "after"}); err != nil {
		t.Fatal(err)
	}
	recs := records(t, path)
	if len(recs) != 11 {
		t.Fatalf("%d records, want 9 + repair + the new one", len(recs))
	}
	rp := recs[9]
	if rp.Action != ActionRepair || rp.Repair == nil || recs[10].CallID != "after" {
		t.Fatalf("record 10: %+v; want the repair record, then the new one", rp)
	}
	sum := sha256.Sum256(torn)
	if rp.Repair.Bytes != int64(len(torn)) || rp.Repair.Offset != int64(tornStart) || rp.Repair.SHA256 != hex.EncodeToString(sum[:]) ||
		!strings.HasPrefix(rp.Repair.File, path+".torn-") || !strings.Contains(rp.Reason, rp.Repair.File) {
		t.Errorf("repair record %+v, reason %q", rp.Repair, rp.Reason)
	}
	q, err := os.ReadFile(rp.Repair.File)
	if err != nil || !bytes.Equal(q, torn) {
		t.Fatalf("quarantine file holds %q (%v), want the torn bytes %q", q, err, torn)
	}
	if st, _ := os.Stat(rp.Repair.File); st.Mode().Perm() != 0o600 {
		t.Errorf("quarantine file mode %v, want 0600", st.Mode().Perm())
	}
	rep, err = VerifyReport(Files(path))
	if err != nil || rep.Problem != nil || rep.Torn != nil || rep.Lines != 11 || rep.Repairs != 1 {
		t.Fatalf("after repair: %+v, %v", rep, err)
	}
	// Repair has nothing more to do.
	if q, err := l2.Repair(); q != nil || err != nil {
		t.Errorf("second repair: %v, %v", q, err)
	}
}

// A file holding only torn bytes (the first write was cut) is repaired
// into a chain that starts at the genesis.
func TestTornFirstLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	os.WriteFile(path, []byte(`{"seq":1,"timestamp":"2026-`), 0o600)
	l, _ := Open(path, nil)
	q, err := l.Repair()
	if err != nil || q == nil || q.Offset != 0 || q.Bytes != 27 {
		t.Fatalf("Repair: %+v, %v", q, err)
	}
	if n, err := VerifyFiles(Files(path)); err != nil || n != 1 {
		t.Fatalf("verify: %d, %v", n, err)
	}
	if recs := records(t, path); recs[0].Seq != 1 || recs[0].PrevHash != genesis {
		t.Errorf("repair record %+v does not start the chain", recs[0])
	}
}

// An edited last line (sealed, ends in a newline, fails its hash) is
// tampering: appends, intents, Probe and Repair refuse, and nothing is
// written, also by a writer that remembers the head from its own append.
func TestTamperedTailRefusesAppends(t *testing.T) {
	for name, edit := range map[string]func([]byte) []byte{
		"edited last line": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"echo 4"`), []byte(`"echo 5"`), 1)
		},
		"unsealed line appended": func(b []byte) []byte { return append(b, "{\"seq\":6}\n"...) },
		"empty line appended":    func(b []byte) []byte { return append(b, '\n') },
	} {
		t.Run(name, func(t *testing.T) {
			l, path := appendN(t, 5)
			data, _ := os.ReadFile(path)
			edited := edit(bytes.Clone(data))
			if bytes.Equal(edited, data) {
				t.Fatal("the edit changed nothing")
			}
			if err := os.WriteFile(path, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			err := l.Append(Record{Action: ActionToolCall, Tool: "exec"})
			var te *TamperedError
			if !errors.As(err, &te) || !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "openclaw-run audit verify") {
				t.Fatalf("Append after tampering: %v; want a *TamperedError naming audit verify", err)
			}
			if _, err := l.Intent(Record{Tool: "exec"}); !errors.Is(err, ErrTampered) {
				t.Errorf("Intent: %v", err)
			}
			if !errors.Is(l.Err(), ErrTampered) {
				t.Errorf("Err() = %v", l.Err())
			}
			if err := l.Probe(); !errors.Is(err, ErrTampered) {
				t.Errorf("Probe: %v", err)
			}
			if _, err := l.Repair(); !errors.Is(err, ErrTampered) {
				t.Errorf("Repair: %v", err)
			}
			if _, err := l.Recover(func(string) bool { return false }); !errors.Is(err, ErrTampered) {
				t.Errorf("Recover: %v", err)
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, edited) {
				t.Errorf("the tampered log was written to")
			}
			rep, _ := VerifyReport(Files(path))
			if rep.Problem == nil || rep.Torn != nil {
				t.Errorf("verify: %+v; want a problem, not a torn tail", rep)
			}
		})
	}
}

// A write cut short by the file size limit (EFBIG, as ENOSPC, EDQUOT or
// EIO can) is rolled back: no partial line stays, the error is typed,
// Err reports it, and appends resume once the limit is lifted.
func TestShortWriteIsRolledBack(t *testing.T) {
	l, path := appendN(t, 3)
	before, _ := os.ReadFile(path)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	// The Go runtime ignores SIGXFSZ, so write(2) returns EFBIG. The limit
	// is one of the process: this test runs alone (not in parallel).
	lim := unix.Rlimit{Cur: uint64(len(before) + 100), Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			unix.Setrlimit(unix.RLIMIT_FSIZE, &old)
			restored = true
		}
	}
	t.Cleanup(restore)
	big := strings.Repeat("y", 1000) // the line crosses the limit: 100 bytes are written, then EFBIG
	err := l.Append(Record{Action: ActionToolCall, Tool: "write", Parameters: map[string]any{"content": big}})
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Op != "write" || ue.Path != path || !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("Append over the limit: %v; want an UnavailableError with EFBIG", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, before) {
		t.Fatalf("the failed write left %d bytes behind", len(now)-len(before))
	}
	if !errors.Is(l.Err(), syscall.EFBIG) {
		t.Errorf("Err() = %v", l.Err())
	}
	if _, err := l.Intent(Record{Tool: "write", Parameters: map[string]any{"content": big}}); !errors.Is(err, syscall.EFBIG) {
		t.Errorf("Intent over the limit: %v", err)
	}
	restore()
	if err := l.Append(Record{Action: ActionToolCall, Tool: "write", Parameters: map[string]any{"content": big}}); err != nil {
		t.Fatal(err)
	}
	if l.Err() != nil {
		t.Errorf("Err() after a success: %v", l.Err())
	}
	if n, err := VerifyFiles(Files(path)); err != nil || n != 4 {
		t.Fatalf("verify: %d, %v", n, err)
	}
}
