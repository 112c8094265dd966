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
	"github.com/openclaw-run/openclaw-run/internal/setup"
)

// cmdAuditAlerts is "openclaw-run audit alerts": the guide's monitor.py
// (section 4.3) as rules over the audit log. It lives in this binary
// because posting to a webhook needs net/http. Exit 0: no finding; 1:
// findings; 2: usage or a failure to read or post.
func cmdAuditAlerts(args []string, stdout, stderr io.Writer) int {
	fs := flags("audit alerts", stderr)
	file := fs.String("file", "", "audit log (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	since := fs.Duration("since", 24*time.Hour, "only records newer than this")
	asJSON := fs.Bool("json", false, "print the findings as JSON lines")
	webhook := fs.String("webhook", "", "post the findings here (default: alerts.webhook of the config)")
	cursor := fs.String("cursor", "", "file remembering the last record reported: a cron job reports each finding once")
	cfgFile := fs.String("config", "", "config file")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 || fs.Arg(0) != "alerts" {
		fmt.Fprintln(stderr, "usage: openclaw-run audit alerts [--since 24h] [--json] [--webhook URL] [--cursor FILE] [--file F]")
		return 2
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
	findings, err := audit.Alerts(audit.Files(path), rules, time.Now().Add(-*since))
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
		fmt.Fprintf(stdout, "no findings in %s over the last %s\n", path, *since)
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
