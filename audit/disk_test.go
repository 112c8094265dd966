package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"golang.org/x/sys/unix"
)

// smallDisk mounts a 64 KiB tmpfs (root) and returns its path; the
// mount goes in Cleanup.
func smallDisk(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64k,mode=0700"); err != nil {
		t.Fatalf("mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file until the file system is full and returns it.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{'f'}, 1024)
	for i := 0; ; i++ {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return name
		}
		if i > 1024 { // 1 MiB on a 64 KiB file system: something is wrong
			t.Fatal("the small file system does not fill")
		}
	}
}

// A full disk: appends and intents fail with an UnavailableError (ENOSPC)
// and leave no partial line, Err reports it, Probe fails; when space
// returns, Probe passes, appends resume and the chain verifies.
func TestFullDisk(t *testing.T) {
	dir := smallDisk(t)
	path := filepath.Join(dir, "audit", "audit.jsonl")
	l, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.MinFree = 8 << 10 // the default (1 MiB) is more than this whole disk
	params := map[string]any{"content": strings.Repeat("z", 1500)}
	rec := func(tool string) Record {
		return Record{Timestamp: time.Now(), Action: ActionToolCall, Tool: tool, Parameters: params, Decision: "allow"}
	}
	for i := 0; i < 3; i++ {
		if err := l.Append(rec("write")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Probe(); err != nil {
		t.Fatalf("Probe with space: %v", err)
	}
	filler := fillDisk(t, dir)

	// The log's last page may still take a record or two; then a write
	// fills it partly and fails: it must be cut back.
	var failed error
	good := 3
	for i := 0; i < 10 && failed == nil; i++ {
		before, _ := os.ReadFile(path)
		if failed = l.Append(rec("write")); failed == nil {
			good++
			continue
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Fatalf("a failed append changed the log by %d bytes", len(after)-len(before))
		}
	}
	var ue *UnavailableError
	if !errors.As(failed, &ue) || !errors.Is(failed, syscall.ENOSPC) || ue.Rollback != nil {
		t.Fatalf("Append on a full disk: %v; want an UnavailableError with ENOSPC, rolled back", failed)
	}
	if !errors.Is(l.Err(), syscall.ENOSPC) {
		t.Errorf("Err() = %v, want ENOSPC", l.Err())
	}
	if _, err := l.Intent(rec("exec")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Intent on a full disk: %v, want ENOSPC", err)
	}
	if err := l.Probe(); !errors.As(err, &ue) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Probe on a full disk: %v, want ENOSPC", err)
	}
	data, _ := os.ReadFile(path)
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("the log does not end in a complete line")
	}
	if n, err := VerifyFiles(Files(path)); err != nil || n != good {
		t.Fatalf("verify on the full disk: %d, %v; want %d", n, err, good)
	}

	// Space returns: readiness returns, and so do appends.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := l.Probe(); err != nil {
		t.Fatalf("Probe after freeing space: %v", err)
	}
	if _, err := l.Intent(rec("exec")); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(rec("exec")); err != nil {
		t.Fatal(err)
	}
	if l.Err() != nil {
		t.Errorf("Err() after success: %v", l.Err())
	}
	rep, err := VerifyReport(Files(path))
	if err != nil || rep.Problem != nil || rep.Torn != nil || rep.Lines != good+2 {
		t.Fatalf("verify after recovery: %+v, %v", rep, err)
	}
}

// A torn tail on a full disk (a crash while it filled) cannot be
// quarantined until there is room: appends fail with ENOSPC and leave the
// log as it was; then the tail is quarantined and recorded.
func TestTornTailOnFullDisk(t *testing.T) {
	dir := smallDisk(t)
	path := filepath.Join(dir, "audit.jsonl")
	l, _ := Open(path, nil)
	l.MinFree = 8 << 10
	for i := 0; i < 3; i++ {
		if err := l.Append(Record{Action: ActionToolCall, Tool: "exec"}); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(`{"seq":4,"timestamp":"20`))
	f.Close()
	torn, _ := os.ReadFile(path)
	filler := fillDisk(t, dir)
	if err := l.Append(Record{Action: ActionToolCall, Tool: "exec"}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append: %v, want ENOSPC (no room for the quarantine copy)", err)
	}
	if err := l.Probe(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Probe: %v, want ENOSPC", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, torn) {
		t.Fatal("the log changed while the torn tail could not be quarantined")
	}
	matches, _ := filepath.Glob(path + ".torn-*")
	if len(matches) != 0 {
		t.Errorf("a failed quarantine left %v", matches)
	}
	os.Remove(filler)
	if err := l.Probe(); err != nil {
		t.Fatalf("Probe with room and a torn tail: %v", err)
	}
	if err := l.Append(Record{Action: ActionToolCall, Tool: "exec"}); err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyReport(Files(path))
	if err != nil || rep.Problem != nil || rep.Torn != nil || rep.Repairs != 1 || rep.Lines != 5 {
		t.Fatalf("after repair: %+v, %v", rep, err)
	}
}
