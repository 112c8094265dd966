package staging

import (
	"fmt"
	"path"

	"golang.org/x/sys/unix"
)

// MaxEntries caps the files a Changes lists; the totals count them all.
const MaxEntries = 1000

// Change is one path a call changed.
type Change struct {
	Path string `json:"path"`
	// Op is added, modified or deleted.
	Op string `json:"op"`
	// Type is file, dir, symlink or fifo.
	Type string `json:"type"`
	// Bytes is the size written (added, modified) or removed (deleted).
	Bytes int64 `json:"bytes"`
}

// Changes is what a call changed in its workspace, and what became of it.
type Changes struct {
	// State is committed (in the workspace), held (waiting for approve or
	// reject), discarded (an aborted call under onAbort "discard"),
	// approved, rejected or undone.
	State string   `json:"state"`
	Files []Change `json:"files"`
	// Totals over every change, listed or not.
	Added        int   `json:"added"`
	Modified     int   `json:"modified"`
	Deleted      int   `json:"deleted"`
	BytesWritten int64 `json:"bytesWritten"`
	BytesDeleted int64 `json:"bytesDeleted"`
	// Truncated: more than MaxEntries changes; Files lists the first.
	Truncated bool `json:"truncated,omitempty"`
	// DiskLimitHit and InodeLimitHit: a write of the call failed with
	// ENOSPC at limits.disk (or its inode limit); what fit is listed.
	DiskLimitHit  bool `json:"diskLimitHit,omitempty"`
	InodeLimitHit bool `json:"inodeLimitHit,omitempty"`
}

func (c *Changes) add(ch Change) {
	switch ch.Op {
	case "added":
		c.Added++
		c.BytesWritten += ch.Bytes
	case "modified":
		c.Modified++
		c.BytesWritten += ch.Bytes
	case "deleted":
		c.Deleted++
		c.BytesDeleted += ch.Bytes
	}
	if len(c.Files) < MaxEntries {
		c.Files = append(c.Files, ch)
	} else {
		c.Truncated = true
	}
}

// Empty reports whether nothing changed.
func (c *Changes) Empty() bool { return c.Added+c.Modified+c.Deleted == 0 }

// entry is one name of the upper layer.
type entry struct {
	path   string // relative to the workspace, slash-separated
	kind   string // whiteout, dir, opaque, file, symlink, fifo, other
	mode   uint32
	uid    int
	gid    int
	size   int64
	mtime  unix.Timespec
	atime  unix.Timespec
	target string // symlink
	ino    uint64
	nlink  uint64
	// dir and name locate it in the upper layer (dir is an open fd held
	// by the walk's caller).
	dir  int
	name string
}

// storeName is the workspace's own directory of the staging store: never
// a change of a call.
const storeName = ".openclaw-run"

// walk visits the upper layer in pre-order (a directory before what it
// holds), never following a symlink: every name in it was made by the
// jail. visit gets each entry with its directory open.
func (l *Layer) walk(visit func(*entry) error) error {
	up, err := l.upper()
	if err != nil {
		return fmt.Errorf("staging: open the upper layer: %w", err)
	}
	defer unix.Close(up)
	return walkDir(up, "", visit)
}

func walkDir(dir int, rel string, visit func(*entry) error) error {
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := path.Join(rel, name)
		if rel == "" && name == storeName {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("staging: stat %s: %w", p, err)
		}
		e := &entry{path: p, mode: st.Mode, uid: int(st.Uid), gid: int(st.Gid), size: st.Size,
			mtime: st.Mtim, atime: st.Atim, ino: st.Ino, nlink: uint64(st.Nlink), dir: dir, name: name}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			if st.Rdev == 0 {
				e.kind = "whiteout" // overlayfs(5): a deleted name
			} else {
				e.kind = "other"
			}
		case unix.S_IFDIR:
			e.kind = "dir"
			if opaque(dir, name) {
				e.kind = "opaque" // replaced: nothing of the lower dir shows
			}
		case unix.S_IFREG:
			e.kind = "file"
		case unix.S_IFLNK:
			e.kind = "symlink"
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(dir, name, buf)
			if err != nil {
				return fmt.Errorf("staging: readlink %s: %w", p, err)
			}
			e.target = string(buf[:n])
		case unix.S_IFIFO:
			e.kind = "fifo"
		default:
			e.kind = "other" // a socket: nothing to keep of it
		}
		if err := visit(e); err != nil {
			return err
		}
		if e.kind == "dir" || e.kind == "opaque" {
			sub, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("staging: open %s: %w", p, err)
			}
			err = walkDir(sub, p, visit)
			unix.Close(sub)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// opaque reports whether a directory of the upper layer hides the lower
// one (overlayfs's trusted.overlay.opaque "y").
func opaque(dir int, name string) bool {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	buf := make([]byte, 8)
	n, err := unix.Fgetxattr(fd, "trusted.overlay.opaque", buf)
	return err == nil && n >= 1 && buf[0] == 'y'
}

// readNames lists a directory's names, sorted (a stable order: equal
// layers, equal change lists).
func readNames(dir int) ([]string, error) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	sortStrings(names)
	return names, nil
}

func typeOf(kind string) string {
	switch kind {
	case "opaque":
		return "dir"
	case "whiteout":
		return ""
	}
	return kind
}
