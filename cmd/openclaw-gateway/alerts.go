package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/internal/cli"
	"github.com/openclaw-run/openclaw-run/internal/setup"
)

// cmdAuditAlerts is "openclaw-run audit alerts": the guide's monitor.py
// (section 4.3) as rules over the audit log. It lives in this binary
// because posting to a webhook needs net/http. Exit 0: no finding; 1:
// findings; 2: usage or a failure to read or post.
func cmdAuditAlerts(args []string, stdout, stderr io.Writer) int {
	// Only reached through openclaw-run (its audit command).
	fs := cli.New("openclaw-run audit alerts", "openclaw-run audit alerts [--since 24h|7d|today|yesterday|DATE] [--json] [--webhook URL] [--cursor FILE] [--file F] [--config F]", 2, stderr)
	file := fs.String("file", "", "audit log (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	sinceFlag := fs.String("since", "24h", "only records since: a duration (24h, 7d, 1d12h), today, yesterday, a date (2026-11-25) or an RFC 3339 time")
	asJSON := fs.Bool("json", false, "print the findings as JSON lines")
	webhook := fs.String("webhook", "", "post the findings here (default: alerts.webhook of the config)")
	cursor := fs.String("cursor", "", "file remembering the last record reported: a cron job reports each finding once")
	cfgFile := fs.String("config", "", "config file")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) != "alerts" {
		return fs.Fail("want alerts")
	}
	since, sinceText, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return fs.Fail("%v", err)
	}
	known, _ := setup.Profiles()
	cfg, err := setup.Config(*cfgFile, known)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	rules := audit.DefaultRules()
	a := cfg.Alerts
	if a.Window > 0 {
		rules.Window = a.Window.D()
	}
	if a.ExecBurst > 0 {
		rules.ExecBurst = a.ExecBurst
	}
	if a.Failures > 0 {
		rules.Failures = a.Failures
	}
	if a.Denials > 0 {
		rules.Denials = a.Denials
	}
	path := setup.AuditPath(*file)
	findings, err := audit.Alerts(audit.Files(path), rules, since)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	var last uint64
	if *cursor != "" {
		if b, err := os.ReadFile(*cursor); err == nil {
			last, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		}
		fresh := findings[:0]
		for _, f := range findings {
			if f.LastSeq > last || f.Rule == "chain_broken" {
				fresh = append(fresh, f)
			}
			last = max(last, f.LastSeq)
		}
		findings = fresh
	}
	for _, f := range findings {
		if *asJSON {
			b, _ := json.Marshal(f)
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			fmt.Fprintln(stdout, f)
		}
	}
	if len(findings) == 0 && !*asJSON {
		fmt.Fprintf(stdout, "no findings in %s %s\n", path, sinceText)
	}
	url := *webhook
	if url == "" {
		url = cfg.Alerts.Webhook
	}
	if url != "" && len(findings) > 0 {
		if err := postFindings(url, findings); err != nil {
			fmt.Fprintf(stderr, "webhook: %v (the cursor is not advanced, so the next run posts them again)\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "posted %d finding(s) to the webhook\n", len(findings))
	}
	if *cursor != "" {
		if err := os.WriteFile(*cursor, []byte(strconv.FormatUint(last, 10)+"\n"), 0o600); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	if len(findings) > 0 {
		return 1
	}
	return 0
}

// parseSince reads --since: a duration back from now (Go's syntax, plus
// whole days: "7d", "1d12h"), "today" or "yesterday" (from local
// midnight), a date (YYYY-MM-DD, local midnight) or an RFC 3339 time. It
// also returns how to say it ("over the last 7d", "since 2026-11-25").
func parseSince(s string, now time.Time) (time.Time, string, error) {
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	switch s {
	case "today":
		return midnight, "since today (" + midnight.Format("2006-01-02") + ")", nil
	case "yesterday":
		y := midnight.AddDate(0, 0, -1)
		return y, "since yesterday (" + y.Format("2006-01-02") + ")", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return checkPast(s, t, now, "since "+s)
	}
	if t, err := time.ParseInLocation("2006-01-02", s, now.Location()); err == nil {
		return checkPast(s, t, now, "since "+s)
	}
	if d, ok := parseDays(s); ok {
		if d < 0 {
			return time.Time{}, "", fmt.Errorf("--since %q: a duration back from now must not be negative", s)
		}
		return now.Add(-d), "over the last " + s, nil
	}
	return time.Time{}, "", fmt.Errorf("--since %q: want a duration (24h, 7d, 1d12h), today, yesterday, a date (2026-11-25) or an RFC 3339 time (2026-11-25T10:00:00Z)", s)
}

// parseDays parses a Go duration that may begin with whole days ("7d",
// "1d12h"): time.ParseDuration has no unit longer than an hour.
func parseDays(s string) (time.Duration, bool) {
	days, rest, found := strings.Cut(s, "d")
	if !found {
		d, err := time.ParseDuration(s)
		return d, err == nil
	}
	n, err := strconv.ParseInt(days, 10, 32)
	if err != nil || days == "" || days[0] == '+' || n > 100*366 || n < -100*366 {
		return 0, false
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 || strings.HasPrefix(rest, "+") {
			return 0, false
		}
		if n < 0 {
			r = -r
		}
		d += r
	}
	return d, true
}

func checkPast(s string, t, now time.Time, text string) (time.Time, string, error) {
	if t.After(now) {
		return time.Time{}, "", fmt.Errorf("--since %q is in the future", s)
	}
	return t, text, nil
}

// postFindings sends {"text": summary, "host", "findings": [...]}: "text"
// is what Slack-style incoming webhooks display; the rest is for programs.
func postFindings(url string, findings []audit.Finding) error {
	host, _ := os.Hostname()
	var text strings.Builder
	fmt.Fprintf(&text, "openclaw-run on %s: %d audit finding(s)\n", host, len(findings))
	for _, f := range findings {
		fmt.Fprintf(&text, "[%s] %s %s: %s\n", f.Severity, f.Rule, f.Who, f.Detail)
	}
	body, _ := json.Marshal(map[string]any{"text": text.String(), "host": host, "source": "openclaw-run", "findings": findings})
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s answered %s: %s", url, resp.Status, b)
	}
	return nil
}
