package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/procid"
	"golang.org/x/sys/unix"
)

// syncProbe replaces fdatasync with one that really syncs, then notes the
// highest sequence number the file held when the sync began: a record up
// to that number is durable once the sync has returned.
type syncProbe struct {
	path    string
	durable atomic.Uint64
	calls   atomic.Int32
	hold    func(call int32) error // runs before the sync; may block or fail it
}

func (p *syncProbe) install(l *Log) {
	l.commit.syncFile = func(f *os.File) error {
		n := p.calls.Add(1)
		st, err := f.Stat()
		if err != nil {
			return err
		}
		t, err := readTail(f, p.path, st.Size())
		if err != nil {
			return err
		}
		if p.hold != nil {
			if err := p.hold(n); err != nil {
				return err
			}
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return err
		}
		for {
			cur := p.durable.Load()
			if t.seq <= cur || p.durable.CompareAndSwap(cur, t.seq) {
				return nil
			}
		}
	}
}

// waitBatch waits until the collecting batch holds n intents.
func waitBatch(c *committer, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.cur == nil || len(c.cur.files) < n {
		c.cond.Wait()
	}
}

// Intent returns only after a sync that covers its record, and records
// its owner; concurrent intents keep one chain.
func TestIntentReturnsAfterSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	p := &syncProbe{path: path}
	p.install(l)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				ref, err := l.Intent(Record{Timestamp: time.Now(), Tool: "exec", CallID: fmt.Sprint(w, "-", i)})
				if err != nil {
					t.Error(err)
					return
				}
				if d := p.durable.Load(); d < ref.Seq {
					t.Errorf("Intent %d returned before a sync covered it (durable up to %d)", ref.Seq, d)
				}
			}
		}(w)
	}
	wg.Wait()
	rep, err := VerifyReport(Files(path))
	if err != nil || rep.Problem != nil || rep.Lines != workers*each || len(rep.Dangling) != workers*each {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	self := string(procid.Self())
	for _, r := range records(t, path) {
		if r.Action != ActionIntent || r.Owner != self {
			t.Fatalf("record %+v: want an intent owned by %s", r, self)
		}
	}
	t.Logf("%d intents, %d syncs", workers*each, p.calls.Load())
}

// holdFirst blocks the first sync until released, so that the next
// intents gather in one batch behind it.
func holdFirst(entered chan<- struct{}, release <-chan struct{}, later error) func(int32) error {
	return func(call int32) error {
		if call == 1 {
			close(entered)
			<-release
			return nil
		}
		return later
	}
}

// Intents that arrive while a sync runs wait for it, then share one sync
// (group commit): six intents, two syncs, and none returns before its own.
func TestGroupCommitSharesOneSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	p := &syncProbe{path: path, hold: holdFirst(entered, release, nil)}
	p.install(l)
	first := make(chan error, 1)
	go func() { _, err := l.Intent(Record{Tool: "exec", CallID: "leader"}); first <- err }()
	<-entered
	const followers = 5
	results := make(chan IntentRef, followers)
	for i := 0; i < followers; i++ {
		go func(i int) {
			ref, err := l.Intent(Record{Tool: "exec", CallID: fmt.Sprint("follower-", i)})
			if err != nil {
				t.Error(err)
			}
			results <- ref
		}(i)
	}
	waitBatch(&l.commit, followers)
	select {
	case <-results:
		t.Fatal("an intent returned while the sync before its own was held")
	default:
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < followers; i++ {
		ref := <-results
		if p.durable.Load() < ref.Seq {
			t.Errorf("follower %d returned before its sync", ref.Seq)
		}
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("%d syncs for 1 + %d intents, want 2 (the followers share one)", n, followers)
	}
}

// A failed sync fails every intent of its batch (the caller refuses those
// calls); Err reports it; the next intent succeeds again.
func TestGroupCommitErrorReachesEveryWaiter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var fail atomic.Bool
	fail.Store(true)
	p := &syncProbe{path: path}
	hold := holdFirst(entered, release, syscall.EIO)
	p.hold = func(n int32) error {
		if n > 1 && !fail.Load() {
			return nil
		}
		return hold(n)
	}
	p.install(l)
	first := make(chan error, 1)
	go func() { _, err := l.Intent(Record{Tool: "exec", CallID: "leader"}); first <- err }()
	<-entered
	const followers = 4
	errs := make(chan error, followers)
	for i := 0; i < followers; i++ {
		go func(i int) {
			_, err := l.Intent(Record{Tool: "exec", CallID: fmt.Sprint("follower-", i)})
			errs <- err
		}(i)
	}
	waitBatch(&l.commit, followers)
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the leader's own sync succeeded, but Intent: %v", err)
	}
	for i := 0; i < followers; i++ {
		err := <-errs
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Op != "fdatasync" || !errors.Is(err, syscall.EIO) {
			t.Errorf("follower: %v, want an UnavailableError fdatasync EIO", err)
		}
	}
	if !errors.Is(l.Err(), syscall.EIO) {
		t.Errorf("Err() = %v", l.Err())
	}
	fail.Store(false)
	if _, err := l.Intent(Record{Tool: "exec", CallID: "after"}); err != nil {
		t.Fatal(err)
	}
	if l.Err() != nil {
		t.Errorf("Err() after success: %v", l.Err())
	}
}

// BenchmarkIntent measures the cost per intent (append + fdatasync) with
// 1 and 8 concurrent callers in one process, on the disk of the test's
// temporary directory; syncs/op shows how many intents share a sync.
func BenchmarkIntent(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("%d-way", workers), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "audit.jsonl")
			l, _ := Open(path, nil)
			var syncs atomic.Int64
			l.commit.syncFile = func(f *os.File) error { syncs.Add(1); return unix.Fdatasync(int(f.Fd())) }
			rec := Record{Timestamp: time.Now(), SessionID: "agent:main", UserID: "u", Tool: "exec", CallID: "c",
				Parameters: map[string]any{"command": "go test ./...", "workdir": "src", "timeoutSeconds": 60}, Profile: "coding"}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := l.Intent(rec); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(syncs.Load())/float64(b.N), "syncs/op")
		})
	}
}

// BenchmarkAppend is an outcome's cost: no sync.
func BenchmarkAppend(b *testing.B) {
	l, _ := Open(filepath.Join(b.TempDir(), "audit.jsonl"), nil)
	rec := Record{Timestamp: time.Now(), SessionID: "agent:main", UserID: "u", Action: ActionToolCall, Tool: "exec", CallID: "c",
		Parameters: map[string]any{"command": "go test ./...", "workdir": "src", "timeoutSeconds": 60}, Profile: "coding",
		Result: &Outcome{Success: true}, Usage: map[string]any{"cpuUserMs": 12, "maxMemoryBytes": 1 << 20}}
	for i := 0; i < b.N; i++ {
		if err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}
