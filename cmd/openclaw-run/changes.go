package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/review"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/staging"
)

// cmdChanges: what calls changed in a workspace, and their review:
//
//	openclaw-run changes list [--workspace W] [--json]
//	openclaw-run changes show|approve|reject CALLID [--workspace W]
//
// The store is the workspace's own (<workspace>/.openclaw-run, docs/staging.md).
func cmdChanges(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("changes", stderr)
	ws := fs.StringP("workspace", "w", ".", "the workspace")
	asJSON := fs.Bool("json", false, "print JSON")
	cfgFile := fs.String("config", "", "the config file (its audit log records the decision)")
	auditFile := fs.String("audit-file", "", "the audit log (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	usage := "usage: openclaw-run changes list | changes show|approve|reject CALLID [--workspace W]"
	if fs.NArg() == 0 || (fs.Arg(0) == "list") != (fs.NArg() == 1) || fs.NArg() > 2 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	s, err := openStore(*ws)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run changes: %v\n", err)
		return 1
	}
	defer s.Close()
	var ch *staging.Changes
	switch fs.Arg(0) {
	case "list", "show":
		ms, err := s.List()
		if err != nil {
			fmt.Fprintf(stderr, "openclaw-run changes: %v\n", err)
			return 1
		}
		if fs.Arg(0) == "show" {
			for _, m := range ms {
				if m.CallID == fs.Arg(1) {
					return printJSON(stdout, m)
				}
			}
			fmt.Fprintf(stderr, "openclaw-run changes: no call %s in %s\n", fs.Arg(1), *ws)
			return 1
		}
		if *asJSON {
			return printJSON(stdout, ms)
		}
		for _, m := range ms {
			c := m.Changes
			fmt.Fprintf(stdout, "%s  %-10s %s  %d added, %d modified, %d deleted, %d bytes\n", m.CallID, m.State,
				m.Time.Local().Format(time.DateTime), c.Added, c.Modified, c.Deleted, c.BytesWritten)
		}
		return 0
	case "approve":
		ch, err = reviewed(s, "approve", fs.Arg(1), *cfgFile, *auditFile)
	case "reject":
		ch, err = reviewed(s, "reject", fs.Arg(1), *cfgFile, *auditFile)
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run changes %s: %v\n", fs.Arg(0), err)
		return 1
	}
	return report(stdout, *asJSON, fs.Arg(0)+"d", ch)
}

// cmdUndo: openclaw-run undo CALLID [--workspace W] restores what a
// committed call changed, unless a later call changed the same paths.
func cmdUndo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("undo", stderr)
	ws := fs.StringP("workspace", "w", ".", "the workspace")
	asJSON := fs.Bool("json", false, "print JSON")
	cfgFile := fs.String("config", "", "the config file (its audit log records the undo)")
	auditFile := fs.String("audit-file", "", "the audit log (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: openclaw-run undo CALLID [--workspace W]")
		return 2
	}
	s, err := openStore(*ws)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run undo: %v\n", err)
		return 1
	}
	defer s.Close()
	ch, err := reviewed(s, "undo", fs.Arg(0), *cfgFile, *auditFile)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run undo: %v\n", err)
		return 1
	}
	return report(stdout, *asJSON, "undone", ch)
}

// reviewed makes a review decision with its audit records around it, as
// the gateway's admin routes do (review.Decide).
func reviewed(s *staging.Store, op, call, cfgFile, auditFile string) (*staging.Changes, error) {
	known, err := setup.Profiles()
	if err != nil {
		return nil, err
	}
	cfg, err := setup.Config(cfgFile, known)
	if err != nil {
		return nil, err
	}
	alog, err := setup.OpenAudit(auditFile, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", review.ErrAudit, err)
	}
	return review.Decide(alog, s, op, call, review.Who{Session: "cli"})
}

func openStore(ws string) (*staging.Store, error) {
	if err := staging.Available(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(ws)
	if err != nil {
		return nil, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, err
	}
	return staging.OpenStore(abs)
}

func report(w io.Writer, asJSON bool, what string, ch *staging.Changes) int {
	if asJSON {
		return printJSON(w, ch)
	}
	fmt.Fprintf(w, "%s: %d added, %d modified, %d deleted\n", what, ch.Added, ch.Modified, ch.Deleted)
	for _, c := range ch.Files {
		fmt.Fprintf(w, "  %-8s %-7s %s\n", c.Op, c.Type, c.Path)
	}
	return 0
}

func printJSON(w io.Writer, v any) int {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintf(w, "%s\n", b)
	return 0
}
