// Package audit owns the tamper-evident audit log: one JSON line per
// record, each line carrying the hash of the line before it and its own
// hash, so that an edited, deleted, inserted or reordered line breaks the
// chain at a line that Verify names. It leaves deciding what to record to
// the runner and the gateway.
//
// The log refuses rather than forgets:
//
//   - A call is recorded twice. Intent appends an "intent" record and makes
//     it durable (fdatasync) before any of the call's code runs; if that
//     fails, the caller refuses the call. The outcome ("tool_call") follows
//     and points at its intent. Concurrent intents of one process share an
//     fdatasync (group commit, commit.go).
//   - Appends are all-or-nothing: a write that fails or is short (ENOSPC,
//     EIO, EDQUOT, EFBIG) is rolled back with ftruncate to the size before
//     it, under the lock, and returned as an *UnavailableError. Err reports
//     the last append's error and Probe says whether an append can succeed
//     now (the gateway's /readyz), so readiness returns with the space.
//   - Bytes after the last newline are a torn tail (a crash or a full disk
//     cut a write), never tampering: the next append, or Repair, copies
//     them to <path>.torn-<UTC time>, truncates the log to the last newline
//     and appends a "repair" record naming the copy (tail.go). A last line
//     that ends in a newline but is not sealed, or fails its hash, was
//     edited: appends refuse with a *TamperedError.
//   - Intents whose runner died (crash, OOM, kill -9) are found by Recover,
//     which appends an "abandoned" record for each; runners are named by
//     process identity (internal/procid), so a recycled pid is not taken
//     for the runner that held it.
//   - Repeated identical refusals (overload) are aggregated: Refusal writes
//     at most one record per key per second, and the next record for the
//     key, or a flush a second later, carries "count": how many refusals
//     it stands for (refusal.go). Close flushes the counts.
//
// Every string of a record, map keys included, is redacted before it is
// written (redact.go). Appends take an exclusive flock on the file, so
// several runners (CLI calls, gateways) share one log without forking the
// chain, and the log rotates by size, the chain continuing across files.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/procid"
	"golang.org/x/sys/unix"
)

// Actions of a record.
const (
	// ActionIntent is written before any of a call's code runs, durably.
	ActionIntent = "intent"
	// ActionToolCall is the outcome of a call that ran (or whose jail could
	// not be set up); it points at its intent.
	ActionToolCall = "tool_call"
	// ActionDenial is a policy refusal: nothing ran.
	ActionDenial = "denial"
	// ActionRefusal is a refusal by the gateway itself: authentication,
	// origin, host, channel, overload, invalid session, a tool the profile
	// lacks. Repeated ones are aggregated (Refusal).
	ActionRefusal = "refusal"
	// ActionAbandoned is written at recovery for an intent whose runner
	// died before its outcome was written.
	ActionAbandoned = "abandoned"
	// ActionRepair records that a torn tail was quarantined.
	ActionRepair = "repair"
	// ActionProcess is an action of the process tool on a background
	// process: poll, log, write, kill, remove, list.
	ActionProcess = "process"
	// ActionSessionPrune is a session removed by "sessions prune".
	ActionSessionPrune = "session_prune"
	// ActionReview is an operator's decision on a call's staged changes:
	// approve, reject or undo (Tool names which), by the CLI or the
	// gateway's admin routes.
	ActionReview = "review"
)

// Record is one audit line. The first fields are the hardening guide's
// ({timestamp, sessionId, userId, action, tool, parameters, result,
// duration}); the rest are the runner's and the gateway's.
type Record struct {
	Seq        uint64         `json:"seq"`
	Timestamp  time.Time      `json:"timestamp"`
	SessionID  string         `json:"sessionId"`
	UserID     string         `json:"userId"`
	Action     string         `json:"action"` // one of the Action constants
	Tool       string         `json:"tool"`
	Parameters map[string]any `json:"parameters"`
	Result     *Outcome       `json:"result,omitempty"`
	DurationMs int64          `json:"duration"`

	CallID  string `json:"callId"`
	Channel string `json:"channel,omitempty"`
	// Client is the named gateway client that made the call; calls of
	// the CLI have none.
	Client  string `json:"client,omitempty"`
	Profile string `json:"profile"`
	// Engine is the jail engine of a call that ran: native or runc.
	Engine   string `json:"engine,omitempty"`
	Decision string `json:"decision"` // allow | deny
	// Code is the error class of a call that was refused or failed, as
	// the runner's events name it (policy_denied, invalid_params,
	// not_found, limit_exceeded, jail_setup_failed, internal): a denial is
	// a policy denial only with policy_denied.
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Count is how many refusals an aggregated refusal record stands for.
	Count int `json:"count,omitempty"`
	// Owner is the identity of the runner that wrote an intent (and, on
	// an abandoned record, of the runner that died): procid's
	// "pid:starttime:bootid".
	Owner string `json:"owner,omitempty"`
	// Intent points from an outcome or abandoned record to its intent.
	Intent *IntentRef `json:"intent,omitempty"`
	// Repair describes the torn tail a repair record quarantined.
	Repair  *Quarantine `json:"repair,omitempty"`
	Limits  any         `json:"limits,omitempty"`
	Usage   any         `json:"usage,omitempty"`
	Blocked any         `json:"blockedSyscalls,omitempty"`
	// Egress (network connections) and Changes (workspace changes) of a
	// call; Egress is {"connections": [{"host", "port", "allowed",
	// "reason", ...}], ...} as the egress proxy reports it.
	Egress  any `json:"egress,omitempty"`
	Changes any `json:"changes,omitempty"`

	PrevHash string `json:"prevHash"`
}

// IntentRef names an intent record: its sequence number and hash.
type IntentRef struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Outcome is the guide's result object.
type Outcome struct {
	Success  bool `json:"success"`
	ExitCode int  `json:"exitCode"`
}

// Quarantine is a torn tail copied out of the log.
type Quarantine struct {
	File   string `json:"file"`   // <log>.torn-<UTC time>, 0600
	Offset int64  `json:"offset"` // where the torn bytes began in the log
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // of the torn bytes
}

// hashField ends every line; the hash covers the line before it.
const hashField = `,"hash":"`

// genesis is the previous hash of the first line.
var genesis = hex.EncodeToString(make([]byte, 32))

// DefaultMinFree is the free space Probe asks for by default: room for
// many records (a record is a few KiB at most: strings over 4 KiB are
// summarized), rotation's new file, and a torn tail's quarantine copy.
const DefaultMinFree = 1 << 20

// minFreeInodes is how many free inodes Probe asks for, where the file
// system counts them: a rotation and a quarantine file each take one.
const minFreeInodes = 8

// Log appends records to one file, rotated by size.
type Log struct {
	path string
	// MaxSize rotates the file before it would grow past this many bytes
	// (0: never); Backups is how many rotated files are kept (path.1 is
	// the newest). The chain continues across files.
	MaxSize int64
	Backups int
	// MinFree is the free space (bytes) Probe requires on the log's file
	// system; 0 means DefaultMinFree.
	MinFree int64
	// OnAppend, when set, is told each new chain head (a gateway of a
	// cluster publishes it to the shared store).
	OnAppend func(seq uint64, hash string)

	mu      sync.Mutex // guards secrets, last and err
	secrets []string
	// last is where this Log's latest append left the file: while the
	// file is still that one, at that size and change time, nobody
	// appended after it (or edited it), and the chain head is known
	// without reading the file.
	last head
	err  error // the last append's error
	// syncErr is the error of the last deferred intent sync
	// (IntentThenSync), until a sync succeeds: while it stands, new
	// intents are refused.
	syncErr error

	commit   committer // group commit of intents
	refusals aggregator
	// clock is time.Now; tests of aggregation turn it.
	clock func() time.Time
}

// head is a chain head and the file state it was read from.
type head struct {
	file  fileID
	size  int64
	seq   uint64
	hash  string
	valid bool
}

// fileID identifies a file's inode and its last change.
type fileID struct {
	dev, ino uint64
	ctime    unix.Timespec
}

func idOf(st os.FileInfo) (fileID, int64) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: sys.Dev, ino: sys.Ino, ctime: unix.Timespec(sys.Ctim)}, st.Size()
	}
	return fileID{}, -1
}

// Open returns a Log writing to path (created 0600, its directory 0700).
// Values of secrets are redacted from every record.
func Open(path string, secrets []string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{path: path, secrets: secrets}, nil
}

// Path returns the file the log appends to.
func (l *Log) Path() string { return l.path }

// AddSecret adds a value to redact from every later record (a secret a
// call was given).
func (l *Log) AddSecret(v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.secrets, v) { // a secret given to every call is kept once
		l.secrets = append(l.secrets, v)
	}
}

// Err returns the last append's error, nil after any success: a gateway
// reports it (with Probe) in /readyz.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Log) now() time.Time {
	if l.clock != nil {
		return l.clock()
	}
	return time.Now()
}

// Append adds r to the log, setting its sequence number and chain hash.
// Nothing of a failed append stays in the file.
func (l *Log) Append(r Record) error {
	_, err := l.write(r, false)
	return err
}

// Intent records a call before any of its code runs: it sets Action
// "intent" and Owner to this process's identity, appends r and makes it
// durable (fdatasync) before it returns. Any failure is an error, and the
// caller must then refuse the call. The outcome record names the returned
// IntentRef in its Intent field.
func (l *Log) Intent(r Record) (IntentRef, error) {
	owner := procid.Self()
	if owner == "" {
		err := &UnavailableError{Op: "identify", Path: l.path,
			Err: errors.New("this process's identity cannot be read from /proc, so a later recovery could not tell whether the call's runner died")}
		l.setErr(err)
		return IntentRef{}, err
	}
	r.Action, r.Owner = ActionIntent, string(owner)
	return l.write(r, true)
}

// IntentThenSync is Intent for a runner that lets the call start as soon
// as the intent is written, before it is on disk: the line is in the
// kernel when it returns, so it survives the death of this process (crash,
// OOM, kill -9), and the returned wait reports when it is on disk too
// (group commit, as Intent). The runner waits for it before the call's
// result (sandbox.auditSync "before-result"; docs/design.md
// has the trade-off). A sync that fails refuses every later intent until
// a sync succeeds (Probe tries one): the log fails closed for the calls
// that follow.
func (l *Log) IntentThenSync(r Record) (IntentRef, func() error, error) {
	l.mu.Lock()
	serr := l.syncErr
	l.mu.Unlock()
	if serr != nil {
		err := &UnavailableError{Op: "fdatasync", Path: l.path, Err: fmt.Errorf("an earlier intent could not be made durable: %w", serr)}
		l.setErr(err)
		return IntentRef{}, nil, err
	}
	owner := procid.Self()
	if owner == "" {
		err := &UnavailableError{Op: "identify", Path: l.path,
			Err: errors.New("this process's identity cannot be read from /proc, so a later recovery could not tell whether the call's runner died")}
		l.setErr(err)
		return IntentRef{}, nil, err
	}
	r.Action, r.Owner = ActionIntent, string(owner)
	r = RedactRecord(r, l.secretList())
	var wait func() error
	ref, err := l.writeRedactedThen(r, true, &wait)
	l.setErr(err)
	return ref, wait, err
}

func (l *Log) setErr(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

func (l *Log) secretList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.secrets...)
}

// write appends r under the file lock; with durable, the line is on disk
// before it returns.
func (l *Log) write(r Record, durable bool) (IntentRef, error) {
	r = RedactRecord(r, l.secretList())
	ref, err := l.writeRedacted(r, durable)
	l.setErr(err)
	return ref, err
}

func (l *Log) writeRedacted(r Record, durable bool) (IntentRef, error) {
	return l.writeRedactedThen(r, durable, nil)
}

// writeRedactedThen appends r; with durable and a nil later, the line is
// on disk before it returns; with later, it returns once the line is
// written and sets *later to a function that waits for the sync.
func (l *Log) writeRedactedThen(r Record, durable bool, later *func() error) (IntentRef, error) {
	for attempt := 0; attempt < 10; attempt++ {
		f, err := l.lockCurrent()
		if err != nil {
			return IntentRef{}, err
		}
		h, _, err := l.headLocked(f)
		if err != nil {
			f.Close()
			return IntentRef{}, err
		}
		line, ref, err := encode(r, h)
		if err != nil {
			f.Close()
			return IntentRef{}, err
		}
		if l.MaxSize > 0 && h.size > 0 && h.size+int64(len(line)) > l.MaxSize {
			// Rotate under the lock, then start over on the new file:
			// another writer may get there first, and the line must
			// follow whatever is last.
			err := l.rotate()
			f.Close()
			if err != nil {
				return IntentRef{}, err
			}
			continue
		}
		next, err := l.appendLine(f, h, line, ref)
		if err != nil {
			f.Close()
			return IntentRef{}, err
		}
		if durable {
			// Unlock before waiting for the disk, so that other writers
			// (and this process's other intents, which then share the
			// fdatasync) append meanwhile; the descriptor stays open for
			// the sync and is closed by it.
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
			dir := ""
			if h.size == 0 {
				dir = filepath.Dir(l.path) // a new file: its name must be durable too
			}
			if later != nil {
				done := make(chan error, 1)
				go func() { done <- l.commit.commit(f, next.file, dir) }()
				*later = sync.OnceValue(func() error {
					err := <-done
					l.mu.Lock()
					l.syncErr = err
					l.mu.Unlock()
					if err != nil {
						err = &UnavailableError{Op: "fdatasync", Path: l.path, Err: err}
						l.setErr(err)
					}
					return err
				})
				l.publish(next)
				return ref, nil
			}
			if err := l.commit.commit(f, next.file, dir); err != nil {
				return IntentRef{}, &UnavailableError{Op: "fdatasync", Path: l.path, Err: err}
			}
		} else {
			f.Close()
		}
		l.publish(next)
		return ref, nil
	}
	return IntentRef{}, &UnavailableError{Op: "rotate", Path: l.path, Err: errors.New("could not append after repeated rotations")}
}

// appendLine writes line after h in f (locked) with one write, rolling a
// failed or short write back to h.size, and returns the new head, which
// it remembers.
func (l *Log) appendLine(f *os.File, h head, line []byte, ref IntentRef) (head, error) {
	n, err := f.Write(line)
	if err == nil && n != len(line) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(line))
	}
	if err != nil {
		// All or nothing (write(2): ENOSPC, EDQUOT, EFBIG, EIO may leave
		// part of the buffer written): cut back to the size before.
		if terr := f.Truncate(h.size); terr != nil {
			return head{}, &UnavailableError{Op: "write", Path: l.path, Err: err,
				Rollback: fmt.Errorf("truncate back to %d bytes: %w; the torn tail is quarantined by the next append", h.size, terr)}
		}
		return head{}, &UnavailableError{Op: "write", Path: l.path, Err: err}
	}
	next := head{size: h.size + int64(n), seq: ref.Seq, hash: ref.Hash, valid: true}
	if st, err := f.Stat(); err == nil {
		next.file, _ = idOf(st)
	}
	l.mu.Lock()
	l.last = next
	l.mu.Unlock()
	return next, nil
}

// publish tells OnAppend the new chain head.
func (l *Log) publish(h head) {
	if l.OnAppend != nil {
		l.OnAppend(h.seq, h.hash)
	}
}

// encode numbers r after h and seals it.
func encode(r Record, h head) ([]byte, IntentRef, error) {
	r.Seq, r.PrevHash = h.seq+1, h.hash
	body, err := json.Marshal(r)
	if err != nil {
		return nil, IntentRef{}, fmt.Errorf("audit: encode: %w", err)
	}
	line, hash := seal(body)
	return line, IntentRef{Seq: r.Seq, Hash: hash}, nil
}

// lockCurrent opens the log and takes its lock, making sure the file
// locked is still the one at the path (a rotation may have moved it).
func (l *Log) lockCurrent() (*os.File, error) {
	for i := 0; i < 100; i++ {
		f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, &UnavailableError{Op: "open", Path: l.path, Err: err}
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, &UnavailableError{Op: "lock", Path: l.path, Err: err}
		}
		a, err1 := f.Stat()
		b, err2 := os.Stat(l.path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return f, nil
		}
		f.Close()
	}
	return nil, &UnavailableError{Op: "lock", Path: l.path, Err: errors.New("the file keeps moving")}
}

// rotate shifts path.N-1 to path.N ... path to path.1 and drops the
// oldest beyond Backups. The new file continues the chain: its first line
// carries the last hash of path.1.
func (l *Log) rotate() error {
	if l.Backups <= 0 {
		// No backups kept: the chain restarts in an empty file, and its
		// first line still names the hash it follows.
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			return &UnavailableError{Op: "rotate", Path: l.path, Err: err}
		}
		return nil
	}
	os.Remove(fmt.Sprintf("%s.%d", l.path, l.Backups))
	for i := l.Backups - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return &UnavailableError{Op: "rotate", Path: l.path, Err: err}
	}
	return nil
}

// Files returns the log's files, oldest first (backups, then the current).
func Files(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		out = append([]string{p}, out...)
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	}
	return out
}

// seal appends the hash of body (a JSON object) as its last field and a
// newline.
func seal(body []byte) (line []byte, hash string) {
	sum := sha256.Sum256(body)
	hash = hex.EncodeToString(sum[:])
	line = make([]byte, 0, len(body)+len(hashField)+68)
	line = append(line, body[:len(body)-1]...)
	line = append(line, hashField...)
	line = append(line, hash...)
	return append(line, '"', '}', '\n'), hash
}

// unseal splits a line (without its newline) into the body that was
// hashed and the hash.
func unseal(line []byte) (body []byte, hash string, ok bool) {
	i := bytes.LastIndex(line, []byte(hashField))
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, "", false
	}
	hash = string(line[i+len(hashField) : len(line)-2])
	body = append(append([]byte(nil), line[:i]...), '}')
	return body, hash, true
}

// checkLine checks a line's own hash and returns its body, sequence
// number, hash and previous hash; reason says what is wrong otherwise.
func checkLine(line []byte) (body []byte, seq uint64, hash, prev, reason string) {
	body, hash, ok := unseal(line)
	if !ok {
		return nil, 0, "", "", "not a sealed audit record"
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != hash {
		return nil, 0, "", "", "hash mismatch: the line was edited"
	}
	var rec struct {
		Seq      uint64 `json:"seq"`
		PrevHash string `json:"prevHash"`
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, 0, "", "", "not JSON: " + err.Error()
	}
	return body, rec.Seq, hash, rec.PrevHash, ""
}
