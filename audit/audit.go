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

	CallID   string `json:"callId"`
	Channel  string `json:"channel,omitempty"`
	Profile  string `json:"profile"`
	Decision string `json:"decision"` // allow | deny
	Reason   string `json:"reason,omitempty"`
	Limits   any    `json:"limits,omitempty"`
	Usage    any    `json:"usage,omitempty"`
	Blocked  any    `json:"blockedSyscalls,omitempty"`

	PrevHash string `json:"prevHash"`
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

// Log appends records to one file.
type Log struct {
	path    string
	secrets []string
}

// Open returns a Log writing to path (created 0600, its directory 0700).
// Values of secrets are redacted from every record.
func Open(path string, secrets []string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{path: path, secrets: secrets}, nil
}

// Append adds r to the log, setting its sequence number and chain hash.
func (l *Log) Append(r Record) error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("audit: lock: %w", err)
	}
	seq, prev, err := tail(f)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", l.path, err)
	}
	r.Seq, r.PrevHash = seq+1, prev
	r.Parameters = Redact(r.Parameters, l.secrets)
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	line := seal(body)
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	return nil
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

// tail returns the sequence number and hash of the last line of f.
func tail(f *os.File) (uint64, string, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, genesis, err
	}
	size := st.Size()
	n := int64(64 << 10)
	if n > size {
		n = size
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return 0, "", err
	}
	buf = bytes.TrimRight(buf, "\n")
	last := buf[bytes.LastIndexByte(buf, '\n')+1:]
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

// Problem is the first place where a log stops being a chain.
type Problem struct {
	Line   int
	Reason string
}

func (p *Problem) Error() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// Verify reads a log and checks every line: its own hash (an edited line),
// the previous line's hash (a deleted, inserted or reordered line) and the
// sequence. It returns the number of good lines and the first problem.
func Verify(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	prev, want := genesis, uint64(0)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		body, hash, ok := unseal(line)
		if !ok {
			return n - 1, &Problem{n, "not a sealed audit record (truncated or edited)"}
		}
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != hash {
			return n - 1, &Problem{n, "hash mismatch: the line was edited"}
		}
		var rec struct {
			Seq      uint64 `json:"seq"`
			PrevHash string `json:"prevHash"`
		}
		if err := json.Unmarshal(body, &rec); err != nil {
			return n - 1, &Problem{n, "not JSON: " + err.Error()}
		}
		if rec.PrevHash != prev {
			return n - 1, &Problem{n, "previous-hash mismatch: a line before it was deleted, inserted or reordered"}
		}
		if n == 1 {
			want = rec.Seq // a rotated file continues the chain of the one before
		} else if rec.Seq != want {
			return n - 1, &Problem{n, fmt.Sprintf("sequence %d, want %d", rec.Seq, want)}
		}
		prev, want = hash, rec.Seq+1
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	return n, nil
}

// keyLike matches strings that look like credentials: API keys of the
// usual providers, bearer tokens, and long hex or base64 secrets after a
// telling name.
var keyLike = regexp.MustCompile(`(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[baprs]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|(?i:bearer)\s+[A-Za-z0-9._\-]{16,}|(?i:(?:api[_-]?key|token|secret|password|passwd)\s*[=:]\s*)[^\s'"]{8,})`)

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
	return keyLike.ReplaceAllString(s, "[REDACTED]")
}
