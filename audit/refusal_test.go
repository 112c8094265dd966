package audit

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// refusalsOf returns the refusal records of a log: key -> counts, in order.
func refusalsOf(t *testing.T, path string) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, r := range records(t, path) {
		if r.Action == ActionRefusal {
			out[r.Reason] = append(out[r.Reason], r.Count)
		}
	}
	return out
}

// At most one record per key per second; the next record for the key
// carries the count of the refusals it stands for; keys are independent.
func TestRefusalAggregation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := t0
	l.clock = func() time.Time { return now }
	refuse := func(key, reason string, n int) {
		for i := 0; i < n; i++ {
			if err := l.Refusal(key, Record{Timestamp: now, Reason: reason, Decision: "deny"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	refuse("overload", "overloaded", 100) // 1 written, 99 counted
	refuse("auth", "no token", 3)         // 1 written, 2 counted
	now = t0.Add(1100 * time.Millisecond)
	refuse("overload", "overloaded", 1) // written: 99 + itself
	now = t0.Add(1500 * time.Millisecond)
	refuse("overload", "overloaded", 5) // counted
	// The ticker's flush a second after the last record of each key.
	if err := l.flushRefusals(t0.Add(1200*time.Millisecond), false); err != nil {
		t.Fatal(err)
	}
	if err := l.flushRefusals(t0.Add(2200*time.Millisecond), false); err != nil {
		t.Fatal(err)
	}
	got := refusalsOf(t, path)
	want := map[string][]int{"overloaded": {1, 100, 5}, "no token": {1, 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refusal counts %v, want %v", got, want)
	}
	// Keys idle for a second are forgotten: the map does not grow with
	// the keys ever seen.
	l.flushRefusals(t0.Add(5*time.Second), false)
	if n := len(l.refusals.keys); n != 0 {
		t.Errorf("%d idle keys kept", n)
	}
	// Close writes what is still counted, whatever its age.
	now = t0.Add(6 * time.Second)
	refuse("overload", "overloaded", 4)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := refusalsOf(t, path)["overloaded"]; fmt.Sprint(got) != "[1 100 5 1 3]" {
		t.Errorf("after Close: %v", got)
	}
	// After Close every refusal is written.
	refuse("overload", "overloaded", 2)
	if got := refusalsOf(t, path)["overloaded"]; fmt.Sprint(got) != "[1 100 5 1 3 1 1]" {
		t.Errorf("refusals after Close: %v", got)
	}
	if n, err := VerifyFiles(Files(path)); err != nil || n != 9 {
		t.Fatalf("verify: %d, %v", n, err)
	}
}

// The background ticker flushes a count by itself, about a second after
// the last record, and stops when nothing is left; many concurrent
// refusals are all counted.
func TestRefusalTicker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				l.Refusal("overload", Record{Reason: "overloaded"})
			}
		}()
	}
	wg.Wait()
	// Wait (bounded) for the flush; each check reads the file.
	deadline := time.Now().Add(10 * time.Second)
	total := 0
	for total < 400 && time.Now().Before(deadline) {
		total = 0
		for _, c := range refusalsOf(t, path)["overloaded"] {
			total += c
		}
		if total < 400 {
			time.Sleep(50 * time.Millisecond) // polling a condition, with a deadline
		}
	}
	if total != 400 {
		t.Fatalf("the counts add up to %d, want 400", total)
	}
	// The ticker stops once no key is left.
	deadline = time.Now().Add(10 * time.Second)
	for {
		l.refusals.mu.Lock()
		running := l.refusals.stop != nil
		l.refusals.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refusal ticker keeps running with nothing to flush")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
