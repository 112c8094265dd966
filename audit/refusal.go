package audit

import (
	"errors"
	"sync"
	"time"
)

// Refusals are audited without the log becoming the bottleneck of an
// overloaded gateway (issue 21: 102,058 refusals in one run). Refusal
// writes at most one record per key per second: the first refusal of a
// key is written at once (count 1); those that follow within the second
// are only counted, and the next record for the key carries the count of
// all the refusals it stands for: either the next refusal after the
// second (count = those suppressed + itself), or, when none comes, a flush
// by a background ticker about a second later (count = those suppressed;
// the record is the last suppressed one). The ticker runs only while some
// key has been refused within the last second; Close stops it and flushes
// what is still counted.

// refusalWindow is the time one key's refusal records are apart.
const refusalWindow = time.Second

// aggregator holds the refusals counted and not yet written.
type aggregator struct {
	mu     sync.Mutex
	keys   map[string]*refusalKey
	stop   chan struct{} // closes to stop the ticker; nil when it is not running
	done   chan struct{} // closed when the ticker has stopped
	closed bool
}

type refusalKey struct {
	last    time.Time // when a record for this key was last written
	pending int       // refusals counted since
	sample  Record    // the latest of them
}

// Refusal records a refusal made by the gateway itself (Action
// "refusal"), aggregated by key (for example "overload" or
// "auth:"+address): at most one record per key per second, each with
// Count = how many refusals it stands for. It returns the error of the
// append it made, if it made one; a refusal only counted returns nil, and
// if its record later fails, Err reports it and the count is kept for the
// next try.
func (l *Log) Refusal(key string, r Record) error {
	r.Action = ActionRefusal
	now := l.now()
	a := &l.refusals
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		r.Count = 1
		return l.Append(r)
	}
	if a.keys == nil {
		a.keys = map[string]*refusalKey{}
	}
	k := a.keys[key]
	if k != nil && now.Sub(k.last) < refusalWindow {
		k.pending++
		k.sample = r
		l.startTicker()
		a.mu.Unlock()
		return nil
	}
	if k == nil {
		k = &refusalKey{}
		a.keys[key] = k
	}
	r.Count = 1 + k.pending
	k.last, k.pending = now, 0
	a.mu.Unlock()
	if err := l.Append(r); err != nil {
		a.mu.Lock()
		k.pending += r.Count // not written: the ticker tries again
		k.sample = r
		l.startTicker()
		a.mu.Unlock()
		return err
	}
	return nil
}

// startTicker starts the flushing goroutine if it is not running; a.mu
// is held.
func (l *Log) startTicker() {
	a := &l.refusals
	if a.stop != nil || a.closed {
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	a.stop, a.done = stop, done
	go func() {
		defer close(done)
		t := time.NewTicker(refusalWindow / 4)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			l.flushRefusals(l.now(), false)
			a.mu.Lock()
			idle := len(a.keys) == 0 && a.stop == stop
			if idle {
				a.stop = nil // stopped by itself: the next refusal starts another
			}
			a.mu.Unlock()
			if idle {
				return
			}
		}
	}()
}

// flushRefusals writes the counted refusals of each key whose last record
// is a window old (all of them with force), and forgets keys idle for a
// window.
func (l *Log) flushRefusals(now time.Time, force bool) error {
	a := &l.refusals
	a.mu.Lock()
	var recs []Record
	var keys []*refusalKey
	for name, k := range a.keys {
		if !force && now.Sub(k.last) < refusalWindow {
			continue
		}
		if k.pending == 0 {
			delete(a.keys, name)
			continue
		}
		r := k.sample
		r.Count = k.pending
		recs, keys = append(recs, r), append(keys, k)
		k.last, k.pending = now, 0
	}
	a.mu.Unlock()
	var errs []error
	for i, r := range recs {
		if err := l.Append(r); err != nil {
			errs = append(errs, err)
			a.mu.Lock()
			keys[i].pending += r.Count
			a.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Close stops the refusal ticker and writes the refusals still counted.
// The Log stays usable; later refusals are written one record each.
func (l *Log) Close() error {
	a := &l.refusals
	a.mu.Lock()
	a.closed = true
	stop, done := a.stop, a.done
	a.stop = nil
	a.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	return l.flushRefusals(l.now(), true)
}
