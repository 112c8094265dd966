// Command gendocs writes the man pages and the bash and zsh completion of
// openclaw-run and openclaw-gateway from the flag sets the built binaries
// parse with (their hidden "__flags" command, internal/cli), so that the
// pages and the completion cannot drift from the flags:
//
//	go run ./internal/cli/gendocs -bin bin -out build/docs
//
// make install runs it; it writes OUT/man1/*.1, OUT/completion/openclaw-run
// (bash) and OUT/completion/_openclaw-run (zsh).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/openclaw-run/openclaw-run/internal/cli"
)

func main() {
	bin := flag.String("bin", "bin", "directory of the built binaries")
	out := flag.String("out", "build/docs", "output directory")
	flag.Parse()
	run := load(filepath.Join(*bin, "openclaw-run"))
	gw := load(filepath.Join(*bin, "openclaw-gateway"))
	// What openclaw-run hands to openclaw-gateway is openclaw-run's too.
	all := append([]cli.CmdDoc{}, run...)
	for _, d := range gw {
		d.Cmd = asRun(d.Cmd)
		d.Usage = asRun(d.Usage)
		if !has(all, d.Cmd) {
			all = append(all, d)
		}
	}
	write(filepath.Join(*out, "man1", "openclaw-run.1"), man("openclaw-run", "run AI-agent tool calls in fresh kernel jails", all))
	write(filepath.Join(*out, "man1", "openclaw-gateway.1"), man("openclaw-gateway", "serve tool calls over HTTP, WebSocket and MCP, and manage that service", gw))
	write(filepath.Join(*out, "completion", "openclaw-run"), bash(all, gw))
	write(filepath.Join(*out, "completion", "_openclaw-run"), zsh(all))
}

func load(binary string) []cli.CmdDoc {
	b, err := exec.Command(binary, "__flags").Output()
	if err != nil {
		log.Fatalf("%s __flags: %v", binary, err)
	}
	var docs []cli.CmdDoc
	if err := json.Unmarshal(b, &docs); err != nil {
		log.Fatalf("%s __flags: %v", binary, err)
	}
	return docs
}

// asRun names a gateway command as openclaw-run users type it.
func asRun(s string) string {
	for _, verb := range []string{"start", "stop", "status", "restart", "reset"} {
		if strings.HasPrefix(s, "openclaw-gateway "+verb) {
			return "openclaw-run gateway " + strings.TrimPrefix(s, "openclaw-gateway ")
		}
	}
	return strings.ReplaceAll(s, "openclaw-gateway ", "openclaw-run ")
}

func has(docs []cli.CmdDoc, cmd string) bool {
	for _, d := range docs {
		if d.Cmd == cmd {
			return true
		}
	}
	return false
}

func write(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		log.Fatal(err)
	}
}

// roff escapes text for a man page.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func flagLine(f cli.FlagDoc) string {
	s := `\fB\-\-` + roff(f.Name) + `\fR`
	if f.Shorthand != "" {
		s = `\fB\-` + f.Shorthand + `\fR, ` + s
	}
	if f.Type != "bool" {
		s += " " + `\fI` + f.Type + `\fR`
	}
	return s
}

func man(prog, summary string, docs []cli.CmdDoc) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 1 \"\" \"openclaw-run\" \"User Commands\"\n", strings.ToUpper(prog))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n.SH SYNOPSIS\n", prog, roff(summary))
	for _, d := range docs {
		fmt.Fprintf(&b, ".br\n%s\n", roff(d.Usage))
	}
	b.WriteString(".SH COMMANDS\n")
	for _, d := range docs {
		fmt.Fprintf(&b, ".SS %s\n%s\n", roff(d.Cmd), roff(d.Usage))
		for _, f := range d.Flags {
			fmt.Fprintf(&b, ".TP\n%s\n%s", flagLine(f), roff(f.Usage))
			if f.Default != "" && f.Default != "false" && f.Default != "0" && f.Default != "[]" {
				fmt.Fprintf(&b, " (default %s)", roff(f.Default))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(".SH SEE ALSO\nThe documentation in /usr/share/doc/openclaw-run (docs/cli.md: every flag and exit code).\n")
	return b.String()
}

// words: the subcommand path of a doc after the program ("gateway start").
func words(d cli.CmdDoc) []string { return strings.Fields(d.Cmd)[1:] }

func flagWords(d cli.CmdDoc) string {
	var fl []string
	for _, f := range d.Flags {
		fl = append(fl, "--"+f.Name)
		if f.Shorthand != "" {
			fl = append(fl, "-"+f.Shorthand)
		}
	}
	fl = append(fl, "--help")
	return strings.Join(fl, " ")
}

// groups merges the flags of each first word (audit and audit alerts;
// gateway and its verbs), in order; "" is the program's own flag set.
func groups(docs []cli.CmdDoc) ([]string, map[string]string) {
	var names []string
	flags := map[string]string{}
	for _, d := range docs {
		name := ""
		if w := words(d); len(w) > 0 {
			name = w[0]
		}
		if _, ok := flags[name]; !ok {
			names = append(names, name)
			if name == "gateway" {
				flags[name] = "start stop status restart reset"
			}
		}
		flags[name] = strings.TrimSpace(flags[name] + " " + flagWords(d))
	}
	// The program's own flags last: "*)" matches everything in a case.
	for i, n := range names {
		if n == "" {
			names = append(append(names[:i:i], names[i+1:]...), "")
			break
		}
	}
	return names, flags
}

func bash(run, gw []cli.CmdDoc) string {
	var b strings.Builder
	b.WriteString("# bash completion for openclaw-run and openclaw-gateway (generated by internal/cli/gendocs from the binaries' flags)\n")
	gen := func(fn string, docs []cli.CmdDoc, extra string) {
		names, flags := groups(docs)
		var subs []string
		for _, n := range names {
			if n != "" {
				subs = append(subs, n)
			}
		}
		fmt.Fprintf(&b, "%s() {\n  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} flags\n", fn)
		fmt.Fprintf(&b, "  if [ \"$COMP_CWORD\" -eq 1 ] && [[ $cur != -* ]]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", strings.Join(subs, " ")+extra)
		b.WriteString("  case $cmd in\n")
		for _, n := range names {
			pat := n
			if n == "" {
				pat = "*"
			}
			fmt.Fprintf(&b, "    %s) flags=%q ;;\n", pat, flags[n])
		}
		b.WriteString("  esac\n  COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n}\n")
	}
	gen("_openclaw_run", run, " help version")
	var g []cli.CmdDoc
	for _, d := range gw {
		d.Cmd = strings.Replace(d.Cmd, "openclaw-run ", "openclaw-gateway ", 1)
		g = append(g, d)
	}
	gen("_openclaw_gateway", g, " restart help version")
	b.WriteString("complete -o default -F _openclaw_run openclaw-run\ncomplete -o default -F _openclaw_gateway openclaw-gateway\n")
	return b.String()
}

func zsh(docs []cli.CmdDoc) string {
	var b strings.Builder
	b.WriteString("#compdef openclaw-run\n# zsh completion (generated by internal/cli/gendocs from the binaries' flags)\n")
	b.WriteString("_openclaw-run() {\n  local -a flags\n  case $words[2] in\n")
	names, flags := groups(docs)
	var subs []string
	for _, n := range names {
		pat := n
		if n == "" {
			pat = "*"
		} else {
			subs = append(subs, n)
		}
		fmt.Fprintf(&b, "    %s) flags=(%s) ;;\n", pat, strings.Join(strings.Fields(flags[n]), " "))
	}
	fmt.Fprintf(&b, "  esac\n  if (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then compadd -- %s help version; else compadd -- $flags; fi\n}\n", strings.Join(subs, " "))
	b.WriteString("_openclaw-run \"$@\"\n")
	return b.String()
}
