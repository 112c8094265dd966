package tools

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Bounds of what one call reads or keeps in memory.
const (
	DefaultReadLines = 2000
	MaxReadBytes     = 1 << 20  // of text returned by one read
	MaxEditBytes     = 64 << 20 // a file edit or apply_patch loads whole
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
	f, err := os.Open(name)
	if err != nil {
		return nil, fsError(err, p.Path)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fsError(err, p.Path)
	}
	if st.IsDir() {
		return nil, invalid("read: %s is a directory (use ls)", p.Path)
	}
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

// WriteResult is what write returns.
type WriteResult struct {
	Path    string `json:"path"`
	Bytes   int    `json:"bytes"`
	Created bool   `json:"created"`
}

// Write creates or replaces a file, creating its parent directories.
func Write(p *Params) (*WriteResult, error) {
	name := Resolve(p.Path)
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, fsError(err, p.Path)
	}
	_, err := os.Lstat(name)
	created := errors.Is(err, fs.ErrNotExist)
	if err := replace(name, []byte(p.Content)); err != nil {
		return nil, fsError(err, p.Path)
	}
	return &WriteResult{Path: name, Bytes: len(p.Content), Created: created}, nil
}

// replace writes data to name through a temporary file in the same
// directory and a rename, keeping the old file's mode.
func replace(name string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(name); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory", name)
		}
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".openclaw-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
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
	if err := replace(name, []byte(text)); err != nil {
		return nil, fsError(err, p.Path)
	}
	return &EditResult{Path: name, Replacements: len(edits)}, nil
}

func readAll(name, shown string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fsError(err, shown)
	}
	if st.IsDir() {
		return nil, invalid("%s is a directory", shown)
	}
	if st.Size() > MaxEditBytes {
		return nil, &Error{Code: CodeLimit, Message: fmt.Sprintf("%s is %d bytes; edits load at most %d", shown, st.Size(), MaxEditBytes)}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fsError(err, shown)
	}
	return data, nil
}

// Entry is one ls line.
type Entry struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // file, dir, symlink, other
	Size   int64  `json:"size"`
	Mode   string `json:"mode"`
	Target string `json:"target,omitempty"`
}

// LsResult is what ls returns.
type LsResult struct {
	Path    string  `json:"path"`
	Entries []Entry `json:"entries"`
}

// Ls lists a directory (sorted), or describes one file.
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
	des, err := os.ReadDir(name)
	if err != nil {
		return nil, fsError(err, p.Path)
	}
	for _, d := range des {
		info, err := d.Info()
		if err != nil {
			continue
		}
		res.Entries = append(res.Entries, entry(name, info))
	}
	sort.Slice(res.Entries, func(i, j int) bool { return res.Entries[i].Name < res.Entries[j].Name })
	return res, nil
}

func entry(dir string, st os.FileInfo) Entry {
	e := Entry{Name: st.Name(), Size: st.Size(), Mode: st.Mode().String()}
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

// fsError turns an OS error into a tool error that names the path as the
// caller gave it.
func fsError(err error, shown string) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s: no such file or directory in the jail (only the workspace and what the profile allows are visible)", shown)}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Code: CodeDenied, Message: fmt.Sprintf("%s: permission denied (read-only or not yours)", shown)}
	}
	msg := err.Error()
	if strings.Contains(msg, "read-only file system") {
		return &Error{Code: CodeDenied, Message: fmt.Sprintf("%s: read-only in the jail", shown)}
	}
	return &Error{Code: CodeInternal, Message: fmt.Sprintf("%s: %v", shown, err)}
}
