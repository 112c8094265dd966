package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/openclaw-run/openclaw-run/internal/procid"
	"golang.org/x/sys/unix"
)

// Recover records the calls whose runner died: it finds the intents of
// the current file and of the newest rotated one that have neither an
// outcome nor an abandoned record and whose owner is not alive, and
// appends for each an "abandoned" record pointing at the intent. Intents
// whose owner is alive (a call running now, in this process or another
// runner) are left alone. alive nil means "not procid.Gone": same boot,
// same pid, same start time, or a /proc that cannot be read now (which
// proves nothing, and an abandoned record is permanent).
//
// The gateway calls it at start, so that calls in flight when it died are
// recorded at the next start; "openclaw-run audit repair" calls it too. It
// holds the log's lock from the scan to the last record, so two recoveries
// at once record each call once. A torn tail is quarantined first. Its
// records are synced (fdatasync) and are not rotated away: the next append
// rotates if the file has grown past MaxSize. It returns the intents it
// recorded as abandoned.
func (l *Log) Recover(alive func(owner string) bool) ([]Dangling, error) {
	if alive == nil {
		alive = func(owner string) bool { return !procid.Gone(procid.ID(owner)) }
	}
	f, err := l.lockCurrent()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, q, err := l.headLocked(f)
	if err != nil {
		return nil, err
	}
	var paths []string
	if _, err := os.Stat(l.path + ".1"); err == nil {
		paths = append(paths, l.path+".1")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, &UnavailableError{Op: "read", Path: l.path + ".1", Err: err}
	}
	open, err := scanIntents(append(paths, l.path))
	if err != nil {
		return nil, &UnavailableError{Op: "read", Path: l.path, Err: err}
	}
	secrets := l.secretList()
	var done []Dangling
	for _, d := range open {
		if alive(d.Owner) {
			continue
		}
		rec := RedactRecord(Record{Timestamp: l.now().UTC(), SessionID: d.SessionID, UserID: d.UserID, Channel: d.Channel, Client: d.Client,
			Action: ActionAbandoned, Tool: d.Tool, CallID: d.CallID,
			Reason: fmt.Sprintf("runner %s died during call %s (crash, OOM or kill -9); its outcome is unknown", d.Owner, d.CallID)}, secrets)
		rec.Owner, rec.Intent = d.Owner, &IntentRef{Seq: d.Seq, Hash: d.Hash}
		line, ref, err := encode(rec, h)
		if err != nil {
			return done, err
		}
		if h, err = l.appendLine(f, h, line, ref); err != nil {
			l.setErr(err)
			return done, err
		}
		done = append(done, d)
	}
	if len(done) > 0 {
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			err = &UnavailableError{Op: "fdatasync", Path: l.path, Err: err}
			l.setErr(err)
			return done, err
		}
	}
	if len(done) > 0 || q != nil {
		l.setErr(nil)
		l.publish(h)
	}
	return done, nil
}
