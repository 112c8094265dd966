package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A damaged session store is an error naming the file and the fixes,
// never a panic: every page of a store with sessions and process records
// is damaged in turn (overwritten, or the file cut short there), and
// OpenBolt either opens a file whose damage did not matter (a free page)
// or returns a one-line *DamagedError. RepairBolt then sets it aside and
// makes an empty store that serves.
func TestDamagedSessionStore(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	st, err := OpenBolt(good)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		id := strings.Repeat("s", 40) + string(rune('a'+i%26)) + time.Duration(i).String()
		if _, err := st.Touch(Session{ID: id, Workspace: "/w/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	st.(ProcRecords).PutProc(ProcInfo{ID: "p-1", Session: "s", Status: "running"})
	st.Close()
	orig, _ := os.ReadFile(good)
	const page = 4096
	pages := len(orig) / page
	damaged := 0
	for pg := 0; pg < pages; pg++ {
		for _, how := range []string{"overwrite", "truncate"} {
			b := append([]byte(nil), orig...)
			if how == "overwrite" {
				for i := pg * page; i < pg*page+64; i++ {
					b[i] = 0xff
				}
			} else {
				b = b[:pg*page+100]
			}
			// A new file each time, and another for the repair: a bbolt
			// that panicked while opening keeps its lock on the file
			// until the process exits (a gateway exits then).
			path := filepath.Join(dir, fmt.Sprintf("bad-%d-%s.db", pg, how))
			os.WriteFile(path, b, 0o600)
			repair := path + ".repair"
			os.WriteFile(repair, b, 0o600)
			st, err := OpenBolt(path)
			if err == nil {
				st.List() // the damage was in a page no one reads
				st.Close()
				continue
			}
			damaged++
			var de *DamagedError
			if !errors.As(err, &de) || de.Path != path {
				t.Fatalf("page %d %s: %v, want a DamagedError", pg, how, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, path) || !strings.Contains(msg, "sessions repair") || !strings.Contains(msg, "backup") {
				t.Fatalf("page %d %s: the message is not one line naming the file and the fixes: %q", pg, how, msg)
			}
			path = repair
			aside, err := RepairBolt(path)
			if err != nil || aside == "" {
				t.Fatalf("page %d %s: repair: %q %v", pg, how, aside, err)
			}
			if _, err := os.Stat(aside); err != nil {
				t.Fatalf("the damaged file was not kept: %v", err)
			}
			st, err = OpenBolt(path)
			if err != nil {
				t.Fatalf("after repair: %v", err)
			}
			if _, err := st.Touch(Session{ID: "after"}); err != nil {
				t.Fatalf("after repair: %v", err)
			}
			st.Close()
			os.Remove(aside)
		}
	}
	if damaged < pages {
		t.Errorf("only %d of %d damaged files were found damaged", damaged, 2*pages)
	}
	if aside, err := RepairBolt(good); err != nil || aside != "" {
		t.Errorf("repair of an intact store: %q %v", aside, err)
	}
}
