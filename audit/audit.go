// Package audit writes the tamper-evident audit log: one JSON line per tool
// call and per denial, each line carrying the hash of the line before it
// and its own hash, so that an edited, deleted, inserted or reordered line
// breaks the chain at a line that Verify names.
//
// Appends take an exclusive flock on the file, so several runners (CLI
// calls, gateways) can share one log without forking the chain.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Record is one audit line. The first fields are the hardening guide's
// ({timestamp, sessionId, userId, action, tool, parameters, result,
// duration}); the rest are the runner's.
type Record struct {
	Seq        uint64         `json:"seq"`
	Timestamp  time.Time      `json:"timestamp"`
	SessionID  string         `json:"sessionId"`
	UserID     string         `json:"userId"`
	Action     string         `json:"action"` // tool_call | denial
	Tool       string         `json:"tool"`
	Parameters map[string]any `json:"parameters"`
	Result     *Outcome       `json:"result,omitempty"`
	DurationMs int64          `json:"duration"`

	CallID  string `json:"callId"`
	Channel string `json:"channel,omitempty"`
	// Client is the gateway client (a named token) that made the call.
	Client string `json:"client,omitempty"`
	// Intent, on an outcome, points at the call's intent record.
	Intent *IntentRef `json:"intent,omitempty"`
	// Owner, on an intent, is the runner process that will write the
	// outcome (pid:starttime:bootid), so that a dead one's calls can be
	// named.
	Owner string `json:"owner,omitempty"`
	Profile string `json:"profile"`
	// Engine is the jail engine of a call that ran: native or runc.
	Engine   string `json:"engine,omitempty"`
	Decision string `json:"decision"` // allow | deny
	Reason   string `json:"reason,omitempty"`
	Limits   any    `json:"limits,omitempty"`
	Usage    any    `json:"usage,omitempty"`
	Blocked  any    `json:"blockedSyscalls,omitempty"`

	PrevHash string `json:"prevHash"`
}

// IntentRef points at a call's intent record.
type IntentRef struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Outcome is the guide's result object.
type Outcome struct {
	Success  bool `json:"success"`
	ExitCode int  `json:"exitCode"`
}

// hashField ends every line; the hash covers the line before it.
const hashField = `,"hash":"`

// genesis is the previous hash of the first line.
var genesis = hex.EncodeToString(make([]byte, 32))

// Log appends records to one file, rotated by size.
type Log struct {
	path    string
	mu      sync.Mutex
	secrets []string
	// MaxSize rotates the file before it would grow past this many bytes
	// (0: never); Backups is how many rotated files are kept (path.1 is
	// the newest). The chain continues across files.
	MaxSize int64
	Backups int
	// OnAppend, when set, is told each new chain head (a gateway of a
	// cluster publishes it to the shared store).
	OnAppend func(seq uint64, hash string)

	// last is where this Log's latest append left the file (guarded by
	// mu): while the file is still that one at that size, nobody appended
	// after it, and the chain head is known without reading the file.
	last head
}

// head is a chain head and the file state it was read from.
type head struct {
	dev, ino uint64
	size     int64
	seq      uint64
	hash     string
}

// headOf identifies st's file and size.
func headOf(st os.FileInfo) (dev, ino uint64, size int64) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Dev, sys.Ino, st.Size()
	}
	return 0, 0, -1
}

// AddSecret adds a value to redact from every later record (a secret a
// call was given).
func (l *Log) AddSecret(v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, v)
}

// Open returns a Log writing to path (created 0600, its directory 0700).
// Values of secrets are redacted from every record.
func Open(path string, secrets []string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{path: path, secrets: secrets}, nil
}

// Intent records a call before any of its code runs (Action "intent")
// and makes the record durable (fdatasync) before it returns: a call
// whose intent cannot be recorded is refused by the runner.
func (l *Log) Intent(r Record) (IntentRef, error) {
	r.Action = "intent"
	if r.Owner == "" {
		r.Owner = selfOwner()
	}
	return l.append(r, true)
}

// Append adds r to the log, setting its sequence number and chain hash.
func (l *Log) Append(r Record) error {
	_, err := l.append(r, false)
	return err
}

func (l *Log) append(r Record, durable bool) (IntentRef, error) {
	l.mu.Lock()
	secrets := append([]string(nil), l.secrets...)
	l.mu.Unlock()
	r.Parameters = Redact(r.Parameters, secrets)
	r.Reason = fmt.Sprint(redactString(r.Reason, secrets))
	for attempt := 0; attempt < 10; attempt++ {
		f, st, err := l.lockCurrent()
		if err != nil {
			return IntentRef{}, err
		}
		dev, ino, size := headOf(st)
		l.mu.Lock()
		last := l.last
		l.mu.Unlock()
		var seq uint64
		var prev string
		if size > 0 && last.dev == dev && last.ino == ino && last.size == size {
			seq, prev = last.seq, last.hash
		} else if seq, prev, err = tail(f); err != nil {
			f.Close()
			return IntentRef{}, fmt.Errorf("audit: %s: %w", l.path, err)
		}
		r.Seq, r.PrevHash = seq+1, prev
		body, err := json.Marshal(r)
		if err != nil {
			f.Close()
			return IntentRef{}, fmt.Errorf("audit: %w", err)
		}
		line := seal(body)
		if l.MaxSize > 0 && st.Size() > 0 && st.Size()+int64(len(line)) > l.MaxSize {
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
		n, err := f.Write(line)
		if err == nil && durable {
			err = unix.Fdatasync(int(f.Fd()))
		}
		f.Close()
		if err != nil {
			return IntentRef{}, fmt.Errorf("audit: write: %w", err)
		}
		_, hash, _ := unseal(line[:len(line)-1])
		l.mu.Lock()
		l.last = head{dev: dev, ino: ino, size: size + int64(n), seq: r.Seq, hash: hash}
		l.mu.Unlock()
		if l.OnAppend != nil {
			l.OnAppend(r.Seq, hash)
		}
		return IntentRef{Seq: r.Seq, Hash: hash}, nil
	}
	return IntentRef{}, fmt.Errorf("audit: %s: could not append after repeated rotations", l.path)
}

// lockCurrent opens the log and takes its lock, making sure the file
// locked is still the one at the path (a rotation may have moved it).
func (l *Log) lockCurrent() (*os.File, os.FileInfo, error) {
	for i := 0; i < 100; i++ {
		f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("audit: lock: %w", err)
		}
		a, err1 := f.Stat()
		b, err2 := os.Stat(l.path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return f, a, nil
		}
		f.Close()
	}
	return nil, nil, fmt.Errorf("audit: %s keeps moving", l.path)
}

// rotate shifts path.N-1 to path.N ... path to path.1 and drops the
// oldest beyond Backups. The new file continues the chain: its first line
// carries the last hash of path.1.
func (l *Log) rotate() error {
	if l.Backups <= 0 {
		// No backups kept: the chain restarts in an empty file, and its
		// first line still names the hash it follows.
		return os.Rename(l.path, l.path+".1")
	}
	os.Remove(fmt.Sprintf("%s.%d", l.path, l.Backups))
	for i := l.Backups - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
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

// selfOwner identifies this process across pid reuse: its pid and its
// start time in clock ticks since boot (field 22 of /proc/self/stat).
func selfOwner() string {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return strconv.Itoa(os.Getpid())
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 19 {
			return strconv.Itoa(os.Getpid()) + ":" + f[19]
		}
	}
	return strconv.Itoa(os.Getpid())
}

// seal appends the hash of body (a JSON object) as its last field.
func seal(body []byte) []byte {
	sum := sha256.Sum256(body)
	line := make([]byte, 0, len(body)+len(hashField)+68)
	line = append(line, body[:len(body)-1]...)
	line = append(line, hashField...)
	line = append(line, hex.EncodeToString(sum[:])...)
	return append(line, '"', '}', '\n')
}

// unseal splits a line into the body that was hashed and the hash.
func unseal(line []byte) (body []byte, hash string, ok bool) {
	i := bytes.LastIndex(line, []byte(hashField))
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, "", false
	}
	hash = string(line[i+len(hashField) : len(line)-2])
	body = append(append([]byte(nil), line[:i]...), '}')
	return body, hash, true
}

// tail returns the sequence number and hash of the last line of f; for
// an empty file, those of the newest rotated file, so that the chain
// continues across rotation.
func tail(f *os.File) (uint64, string, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	if st.Size() == 0 {
		if _, err := os.Stat(f.Name() + ".1"); err == nil && !strings.HasSuffix(f.Name(), ".1") {
			return tailOf(f.Name() + ".1")
		}
		return 0, genesis, nil
	}
	// The last line: read backwards in growing steps until a newline
	// before it (or the start of the file) is in the buffer.
	size := st.Size()
	var last []byte
	for n := int64(4 << 10); ; n *= 2 {
		n = min(n, size)
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, size-n); err != nil && err != io.EOF {
			return 0, "", err
		}
		buf = bytes.TrimRight(buf, "\n")
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 || n == size {
			last = buf[i+1:]
			break
		}
	}
	body, hash, ok := unseal(last)
	if !ok {
		return 0, "", errors.New("the last line is not a sealed audit record; run 'openclaw-run audit verify'")
	}
	var head struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return 0, "", err
	}
	return head.Seq, hash, nil
}

// tailOf reads the last sequence number and hash of the file at path.
func tailOf(path string) (uint64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	return tail(f)
}

// Problem is the first place where a log stops being a chain.
type Problem struct {
	File   string
	Line   int
	Reason string
}

func (p *Problem) Error() string {
	if p.File != "" {
		return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Reason)
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
}

// Verify reads a log and checks every line: its own hash (an edited line),
// the previous line's hash (a deleted, inserted or reordered line) and the
// sequence. It returns the number of good lines and the first problem.
func Verify(r io.Reader) (int, error) {
	_, _, n, err := verify(r, genesis, 0)
	return n, err
}

// VerifyFiles checks a rotated log, oldest file first, as one chain. The
// oldest file kept may begin after the genesis (older backups were
// dropped by rotation); every later file must continue exactly.
func VerifyFiles(paths []string) (int, error) {
	prev, seq, total := "", uint64(0), 0
	if len(paths) == 1 {
		prev = genesis // nothing was rotated away: the chain starts here
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return total, err
		}
		var n int
		prev, seq, n, err = verify(f, prev, seq)
		f.Close()
		total += n
		if err != nil {
			var pr *Problem
			if errors.As(err, &pr) {
				pr.File = p
			}
			return total, err
		}
	}
	return total, nil
}

// verify checks one file. prev "" accepts any previous hash on the first
// line (the oldest kept file of a rotated log).
func verify(r io.Reader, prev string, next uint64) (string, uint64, int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	want := next
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		body, hash, ok := unseal(line)
		if !ok {
			return prev, want, n - 1, &Problem{Line: n, Reason: "not a sealed audit record (truncated or edited)"}
		}
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != hash {
			return prev, want, n - 1, &Problem{Line: n, Reason: "hash mismatch: the line was edited"}
		}
		var rec struct {
			Seq      uint64 `json:"seq"`
			PrevHash string `json:"prevHash"`
		}
		if err := json.Unmarshal(body, &rec); err != nil {
			return prev, want, n - 1, &Problem{Line: n, Reason: "not JSON: " + err.Error()}
		}
		if prev != "" && rec.PrevHash != prev {
			return prev, want, n - 1, &Problem{Line: n, Reason: "previous-hash mismatch: a line before it was deleted, inserted or reordered"}
		}
		if want != 0 && rec.Seq != want {
			return prev, want, n - 1, &Problem{Line: n, Reason: fmt.Sprintf("sequence %d, want %d", rec.Seq, want)}
		}
		if prev == genesis && rec.Seq != 1 {
			return prev, want, n - 1, &Problem{Line: n, Reason: fmt.Sprintf("sequence %d, want 1", rec.Seq)}
		}
		prev, want = hash, rec.Seq+1
	}
	if err := sc.Err(); err != nil {
		return prev, want, n, err
	}
	return prev, want, n, nil
}

// keyLike matches strings that look like credentials: API keys of the
// usual providers, bearer tokens, and long hex or base64 secrets after a
// telling name.
var keyLike = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[baprs]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|(?i:bearer)\s+[A-Za-z0-9._\-]{16,}|(?i:(?:api[_-]?key|token|secret|password|passwd)\s*[=:]\s*)[^\s'"]{8,})`)
})

// Redact returns params with secret values and key-like strings replaced,
// and large strings (over 4 KiB) summarized as their size and sha256.
func Redact(params map[string]any, secrets []string) map[string]any {
	if params == nil {
		return nil
	}
	out := make(map[string]any, len(params))
	for k, v := range params {
		out[k] = redactValue(v, secrets)
	}
	return out
}

func redactValue(v any, secrets []string) any {
	switch x := v.(type) {
	case string:
		return redactString(x, secrets)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = redactString(s, secrets)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e, secrets)
		}
		return out
	case map[string]any:
		return Redact(x, secrets)
	}
	return v
}

func redactString(s string, secrets []string) any {
	if len(s) > 4<<10 {
		sum := sha256.Sum256([]byte(s))
		return map[string]any{"size": len(s), "sha256": hex.EncodeToString(sum[:])}
	}
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = string(bytes.ReplaceAll([]byte(s), []byte(sec), []byte("[REDACTED]")))
		}
	}
	return keyLike().ReplaceAllString(s, "[REDACTED]")
}
