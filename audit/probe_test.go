package audit

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"
)

// Probe appends nothing; it passes for a sealed or a torn tail (which an
// append would quarantine) and fails, with ENOSPC, when the file system
// has less than MinFree available.
func TestProbe(t *testing.T) {
	l, path := appendN(t, 3)
	if err := l.Probe(); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(`{"seq":4,"ti`))
	f.Close()
	before, _ := os.ReadFile(path)
	if err := l.Probe(); err != nil {
		t.Fatalf("Probe with a torn tail: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("Probe changed the log")
	}
	l.MinFree = 1 << 62
	err := l.Probe()
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Op != "probe" || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Probe with MinFree beyond the disk: %v; want ENOSPC", err)
	}
	// An Open of a path whose directory cannot be made fails at once.
	if _, err := Open("/proc/self/nonexistent/audit.jsonl", nil); err == nil {
		t.Error("Open under /proc succeeded")
	}
}
