package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Rules are the thresholds of the hardening guide's alerts (section 4.3),
// per session (or per user for calls without one), within Window.
type Rules struct {
	Window time.Duration
	// ExecBurst: more exec calls than this within Window.
	ExecBurst int
	// Failures: at least this many failed calls within Window.
	Failures int
	// Denials: at least this many policy denials within Window.
	Denials int
	// Any blocked dangerous system call is a finding: a jailed program
	// tried ptrace, bpf, mount, unshare and the like.
}

// DefaultRules: a minute's window; 30 execs, 5 failures, 1 denial.
func DefaultRules() Rules {
	return Rules{Window: time.Minute, ExecBurst: 30, Failures: 5, Denials: 1}
}

// Finding is one alert.
type Finding struct {
	Rule     string    `json:"rule"` // exec_burst | repeated_failures | denials | blocked_syscalls | chain_broken
	Severity string    `json:"severity"`
	Who      string    `json:"who"` // session:ID, user:NAME
	Count    int       `json:"count"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	LastSeq  uint64    `json:"lastSeq"`
	Detail   string    `json:"detail"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%-8s %-17s %-24s %4d  %s .. %s  %s", strings.ToUpper(f.Severity), f.Rule, f.Who, f.Count,
		f.First.Format(time.RFC3339), f.Last.Format("15:04:05"), f.Detail)
}

type alertRecord struct {
	Seq       uint64    `json:"seq"`
	Timestamp time.Time `json:"timestamp"`
	SessionID string    `json:"sessionId"`
	UserID    string    `json:"userId"`
	Tool      string    `json:"tool"`
	Decision  string    `json:"decision"`
	Reason    string    `json:"reason"`
	Result    *Outcome  `json:"result"`
	Blocked   []struct {
		Syscall string `json:"syscall"`
		Count   int    `json:"count"`
	} `json:"blockedSyscalls"`
}

func (r *alertRecord) who() string {
	if r.SessionID != "" {
		return "session:" + r.SessionID
	}
	return "user:" + r.UserID
}

// window counts events of one kind for one subject; it reports once per
// subject, with the largest count seen in any window.
type window struct {
	times []time.Time
	f     *Finding
}

// Alerts applies rules to the records of the log files (oldest first) at
// or after since. A broken hash chain is itself a finding: someone edited
// the log.
func Alerts(paths []string, rules Rules, since time.Time) ([]Finding, error) {
	var out []Finding
	if _, err := VerifyFiles(paths); err != nil {
		var p *Problem
		if !errors.As(err, &p) {
			return nil, err
		}
		out = append(out, Finding{Rule: "chain_broken", Severity: "critical", Who: "audit log", Count: 1, Detail: p.Error()})
	}
	counters := map[string]*window{} // rule + who
	bump := func(rule, severity string, r *alertRecord, threshold int, detail string) {
		key := rule + "\x00" + r.who()
		w := counters[key]
		if w == nil {
			w = &window{}
			counters[key] = w
		}
		w.times = append(w.times, r.Timestamp)
		for len(w.times) > 0 && r.Timestamp.Sub(w.times[0]) > rules.Window {
			w.times = w.times[1:]
		}
		n := len(w.times)
		if threshold <= 0 || n < threshold {
			return
		}
		if w.f == nil {
			w.f = &Finding{Rule: rule, Severity: severity, Who: r.who(), First: w.times[0]}
		}
		if n > w.f.Count {
			w.f.Count = n
		}
		w.f.Last, w.f.LastSeq, w.f.Detail = r.Timestamp, r.Seq, detail
	}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		err = eachRecord(f, func(r *alertRecord) {
			if r.Timestamp.Before(since) {
				return
			}
			switch {
			case r.Decision == "deny":
				bump("denials", "high", r, rules.Denials, fmt.Sprintf("%s refused: %s", r.Tool, r.Reason))
			case r.Result != nil && !r.Result.Success:
				bump("repeated_failures", "warning", r, rules.Failures, fmt.Sprintf("last: %s exit %d", r.Tool, r.Result.ExitCode))
			}
			if r.Tool == "exec" && r.Decision != "deny" {
				bump("exec_burst", "warning", r, rules.ExecBurst+1, fmt.Sprintf("more than %d exec calls within %s", rules.ExecBurst, rules.Window))
			}
			for _, b := range r.Blocked {
				out = append(out, Finding{Rule: "blocked_syscalls", Severity: "high", Who: r.who(), Count: b.Count,
					First: r.Timestamp, Last: r.Timestamp, LastSeq: r.Seq,
					Detail: fmt.Sprintf("%s attempted %s (refused by seccomp)", r.Tool, b.Syscall)})
			}
		})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, w := range counters {
		if w.f != nil {
			out = append(out, *w.f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastSeq < out[j].LastSeq })
	return out, nil
}

func eachRecord(r io.Reader, fn func(*alertRecord)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var rec alertRecord
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			fn(&rec)
		}
	}
	return sc.Err()
}
