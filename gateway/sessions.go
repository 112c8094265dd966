package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/runner"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// Session is what the gateway keeps about one session.
type Session struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId,omitempty"`
	Channel   string    `json:"channel,omitempty"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"lastUsed"`
	Calls     int64     `json:"calls"`
	Workspace string    `json:"workspace"`
	// Client is the named client that created the session ("": the
	// operator); a client with sessions "own" may use only its own.
	Client string `json:"client,omitempty"`
}

// Store keeps session metadata. The embedded bbolt store is the default;
// the interface is what a shared store (Redis, for several gateways)
// implements.
type Store interface {
	Get(id string) (*Session, error)
	// Touch creates the session if needed and counts one call.
	Touch(s Session) (*Session, error)
	List() ([]Session, error)
	Delete(id string) error
	Close() error
}

// ErrNoSession is returned by Get for an unknown id.
var ErrNoSession = errors.New("no such session")

var sessionID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`) })

// ValidSessionID reports whether id may name a session (and its workspace
// directory): no slashes, no dots first, bounded.
func ValidSessionID(id string) bool { return sessionID().MatchString(id) }

var (
	bucket     = []byte("sessions")
	procBucket = []byte("processes")
)

// boltStore is the embedded store. A session is written, and synced,
// before its first call runs; after that a call only counts itself in
// memory, and the changed sessions are written behind in one transaction
// every flushEvery (and on List of the file by a backup, and on Close).
// Two fdatasyncs per call, before the call could run, were about a
// millisecond of every call's latency here and far more on a disk that
// syncs slowly. A crash loses at most the last second of call counts and
// last-use times, never a session: prune works in days.
type boltStore struct {
	db *bolt.DB

	mu    sync.Mutex
	cache map[string]*Session // every session touched since Open: its latest state
	dirty map[string]bool     // changed since the last flush
	// creating serializes the first touch of a session (a read and maybe a
	// durable create), so that two first calls do not race each other.
	creating sync.Mutex
	// writing serializes a flush and a Delete: a flush must not write back
	// a session deleted after it took its batch.
	writing sync.Mutex

	stop chan struct{}
	done chan struct{}
}

// flushEvery is how often a gateway writes its sessions' call counts.
var flushEvery = time.Second

// DamagedError is a session store whose file is damaged: bbolt refused
// it, panicked reading it, or its consistency check failed. Its message
// is one line naming the file and the fixes.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("session store %s is damaged (%v): restore it from a backup (openclaw-run restore ARCHIVE), "+
		"or set it aside and start with an empty one (openclaw-run sessions repair; workspaces are kept)", e.Path, e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// OpenBolt opens (creating, mode 0600) the embedded session store, after
// checking the file's consistency (it holds metadata only: small). A
// damaged file is a *DamagedError, never a crash: bbolt panics on some
// damaged pages, and each use of the file recovers from that.
func OpenBolt(path string) (st Store, err error) {
	// A bbolt that panics inside Open keeps its mapping of the file, and
	// with it the file's lock, until the process exits (a gateway that
	// finds its store damaged exits; RepairBolt moves the file aside and
	// opens a new one).
	if err := checkSize(path); err != nil {
		return nil, &DamagedError{path, err}
	}
	var db *bolt.DB
	err = guard(func() error {
		var err error
		if db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second}); err != nil {
			return err
		}
		// Read every page the gateway will read, here, where a damaged
		// one is an error (bbolt's own Check runs in a goroutine of its
		// own, where a fault could not be caught).
		return db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error { return nil })
			})
		})
	})
	if err != nil {
		if db != nil {
			guard(db.Close)
		}
		// Opened but inconsistent, or refused for what is in it; not a
		// lock held by another process (a timeout) nor a system error
		// (permission, a full or read-only disk).
		var errno syscall.Errno
		if db != nil || !errors.Is(err, bolterr.ErrTimeout) && !errors.As(err, &errno) {
			return nil, &DamagedError{path, err}
		}
		return nil, fmt.Errorf("session store %s: %w", path, err)
	}
	err = guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(bucket); err != nil {
				return err
			}
			_, err := tx.CreateBucketIfNotExists(procBucket)
			return err
		})
	})
	if err != nil {
		guard(db.Close)
		return nil, &DamagedError{path, err}
	}
	b := &boltStore{db: db, cache: map[string]*Session{}, dirty: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go b.flusher()
	return b, nil
}

// checkSize refuses a bbolt file shorter than its meta pages say it is
// (cut short by a crash or a full disk): bbolt would read past its end.
// A meta page: a 16-byte page header, then magic, version, pageSize,
// flags (4 bytes each), the root bucket (16), the freelist page (8) and
// the high-water page id (8).
func checkSize(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	const magic = 0xED0CDAED
	var hdr [64]byte
	for _, off := range []int64{0, -1} {
		if off < 0 { // the second meta page is one page size after the first
			var ps [4]byte
			if _, err := f.ReadAt(ps[:], 16+8); err != nil {
				return nil // bbolt says what is wrong
			}
			off = int64(binary.LittleEndian.Uint32(ps[:]))
		}
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			continue
		}
		m := hdr[16:]
		if binary.LittleEndian.Uint32(m[0:]) != magic {
			continue
		}
		pageSize := int64(binary.LittleEndian.Uint32(m[8:]))
		pages := int64(binary.LittleEndian.Uint64(m[40:]))
		if pageSize > 0 && pages > 0 && st.Size() < pages*pageSize {
			return fmt.Errorf("the file is %d bytes, its pages need %d: cut short", st.Size(), pages*pageSize)
		}
	}
	return nil
}

// errPanic marks a panic of bbolt turned into an error.
var errPanic = errors.New("bbolt panicked")

// guard runs f, turning a panic (bbolt's answer to some damaged pages)
// or a memory fault (a page beyond the end of a truncated file is a
// SIGBUS in bbolt's mapping) into an error.
func guard(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	return f()
}

func (b *boltStore) view(f func(*bolt.Tx) error) error {
	return guard(func() error { return b.db.View(f) })
}

func (b *boltStore) update(f func(*bolt.Tx) error) error {
	return guard(func() error { return b.db.Update(f) })
}

// RepairBolt sets a damaged session store aside (renamed with a
// .damaged-TIME suffix, for a later look) and creates an empty one in its
// place. Sessions are metadata: their workspaces stay, and a session's
// next call finds its workspace again. It returns where the damaged file
// went, or "" when the store was not damaged (nothing is changed then).
func RepairBolt(path string) (string, error) {
	st, err := OpenBolt(path)
	if err == nil {
		return "", st.Close()
	}
	var de *DamagedError
	if !errors.As(err, &de) {
		return "", err
	}
	aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	st, err = OpenBolt(path)
	if err != nil {
		return aside, err
	}
	return aside, st.Close()
}

// flusher writes the changed sessions every flushEvery until Close. A
// failed write keeps them changed, for the next try.
func (b *boltStore) flusher() {
	defer close(b.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.flush()
		}
	}
}

// flush writes every changed session in one transaction.
func (b *boltStore) flush() error {
	b.writing.Lock()
	defer b.writing.Unlock()
	b.mu.Lock()
	var batch []Session
	for id := range b.dirty {
		batch = append(batch, *b.cache[id])
	}
	clear(b.dirty)
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, s := range batch {
			v, err := json.Marshal(s)
			if err != nil {
				return err
			}
			if err := bk.Put([]byte(s.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.mu.Lock()
		for _, s := range batch {
			if _, ok := b.cache[s.ID]; ok {
				b.dirty[s.ID] = true
			}
		}
		b.mu.Unlock()
	}
	return err
}

func (b *boltStore) Get(id string) (*Session, error) {
	b.mu.Lock()
	if c, ok := b.cache[id]; ok {
		s := *c
		b.mu.Unlock()
		return &s, nil
	}
	b.mu.Unlock()
	return b.read(id)
}

// read reads a session from the file.
func (b *boltStore) read(id string) (*Session, error) {
	var s *Session
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(id))
		if v == nil {
			return ErrNoSession
		}
		s = &Session{}
		return json.Unmarshal(v, s)
	})
	return s, err
}

// count counts a call of a cached session; the caller holds mu.
func (b *boltStore) count(c *Session) *Session {
	c.Calls++
	c.LastUsed = time.Now().UTC()
	b.dirty[c.ID] = true
	s := *c
	return &s
}

func (b *boltStore) Touch(in Session) (*Session, error) {
	b.mu.Lock()
	if c, ok := b.cache[in.ID]; ok {
		defer b.mu.Unlock()
		return b.count(c), nil
	}
	b.mu.Unlock()

	b.creating.Lock()
	defer b.creating.Unlock()
	b.mu.Lock()
	if c, ok := b.cache[in.ID]; ok { // another first call got here first
		defer b.mu.Unlock()
		return b.count(c), nil
	}
	b.mu.Unlock()
	s, err := b.read(in.ID)
	switch {
	case err == nil: // a session of an earlier run of the gateway
		b.mu.Lock()
		defer b.mu.Unlock()
		b.cache[in.ID] = s
		return b.count(s), nil
	case !errors.Is(err, ErrNoSession):
		return nil, err // the store cannot be read: the call does not run
	}
	// A new session: on disk before its first call runs.
	now := time.Now().UTC()
	out := in
	out.Created, out.LastUsed, out.Calls = now, now, 1
	v, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if err := b.update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(in.ID), v) }); err != nil {
		return nil, err
	}
	b.mu.Lock()
	c := out
	b.cache[in.ID] = &c
	b.mu.Unlock()
	return &out, nil
}

// List returns every session, as the file has them with the newer state
// of the cached ones over it.
func (b *boltStore) List() ([]Session, error) {
	var out []Session
	err := b.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			var s Session
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	})
	b.mu.Lock()
	for i := range out {
		if c, ok := b.cache[out[i].ID]; ok {
			out[i] = *c
		}
	}
	b.mu.Unlock()
	return out, err
}

func (b *boltStore) Delete(id string) error {
	b.creating.Lock() // not while a first call of id reads or creates it
	defer b.creating.Unlock()
	b.writing.Lock()
	defer b.writing.Unlock()
	b.mu.Lock()
	delete(b.cache, id)
	delete(b.dirty, id)
	b.mu.Unlock()
	return b.update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(id)) })
}

// Close writes the changed sessions and closes the file.
func (b *boltStore) Close() error {
	close(b.stop)
	<-b.done
	return errors.Join(b.flush(), b.db.Close())
}

// memStore keeps sessions in memory: an MCP server over stdio, whose one
// connection is its one session, and tests.
type memStore struct {
	mu sync.Mutex
	m  map[string]Session
}

// NewMemoryStore returns a session store that lives as long as the process.
func NewMemoryStore() Store { return &memStore{m: map[string]Session{}} }

func (m *memStore) Get(id string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[id]
	if !ok {
		return nil, ErrNoSession
	}
	return &s, nil
}

func (m *memStore) Touch(in Session) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[in.ID]
	if !ok {
		s = in
		s.Created = time.Now().UTC()
	}
	s.Calls++
	s.LastUsed = time.Now().UTC()
	m.m[in.ID] = s
	return &s, nil
}

func (m *memStore) List() ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Session, 0, len(m.m))
	for _, s := range m.m {
		out = append(out, s)
	}
	return out, nil
}

func (m *memStore) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, id)
	return nil
}

func (m *memStore) Close() error { return nil }

// Snapshotter is a store that can write a consistent copy of itself while
// it serves (for backups).
type Snapshotter interface {
	Snapshot(w io.Writer) error
}

// Snapshot writes the bbolt file as one read transaction sees it: calls
// keep being served while a backup copies it.
func (b *boltStore) Snapshot(w io.Writer) error {
	if err := b.flush(); err != nil { // the counts so far belong in the copy
		return err
	}
	return b.view(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
}

// Prune removes the sessions unused for longer than age: their workspace
// (when sessions have their own, below the workspace root) and their
// metadata. Each removal is audited.
//
// A session in use is kept, whatever its age: busy reports one (a call of
// the gateway's queued or running, a background process), and any call
// of this host's call registry (runner.RunningCalls: CLI calls and every
// gateway's) keeps its session too. Its workspace is a running jail's.
func Prune(st Store, cfg *config.Config, age time.Duration, log *audit.Log, busy func(id string) bool) (int, error) {
	list, err := PruneCandidates(st, age, busy)
	if err != nil {
		return 0, err
	}
	n, trash, err := DetachSessions(st, cfg, log, list)
	return n, errors.Join(err, DeleteTrash(cfg, trash))
}

// PruneCandidates are the sessions Prune would remove now: unused for
// longer than age, and neither busy nor in the host's call registry.
func PruneCandidates(st Store, age time.Duration, busy func(id string) bool) ([]Session, error) {
	list, err := st.List()
	if err != nil {
		return nil, err
	}
	running, err := runningSessions()
	if err != nil {
		// Which sessions run calls now cannot be told: none is pruned.
		return nil, fmt.Errorf("prune: the call registry: %w", err)
	}
	var out []Session
	for _, s := range list {
		if time.Since(s.LastUsed) < age || (busy != nil && busy(s.ID)) || running[s.ID] {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// trashPrefix begins the name a pruned workspace is renamed to before it
// is removed: "#" is not allowed in a session id (ValidSessionID), so no
// session's workspace ever has such a name. isTrash matches the whole
// name: #pruned-<session id>-<12 hex digits>.
const trashPrefix = "#pruned-"

func isTrash(name string) bool {
	rest, ok := strings.CutPrefix(name, trashPrefix)
	i := strings.LastIndexByte(rest, '-')
	if !ok || i < 0 || len(rest)-i-1 != 12 || !ValidSessionID(rest[:i]) {
		return false
	}
	_, err := hex.DecodeString(rest[i+1:])
	return err == nil && strings.ToLower(rest[i+1:]) == rest[i+1:]
}

// ownWorkspace is the workspace of session s that a prune may remove: when
// sessions have their own, the directory named for the session right below
// the workspace root. (A transport given one fixed workspace, or sessions
// sharing the root, leaves nothing of a session's to remove.)
func ownWorkspace(cfg *config.Config, s Session) (string, bool) {
	root := filepath.Clean(config.ExpandHome(cfg.Sandbox.Workspace))
	ws := filepath.Clean(s.Workspace)
	return ws, cfg.SessionWorkspaces() && filepath.Dir(ws) == root && filepath.Base(ws) == s.ID && ValidSessionID(s.ID)
}

// DetachSessions takes sessions (PruneCandidates) out and audits each:
// its own workspace is renamed aside in one rename(2), so that it is whole
// or gone and never half-removed, then its record is deleted (if that
// fails, the workspace is renamed back). It returns how many it took out
// and, by workspace, where each went ("" for one that was already gone),
// for DeleteTrash.
func DetachSessions(st Store, cfg *config.Config, log *audit.Log, list []Session) (int, map[string]string, error) {
	n := 0
	aside := map[string]string{}
	var errs []error
	for _, s := range list {
		ws, own := ownWorkspace(cfg, s)
		to := ""
		if own {
			var b [6]byte
			rand.Read(b[:])
			to = filepath.Join(filepath.Dir(ws), trashPrefix+s.ID+"-"+hex.EncodeToString(b[:]))
			if err := os.Rename(ws, to); errors.Is(err, os.ErrNotExist) {
				to = ""
			} else if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := st.Delete(s.ID); err != nil {
			if to != "" {
				if rerr := os.Rename(to, ws); rerr != nil {
					err = fmt.Errorf("%w (and its workspace, renamed aside to %s, could not be renamed back: %v)", err, to, rerr)
				}
			}
			errs = append(errs, err)
			continue
		}
		if own {
			aside[ws] = to
		}
		n++
		if log != nil {
			log.Append(audit.Record{Timestamp: time.Now().UTC(), SessionID: s.ID, UserID: s.UserID, Action: "session_prune",
				Tool: "sessions", Decision: "allow", Reason: fmt.Sprintf("unused since %s", s.LastUsed.Format(time.RFC3339)),
				Parameters: map[string]any{"workspace": s.Workspace}})
		}
	}
	return n, aside, errors.Join(errs...)
}

// DeleteTrash removes the workspaces DetachSessions renamed aside, and
// any an earlier prune renamed but could not remove (a crash, an error):
// only names isTrash matches, right below the root, and only when
// sessions have their own workspaces (else the root is the workspace
// itself, and its names are the jails').
func DeleteTrash(cfg *config.Config, aside map[string]string) error {
	if !cfg.SessionWorkspaces() {
		return nil
	}
	root := filepath.Clean(config.ExpandHome(cfg.Sandbox.Workspace))
	trash := map[string]bool{}
	for _, d := range aside {
		if d != "" {
			trash[d] = true
		}
	}
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			if e.IsDir() && isTrash(e.Name()) {
				trash[filepath.Join(root, e.Name())] = true
			}
		}
	}
	var errs []error
	for d := range trash {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runningSessions are the sessions of the running calls the host's call
// registry lists.
func runningSessions() (map[string]bool, error) {
	calls, err := runner.RunningCalls()
	out := map[string]bool{}
	for _, c := range calls {
		out[c.SessionID] = true
	}
	return out, err
}

// Background process records (ProcRecords): written, and synced, when a
// process starts and when it ends, so that after a restart poll and list
// say what became of it. Background processes are few; a sync each is
// cheap next to the process.

func (b *boltStore) PutProc(p ProcInfo) error {
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return b.update(func(tx *bolt.Tx) error { return tx.Bucket(procBucket).Put([]byte(p.ID), v) })
}

func (b *boltStore) Proc(id string) (*ProcInfo, error) {
	var p *ProcInfo
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(procBucket).Get([]byte(id))
		if v == nil {
			return ErrNoProc
		}
		p = &ProcInfo{}
		return json.Unmarshal(v, p)
	})
	return p, err
}

func (b *boltStore) Procs(session string) ([]ProcInfo, error) {
	var out []ProcInfo
	err := b.view(func(tx *bolt.Tx) error {
		return tx.Bucket(procBucket).ForEach(func(_, v []byte) error {
			var p ProcInfo
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.Session == session {
				out = append(out, p)
			}
			return nil
		})
	})
	return out, err
}

func (b *boltStore) DeleteProc(p ProcInfo) error {
	return b.update(func(tx *bolt.Tx) error { return tx.Bucket(procBucket).Delete([]byte(p.ID)) })
}

// EndRunning marks every process recorded as running with status and
// reason: called when a gateway starts, these ran under its previous run,
// and their jails died with it (a jail dies with its gateway).
func (b *boltStore) EndRunning(status, reason string) (int, error) {
	n := 0
	err := b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(procBucket)
		var ended []ProcInfo
		err := bk.ForEach(func(_, v []byte) error {
			var p ProcInfo
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.Status == "running" {
				p.Status, p.ExitCode, p.Error = status, -1, reason
				ended = append(ended, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, p := range ended {
			v, _ := json.Marshal(p)
			if err := bk.Put([]byte(p.ID), v); err != nil {
				return err
			}
		}
		n = len(ended)
		return nil
	})
	return n, err
}
