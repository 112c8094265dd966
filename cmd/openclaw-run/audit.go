package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/internal/cli"
	"github.com/openclaw-run/openclaw-run/internal/procid"
	"github.com/openclaw-run/openclaw-run/internal/setup"
)

func cliUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

const auditUsage = "openclaw-run audit verify|repair|show CALLID|tail|stats|alerts [--file F] [-n N] [-f]"

// Exit codes of "audit verify" (docs/operations.md).
const (
	auditExitTampered = 1 // the chain is broken: a line was edited, deleted, inserted or reordered
	auditExitTorn     = 2 // a torn tail (a crash or a full disk), which "audit repair" quarantines
	auditExitUsage    = 2
)

// cmdAudit: verify, repair, show, tail and stats of the audit log.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	if slices.Contains(args, "alerts") {
		// Alerts may post to a webhook: openclaw-gateway links net/http.
		return execGateway(append([]string{"audit"}, args...), stderr)
	}
	fs := cli.New("openclaw-run audit", auditUsage, auditExitUsage, stderr)
	file := fs.String("file", "", "audit log (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	n := fs.IntP("lines", "n", 10, "tail: how many lines")
	follow := fs.BoolP("follow", "f", false, "tail: keep printing new lines")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	path := setup.AuditPath(*file)
	want := map[string]int{"verify": 1, "repair": 1, "show": 2, "tail": 1, "stats": 1}
	if fs.NArg() == 0 || want[fs.Arg(0)] != fs.NArg() {
		if fs.NArg() > 0 && fs.Arg(0) == "show" {
			return fs.Fail("show: name one call id")
		}
		return fs.Fail("want one of verify, repair, show CALLID, tail, stats, alerts")
	}
	switch fs.Arg(0) {
	case "verify":
		return auditVerify(path, stdout, stderr)
	case "repair":
		return auditRepair(path, stdout, stderr)
	case "show":
		return auditShow(path, fs.Arg(1), stdout, stderr)
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer f.Close()
	if fs.Arg(0) == "tail" {
		return auditTail(f, *n, *follow, stdout)
	}
	return auditStats(f, stdout, stderr)
}

// auditVerify prints what VerifyReport found: the good records,
// tampering (exit 1) or a torn tail (exit 2), and the calls without an
// outcome, each named.
func auditVerify(path string, stdout, stderr io.Writer) int {
	files := audit.Files(path)
	if len(files) == 0 {
		fmt.Fprintf(stderr, "no audit log at %s\n", path)
		return 1
	}
	rep, err := audit.VerifyReport(files)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	code := 0
	switch {
	case rep.Problem != nil:
		fmt.Fprintf(stdout, "FAIL %s: %s (%d good records before it): the log was edited\n", path, rep.Problem, rep.Lines)
		code = auditExitTampered
	case rep.Torn != nil:
		fmt.Fprintf(stdout, "TORN %s (%d good records before it)\n", rep.Torn, rep.Lines)
		code = auditExitTorn
	default:
		fmt.Fprintf(stdout, "OK %s: %d records, chain intact\n", path, rep.Lines)
	}
	if rep.Abandoned > 0 || rep.Repairs > 0 {
		fmt.Fprintf(stdout, "  %d abandoned call(s) and %d repair(s) recorded\n", rep.Abandoned, rep.Repairs)
	}
	if len(rep.Dangling) > 0 {
		fmt.Fprintf(stdout, "%d call(s) with an intent and no outcome:\n", len(rep.Dangling))
		dead := 0
		for _, d := range rep.Dangling {
			if procid.Alive(procid.ID(d.Owner)) {
				fmt.Fprintf(stdout, "  in flight: call %s (%s, %s) of %s %s, which is running\n", d.CallID, d.Tool, d.Time.Format(time.RFC3339), runnerKind(d), d.Owner)
				continue
			}
			dead++
			fmt.Fprintf(stdout, "  %s %s died during call %s (%s, %s)\n", runnerKind(d), d.Owner, d.CallID, d.Tool, d.Time.Format(time.RFC3339))
		}
		if dead > 0 {
			fmt.Fprintln(stdout, "  the gateway records dead runners' calls as abandoned at its next start; `openclaw-run audit repair` does it now")
		}
	}
	return code
}

// runnerKind names what wrote an intent: calls made by a gateway client
// carry the client's name; CLI calls carry none.
func runnerKind(d audit.Dangling) string {
	if d.Client != "" {
		return "gateway"
	}
	return "CLI"
}

// auditRepair quarantines a torn tail and records the calls of dead
// runners as abandoned, saying exactly what it did; run twice, the second
// run does nothing.
func auditRepair(path string, stdout, stderr io.Writer) int {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stdout, "no audit log at %s: nothing to repair\n", path)
		return 0
	}
	l, err := audit.Open(path, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	q, err := l.Repair()
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run audit repair: %v\n", err)
		if errors.Is(err, audit.ErrTampered) {
			fmt.Fprintln(stderr, "repair does not touch an edited log: restore it from a backup, or move it aside to start a new chain")
		}
		return 1
	}
	if q != nil {
		fmt.Fprintf(stdout, "quarantined a torn tail of %d bytes (offset %d, sha256 %s) to %s, and recorded it in a repair record\n",
			q.Bytes, q.Offset, q.SHA256, q.File)
	} else {
		fmt.Fprintln(stdout, "no torn tail: the log ends in a sealed record")
	}
	done, err := l.Recover(nil)
	for _, d := range done {
		fmt.Fprintf(stdout, "recorded call %s (%s, %s) as abandoned: %s %s died during it\n", d.CallID, d.Tool, d.Time.Format(time.RFC3339), runnerKind(d), d.Owner)
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run audit repair: %v\n", err)
		return 1
	}
	if len(done) == 0 {
		fmt.Fprintln(stdout, "no call of a dead runner to record")
	}
	if rep, err := audit.VerifyReport(audit.Files(path)); err == nil {
		for _, d := range rep.Dangling {
			fmt.Fprintf(stdout, "left alone: call %s (%s) is in flight in %s %s\n", d.CallID, d.Tool, runnerKind(d), d.Owner)
		}
	}
	return 0
}

// auditShow prints every record of one call (intent, outcome or
// abandoned, process actions), pretty-printed, in log order.
func auditShow(path, callID string, stdout, stderr io.Writer) int {
	found := 0
	for _, file := range audit.Files(path) {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		r := bufio.NewReaderSize(f, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' { // a torn tail is not a record
				var rec struct {
					CallID string `json:"callId"`
				}
				if json.Unmarshal(line, &rec) == nil && rec.CallID == callID {
					var out bytes.Buffer
					json.Indent(&out, bytes.TrimSpace(line), "", "  ")
					out.WriteByte('\n')
					stdout.Write(out.Bytes())
					found++
				}
			}
			if err != nil {
				break
			}
		}
		f.Close()
	}
	if found == 0 {
		fmt.Fprintf(stderr, "no audit record of call %q in %s\n", callID, path)
		return 1
	}
	return 0
}

func auditTail(f *os.File, n int, follow bool, stdout io.Writer) int {
	var last []string
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if follow && last == nil && n <= 0 {
				fmt.Fprint(stdout, line)
				continue
			}
			last = append(last, line)
			if len(last) > n {
				last = last[1:]
			}
		}
		if err == io.EOF {
			for _, l := range last {
				fmt.Fprint(stdout, l)
			}
			if !follow {
				return 0
			}
			last, n = nil, 0
			time.Sleep(200 * time.Millisecond)
			if line != "" { // partial line: read it again whole
				f.Seek(-int64(len(line)), io.SeekCurrent)
				r.Reset(f)
			}
			continue
		}
		if err != nil {
			return 1
		}
	}
}

// auditStats prints the guide's jq recipes, built in: records by action,
// most used tools, failures, policy denials, parameter errors, gateway
// refusals, abandoned calls and blocked system calls.
func auditStats(f *os.File, stdout, stderr io.Writer) int {
	actions, tools, fails, denials, params, refusals, blocked := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	total, abandoned := 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r struct {
			Tool     string          `json:"tool"`
			Action   string          `json:"action"`
			Reason   string          `json:"reason"`
			Code     string          `json:"code"`
			Count    int             `json:"count"`
			Result   *audit.Outcome  `json:"result"`
			Blocked  []blockedRecord `json:"blockedSyscalls"`
			Decision string          `json:"decision"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintf(stderr, "skipping a line that is not JSON: %v\n", err)
			continue
		}
		total++
		actions[r.Action]++
		switch {
		case audit.PolicyDenial(r.Action, r.Decision, r.Code, r.Reason):
			denials[r.Reason]++
		case r.Action == audit.ActionDenial || r.Action == "" && r.Decision == "deny":
			params[r.Tool]++
		case r.Action == audit.ActionRefusal:
			refusals[r.Reason] += max(r.Count, 1)
		case r.Action == audit.ActionAbandoned:
			abandoned++
		case r.Action == audit.ActionToolCall || r.Action == "":
			tools[r.Tool]++
			if r.Result != nil && !r.Result.Success {
				fails[r.Tool]++
			}
		}
		for _, b := range r.Blocked {
			blocked[b.Syscall] += b.Count
		}
	}
	fmt.Fprintf(stdout, "records: %d\n", total)
	printTop(stdout, "records by action", actions)
	printTop(stdout, "tools (calls that ran)", tools)
	printTop(stdout, "failures by tool", fails)
	printTop(stdout, "denials by reason", denials)
	printTop(stdout, "refused for their parameters, by tool", params)
	printTop(stdout, "gateway refusals by reason", refusals)
	fmt.Fprintf(stdout, "abandoned calls (runner died): %d\n", abandoned)
	printTop(stdout, "blocked system calls", blocked)
	return 0
}

type blockedRecord struct {
	Syscall string `json:"syscall"`
	Count   int    `json:"count"`
}

func printTop(w io.Writer, title string, m map[string]int) {
	fmt.Fprintf(w, "%s:\n", title)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	if len(keys) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, k := range keys {
		fmt.Fprintf(w, "  %6d  %s\n", m[k], k)
	}
}
