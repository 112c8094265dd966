package main

import (
	"bufio"
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
	"github.com/openclaw-run/openclaw-run/internal/setup"
)

func cliUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// cmdAudit: verify, tail and stats of the audit log.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	if slices.Contains(args, "alerts") {
		// Alerts may post to a webhook: openclaw-gateway links net/http.
		return execGateway(append([]string{"audit"}, args...), stderr)
	}
	fs := newFlags("audit", stderr)
	file := fs.String("file", "", "audit log (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	n := fs.IntP("lines", "n", 10, "tail: how many lines")
	follow := fs.BoolP("follow", "f", false, "tail: keep printing new lines")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	path := setup.AuditPath(*file)
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: openclaw-run audit verify|tail|stats|alerts [--file F] [-n N] [-f]")
		return 2
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer f.Close()
	switch fs.Arg(0) {
	case "verify":
		good, err := audit.VerifyFiles(audit.Files(path))
		var p *audit.Problem
		if errors.As(err, &p) {
			fmt.Fprintf(stdout, "FAIL %s: %s (%d good lines before it)\n", path, p, good)
			return 1
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "OK %s: %d records, chain intact\n", path, good)
		return 0
	case "tail":
		return auditTail(f, *n, *follow, stdout)
	case "stats":
		return auditStats(f, stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: openclaw-run audit verify|tail|stats")
	return 2
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

// auditStats prints the guide's jq recipes, built in: most used tools,
// failures, denials and blocked system calls.
func auditStats(f *os.File, stdout, stderr io.Writer) int {
	tools, fails, denials, blocked := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r struct {
			Tool     string          `json:"tool"`
			Action   string          `json:"action"`
			Reason   string          `json:"reason"`
			Result   *audit.Outcome  `json:"result"`
			Blocked  []blockedRecord `json:"blockedSyscalls"`
			Decision string          `json:"decision"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintf(stderr, "skipping a line that is not JSON: %v\n", err)
			continue
		}
		total++
		tools[r.Tool]++
		if r.Decision == "deny" {
			denials[r.Reason]++
		} else if r.Result != nil && !r.Result.Success {
			fails[r.Tool]++
		}
		for _, b := range r.Blocked {
			blocked[b.Syscall] += b.Count
		}
	}
	fmt.Fprintf(stdout, "records: %d\n", total)
	printTop(stdout, "tools", tools)
	printTop(stdout, "failures by tool", fails)
	printTop(stdout, "denials by reason", denials)
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
