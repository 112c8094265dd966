// Package backup writes and restores the hardening guide's backups
// (section 6): one dated tar.gz holding named trees (the state dir with
// the config, encrypted secrets, audit logs and session store; a workspace
// root kept elsewhere) and a manifest with the sha256 of every file.
//
// The manifest is the archive's last entry, so the hashes are computed
// while the files are written and a file that changes during the backup
// still matches its recorded hash. Restore verifies every hash before it
// touches anything, extracts each tree next to its target, and only then
// swaps the trees in with rename(2); the trees it replaces are kept beside
// them, so nothing is lost if the restore was a mistake.
package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// syscallNoFollow: neither reading nor restoring follows a symlink at the
// last component (entries below a symlink are refused outright).
const syscallNoFollow = syscall.O_NOFOLLOW

// ManifestName is the archive's last entry.
const ManifestName = "MANIFEST.json"

// Manifest describes an archive.
type Manifest struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Host    string    `json:"host"`
	// Trees maps each tree's name to the directory it was read from.
	Trees map[string]string `json:"trees"`
	Files []File            `json:"files"`
}

// File is one entry of the manifest. Path is "tree/relative/path".
type File struct {
	Path   string      `json:"path"`
	Type   string      `json:"type"` // file | dir | symlink
	Mode   fs.FileMode `json:"mode"`
	Size   int64       `json:"size,omitempty"`
	SHA256 string      `json:"sha256,omitempty"`
	Link   string      `json:"link,omitempty"`
	// UID and GID are restored when the restore runs as root: workspace
	// files belong to the workspace owner, not to whoever restores them.
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// Tree is a directory to back up under Name.
type Tree struct {
	Name, Dir string
	// Skip leaves out a path (relative, slash-separated) and what is below it.
	Skip func(rel string) bool
	// Special writes the content of a file itself (a consistent snapshot of
	// a database that a running process holds open) instead of reading it.
	Special map[string]func(io.Writer) error
}

// Create writes dest/openclaw-backup-<time>.tar.gz (via a temporary file,
// renamed when complete) and returns its path.
func Create(dest string, trees []Tree, now time.Time) (string, *Manifest, error) {
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return "", nil, err
	}
	tmp, err := os.CreateTemp(dest, ".openclaw-backup-*.partial")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	host, _ := os.Hostname()
	m := &Manifest{Version: 1, Created: now.UTC(), Host: host, Trees: map[string]string{}}
	zw := gzip.NewWriter(tmp)
	tw := tar.NewWriter(zw)
	for _, t := range trees {
		m.Trees[t.Name] = t.Dir
		if err := addTree(tw, t, m); err != nil {
			tmp.Close()
			return "", nil, fmt.Errorf("back up %s (%s): %w", t.Name, t.Dir, err)
		}
	}
	mj, _ := json.MarshalIndent(m, "", "  ")
	err = tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(mj)), ModTime: now, Typeflag: tar.TypeReg})
	if err == nil {
		_, err = tw.Write(mj)
	}
	for _, c := range []io.Closer{tw, zw} {
		if err == nil {
			err = c.Close()
		}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	var name string
	if err == nil {
		name, err = linkNew(tmp.Name(), dest, now)
	}
	if err != nil {
		return "", nil, err
	}
	return name, m, nil
}

// linkNew gives the finished archive its name without replacing one:
// openclaw-backup-<UTC second>.tar.gz, and when a backup of the same second
// has it, the same with a counter as a fraction of that second (.1, .2, ...),
// which Prune still reads as the time.
func linkNew(tmp, dest string, now time.Time) (string, error) {
	base := filepath.Join(dest, "openclaw-backup-"+now.UTC().Format("2006-01-02_15-04-05"))
	for i := 0; i < 1000; i++ {
		name := base + ".tar.gz"
		if i > 0 {
			name = fmt.Sprintf("%s.%d.tar.gz", base, i)
		}
		err := os.Link(tmp, name) // unlike rename, fails on an existing name
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: a thousand backups in one second", base)
}

func addTree(tw *tar.Writer, t Tree, m *Manifest) error {
	return filepath.WalkDir(t.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(t.Dir, p)
		rel = filepath.ToSlash(rel)
		if rel != "." && t.Skip != nil && t.Skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		name := path.Join(t.Name, rel)
		st, _ := info.Sys().(*syscall.Stat_t)
		hdr := &tar.Header{Name: name, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime(), Uid: int(st.Uid), Gid: int(st.Gid)}
		f := File{Path: name, Mode: info.Mode().Perm(), UID: hdr.Uid, GID: hdr.Gid}
		switch {
		case d.IsDir():
			hdr.Typeflag, hdr.Name, f.Type = tar.TypeDir, name+"/", "dir"
			m.Files = append(m.Files, f)
			return tw.WriteHeader(hdr)
		case d.Type()&fs.ModeSymlink != 0:
			// Recorded, never followed: a symlink in a workspace may point
			// anywhere on the host.
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname, f.Type, f.Link = tar.TypeSymlink, link, "symlink", link
			m.Files = append(m.Files, f)
			return tw.WriteHeader(hdr)
		case !d.Type().IsRegular():
			return nil // sockets, fifos, devices: not data
		}
		src, size, closeSrc, err := fileSource(p, t.Special[rel])
		if err != nil {
			return err
		}
		defer closeSrc()
		hdr.Typeflag, hdr.Size = tar.TypeReg, size
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		h := sha256.New()
		if n, err := io.Copy(io.MultiWriter(tw, h), src); err != nil || n != size {
			return fmt.Errorf("%s: copied %d of %d bytes: %v (did it shrink while being backed up?)", p, n, size, err)
		}
		f.Type, f.Size, f.SHA256 = "file", size, hex.EncodeToString(h.Sum(nil))
		m.Files = append(m.Files, f)
		return nil
	})
}

// fileSource opens what a file entry holds: the special's output (a
// small snapshot, in memory), or the file streamed up to the size it had
// when opened, so that the tar header, the bytes and the hash agree even
// if it is being appended to (a file that shrinks meanwhile is an error).
// Files are never read whole: a workspace may hold large ones.
func fileSource(p string, special func(io.Writer) error) (io.Reader, int64, func(), error) {
	if special != nil {
		var b bytes.Buffer
		if err := special(&b); err != nil {
			return nil, 0, nil, err
		}
		return &b, int64(b.Len()), func() {}, nil
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return io.LimitReader(f, st.Size()), st.Size(), func() { f.Close() }, nil
}

// Verify reads the whole archive and checks every entry against the
// manifest: same set of paths, types, sizes and hashes.
func Verify(archive string) (*Manifest, error) {
	m, _, err := walk(archive, nil)
	return m, err
}

// walk reads the archive; for every entry it calls each (which may
// extract it) and checks the result against the manifest at the end.
func walk(archive string, each func(hdr *tar.Header, r io.Reader) error) (*Manifest, map[string]File, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a gzip archive: %w", archive, err)
	}
	tr := tar.NewReader(zr)
	seen := map[string]File{}
	var m *Manifest
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", archive, err)
		}
		if m != nil {
			return nil, nil, fmt.Errorf("%s: entry %q after the manifest", archive, hdr.Name)
		}
		if hdr.Name == ManifestName {
			m = new(Manifest)
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(m); err != nil {
				return nil, nil, fmt.Errorf("%s: manifest: %w", archive, err)
			}
			continue
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if !safeName(name) {
			return nil, nil, fmt.Errorf("%s: unsafe entry name %q", archive, hdr.Name)
		}
		if _, dup := seen[name]; dup {
			return nil, nil, fmt.Errorf("%s: entry %q appears twice", archive, name)
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if seen[dir].Type == "symlink" {
				// Create never writes one; extracting it would write
				// through the link, outside the tree.
				return nil, nil, fmt.Errorf("%s: entry %q lies below the symlink %q", archive, name, dir)
			}
		}
		e := File{Path: name, Mode: fs.FileMode(hdr.Mode).Perm(), Link: hdr.Linkname, UID: hdr.Uid, GID: hdr.Gid}
		h := sha256.New()
		r := io.TeeReader(tr, h)
		switch hdr.Typeflag {
		case tar.TypeDir:
			e.Type = "dir"
		case tar.TypeSymlink:
			e.Type = "symlink"
		case tar.TypeReg:
			e.Type, e.Size = "file", hdr.Size
		default:
			return nil, nil, fmt.Errorf("%s: entry %q has unexpected type %q", archive, hdr.Name, hdr.Typeflag)
		}
		if each != nil {
			if err := each(hdr, r); err != nil {
				return nil, nil, err
			}
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", archive, name, err)
		}
		if e.Type == "file" {
			e.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		seen[name] = e
	}
	if m == nil {
		return nil, nil, fmt.Errorf("%s: no %s: not an openclaw-run backup, or truncated", archive, ManifestName)
	}
	if len(m.Files) != len(seen) {
		return nil, nil, fmt.Errorf("%s: manifest lists %d entries, archive holds %d", archive, len(m.Files), len(seen))
	}
	for _, want := range m.Files {
		got, ok := seen[want.Path]
		if !ok {
			return nil, nil, fmt.Errorf("%s: %s is in the manifest but not in the archive", archive, want.Path)
		}
		if got != want {
			return nil, nil, fmt.Errorf("%s: %s does not match the manifest (sha256 %s, want %s)", archive, want.Path, got.SHA256, want.SHA256)
		}
	}
	return m, seen, nil
}

// safeName refuses absolute names and "..": an archive is input.
func safeName(name string) bool {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

// Restore verifies the archive, extracts each tree into a new directory
// beside its target (targets maps tree names to directories; a tree
// without a target is refused), verifies again what was extracted, and
// swaps the trees in. It returns where the replaced trees were kept.
func Restore(archive string, targets map[string]string, now time.Time) (kept []string, err error) {
	m, err := Verify(archive)
	if err != nil {
		return nil, err
	}
	staged := map[string]string{}
	defer func() {
		for _, dir := range staged {
			os.RemoveAll(dir)
		}
	}()
	for tree := range m.Trees {
		target, ok := targets[tree]
		if !ok {
			return nil, fmt.Errorf("the archive holds tree %q but no target was given for it", tree)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+".restore-")
		if err != nil {
			return nil, err
		}
		staged[tree] = dir
	}
	_, _, err = walk(archive, func(hdr *tar.Header, r io.Reader) error {
		tree, rel, _ := strings.Cut(strings.TrimSuffix(hdr.Name, "/"), "/")
		dir, ok := staged[tree]
		if !ok {
			return fmt.Errorf("entry %q belongs to no tree of the manifest", hdr.Name)
		}
		return extract(filepath.Join(dir, filepath.FromSlash(rel)), hdr, r)
	})
	if err != nil {
		return nil, fmt.Errorf("restore stopped before anything was replaced: %w", err)
	}
	// Directory modes last: a read-only directory must be filled first.
	dirs := []File{}
	for _, f := range m.Files {
		if f.Type == "dir" {
			dirs = append(dirs, f)
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i].Path) > len(dirs[j].Path) })
	for _, f := range dirs {
		tree, rel, _ := strings.Cut(f.Path, "/")
		if err := os.Chmod(filepath.Join(staged[tree], filepath.FromSlash(rel)), f.Mode); err != nil {
			return nil, err
		}
	}
	return swap(staged, targets, now)
}

// extract writes one entry below the staging directory. Parents were
// created by earlier entries (tar order is walk order); symlinks are
// created as links and never followed, because O_NOFOLLOW and the order
// of the entries keep every write below the staging directory.
func extract(p string, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return chown(p, hdr)
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
		return chown(p, hdr)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscallNoFollow, fs.FileMode(hdr.Mode).Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = chown(p, hdr)
	}
	if err == nil {
		err = os.Chtimes(p, hdr.ModTime, hdr.ModTime)
	}
	return err
}

// chown gives an entry its recorded owner when restoring as root (an
// unprivileged restore owns what it writes). Lchown: a symlink itself.
func chown(p string, hdr *tar.Header) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return os.Lchown(p, hdr.Uid, hdr.Gid)
}

// swap renames each target aside (when it exists) and the staged tree in;
// on a failure it puts back what it had moved.
func swap(staged, targets map[string]string, now time.Time) ([]string, error) {
	type move struct{ from, to string }
	var done []move
	undo := func() {
		for i := len(done) - 1; i >= 0; i-- {
			os.Rename(done[i].to, done[i].from)
		}
	}
	var kept []string
	names := make([]string, 0, len(staged))
	for tree := range staged {
		names = append(names, tree)
	}
	sort.Strings(names)
	for _, tree := range names {
		target := targets[tree]
		if _, err := os.Lstat(target); err == nil {
			aside := target + ".pre-restore-" + now.UTC().Format("2006-01-02_15-04-05")
			if err := os.Rename(target, aside); err != nil {
				undo()
				return nil, fmt.Errorf("move %s aside: %w", target, err)
			}
			done = append(done, move{target, aside})
			kept = append(kept, aside)
		}
		if err := os.Rename(staged[tree], target); err != nil {
			undo()
			return nil, fmt.Errorf("move the restored %s into place: %w", tree, err)
		}
		done = append(done, move{staged[tree], target})
	}
	for tree := range staged {
		delete(staged, tree) // in place now: not for the deferred cleanup
	}
	return kept, nil
}

// Prune removes the archives in dest created more than keep ago (by the
// time in their name, not the file's mtime, which a copy may change).
func Prune(dest string, keep time.Duration, now time.Time) ([]string, error) {
	entries, err := os.ReadDir(dest)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), "openclaw-backup-")
		stamp, ok2 := strings.CutSuffix(stamp, ".tar.gz")
		if !ok || !ok2 || !e.Type().IsRegular() {
			continue
		}
		t, err := time.Parse("2006-01-02_15-04-05", stamp)
		if err != nil || now.Sub(t) <= keep {
			continue
		}
		p := filepath.Join(dest, e.Name())
		if err := os.Remove(p); err != nil {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}
