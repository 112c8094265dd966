package tools

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Bounds of what one call reads or keeps in memory.
const (
	DefaultReadLines = 2000
	MaxReadBytes     = 1 << 20  // of text returned by one read
	MaxEditBytes     = 64 << 20 // a file edit or apply_patch loads whole
	// MaxReadFileBytes bounds read with encoding base64 (the whole file).
	// The answer, a third larger as base64, must also fit the profile's
	// maxOutput; the runner refuses a larger one with limit_exceeded.
	MaxReadFileBytes = 64 << 20
	binaryPreview    = 64 << 10
)

// ReadResult is what read returns.
type ReadResult struct {
	Path       string `json:"path"`
	Content    string `json:"content,omitempty"`
	StartLine  int    `json:"startLine,omitempty"`
	EndLine    int    `json:"endLine,omitempty"`
	TotalLines int    `json:"totalLines,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
	// A binary file (a NUL byte or invalid UTF-8) is not returned as
	// text: its size and hash, and its first 64 KiB in base64.
	Binary  bool   `json:"binary,omitempty"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256,omitempty"`
	Base64  string `json:"base64,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

// Read returns lines [offset, offset+limit) of a text file (1-based).
func Read(p *Params) (*ReadResult, error) {
	name := Resolve(p.Path)
	f, st, err := openRegular(name, p.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &ReadResult{Path: name, Size: st.Size()}
	head := make([]byte, 8192)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(trimPartialRune(head)) {
		return readBinary(f, res)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fsError(err, p.Path)
	}
	offset, limit := p.Offset, p.Limit
	if offset == 0 {
		offset = 1
	}
	if limit == 0 {
		limit = DefaultReadLines
	}
	var out strings.Builder
	r := newLineReader(f)
	line := 0
	for {
		l, err := r.next()
		if l == nil && err != nil {
			break
		}
		line++
		if line < offset || line >= offset+limit {
			continue
		}
		if out.Len()+len(l) > MaxReadBytes {
			res.Truncated = true
			continue
		}
		if res.StartLine == 0 {
			res.StartLine = line
		}
		res.EndLine = line
		out.Write(l)
	}
	res.TotalLines = line
	res.Content = out.String()
	if res.EndLine < line && line >= offset+limit {
		res.Truncated = true
	}
	if !utf8.ValidString(res.Content) {
		f.Seek(0, io.SeekStart)
		return readBinary(f, res)
	}
	return res, nil
}

func readBinary(f *os.File, res *ReadResult) (*ReadResult, error) {
	f.Seek(0, io.SeekStart)
	h := sha256.New()
	preview := make([]byte, binaryPreview)
	n, _ := io.ReadFull(f, preview)
	h.Write(preview[:n])
	io.Copy(h, f)
	*res = ReadResult{Path: res.Path, Size: res.Size, Binary: true, SHA256: hex.EncodeToString(h.Sum(nil)),
		Base64: base64.StdEncoding.EncodeToString(preview[:n]), Partial: int64(n) < res.Size}
	return res, nil
}

// trimPartialRune drops an incomplete UTF-8 sequence cut at the end.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		r, size := utf8.DecodeLastRune(b)
		if r != utf8.RuneError || size != 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}

type lineReader struct {
	r   io.Reader
	buf []byte
	eof bool
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: r} }

// next returns the next line with its newline.
func (l *lineReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(l.buf, '\n'); i >= 0 {
			line := l.buf[: i+1 : i+1]
			l.buf = l.buf[i+1:]
			return line, nil
		}
		if l.eof {
			if len(l.buf) > 0 {
				line := l.buf
				l.buf = nil
				return line, io.EOF
			}
			return nil, io.EOF
		}
		chunk := make([]byte, 64<<10)
		n, err := l.r.Read(chunk)
		l.buf = append(l.buf, chunk[:n]...)
		if err != nil {
			l.eof = true
		}
	}
}

// ReadBase64 writes the helper's whole reply for read with encoding
// base64 to w: {"ok":true,"result":{"path","base64","size"}}. The bytes
// are streamed from the file into the base64 encoder, so that the helper
// holds none of them: a 64 MiB file costs no 150 MiB of memory in a jail
// limited to a few hundred. The bytes are those up to the size the file
// had when it was opened; size is the number sent.
func ReadBase64(p *Params, w io.Writer) error {
	name := Resolve(p.Path)
	f, st, err := openRegular(name, p.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st.Size() > MaxReadFileBytes {
		return &Error{Code: CodeLimit, Message: fmt.Sprintf("%s is %d bytes; read with encoding base64 returns at most %d", p.Path, st.Size(), MaxReadFileBytes)}
	}
	pathJSON, _ := json.Marshal(name)
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, `{"ok":true,"result":{"path":%s,"base64":"`, pathJSON)
	enc := base64.NewEncoder(base64.StdEncoding, bw)
	n, err := io.Copy(enc, io.LimitReader(f, st.Size()))
	if err != nil {
		// The reply is cut short: the runner sees no valid answer and
		// says so. Nothing better can be sent after part of it.
		return fmt.Errorf("read %s: %w", p.Path, err)
	}
	enc.Close()
	fmt.Fprintf(bw, `","size":%d}}`+"\n", n)
	return bw.Flush()
}

// WriteResult is what write returns.
type WriteResult struct {
	Path    string `json:"path"`
	Bytes   int    `json:"bytes"`
	Created bool   `json:"created"`
}

// Write creates or replaces a file atomically (a temporary file in the
// same directory, then a rename), creating its parent directories unless
// mkdir is false. With exclusive it fails with the code exists when the
// file is there, decided by the kernel at the rename (RENAME_NOREPLACE),
// not by an earlier look.
func Write(p *Params) (*WriteResult, error) {
	name := Resolve(p.Path)
	data, err := p.content()
	if err != nil {
		return nil, err
	}
	if p.mkdirParents() {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, fsError(err, p.Path)
		}
	}
	existed, err := replace(name, p.Path, data, p.Exclusive)
	if err != nil {
		return nil, err
	}
	return &WriteResult{Path: name, Bytes: len(data), Created: !existed}, nil
}

// replace writes data to name through a temporary file in the same
// directory and a rename, keeping the old file's mode. It refuses to
// replace a directory, FIFO, socket or device (checkReplaceable); with
// exclusive, any existing path. It reports whether name existed.
func replace(name, shown string, data []byte, exclusive bool) (bool, error) {
	mode, existed, err := checkReplaceable(name, shown)
	if err != nil {
		return existed, err
	}
	if exclusive && existed {
		return true, errExists(shown, "the file exists (exclusive)")
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".openclaw-*.tmp")
	if err != nil {
		return existed, fsError(err, shown)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return existed, fsError(err, shown)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return existed, fsError(err, shown)
	}
	if err := tmp.Close(); err != nil {
		return existed, fsError(err, shown)
	}
	if !exclusive {
		if err := os.Rename(tmp.Name(), name); err != nil {
			return existed, fsError(err, shown)
		}
		return existed, nil
	}
	return false, renameNoReplace(tmp.Name(), name, shown)
}

// renameNoReplace moves tmp to name unless name exists: renameat2(2) with
// RENAME_NOREPLACE, or, on a filesystem without it (EINVAL), link(2),
// which fails with EEXIST just the same (the caller removes tmp).
func renameNoReplace(tmp, name, shown string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, name, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) {
		err = unix.Link(tmp, name)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return errExists(shown, "the file exists (exclusive)")
	}
	return fsError(&fs.PathError{Op: "rename", Path: name, Err: err}, shown)
}

// EditResult is what edit returns.
type EditResult struct {
	Path         string `json:"path"`
	Replacements int    `json:"replacements"`
}

// Edit applies exact replacements in order. Each oldText must occur
// exactly once in the file as it is when its turn comes.
func Edit(p *Params) (*EditResult, error) {
	name := Resolve(p.Path)
	data, err := readAll(name, p.Path)
	if err != nil {
		return nil, err
	}
	edits := p.Edits
	if p.OldText != "" {
		edits = append([]Replacement{{OldText: p.OldText, NewText: p.NewText}}, edits...)
	}
	text := string(data)
	for i, e := range edits {
		if e.OldText == "" {
			return nil, invalid("edit %d: oldText is empty", i+1)
		}
		switch n := strings.Count(text, e.OldText); n {
		case 0:
			return nil, &Error{Code: CodeNotFound, Message: fmt.Sprintf("edit %d: oldText not found in %s", i+1, p.Path)}
		case 1:
			text = strings.Replace(text, e.OldText, e.NewText, 1)
		default:
			return nil, invalid("edit %d: oldText occurs %d times in %s; include more surrounding text to make it unique", i+1, n, p.Path)
		}
	}
	if _, err := replace(name, p.Path, []byte(text), false); err != nil {
		return nil, err
	}
	return &EditResult{Path: name, Replacements: len(edits)}, nil
}

// readAll reads a whole regular file, at most MaxEditBytes, without
// blocking on what is not one.
func readAll(name, shown string) ([]byte, error) {
	f, st, err := openRegular(name, shown)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > MaxEditBytes {
		return nil, &Error{Code: CodeLimit, Message: fmt.Sprintf("%s is %d bytes; edits load at most %d", shown, st.Size(), MaxEditBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxEditBytes+1))
	if err != nil {
		return nil, fsError(err, shown)
	}
	if len(data) > MaxEditBytes {
		return nil, &Error{Code: CodeLimit, Message: fmt.Sprintf("%s grew past %d bytes while being read", shown, MaxEditBytes)}
	}
	return data, nil
}

// Entry is one ls line.
type Entry struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // file, dir, symlink, other
	Size    int64  `json:"size"`
	Mode    string `json:"mode"`
	MtimeMs int64  `json:"mtimeMs"` // modification time, ms since the epoch
	Target  string `json:"target,omitempty"`
}

// LsResult is what ls returns.
type LsResult struct {
	Path    string  `json:"path"`
	Entries []Entry `json:"entries"`
}

// Ls lists a directory (sorted), or describes one file. Listing opens the
// directory with O_DIRECTORY and O_NONBLOCK, so a directory swapped for a
// FIFO after the lstat fails at once instead of blocking.
func Ls(p *Params) (*LsResult, error) {
	name := Resolve(p.Path)
	st, err := os.Lstat(name)
	if err != nil {
		return nil, fsError(err, p.Path)
	}
	res := &LsResult{Path: name}
	if !st.IsDir() {
		res.Entries = []Entry{entry(filepath.Dir(name), st)}
		return res, nil
	}
	d, err := openDir(name, p.Path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	des, err := d.ReadDir(-1)
	if err != nil {
		return nil, fsError(err, p.Path)
	}
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		res.Entries = append(res.Entries, entry(name, info))
	}
	sort.Slice(res.Entries, func(i, j int) bool { return res.Entries[i].Name < res.Entries[j].Name })
	return res, nil
}

func entry(dir string, st os.FileInfo) Entry {
	e := Entry{Name: st.Name(), Size: st.Size(), Mode: st.Mode().String(), MtimeMs: st.ModTime().UnixMilli()}
	switch {
	case st.Mode().IsRegular():
		e.Type = "file"
	case st.IsDir():
		e.Type = "dir"
	case st.Mode()&os.ModeSymlink != 0:
		e.Type = "symlink"
		e.Target, _ = os.Readlink(filepath.Join(dir, st.Name()))
	default:
		e.Type = "other"
	}
	return e
}

// StatResult is what stat returns.
type StatResult struct {
	Path    string `json:"path"`
	Type    string `json:"type"` // file, directory, symlink, other
	Size    int64  `json:"size"`
	MtimeMs int64  `json:"mtimeMs"`
	Mode    string `json:"mode"` // as ls shows it: "-rw-r--r--"
	Target  string `json:"target,omitempty"`
}

// Stat describes one path with lstat(2) semantics: a final symlink is
// described, not followed, as OpenClaw's own bridge does (GNU `stat -c`
// without -L), so that a link planted in the workspace reports itself;
// the directories on the way are resolved by the kernel in the jail. It
// opens nothing, so no file type can make it block.
func Stat(p *Params) (*StatResult, error) {
	name := Resolve(p.Path)
	st, err := os.Lstat(name)
	if err != nil {
		return nil, fsError(err, p.Path)
	}
	res := &StatResult{Path: name, Size: st.Size(), MtimeMs: st.ModTime().UnixMilli(), Mode: st.Mode().String()}
	switch m := st.Mode(); {
	case m.IsRegular():
		res.Type = "file"
	case m.IsDir():
		res.Type = "directory"
	case m&os.ModeSymlink != 0:
		res.Type = "symlink"
		res.Target, _ = os.Readlink(name)
	default:
		res.Type = "other"
	}
	return res, nil
}

// MkdirResult is what mkdir returns.
type MkdirResult struct {
	Path    string `json:"path"`
	Created bool   `json:"created"`
}

// Mkdir creates a directory (mode 0755, less the umask). Without
// recursive its parent must exist and the path must not (exists
// otherwise); with recursive, as mkdir -p, missing parents are created
// and an existing directory is no error.
func Mkdir(p *Params) (*MkdirResult, error) {
	name := Resolve(p.Path)
	st, err := os.Lstat(name)
	switch {
	case err == nil && st.IsDir() && p.Recursive:
		return &MkdirResult{Path: name}, nil
	case err == nil && st.IsDir():
		return nil, errExists(p.Path, "the directory exists (recursive: true accepts that)")
	case err == nil:
		return nil, errExists(p.Path, "exists and is "+typeName(st.Mode())+", not a directory")
	}
	if p.Recursive {
		err = os.MkdirAll(name, 0o755)
	} else {
		err = os.Mkdir(name, 0o755)
	}
	if err != nil {
		return nil, fsError(err, p.Path)
	}
	return &MkdirResult{Path: name, Created: true}, nil
}

// RemoveResult is what remove returns.
type RemoveResult struct {
	Path    string `json:"path"`
	Removed bool   `json:"removed"`
}

// Remove removes a path. A symlink is removed, not what it points to; a
// directory only with recursive, then with everything in it (os.RemoveAll
// walks it with openat/unlinkat and never follows a link). With force a
// missing path is no error. The workspace itself cannot be removed (its
// contents can, one by one or recursively through a subdirectory).
func Remove(p *Params) (*RemoveResult, error) {
	name := Resolve(p.Path)
	if err := notTheRoot("remove", p.Path, name); err != nil {
		return nil, err
	}
	st, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && p.Force:
		return &RemoveResult{Path: name}, nil
	case err != nil:
		return nil, fsError(err, p.Path)
	case st.IsDir() && !p.Recursive:
		return nil, invalid("remove: %s is a directory: give recursive: true to remove it and its contents", p.Path)
	case st.IsDir():
		err = os.RemoveAll(name)
	default:
		err = os.Remove(name)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && p.Force {
			return &RemoveResult{Path: name}, nil
		}
		return nil, fsError(err, p.Path)
	}
	return &RemoveResult{Path: name, Removed: true}, nil
}

// RenameResult is what rename returns.
type RenameResult struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Rename moves from to to with rename(2), creating the parents of to
// unless mkdir is false. An existing file at to is replaced, atomically;
// an existing directory only if it is empty and from is one too (the
// kernel's rules). rename(2) cannot cross filesystems: EXDEV is an error
// that says so (the workspace and an allowedPath are different mounts).
func Rename(p *Params) (*RenameResult, error) {
	from, to := Resolve(p.From), Resolve(p.To)
	for _, c := range [][2]string{{p.From, from}, {p.To, to}} {
		if err := notTheRoot("rename", c[0], c[1]); err != nil {
			return nil, err
		}
	}
	if _, err := os.Lstat(from); err != nil {
		return nil, fsError(err, p.From)
	}
	if p.mkdirParents() {
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return nil, fsError(err, p.To)
		}
	}
	if err := os.Rename(from, to); err != nil {
		if errors.Is(err, unix.EXDEV) {
			return nil, invalid("rename: %s and %s are on different filesystems in the jail (EXDEV): rename moves within one mount only; copy and remove instead", p.From, p.To)
		}
		return nil, fsError(err, p.From+" -> "+p.To)
	}
	return &RenameResult{From: from, To: to}, nil
}

// notTheRoot refuses to remove or rename the workspace (or the jail's
// root) itself: a mount point, which would fail half-way (RemoveAll
// empties it before rmdir says EBUSY).
func notTheRoot(tool, shown, name string) error {
	if c := path.Clean(name); c == Workspace || c == "/" {
		return invalid("%s: %q is the workspace itself; name something inside it", tool, shown)
	}
	return nil
}

// fsError turns an OS error into a tool error that names the path as the
// caller gave it.
func fsError(err error, shown string) error {
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s: no such file or directory in the jail (only the workspace and what the profile allows are visible)", shown)}
	case errors.Is(err, unix.EROFS):
		return &Error{Code: CodeDenied, Message: fmt.Sprintf("%s: read-only in the jail", shown)}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Code: CodeDenied, Message: fmt.Sprintf("%s: permission denied (read-only or not yours)", shown)}
	case errors.Is(err, unix.EEXIST), errors.Is(err, unix.ENOTEMPTY):
		return errExists(shown, "the destination exists (a directory must be empty to be replaced)")
	case errors.Is(err, unix.ENOTDIR):
		return invalid("%s: a component of the path is not a directory", shown)
	case errors.Is(err, unix.EISDIR):
		return invalid("%s is a directory", shown)
	case errors.Is(err, unix.ELOOP):
		return invalid("%s: too many levels of symbolic links", shown)
	case errors.Is(err, unix.ENAMETOOLONG):
		return invalid("%s: the name is too long", shown)
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return &Error{Code: CodeLimit, Message: fmt.Sprintf("%s: no space left (disk or quota)", shown)}
	case errors.Is(err, unix.EINVAL):
		return invalid("%s: %v", shown, err)
	}
	return &Error{Code: CodeInternal, Message: fmt.Sprintf("%s: %v", shown, err)}
}
