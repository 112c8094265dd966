package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/config"

	bolt "go.etcd.io/bbolt"
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

var bucket = []byte("sessions")

type boltStore struct{ db *bolt.DB }

// OpenBolt opens (creating, mode 0600) the embedded session store.
func OpenBolt(path string) (Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("session store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &boltStore{db: db}, nil
}

func (b *boltStore) Get(id string) (*Session, error) {
	var s *Session
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(id))
		if v == nil {
			return ErrNoSession
		}
		s = &Session{}
		return json.Unmarshal(v, s)
	})
	return s, err
}

func (b *boltStore) Touch(in Session) (*Session, error) {
	var out Session
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		now := time.Now().UTC()
		if v := bk.Get([]byte(in.ID)); v != nil {
			if err := json.Unmarshal(v, &out); err != nil {
				return err
			}
		} else {
			out = in
			out.Created = now
		}
		out.LastUsed = now
		out.Calls++
		v, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return bk.Put([]byte(in.ID), v)
	})
	return &out, err
}

func (b *boltStore) List() ([]Session, error) {
	var out []Session
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			var s Session
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}

func (b *boltStore) Delete(id string) error {
	return b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(id)) })
}

func (b *boltStore) Close() error { return b.db.Close() }

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
	return b.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
}

// Prune removes the sessions unused for longer than age: their workspace
// (when sessions have their own, below the workspace root) and their
// metadata. Each removal is audited.
func Prune(st Store, cfg *config.Config, age time.Duration, log *audit.Log) (int, error) {
	list, err := st.List()
	if err != nil {
		return 0, err
	}
	root := filepath.Clean(config.ExpandHome(cfg.Sandbox.Workspace))
	n := 0
	var errs []error
	for _, s := range list {
		if time.Since(s.LastUsed) < age {
			continue
		}
		if cfg.SessionWorkspaces() && filepath.Dir(filepath.Clean(s.Workspace)) == root && ValidSessionID(filepath.Base(s.Workspace)) {
			if err := os.RemoveAll(s.Workspace); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := st.Delete(s.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		if log != nil {
			log.Append(audit.Record{Timestamp: time.Now().UTC(), SessionID: s.ID, UserID: s.UserID, Action: "session_prune",
				Tool: "sessions", Decision: "allow", Reason: fmt.Sprintf("unused since %s", s.LastUsed.Format(time.RFC3339)),
				Parameters: map[string]any{"workspace": s.Workspace}})
		}
	}
	return n, errors.Join(errs...)
}
