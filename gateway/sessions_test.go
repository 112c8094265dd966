package gateway

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The bbolt store: a new session is on disk before its first call runs;
// later calls are counted in memory and written behind, exactly, also
// when many calls of a few sessions touch them at once; Close writes
// them; a deleted session is not written back by a flush.
func TestBoltStoreWritesBehind(t *testing.T) {
	old := flushEvery
	flushEvery = 20 * time.Millisecond
	defer func() { flushEvery = old }()
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	b := st.(*boltStore)

	// Durable at once: the file has it before the first call returns.
	if _, err := st.Touch(Session{ID: "new", Workspace: "/w/new"}); err != nil {
		t.Fatal(err)
	}
	if s, err := b.read("new"); err != nil || s.Calls != 1 || s.Workspace != "/w/new" {
		t.Fatalf("a new session is not on disk at once: %+v %v", s, err)
	}

	ids := []string{"a", "b", "c", "new"}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := st.Touch(Session{ID: ids[(w+i)%len(ids)]}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Deleted while calls of other sessions are being flushed.
	if _, err := st.Touch(Session{ID: "gone"}); err != nil {
		t.Fatal(err)
	}
	st.Touch(Session{ID: "gone"})
	if err := st.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	time.Sleep(3 * flushEvery)
	if s, err := b.read("a"); err != nil || s.Calls == 0 {
		t.Errorf("the flusher did not write session a: %+v %v", s, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, s := range list {
		got[s.ID] = s.Calls
	}
	// 800 calls over four sessions, 200 each; "new" had one more.
	want := map[string]int64{"a": 200, "b": 200, "c": 200, "new": 201}
	for id, n := range want {
		if got[id] != n {
			t.Errorf("session %s: %d calls after a reopen, want %d", id, got[id], n)
		}
	}
	if _, ok := got["gone"]; ok || len(got) != len(want) {
		t.Errorf("sessions after a reopen: %v, want %v (the deleted one must stay deleted)", got, want)
	}
}
