package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openclaw-run/openclaw-run/runner"
)

// cmdPs lists the running jails of every runner on the host, the CLI's and
// the gateways' (the call registry, runner.RunningCalls).
func cmdPs(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("ps", stderr)
	asJSON := fs.Bool("json", false, "print the calls as JSON")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return fs.Fail("unexpected argument %q", fs.Arg(0))
	}
	list, err := runner.RunningCalls()
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run ps: %v\n", err)
		return 1
	}
	if *asJSON {
		out := make([]map[string]any, 0, len(list))
		for _, c := range list {
			m := map[string]any{"callId": c.CallID, "sessionId": c.SessionID, "tool": c.Tool, "command": c.Command,
				"engine": c.Engine, "started": c.Started, "runnerPid": c.Runner.PID()}
			if u, ok := c.Usage(); ok {
				m["maxMemoryBytes"], m["cpuMs"] = u.MaxMemoryBytes, u.CPUUserMs+u.CPUSystemMs
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return 0
	}
	fmt.Fprintf(stdout, "%-16s  %-12s  %-7s  %-6s  %8s  %8s  %s\n", "CALL", "SESSION", "ENGINE", "AGE", "MEMORY", "CPU", "COMMAND")
	for _, c := range list {
		mem, cpu := "-", "-"
		if u, ok := c.Usage(); ok {
			mem = fmt.Sprintf("%.1fM", float64(u.MaxMemoryBytes)/(1<<20))
			cpu = (time.Duration(u.CPUUserMs+u.CPUSystemMs) * time.Millisecond).Round(10 * time.Millisecond).String()
		}
		cmd := strings.ReplaceAll(c.Command, "\n", " ")
		if len(cmd) > 60 {
			cmd = cmd[:57] + "..."
		}
		fmt.Fprintf(stdout, "%-16s  %-12s  %-7s  %-6s  %8s  %8s  %s\n", c.CallID, orDash(c.SessionID), c.Engine,
			time.Since(c.Started).Round(time.Second), mem, cpu, cmd)
	}
	return 0
}

// cmdKill ends one running call of the registry by its call id.
func cmdKill(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("kill", stderr)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.Fail("name one call id (openclaw-run ps lists them)")
	}
	c, err := runner.KillCall(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run kill: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "killed call %s (%s: %s); its runner reports how it ended and audits it\n", c.CallID, c.Tool, c.Command)
	return 0
}
