package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A log file ends either in a newline after a sealed record (its tail is
// sealed), or in bytes after the last newline: a torn tail, left by a
// crash or a full disk in the middle of a write (a write is one line; an
// append that fails is cut back, so only a crash, or a failed cut, leaves
// one). A torn tail is never appended after: the line after it would be
// glued to it. It is copied to <path>.torn-<UTC time> and cut off, and a
// repair record names the copy. A last line that does end in a newline but
// is not sealed, or fails its hash, is not what a crash leaves: it was
// edited, and appends refuse.

// tailInfo is where the chain ends in a log file.
type tailInfo struct {
	sealedEnd int64  // offset just after the last newline; 0: none
	seq       uint64 // the last sealed record's (or the previous file's, or 0)
	hash      string // its hash (or the previous file's, or genesis)
}

// readTail reads the end of f (size bytes) at path: its last complete
// line, which must be sealed and match its hash, and where a torn tail
// after it begins. For a file without a complete line, the chain goes on
// from the newest rotated file (path.1), or starts at genesis.
func readTail(f *os.File, path string, size int64) (tailInfo, error) {
	for n := int64(4 << 10); ; n *= 2 {
		n = min(n, size)
		start := size - n
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return tailInfo{}, &UnavailableError{Op: "read", Path: path, Err: err}
		}
		nl := bytes.LastIndexByte(buf, '\n')
		if nl < 0 && n < size {
			continue // the last newline is further back
		}
		if nl < 0 {
			// No complete line: an empty file, or one whose only bytes
			// are torn. The chain continues from the previous file.
			seq, hash, err := previousHead(path)
			return tailInfo{seq: seq, hash: hash}, err
		}
		prev := bytes.LastIndexByte(buf[:nl], '\n')
		if prev < 0 && n < size {
			continue // the last line begins further back
		}
		_, seq, hash, _, reason := checkLine(buf[prev+1 : nl])
		if reason != "" {
			return tailInfo{}, &TamperedError{Path: path, Reason: "last line: " + reason}
		}
		return tailInfo{sealedEnd: start + int64(nl) + 1, seq: seq, hash: hash}, nil
	}
}

// previousHead is the chain head a file without records continues: the
// last record of path.1, or genesis when nothing was rotated.
func previousHead(path string) (uint64, string, error) {
	prev := path + ".1"
	f, err := os.Open(prev)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, genesis, nil
	}
	if err != nil {
		return 0, "", &UnavailableError{Op: "read", Path: prev, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", &UnavailableError{Op: "read", Path: prev, Err: err}
	}
	// Rotation moves only a file whose tail was sealed, so path.1 must
	// end in a sealed record.
	if st.Size() == 0 {
		return 0, "", &TamperedError{Path: prev, Reason: "the rotated file is empty"}
	}
	t, err := readTail(f, prev, st.Size())
	if err != nil {
		return 0, "", err
	}
	if t.sealedEnd != st.Size() {
		return 0, "", &TamperedError{Path: prev, Reason: "the rotated file ends in bytes after its last record"}
	}
	return t.seq, t.hash, nil
}

// headLocked returns the chain head to append after in f (locked): from
// the cache when the file is exactly as this Log's last append left it,
// else from the file's tail. A torn tail is quarantined first and a
// repair record appended, which the returned Quarantine describes.
func (l *Log) headLocked(f *os.File) (head, *Quarantine, error) {
	st, err := f.Stat()
	if err != nil {
		return head{}, nil, &UnavailableError{Op: "read", Path: l.path, Err: err}
	}
	id, size := idOf(st)
	l.mu.Lock()
	last := l.last
	l.mu.Unlock()
	if last.valid && size > 0 && last.file == id && last.size == size {
		return last, nil, nil
	}
	t, err := readTail(f, l.path, size)
	if err != nil {
		return head{}, nil, err
	}
	h := head{file: id, size: size, seq: t.seq, hash: t.hash, valid: true}
	if t.sealedEnd == size {
		return h, nil, nil
	}
	q, err := l.quarantine(f, t.sealedEnd, size)
	if err != nil {
		return head{}, nil, err
	}
	h.size = t.sealedEnd
	rec := Record{Timestamp: l.now().UTC(), Action: ActionRepair, Repair: &q,
		Reason: fmt.Sprintf("torn tail of %d bytes at offset %d (from a crash or a full disk; not tampering) quarantined to %s (sha256 %s)",
			q.Bytes, q.Offset, q.File, q.SHA256)}
	line, ref, err := encode(rec, h)
	if err != nil {
		return head{}, nil, err
	}
	if h, err = l.appendLine(f, h, line, ref); err != nil {
		return head{}, nil, fmt.Errorf("the torn tail was quarantined to %s, but its repair record could not be written: %w", q.File, err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return head{}, nil, &UnavailableError{Op: "fdatasync", Path: l.path, Err: err}
	}
	return h, &q, nil
}

// quarantine copies f's bytes from off to size into a new file
// <path>.torn-<UTC time> (0600), makes it durable, and cuts f back to off.
func (l *Log) quarantine(f *os.File, off, size int64) (Quarantine, error) {
	fail := func(err error) (Quarantine, error) {
		return Quarantine{}, &UnavailableError{Op: "quarantine", Path: l.path, Err: err}
	}
	stamp := l.now().UTC().Format("20060102T150405.000000000Z")
	var q *os.File
	var name string
	for i := 1; ; i++ {
		name = l.path + ".torn-" + stamp
		if i > 1 {
			name += fmt.Sprintf("-%d", i)
		}
		var err error
		q, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i >= 100 {
			return fail(err)
		}
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(q, sum), io.NewSectionReader(f, off, size-off))
	if err == nil && n != size-off {
		err = fmt.Errorf("copied %d of %d torn bytes", n, size-off)
	}
	if err == nil {
		err = q.Sync()
	}
	if cerr := q.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(l.path))
	}
	if err != nil {
		os.Remove(name)
		return fail(fmt.Errorf("copy the torn tail to %s: %w", name, err))
	}
	if err := f.Truncate(off); err != nil {
		os.Remove(name)
		return fail(fmt.Errorf("cut the torn tail at offset %d: %w", off, err))
	}
	// fdatasync(2) flushes the new size with the data.
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fail(fmt.Errorf("sync after cutting the torn tail (kept in %s): %w", name, err))
	}
	return Quarantine{File: name, Offset: off, Bytes: n, SHA256: hex.EncodeToString(sum.Sum(nil))}, nil
}

// Repair quarantines a torn tail and appends its repair record, as the
// next append would; it returns nil when the tail was sealed. A tampered
// tail is a *TamperedError: repair does not touch an edited log.
func (l *Log) Repair() (*Quarantine, error) {
	f, err := l.lockCurrent()
	if err != nil {
		l.setErr(err)
		return nil, err
	}
	h, q, err := l.headLocked(f)
	f.Close()
	if err != nil {
		l.setErr(err)
		return nil, err
	}
	if q != nil {
		l.setErr(nil) // the repair record was appended
		l.publish(h)
	}
	return q, nil
}

// syncDir makes the names in dir durable (a new or renamed file).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
