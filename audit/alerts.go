package audit

import (
	"bufio"
	"encoding/json"
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
	Rule     string    `json:"rule"` // exec_burst | repeated_failures | denials | blocked_syscalls | egress_refused | abandoned_call | torn_tail | chain_broken
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
	Action    string    `json:"action"`
	Tool      string    `json:"tool"`
	CallID    string    `json:"callId"`
	Decision  string    `json:"decision"`
	Code      string    `json:"code"`
	Reason    string    `json:"reason"`
	Result    *Outcome  `json:"result"`
	Blocked   []struct {
		Syscall string `json:"syscall"`
		Count   int    `json:"count"`
	} `json:"blockedSyscalls"`
	Egress struct {
		Connections []struct {
			Host    string `json:"host"`
			Port    int    `json:"port"`
			Address string `json:"address"`
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		} `json:"connections"`
	} `json:"egress"`
}

// PolicyDenial says whether a record is a refusal by policy (a profile,
// a command rule, a path rule), which alerts and stats count as denials.
// A parameter error (invalid_params) or another error class is not. A
// record written before the code field existed is a policy denial when
// its reason is the runner's "denied by policy: ...".
func PolicyDenial(action, decision, code, reason string) bool {
	if action != ActionDenial && (action != "" || decision != "deny") {
		return false
	}
	if code != "" {
		return code == "policy_denied"
	}
	return strings.HasPrefix(reason, "denied by policy")
}

// outcome says whether a record is the outcome of a call: a tool_call,
// or a record of a log from before actions other than tool_call and
// denial existed.
func (r *alertRecord) outcome() bool {
	return r.Action == ActionToolCall || r.Action == "" && r.Decision != "deny"
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
	rep, err := VerifyReport(paths)
	if err != nil {
		return nil, err
	}
	if p := rep.Problem; p != nil {
		out = append(out, Finding{Rule: "chain_broken", Severity: "critical", Who: "audit log", Count: 1, Detail: p.Error()})
	}
	if t := rep.Torn; t != nil {
		out = append(out, Finding{Rule: "torn_tail", Severity: "warning", Who: "audit log", Count: 1, Detail: t.Error()})
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
			case PolicyDenial(r.Action, r.Decision, r.Code, r.Reason):
				bump("denials", "high", r, rules.Denials, fmt.Sprintf("%s refused: %s", r.Tool, r.Reason))
			case r.outcome() && r.Result != nil && !r.Result.Success:
				bump("repeated_failures", "warning", r, rules.Failures, fmt.Sprintf("last: %s exit %d", r.Tool, r.Result.ExitCode))
			}
			if r.Tool == "exec" && r.outcome() {
				bump("exec_burst", "warning", r, rules.ExecBurst+1, fmt.Sprintf("more than %d exec calls within %s", rules.ExecBurst, rules.Window))
			}
			if r.Action == ActionAbandoned {
				out = append(out, Finding{Rule: "abandoned_call", Severity: "warning", Who: r.who(), Count: 1,
					First: r.Timestamp, Last: r.Timestamp, LastSeq: r.Seq, Detail: r.Reason})
			}
			var refused []string
			for _, c := range r.Egress.Connections {
				if !c.Allowed {
					refused = append(refused, fmt.Sprintf("%s:%d (%s)", c.Host, c.Port, c.Reason))
				}
			}
			if len(refused) > 0 {
				detail := fmt.Sprintf("%s call %s tried %s", r.Tool, r.CallID, strings.Join(refused[:min(len(refused), 3)], ", "))
				if len(refused) > 3 {
					detail += fmt.Sprintf(" and %d more", len(refused)-3)
				}
				out = append(out, Finding{Rule: "egress_refused", Severity: "high", Who: r.who(), Count: len(refused),
					First: r.Timestamp, Last: r.Timestamp, LastSeq: r.Seq, Detail: detail + " (refused by the egress policy)"})
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
