package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// Problem is the first place where a log stops being a chain: a line was
// edited, deleted, inserted or reordered.
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

// Torn is a torn tail: bytes after the last newline of the newest file,
// left by a crash or a full disk in the middle of a write. It is not
// tampering; Repair (or the next append) quarantines it.
type Torn struct {
	File   string
	Line   int   // the complete lines before it in File
	Offset int64 // where it begins in File
	Bytes  int64
}

func (t *Torn) Error() string {
	s := fmt.Sprintf("torn tail: %d bytes after line %d, from a crash or a full disk; not tampering; `openclaw-run audit repair` quarantines it", t.Bytes, t.Line)
	if t.File != "" {
		s = t.File + ": " + s
	}
	return s
}

// Dangling is an intent with neither an outcome nor an abandoned record:
// its call is running, or its runner died and recovery has not run since.
type Dangling struct {
	CallID    string
	Seq       uint64
	Hash      string
	Owner     string // the runner, procid's "pid:starttime:bootid"
	Time      time.Time
	Tool      string
	SessionID string
	UserID    string
	Channel   string
	Client    string // set when a gateway client made the call
	File      string
}

// Report is what VerifyReport found.
type Report struct {
	Lines    int      // good lines, in all files
	Problem  *Problem // tampering, or nil
	Torn     *Torn    // a torn tail at the end of the newest file, or nil
	Dangling []Dangling
	// Abandoned and Repairs count the abandoned and repair records.
	Abandoned, Repairs int
}

// maxLine bounds a line read by Verify: records are far smaller (strings
// over 4 KiB are summarized), so a longer line is not a record.
const maxLine = 64 << 20

// Verify reads a log and checks every line: its own hash (an edited line),
// the previous line's hash (a deleted, inserted or reordered line) and the
// sequence. It returns the number of good lines and the first problem: a
// *Problem for tampering, a *Torn for a torn tail.
func Verify(r io.Reader) (int, error) {
	rep := &Report{}
	c := chain{prev: genesis, rep: rep, intents: intents{}}
	if err := c.file(r, "", true); err != nil {
		return rep.Lines, err
	}
	return rep.Lines, rep.err()
}

// VerifyFiles checks a rotated log, oldest file first, as one chain. The
// oldest file kept may begin after the genesis (older backups were
// dropped by rotation); every later file must continue exactly. The error
// is a *Problem for tampering, a *Torn for a torn tail.
func VerifyFiles(paths []string) (int, error) {
	rep, err := VerifyReport(paths)
	if err != nil {
		return rep.Lines, err
	}
	return rep.Lines, rep.err()
}

func (r *Report) err() error {
	switch {
	case r.Problem != nil:
		return r.Problem
	case r.Torn != nil:
		return r.Torn
	}
	return nil
}

// VerifyReport checks a rotated log, oldest file first, as VerifyFiles
// does, and reports the torn tail apart from tampering, the intents
// without an outcome, and the abandoned and repair records. The error is
// for files that cannot be read; what is wrong with the chain is in the
// Report.
func VerifyReport(paths []string) (*Report, error) {
	rep := &Report{}
	c := chain{rep: rep, intents: intents{}}
	if len(paths) == 1 {
		c.prev = genesis // nothing was rotated away: the chain starts here
	}
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return rep, err
		}
		err = c.file(f, p, i == len(paths)-1)
		f.Close()
		if err != nil {
			return rep, err
		}
		if rep.Problem != nil || rep.Torn != nil {
			break
		}
	}
	rep.Dangling = c.intents.dangling()
	return rep, nil
}

// chain verifies files in order.
type chain struct {
	prev    string // "" accepts any previous hash on the next line
	next    uint64 // 0 accepts any sequence number on the next line
	rep     *Report
	intents intents
}

// file checks the lines of one file; last says it is the newest, the only
// one where a torn tail can be. Problems go to the report; the error is
// for reading.
func (c *chain) file(r io.Reader, name string, last bool) error {
	lr := lineReader{r: bufio.NewReaderSize(r, 64<<10)}
	n := 0
	for {
		off := lr.off
		line, torn, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, errLineTooLong) {
			c.rep.Problem = &Problem{File: name, Line: n + 1, Reason: err.Error()}
			return nil
		}
		if err != nil {
			return err
		}
		n++
		if torn {
			if last {
				c.rep.Torn = &Torn{File: name, Line: n - 1, Offset: off, Bytes: int64(len(line))}
			} else {
				c.rep.Problem = &Problem{File: name, Line: n, Reason: "bytes after the last record of a rotated file"}
			}
			return nil
		}
		body, seq, hash, prevHash, reason := checkLine(line)
		if reason != "" {
			c.rep.Problem = &Problem{File: name, Line: n, Reason: reason}
			return nil
		}
		switch {
		case c.prev != "" && prevHash != c.prev:
			reason = "previous-hash mismatch: a line before it was deleted, inserted or reordered"
		case c.next != 0 && seq != c.next:
			reason = fmt.Sprintf("sequence %d, want %d", seq, c.next)
		case c.prev == genesis && seq != 1:
			reason = fmt.Sprintf("sequence %d, want 1", seq)
		}
		if reason != "" {
			c.rep.Problem = &Problem{File: name, Line: n, Reason: reason}
			return nil
		}
		c.prev, c.next = hash, seq+1
		c.rep.Lines++
		c.intents.observe(body, hash, name, c.rep)
	}
}

var errLineTooLong = fmt.Errorf("a line longer than %d MiB: not an audit record", maxLine>>20)

// lineReader reads lines, telling a last line without its newline apart.
type lineReader struct {
	r   *bufio.Reader
	off int64 // offset of the next line
}

// next returns the next line without its newline; torn is set for bytes
// at the end that no newline closes.
func (lr *lineReader) next() (line []byte, torn bool, err error) {
	var long []byte
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.off += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			if long = append(long, chunk...); len(long) > maxLine {
				return nil, false, errLineTooLong
			}
			continue
		}
		if long != nil {
			chunk = append(long, chunk...)
		}
		switch {
		case err == io.EOF && len(chunk) == 0:
			return nil, false, io.EOF
		case err == io.EOF:
			return chunk, true, nil
		case err != nil:
			return nil, false, err
		}
		return chunk[:len(chunk)-1], false, nil
	}
}

// scanRecord is what recovery and verification read of a record.
type scanRecord struct {
	Seq       uint64     `json:"seq"`
	Timestamp time.Time  `json:"timestamp"`
	Action    string     `json:"action"`
	CallID    string     `json:"callId"`
	Tool      string     `json:"tool"`
	Owner     string     `json:"owner"`
	SessionID string     `json:"sessionId"`
	UserID    string     `json:"userId"`
	Channel   string     `json:"channel"`
	Client    string     `json:"client"`
	Intent    *IntentRef `json:"intent"`
}

// intents tracks intents without an outcome, by sequence number.
type intents map[uint64]Dangling

// observe notes one record (its body and hash) of file; rep, if any,
// counts abandoned and repair records.
func (in intents) observe(body []byte, hash, file string, rep *Report) {
	var r scanRecord
	if json.Unmarshal(body, &r) != nil {
		return
	}
	switch r.Action {
	case ActionIntent:
		in[r.Seq] = Dangling{CallID: r.CallID, Seq: r.Seq, Hash: hash, Owner: r.Owner, Time: r.Timestamp, Tool: r.Tool,
			SessionID: r.SessionID, UserID: r.UserID, Channel: r.Channel, Client: r.Client, File: file}
	case ActionAbandoned:
		if rep != nil {
			rep.Abandoned++
		}
	case ActionRepair:
		if rep != nil {
			rep.Repairs++
		}
	}
	// An outcome or abandoned record closes its intent, if it names it
	// exactly (sequence and hash).
	if r.Intent != nil {
		if d, ok := in[r.Intent.Seq]; ok && d.Hash == r.Intent.Hash {
			delete(in, r.Intent.Seq)
		}
	}
}

// dangling returns the open intents in log order.
func (in intents) dangling() []Dangling {
	out := make([]Dangling, 0, len(in))
	for _, d := range in {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// scanIntents reads files (oldest first) without verifying the chain and
// returns the intents without an outcome. Lines that are not records are
// skipped: Verify is the judge of the chain; this only looks for calls.
func scanIntents(paths []string) ([]Dangling, error) {
	in := intents{}
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		lr := lineReader{r: bufio.NewReaderSize(f, 64<<10)}
		for {
			line, torn, err := lr.next()
			if err == io.EOF || torn {
				break
			}
			if errors.Is(err, errLineTooLong) {
				continue
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			if body, hash, ok := unseal(line); ok {
				in.observe(body, hash, p, nil)
			}
		}
		f.Close()
	}
	return in.dangling(), nil
}
