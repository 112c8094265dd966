package audit

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Probe checks, without appending, that an append can succeed now: the
// file opens for appending and locks, its tail is sealed (or torn, and
// there is room to quarantine it), and the file system has more than
// MinFree bytes (default DefaultMinFree, 1 MiB) available to us and at
// least 8 free inodes where it counts them (statfs(2) f_bavail, f_ffree).
// A gateway's /readyz calls it, so readiness comes back on its own when
// space does. A failure is an *UnavailableError (errors.Is ENOSPC for
// space) or a *TamperedError.
func (l *Log) Probe() error {
	f, err := l.lockCurrent()
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &UnavailableError{Op: "probe", Path: l.path, Err: err}
	}
	t, err := readTail(f, l.path, st.Size())
	if err != nil {
		return err
	}
	need := l.MinFree
	if need <= 0 {
		need = DefaultMinFree
	}
	torn := st.Size() - t.sealedEnd
	need += torn // the quarantine copy
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return &UnavailableError{Op: "probe", Path: l.path, Err: fmt.Errorf("statfs: %w", err)}
	}
	if fs.Flags&unix.ST_RDONLY != 0 {
		return &UnavailableError{Op: "probe", Path: l.path, Err: syscall.EROFS}
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	if free < need {
		return &UnavailableError{Op: "probe", Path: l.path,
			Err: fmt.Errorf("%d bytes free, at least %d needed (minimum free %d%s): %w", free, need, need-torn, tornNote(torn), syscall.ENOSPC)}
	}
	if fs.Files > 0 && fs.Ffree < minFreeInodes {
		return &UnavailableError{Op: "probe", Path: l.path,
			Err: fmt.Errorf("%d free inodes, at least %d needed: %w", fs.Ffree, minFreeInodes, syscall.ENOSPC)}
	}
	// A deferred intent sync failed (IntentThenSync): intents are refused
	// until a sync succeeds. Try one now, so that readiness returns on
	// its own when the disk does.
	l.mu.Lock()
	serr := l.syncErr
	l.mu.Unlock()
	if serr != nil {
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return &UnavailableError{Op: "fdatasync", Path: l.path, Err: err}
		}
		l.mu.Lock()
		l.syncErr = nil
		l.mu.Unlock()
	}
	return nil
}

func tornNote(torn int64) string {
	if torn == 0 {
		return ""
	}
	return fmt.Sprintf(" + %d bytes of torn tail to quarantine", torn)
}
