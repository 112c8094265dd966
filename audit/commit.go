package audit

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Group commit: an intent must be on disk before its call runs, and an
// fdatasync costs ~150-200 us on this machine's disk, far more than the
// write. Concurrent intents of one process therefore share one: each
// writes its line under the file lock, releases the lock, and joins the
// batch that is collecting. One waiter at a time (the leader) takes the
// collecting batch and syncs it while the next batch collects; the others
// wait on the condition, and when a sync ends, a waiter whose batch has
// not been synced yet becomes the next leader. Every waiter returns only
// after a sync that began after its own write returned, and with that
// sync's error: a failure reaches every intent of the batch.

// committer batches fdatasyncs. Its zero value is ready.
type committer struct {
	mu   sync.Mutex
	cond *sync.Cond
	cur  *batch // collecting; nil when empty
	busy bool   // a leader is syncing

	// syncFile and syncDir default to fdatasync(2) and fsync(2) of a
	// directory; tests count calls, hold them, or fail them.
	syncFile func(*os.File) error
	syncDir  func(dir string) error
}

// batch is a set of written lines that one sync makes durable.
type batch struct {
	files []*os.File
	ids   []fileID
	dirs  map[string]bool
	done  bool
	err   error
}

// commit makes f's written data durable (and, with dir, the directory's
// names), sharing the sync with concurrent callers, and closes f.
func (c *committer) commit(f *os.File, id fileID, dir string) error {
	c.mu.Lock()
	if c.cond == nil {
		c.cond = sync.NewCond(&c.mu)
	}
	b := c.cur
	if b == nil {
		b = &batch{dirs: map[string]bool{}}
		c.cur = b
	}
	b.files, b.ids = append(b.files, f), append(b.ids, id)
	if dir != "" {
		b.dirs[dir] = true
	}
	c.cond.Broadcast() // tests wait for a batch to fill
	for !b.done {
		if c.busy {
			c.cond.Wait()
			continue
		}
		// Lead: b is still the collecting batch (a batch is taken only by
		// a leader, and marked done before the next leader can start).
		c.busy, c.cur = true, nil
		c.mu.Unlock()
		err := c.sync(b)
		c.mu.Lock()
		b.err, b.done, c.busy = err, true, false
		c.cond.Broadcast()
	}
	err := b.err
	c.mu.Unlock()
	return err
}

// sync flushes each file of b once per inode (fdatasync of one descriptor
// flushes the inode's data whoever wrote it), then the directories, and
// closes the files.
func (c *committer) sync(b *batch) error {
	syncFile, syncDirFn := c.syncFile, c.syncDir
	if syncFile == nil {
		syncFile = func(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
	}
	if syncDirFn == nil {
		syncDirFn = syncDir
	}
	var errs []error
	seen := map[fileID]bool{}
	for i, f := range b.files {
		id := b.ids[i]
		id.ctime = unix.Timespec{} // the same inode, whatever its last change
		if !seen[id] || id == (fileID{}) {
			seen[id] = true
			if err := syncFile(f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for dir := range b.dirs {
		if err := syncDirFn(dir); err != nil {
			errs = append(errs, fmt.Errorf("sync directory %s: %w", dir, err))
		}
	}
	for _, f := range b.files {
		f.Close()
	}
	return errors.Join(errs...)
}
