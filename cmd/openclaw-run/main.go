// Command openclaw-run runs AI-agent tool calls in fresh kernel jails.
//
//	openclaw-run [flags] -- CMD ARGS...   run one jailed command
//	openclaw-run profiles list|show NAME  the built-in tool tiers
//	openclaw-run seccomp dump TIER        a tier's system call rules
//
// This file only parses flags into structs and dispatches; the work is in
// the runner, profiles and seccomp packages.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/openclaw-run/openclaw-run/internal/cli"
	"github.com/openclaw-run/openclaw-run/internal/version"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// Exit codes of the CLI besides the jailed command's own, documented in
// docs/cli.md (the same conventions as timeout(1) and env(1)).
const (
	exitTimeout  = 124 // the call hit its timeout and was killed
	exitSetup    = 125 // the jail could not be set up, or bad usage / policy refusal
	exitNotExec  = 126 // the command exists but could not be executed
	exitNotFound = 127 // the command does not exist inside the jail
)

type command struct {
	name  string
	usage string
	run   func(args []string, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"profiles", "profiles list | profiles show NAME [--json]", cmdProfiles},
		{"seccomp", "seccomp dump TIER [--bpf]", cmdSeccomp},
		{"audit", "audit verify|tail|stats|alerts [--file F] [-n N] [-f] [--since 24h] [--webhook URL]", cmdAudit},
		{"config", "config validate|show [--config F]", cmdConfig},
		{"tools", "tools list | tools test TOOL [--path P] [--params JSON]", cmdTools},
		{"doctor", "doctor [--json]", cmdDoctor},
		{"secrets", "secrets set NAME [VALUE|-] | get NAME | list | rm NAME", cmdSecrets},
		{"changes", "changes list | changes show|approve|reject CALLID [--workspace W]", cmdChanges},
		{"undo", "undo CALLID [--workspace W]", cmdUndo},
		{"models", "models list | models test", cmdModels},
		{"ps", "ps [--json]", cmdPs},
		{"kill", "kill CALLID", cmdKill},
	}
}

func main() {
	// Helper mode: this binary is the command of a file tool's jail.
	if len(os.Args) == 4 && os.Args[1] == "__tool" {
		os.Exit(tools.Serve(os.Args[2], os.Args[3], os.Stdin, os.Stdout))
	}
	if len(os.Args) == 2 && os.Args[1] == "__flags" {
		os.Exit(printFlags(os.Stdout))
	}
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// printFlags prints every flag set of this binary as JSON (cli.Docs), from
// which make install generates the man page and the shell completion.
func printFlags(w io.Writer) int {
	sets := cli.Describe(func() {
		cmdRun(nil, io.Discard)
		for _, c := range commands {
			c.run(nil, io.Discard, io.Discard)
		}
	})
	return writeDocs(w, sets)
}

func writeDocs(w io.Writer, sets []*cli.FlagSet) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cli.Docs(sets)); err != nil {
		return 1
	}
	return 0
}

// gatewayCommands are served by openclaw-gateway: they need the network or
// the session store, which the cold CLI path does not link.
var gatewayCommands = map[string]bool{"gateway": true, "sessions": true, "call": true, "backup": true, "restore": true, "mcp": true, "channels": true}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && gatewayCommands[args[0]] {
		return execGateway(args, stderr)
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		for _, c := range commands {
			if c.name == args[0] {
				return c.run(args[1:], stdout, stderr)
			}
		}
		switch args[0] {
		case "help":
			usage(stdout)
			return 0
		case "version":
			fmt.Fprintln(stdout, stamp().String("openclaw-run"))
			return 0
		}
		fmt.Fprintf(stderr, "openclaw-run: unknown command %q (openclaw-run help lists the commands; to run a program in a jail, put it after --: openclaw-run -- %s)\n", args[0], strings.Join(args, " "))
		return exitSetup
	}
	if len(args) == 1 && args[0] == "--version" {
		fmt.Fprintln(stdout, stamp().String("openclaw-run"))
		return 0
	}
	return cmdRun(args, stderr)
}

// execGateway hands the gatewayCommands to openclaw-gateway,
// installed next to this binary (see cmd/openclaw-gateway for why the
// gateway is a binary of its own).
func execGateway(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err == nil {
		gw := filepath.Join(filepath.Dir(exe), "openclaw-gateway")
		// argv[0] "openclaw-run": its messages name the command the user typed.
		err = syscall.Exec(gw, append([]string{"openclaw-run"}, args...), os.Environ())
		err = fmt.Errorf("run %s: %w", gw, err)
	}
	fmt.Fprintf(stderr, "openclaw-run: %v (install openclaw-gateway next to openclaw-run)\n", err)
	return exitSetup
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `openclaw-run runs AI-agent tool calls in fresh kernel jails.

Usage:
  openclaw-run [flags] -- CMD [ARGS...]   run CMD in a fresh jail (see --help)
  openclaw-run --version | version            this build: version, commit, date, Go, runc helper
  openclaw-run gateway start [--foreground] | stop | status | restart | reset
  openclaw-run sessions list | prune --older-than 7d
  openclaw-run call [--gateway URL] [--token T] TOOL [--command C] [--path P]
  openclaw-run mcp [--http ADDR] [--workspace DIR]  the tools as an MCP server (stdio)
  openclaw-run backup [--dest DIR] [--keep-days 30]
  openclaw-run restore ARCHIVE [--verify]
  openclaw-run channels list | test NAME | auth NAME --user U [--chat C] --check
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  openclaw-run %s\n", c.usage)
	}
}

// newFlags returns the flag set of subcommand name (its usage line from
// commands): a bad flag is reported by name with that line, exit 125.
func newFlags(name string, stderr io.Writer) *cli.FlagSet {
	usage := "openclaw-run " + name
	for _, c := range commands {
		if c.name == name {
			usage = "openclaw-run " + c.usage
		}
	}
	return cli.New("openclaw-run "+name, usage, exitSetup, stderr)
}

// stamp is this build's version with where the runc helper is.
func stamp() version.Stamp {
	s := version.Get()
	s.RuncHelper, _ = runcjail.Helper("")
	return s
}
