package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/internal/cli"
	"github.com/openclaw-run/openclaw-run/internal/version"
)

// Every subcommand, and the run command itself, reports a bad flag by
// name with what was wrong and its usage line (exit 125, audit 2), and
// exits 0 on --help.
func TestFlagErrorsNameTheFlag(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	cases := [][]string{{"--no-such-flag"}, {"--memory", "abc", "--", "true"}, {"--pids=x", "--", "true"}}
	for _, c := range commands {
		if c.name == "audit" {
			cases = append(cases, []string{"audit", "verify", "--no-such-flag"})
			continue
		}
		cases = append(cases, []string{c.name, "--no-such-flag"})
	}
	cases = append(cases, []string{"tools", "test", "read", "--pth=x"})
	for _, args := range cases {
		_, errOut, code := runCLI(t, args...)
		bad := args[len(args)-1]
		if strings.HasPrefix(args[0], "--") {
			bad = args[0]
		}
		name, _, _ := strings.Cut(strings.TrimLeft(bad, "-"), "=")
		if code != exitSetup && code != auditExitUsage || !strings.Contains(errOut, name) || !strings.Contains(errOut, "usage: openclaw-run") {
			t.Errorf("%q: exit %d, want the flag %q named with the usage line; got %q", args, code, name, errOut)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		if _, _, code := runCLI(t, args...); code != 0 {
			t.Errorf("%q: exit %d", args, code)
		}
	}
	for _, c := range commands {
		out, errOut, code := runCLI(t, c.name, "--help")
		if code != 0 || !strings.Contains(out+errOut, "usage: openclaw-run "+c.name) {
			t.Errorf("%s --help: exit %d, %q", c.name, code, out+errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, code := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, "openclaw-run "+version.Get().Version+" (commit ") || !strings.Contains(out, "runc helper: ") {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

// The guide's command names are commands, not programs to jail.
func TestGuideCommandsAreCommands(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	_, errOut, code := runCLI(t, "models", "test")
	if code != 3 || !strings.Contains(errOut, "runs no model") || !strings.Contains(errOut, "models.providers") {
		t.Errorf("models test: exit %d, %q", code, errOut)
	}
	if _, errOut, _ := runCLI(t, "nosuch"); !strings.Contains(errOut, "openclaw-run help lists the commands") {
		t.Errorf("unknown command: %q", errOut)
	}
	for _, name := range []string{"channels", "gateway", "sessions"} {
		if !gatewayCommands[name] {
			t.Errorf("%s is not handed to openclaw-gateway", name)
		}
	}
}

// __flags (the source of the man pages and the completion) describes
// every command with the flags it parses, and runs none of them.
func TestFlagsDescribeEveryCommand(t *testing.T) {
	var out strings.Builder
	if code := printFlags(&out); code != 0 {
		t.Fatal(code)
	}
	var docs []cli.CmdDoc
	if err := json.Unmarshal([]byte(out.String()), &docs); err != nil {
		t.Fatal(err)
	}
	got := map[string]cli.CmdDoc{}
	for _, d := range docs {
		got[d.Cmd] = d
	}
	for _, c := range commands {
		if _, ok := got["openclaw-run "+c.name]; !ok {
			t.Errorf("__flags misses %s", c.name)
		}
	}
	var f runFlags
	want := runFlagSet(&f, io.Discard)
	if n := len(got["openclaw-run"].Flags); n != len(cli.Docs([]*cli.FlagSet{want})[0].Flags) || n < 20 {
		t.Errorf("the run command's flags: %d", n)
	}
}
