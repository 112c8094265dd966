package staging

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Store is a workspace's record of its calls' changes, kept in
// <workspace>/.openclaw-run (root's, mode 0700: a jail, whose root maps to
// the workspace's owner, can neither enter nor remove it, and the commit
// never treats it as a change). One directory per call:
//
//	calls/<call id>/manifest.json   its operations and their state
//	calls/<call id>/new/<n>         content staged for operation n
//	calls/<call id>/old/<n>         what operation n replaced or removed
//
// It lives in the workspace so that staged content and pre-images are on
// the workspace's file system: putting a change in place, and keeping what
// it replaced, is a rename or a hard link, never a copy.
//
// A commit is a unit against a crash of the runner: the operations are
// written down and the content staged first (state "staged"); the
// manifest then says "committing" (the commit point), the operations are
// applied, each one idempotent, and the manifest says "committed". Recover
// (run before every commit and at every start) finishes a committing call
// and discards a staged one, so that the workspace is at the state before
// the call or after it, never between. Commits of one workspace are
// serialized by a lock; of two calls that changed the same file, the one
// committed last wins.
type Store struct {
	ws    int // the workspace directory
	dir   int // .openclaw-run
	calls int // .openclaw-run/calls
	lock  int
	path  string
}

// Manifest is one call's record in the store.
type Manifest struct {
	CallID string    `json:"callId"`
	State  string    `json:"state"` // staged, held, committing, committed, undoing, undone, rejected
	Time   time.Time `json:"time"`
	Ops    []op      `json:"ops"`
	// Changes is the call's change list (its State follows the call's).
	Changes *Changes `json:"changes"`
	// Bytes held by the call's directory (pre-images and staged content).
	Bytes int64 `json:"bytes"`
}

// op is one change to the workspace, in the order it is applied.
type op struct {
	N    int    `json:"n"`
	Kind string `json:"kind"` // delete, mkdir, meta, put
	Path string `json:"path"`
	// put: file (content in new/N), symlink (Target), fifo, link (a hard
	// link to Target, a path of this call).
	Type   string `json:"type,omitempty"`
	Target string `json:"target,omitempty"`
	Mode   uint32 `json:"mode"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	// Old: the previous mode, owner (meta), and whether old/N holds what
	// was at Path before (delete, put over an existing name).
	OldMode uint32 `json:"oldMode,omitempty"`
	OldUID  int    `json:"oldUid,omitempty"`
	OldGID  int    `json:"oldGid,omitempty"`
	Existed bool   `json:"existed,omitempty"`
	// Post identifies what the commit left at Path (undo checks that no
	// later change replaced it).
	Post uint64 `json:"post,omitempty"`
	// Atime and Mtime of a put or mkdir, in nanoseconds.
	Atime int64 `json:"atime,omitempty"`
	Mtime int64 `json:"mtime,omitempty"`
}

// OpenStore opens (creating) the store of a workspace and recovers a
// commit a crash interrupted.
func OpenStore(workspace string) (*Store, error) {
	s := &Store{ws: -1, dir: -1, calls: -1, lock: -1, path: workspace}
	ws, err := unix.Openat2(unix.AT_FDCWD, workspace, &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return nil, fmt.Errorf("staging: open the workspace %s: %w", workspace, err)
	}
	s.ws = ws
	if s.dir, err = ensureDir(ws, storeName); err != nil {
		s.Close()
		return nil, err
	}
	if s.calls, err = ensureDir(s.dir, "calls"); err != nil {
		s.Close()
		return nil, err
	}
	if s.lock, err = unix.Openat(s.dir, "lock", unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600); err != nil {
		s.Close()
		return nil, fmt.Errorf("staging: %s/lock: %w", storeName, err)
	}
	if err := s.locked(s.recover); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ensureDir opens (creating, 0700, root's) a directory of the store,
// refusing one that is not a directory of root's (a jail cannot make one:
// it cannot write as root, but a workspace restored from elsewhere might
// hold anything).
func ensureDir(at int, name string) (int, error) {
	if err := unix.Mkdirat(at, name, 0o700); err != nil && err != unix.EEXIST {
		return -1, fmt.Errorf("staging: create %s: %w", name, err)
	}
	fd, err := unix.Openat(at, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("staging: open %s: %w", name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Uid != uint32(os.Geteuid()) || st.Mode&0o077 != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("staging: %s is not the runner's private directory (owner %d, mode %o): remove it", name, st.Uid, st.Mode&0o7777)
	}
	return fd, nil
}

// Close releases the store.
func (s *Store) Close() {
	for _, fd := range []*int{&s.lock, &s.calls, &s.dir, &s.ws} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// locked runs f under the store's lock (flock: commits of several runners
// of one workspace, CLI and gateway, exclude each other).
func (s *Store) locked(f func() error) error {
	if err := unix.Flock(s.lock, unix.LOCK_EX); err != nil {
		return fmt.Errorf("staging: lock: %w", err)
	}
	defer unix.Flock(s.lock, unix.LOCK_UN)
	return f()
}

// Options say what to do with a call's changes.
type Options struct {
	// Hold keeps them staged until Approve (sandbox.review "hold").
	Hold bool
	// Discard drops them (an aborted call under onAbort "discard").
	Discard bool
}

// Commit turns the upper layer of a finished call (every process of its
// jail is dead) into changes of the workspace, as a unit, and returns what
// changed.
func (s *Store) Commit(l *Layer, callID string, o Options) (*Changes, error) {
	if !validID(callID) {
		return nil, fmt.Errorf("staging: invalid call id %q", callID)
	}
	if l.Untouched() {
		ch := &Changes{State: "committed"}
		_, _, ch.DiskLimitHit, ch.InodeLimitHit, _ = l.Usage()
		return ch, nil
	}
	var ch *Changes
	err := s.locked(func() error {
		if err := s.recover(); err != nil {
			return err
		}
		var err error
		ch, err = s.commit(l, callID, o)
		return err
	})
	return ch, err
}

func (s *Store) commit(l *Layer, callID string, o Options) (*Changes, error) {
	m := &Manifest{CallID: callID, State: "staged", Time: time.Now().UTC(), Changes: &Changes{}}
	_, _, m.Changes.DiskLimitHit, m.Changes.InodeLimitHit, _ = l.Usage()
	if o.Discard {
		err := l.walk(func(e *entry) error {
			if ch, ok := s.describe(e); ok {
				m.Changes.add(ch)
			}
			return nil
		})
		m.Changes.State = "discarded"
		return m.Changes, err
	}
	// Stage: the operations, and the content of files, in the call's
	// directory; the workspace is not touched.
	cd, err := s.callDir(callID, true)
	if err != nil {
		return nil, err
	}
	defer unix.Close(cd)
	newDir, err := ensureDir(cd, "new")
	if err != nil {
		return nil, err
	}
	defer unix.Close(newDir)
	inodes := map[uint64]string{} // hard links made by the call
	err = l.walk(func(e *entry) error {
		if ch, ok := s.describe(e); ok {
			m.Changes.add(ch)
		}
		ops, err := s.plan(e, len(m.Ops), newDir, inodes)
		m.Ops = append(m.Ops, ops...)
		return err
	})
	if err != nil {
		unix.Close(newDir)
		s.remove(callID)
		return nil, err
	}
	if m.Changes.Empty() && len(m.Ops) == 0 {
		s.remove(callID)
		m.Changes.State = "committed"
		return m.Changes, nil
	}
	m.Bytes = m.Changes.BytesWritten
	if o.Hold {
		m.State, m.Changes.State = "held", "held"
		return m.Changes, s.writeManifest(cd, m)
	}
	return m.Changes, s.apply(cd, m)
}

// apply puts a staged manifest in place: the commit point, the
// operations, the end.
func (s *Store) apply(cd int, m *Manifest) error {
	m.State = "committing"
	if err := s.writeManifest(cd, m); err != nil {
		return err
	}
	if err := s.run(cd, m); err != nil {
		return fmt.Errorf("staging: commit of %s: %w (the store finishes it at the next commit or start)", m.CallID, err)
	}
	m.State, m.Changes.State = "committed", "committed"
	return s.writeManifest(cd, m)
}

// describe is the change an entry of the upper layer makes.
func (s *Store) describe(e *entry) (Change, bool) {
	var st unix.Stat_t
	exists := s.lstat(e.path, &st) == nil
	switch e.kind {
	case "whiteout":
		if !exists {
			return Change{}, false
		}
		return Change{Path: e.path, Op: "deleted", Type: statType(st.Mode), Bytes: st.Size}, true
	case "dir":
		if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if st.Mode&0o7777 == e.mode&0o7777 {
				return Change{}, false // copied up for what it holds
			}
			return Change{Path: e.path, Op: "modified", Type: "dir"}, true
		}
	case "other":
		return Change{}, false
	}
	op := "added"
	if exists {
		op = "modified"
	}
	size := int64(0)
	if e.kind == "file" {
		size = e.size
	}
	return Change{Path: e.path, Op: op, Type: typeOf(e.kind), Bytes: size}, true
}

// plan turns an entry into operations, staging a file's content as
// new/<n>.
func (s *Store) plan(e *entry, n int, newDir int, inodes map[uint64]string) ([]op, error) {
	var st unix.Stat_t
	exists := s.lstat(e.path, &st) == nil
	mtime, atime := unix.TimespecToNsec(e.mtime), unix.TimespecToNsec(e.atime)
	base := op{Path: e.path, Mode: e.mode & 0o7777 &^ (unix.S_ISUID | unix.S_ISGID), UID: e.uid, GID: e.gid, Mtime: mtime, Atime: atime}
	switch e.kind {
	case "whiteout":
		if !exists {
			return nil, nil
		}
		base.N, base.Kind = n, "delete"
		return []op{base}, nil
	case "opaque":
		var out []op
		if exists {
			d := base
			d.N, d.Kind = n, "delete"
			out = append(out, d)
			n++
		}
		base.N, base.Kind = n, "mkdir"
		return append(out, base), nil
	case "dir":
		if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if st.Mode&0o7777 == base.Mode && int(st.Uid) == e.uid && int(st.Gid) == e.gid {
				return nil, nil
			}
			base.N, base.Kind = n, "meta"
			base.OldMode, base.OldUID, base.OldGID = st.Mode&0o7777, int(st.Uid), int(st.Gid)
			return []op{base}, nil
		}
		var out []op
		if exists { // a file replaced by a directory
			d := base
			d.N, d.Kind = n, "delete"
			out = append(out, d)
			n++
		}
		base.N, base.Kind = n, "mkdir"
		return append(out, base), nil
	case "file":
		base.N, base.Kind, base.Type = n, "put", "file"
		if first, ok := inodes[e.ino]; ok && e.nlink > 1 {
			base.Type, base.Target = "link", first // a hard link the call made
			return []op{base}, nil
		}
		if e.nlink > 1 {
			inodes[e.ino] = e.path
		}
		return []op{base}, stageFile(e, newDir, n)
	case "symlink":
		base.N, base.Kind, base.Type, base.Target = n, "put", "symlink", e.target
		return []op{base}, nil
	case "fifo":
		base.N, base.Kind, base.Type = n, "put", "fifo"
		return []op{base}, nil
	}
	return nil, nil // a socket: nothing to keep
}

// stageFile copies a file of the upper layer into new/<n> with its mode,
// owner and times (copy_file_range through io.Copy: the kernel copies).
func stageFile(e *entry, newDir, n int) error {
	src, err := unix.Openat(e.dir, e.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("staging: open %s: %w", e.path, err)
	}
	in := os.NewFile(uintptr(src), e.path)
	defer in.Close()
	name := strconv.Itoa(n)
	dst, err := unix.Openat(newDir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("staging: stage %s: %w", e.path, err)
	}
	out := os.NewFile(uintptr(dst), name)
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("staging: stage %s: %w", e.path, err)
	}
	if err := out.Chown(e.uid, e.gid); err != nil {
		return err
	}
	if err := out.Chmod(os.FileMode(e.mode & 0o777)); err != nil {
		return err
	}
	ts := []unix.Timespec{e.atime, e.mtime}
	return unix.UtimesNanoAt(newDir, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// run applies a manifest's operations; each is idempotent, so that a
// commit interrupted by a crash is finished by running it again.
func (s *Store) run(cd int, m *Manifest) error {
	newDir, err := unix.Openat(cd, "new", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newDir)
	oldDir, err := ensureDir(cd, "old")
	if err != nil {
		return err
	}
	defer unix.Close(oldDir)
	for i := range m.Ops {
		if opHook != nil {
			opHook(i)
		}
		if err := s.do(&m.Ops[i], newDir, oldDir); err != nil {
			return fmt.Errorf("%s %s: %w", m.Ops[i].Kind, m.Ops[i].Path, err)
		}
	}
	return nil
}

// opHook, when set (the crash tests), runs before each operation of a
// commit.
var opHook func(i int)

func (s *Store) do(o *op, newDir, oldDir int) error {
	parent, base, err := s.parent(o.Path)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	n := strconv.Itoa(o.N)
	var st unix.Stat_t
	exists := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	// keepOld moves or links what is at Path to old/N, once.
	keepOld := func() error {
		if !exists || unix.Fstatat(oldDir, n, &unix.Stat_t{}, unix.AT_SYMLINK_NOFOLLOW) == nil {
			return nil
		}
		o.Existed = true
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return unix.Renameat(parent, base, oldDir, n)
		}
		return unix.Linkat(parent, base, oldDir, n, 0)
	}
	switch o.Kind {
	case "delete":
		if err := keepOld(); err != nil {
			return err
		}
		if exists && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := unix.Unlinkat(parent, base, 0); err != nil && err != unix.ENOENT {
				return err
			}
		}
	case "mkdir":
		if err := unix.Mkdirat(parent, base, o.Mode); err != nil && err != unix.EEXIST {
			return err
		}
		if err := s.setMeta(parent, base, o); err != nil {
			return err
		}
	case "meta":
		if err := s.setMeta(parent, base, o); err != nil {
			return err
		}
	case "put":
		if err := keepOld(); err != nil {
			return err
		}
		if exists && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			exists = false // moved to old/N by keepOld
		}
		switch o.Type {
		case "file":
			if err := unix.Renameat(newDir, n, parent, base); err != nil {
				if err == unix.ENOENT && unix.Fstatat(parent, base, &unix.Stat_t{}, unix.AT_SYMLINK_NOFOLLOW) == nil {
					break // renamed before a crash
				}
				return err
			}
		case "symlink", "fifo", "link":
			// Made beside the target and renamed over it: the name
			// never shows nothing in between.
			tmp := ".openclaw-run-" + n
			unix.Unlinkat(parent, tmp, 0)
			var err error
			switch o.Type {
			case "symlink":
				err = unix.Symlinkat(o.Target, parent, tmp)
			case "fifo":
				err = unix.Mknodat(parent, tmp, unix.S_IFIFO|o.Mode, 0)
			case "link":
				tp, tb, perr := s.parent(o.Target)
				if perr != nil {
					return perr
				}
				err = unix.Linkat(tp, tb, parent, tmp, 0)
				unix.Close(tp)
			}
			if err != nil {
				return err
			}
			if o.Type != "link" {
				if err := unix.Fchownat(parent, tmp, o.UID, o.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					return err
				}
			}
			if err := unix.Renameat(parent, tmp, parent, base); err != nil {
				return err
			}
		}
	}
	var post unix.Stat_t
	if unix.Fstatat(parent, base, &post, unix.AT_SYMLINK_NOFOLLOW) == nil {
		o.Post = post.Ino
	}
	return nil
}

func (s *Store) setMeta(parent int, base string, o *op) error {
	if err := unix.Fchownat(parent, base, o.UID, o.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if err := unix.Fchmodat(parent, base, o.Mode, 0); err != nil {
		return err
	}
	if o.Mtime != 0 {
		return unix.UtimesNanoAt(parent, base, []unix.Timespec{unix.NsecToTimespec(o.Atime), unix.NsecToTimespec(o.Mtime)}, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// parent opens the directory of a workspace path, beneath the workspace
// and through no symlink (a jail may have made any name a symlink: the
// commit runs as root and must never be led outside the workspace).
func (s *Store) parent(p string) (int, string, error) {
	dir, base := path.Split(p)
	if base == "" || base == "." || base == ".." || strings.HasPrefix(p, "/") {
		return -1, "", fmt.Errorf("invalid path %q", p)
	}
	if dir == "" {
		dir = "."
	}
	fd, err := unix.Openat2(s.ws, dir, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV})
	if err != nil {
		return -1, "", fmt.Errorf("open %s beneath the workspace: %w", dir, err)
	}
	return fd, base, nil
}

func (s *Store) lstat(p string, st *unix.Stat_t) error {
	parent, base, err := s.parent(p)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	return unix.Fstatat(parent, base, st, unix.AT_SYMLINK_NOFOLLOW)
}

// recover finishes what a crash interrupted (under the lock): a
// committing call is applied to its end, an undoing call undone to its
// end, a staged one (never at its commit point) discarded.
func (s *Store) recover() error {
	ms, err := s.manifests()
	if err != nil {
		return err
	}
	for _, m := range ms {
		switch m.State {
		case "staged":
			s.remove(m.CallID)
		case "committing", "undoing":
			cd, err := s.callDir(m.CallID, false)
			if err != nil {
				continue
			}
			if m.State == "committing" {
				err = s.apply(cd, m)
			} else {
				err = s.undo(cd, m)
			}
			if err != nil {
				// It cannot be finished (the workspace changed under it
				// in a way its operations refuse, e.g. a directory made
				// a symlink): recorded as failed, with why, rather than
				// retried before every later commit.
				m.State = "failed: " + err.Error()
				s.writeManifest(cd, m)
			}
			unix.Close(cd)
		}
	}
	return nil
}

// Approve commits a held call's changes.
func (s *Store) Approve(callID string) (*Changes, error) {
	return s.transition(callID, "held", func(cd int, m *Manifest) error {
		if err := s.apply(cd, m); err != nil {
			return err
		}
		m.Changes.State = "approved"
		return nil
	})
}

// Reject drops a held call's changes; the workspace never had them.
func (s *Store) Reject(callID string) (*Changes, error) {
	return s.transition(callID, "held", func(cd int, m *Manifest) error {
		removeTree(cd, "new")
		m.State, m.Changes.State = "rejected", "rejected"
		m.Bytes = 0
		return s.writeManifest(cd, m)
	})
}

// Undo restores what a committed call changed, as long as nothing changed
// the same paths since: otherwise it refuses and names the later call (or
// says that something outside the calls did).
func (s *Store) Undo(callID string) (*Changes, error) {
	return s.transition(callID, "committed", func(cd int, m *Manifest) error {
		if err := s.conflicts(m); err != nil {
			return err
		}
		return s.undo(cd, m)
	})
}

// Errors of the review operations, for callers that answer with a status
// (the gateway's admin routes).
var (
	ErrInvalidCall = errors.New("invalid call id")
	ErrNoCall      = errors.New("no such call")
	// ErrConflict: the call is not in the state the operation needs, or
	// a later change stands in an undo's way.
	ErrConflict = errors.New("conflict")
)

func (s *Store) transition(callID, from string, f func(cd int, m *Manifest) error) (*Changes, error) {
	if !validID(callID) {
		return nil, fmt.Errorf("staging: %w %q", ErrInvalidCall, callID)
	}
	var out *Changes
	err := s.locked(func() error {
		if err := s.recover(); err != nil {
			return err
		}
		cd, err := s.callDir(callID, false)
		if err != nil {
			return fmt.Errorf("%w: no staged or committed call %s in this workspace (or its record was pruned: sandbox.undoRetention)", ErrNoCall, callID)
		}
		defer unix.Close(cd)
		m, err := readManifest(cd)
		if err != nil {
			return err
		}
		if m.State != from {
			return fmt.Errorf("%w: call %s is %s, not %s", ErrConflict, callID, m.State, from)
		}
		if err := f(cd, m); err != nil {
			return err
		}
		out = m.Changes
		return nil
	})
	return out, err
}

// conflicts finds a path of m that a later change touched: a later call
// that changed it (or a path above or below it), or anything else that
// replaced what m left there.
func (s *Store) conflicts(m *Manifest) error {
	for _, o := range m.Ops {
		if later := s.laterToucher(m, o.Path); later != "" {
			return fmt.Errorf("%w: cannot undo %s: %s was changed since by call %s (undo that one first)", ErrConflict, m.CallID, o.Path, later)
		}
	}
	for _, o := range m.Ops {
		var st unix.Stat_t
		err := s.lstat(o.Path, &st)
		changed := false
		switch o.Kind {
		case "delete":
			changed = err == nil && !laterRecreatedBy(m, o.Path)
		case "put", "mkdir":
			changed = err != nil || st.Ino != o.Post
		}
		if !changed {
			continue
		}
		if later := s.laterToucher(m, o.Path); later != "" {
			return fmt.Errorf("%w: cannot undo %s: %s was changed since by call %s (undo that one first)", ErrConflict, m.CallID, o.Path, later)
		}
		return fmt.Errorf("%w: cannot undo %s: %s was changed since, outside the calls of this workspace", ErrConflict, m.CallID, o.Path)
	}
	return nil
}

// laterRecreatedBy: a delete followed, in the same call, by a put or
// mkdir of the same path (a replacement).
func laterRecreatedBy(m *Manifest, p string) bool {
	for _, o := range m.Ops {
		if o.Path == p && (o.Kind == "put" || o.Kind == "mkdir") {
			return true
		}
	}
	return false
}

// laterToucher names a call committed after m that changed p, or a path
// above or below it.
func (s *Store) laterToucher(m *Manifest, p string) string {
	ms, _ := s.manifests()
	for _, other := range ms {
		if other.CallID == m.CallID || !other.Time.After(m.Time) || (other.State != "committed") {
			continue
		}
		for _, o := range other.Ops {
			if o.Path == p || strings.HasPrefix(o.Path, p+"/") || strings.HasPrefix(p, o.Path+"/") {
				return other.CallID
			}
		}
	}
	return ""
}

// undo reverses m's operations, last first; each step is idempotent (a
// crash resumes it: state "undoing").
func (s *Store) undo(cd int, m *Manifest) error {
	m.State = "undoing"
	if err := s.writeManifest(cd, m); err != nil {
		return err
	}
	oldDir, err := ensureDir(cd, "old")
	if err != nil {
		return err
	}
	defer unix.Close(oldDir)
	for i := len(m.Ops) - 1; i >= 0; i-- {
		o := m.Ops[i]
		parent, base, err := s.parent(o.Path)
		if err != nil {
			return err
		}
		n := strconv.Itoa(o.N)
		var st unix.Stat_t
		exists := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
		switch o.Kind {
		case "put", "mkdir":
			if exists && st.Ino == o.Post {
				if st.Mode&unix.S_IFMT == unix.S_IFDIR {
					err = unix.Unlinkat(parent, base, unix.AT_REMOVEDIR)
				} else {
					err = unix.Unlinkat(parent, base, 0)
				}
			}
			if err == nil && o.Existed {
				err = restore(oldDir, n, parent, base)
			}
		case "meta":
			o.UID, o.GID, o.Mode, o.Mtime = o.OldUID, o.OldGID, o.OldMode, 0
			err = s.setMeta(parent, base, &o)
		case "delete":
			if o.Existed {
				err = restore(oldDir, n, parent, base)
			}
		}
		unix.Close(parent)
		if err != nil {
			return fmt.Errorf("undo %s %s: %w", o.Kind, o.Path, err)
		}
	}
	m.State, m.Changes.State = "undone", "undone"
	return s.writeManifest(cd, m)
}

// restore puts old/N back at a name (a no-op once done).
func restore(oldDir int, n string, parent int, base string) error {
	if unix.Fstatat(oldDir, n, &unix.Stat_t{}, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return nil // restored before a crash
	}
	return unix.Renameat(oldDir, n, parent, base)
}

// List returns the store's calls, oldest first.
func (s *Store) List() ([]*Manifest, error) {
	var out []*Manifest
	err := s.locked(func() error {
		var err error
		out, err = s.manifests()
		return err
	})
	return out, err
}

func (s *Store) manifests() ([]*Manifest, error) {
	names, err := readNames(s.calls)
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, n := range names {
		if !validID(n) {
			continue
		}
		cd, err := s.callDir(n, false)
		if err != nil {
			continue
		}
		m, err := readManifest(cd)
		unix.Close(cd)
		if err != nil {
			s.remove(n) // staged and never written down: nothing to keep
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// Prune drops the records (and pre-images) of calls that ended longer
// than maxAge ago, and then the oldest until the store holds at most
// maxBytes; held calls are kept. It returns how many it dropped.
func (s *Store) Prune(maxAge time.Duration, maxBytes int64) (int, error) {
	n := 0
	err := s.locked(func() error {
		ms, err := s.manifests()
		if err != nil {
			return err
		}
		var total int64
		for _, m := range ms {
			total += m.Bytes
		}
		for _, m := range ms {
			if m.State == "held" {
				continue
			}
			if (maxAge > 0 && time.Since(m.Time) > maxAge) || (maxBytes > 0 && total > maxBytes) {
				s.remove(m.CallID)
				total -= m.Bytes
				n++
			}
		}
		return nil
	})
	return n, err
}

// Usage is what the store keeps: calls and bytes.
func (s *Store) Usage() (calls int, bytes int64, err error) {
	ms, err := s.List()
	for _, m := range ms {
		calls++
		bytes += m.Bytes
	}
	return calls, bytes, err
}

func (s *Store) callDir(id string, create bool) (int, error) {
	if create {
		return ensureDir(s.calls, id)
	}
	fd, err := unix.Openat(s.calls, id, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	return fd, nil
}

func (s *Store) remove(id string) { removeTree(s.calls, id) }

// writeManifest replaces a call's manifest atomically and durably: the
// state transitions are what recovery reads.
func (s *Store) writeManifest(cd int, m *Manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	unix.Unlinkat(cd, "manifest.tmp", 0)
	fd, err := unix.Openat(cd, "manifest.tmp", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("staging: write the manifest: %w", err)
	}
	f := os.NewFile(uintptr(fd), "manifest.tmp")
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err == nil {
		err = unix.Renameat(cd, "manifest.tmp", cd, "manifest.json")
	}
	if err == nil {
		err = unix.Fsync(cd)
	}
	if err != nil {
		return fmt.Errorf("staging: write the manifest: %w", err)
	}
	return nil
}

func readManifest(cd int) (*Manifest, error) {
	fd, err := unix.Openat(cd, "manifest.json", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "manifest.json")
	defer f.Close()
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(f, 256<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("staging: read the manifest: %w", err)
	}
	if m.Changes == nil {
		m.Changes = &Changes{}
	}
	return &m, nil
}

// removeTree removes name below dir, never following a symlink.
func removeTree(dir int, name string) {
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if sub, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
			names, _ := readNames(sub)
			for _, n := range names {
				removeTree(sub, n)
			}
			unix.Close(sub)
		}
		unix.Unlinkat(dir, name, unix.AT_REMOVEDIR)
		return
	}
	unix.Unlinkat(dir, name, 0)
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func statType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFIFO:
		return "fifo"
	}
	return "file"
}

func sortStrings(s []string) { sort.Strings(s) }
