// Package policy decides whether a tool call may run, from configuration
// alone: it parses, compares and explains, and does no I/O.
//
// The exec policy (the guide's tools.exec.denyCommands / allowCommands) is a
// convenience and an audit signal, not the security boundary: the jail is.
// A determined program can always reach a denied action by other means (a
// script, a compiled binary, a language's own file API). The checks are
// still made hard to bypass by accident or by cheap tricks: the command is
// parsed as a shell program (mvdan.cc/sh), every simple command in it is
// checked (pipelines, lists, subshells, command and process substitution,
// here-documents fed to a shell), shell strings given to sh -c, bash -c and
// eval are parsed recursively, wrappers (env, sudo, nice, timeout, xargs,
// find -exec, busybox, command, exec, ...) are looked through, and a
// command name that cannot be known before it runs ($X) is refused.
package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// Exec is a compiled exec policy.
type Exec struct {
	// Mode is "deny" (everything but Deny runs: the guide's default) or
	// "allow" (only Allow runs, and never Deny).
	Mode  string
	Deny  []Rule
	Allow []Rule
}

// Rule is one entry of a command list: a command name and optionally
// further words that must follow it ("pip install", "powershell -enc").
type Rule struct {
	Text  string
	Words []string
}

// Decision is the verdict on one command string.
type Decision struct {
	Allowed bool
	// Reason explains a denial (empty when allowed).
	Reason string
	// Rule is the list entry that matched, if any.
	Rule string
	// Commands are the simple commands that were checked, as argv.
	Commands [][]string
}

// maxDepth bounds sh -c / eval recursion.
const maxDepth = 8

// NewExec compiles the lists. Entries are split into words on white space;
// an empty entry is an error.
func NewExec(mode string, deny, allow []string) (*Exec, error) {
	if mode == "" {
		mode = "deny"
	}
	if mode != "deny" && mode != "allow" {
		return nil, fmt.Errorf("exec policy %q: want \"deny\" (deny list) or \"allow\" (allow list)", mode)
	}
	p := &Exec{Mode: mode}
	var errs []error
	for _, list := range []struct {
		in  []string
		out *[]Rule
	}{{deny, &p.Deny}, {allow, &p.Allow}} {
		for _, e := range list.in {
			words := strings.Fields(e)
			if len(words) == 0 {
				errs = append(errs, errors.New("empty command entry"))
				continue
			}
			words[0] = normalizeName(strings.ToLower(path.Base(words[0])))
			*list.out = append(*list.out, Rule{Text: e, Words: words})
		}
	}
	return p, errors.Join(errs...)
}

// CheckArgv decides on a command given as argv (no shell in between): it
// is checked as one simple command, quoted exactly.
func (p *Exec) CheckArgv(argv []string) Decision {
	if len(argv) == 0 {
		return Decision{Reason: "no command"}
	}
	c := &checker{p: p, stdin: map[*syntax.CallExpr]*string{}}
	known := make([]bool, len(argv))
	for i := range known {
		known[i] = true
	}
	if err := c.command(argv, known, nil, 0); err != nil {
		return Decision{Allowed: false, Reason: err.Error(), Rule: c.rule, Commands: c.seen}
	}
	return Decision{Allowed: true, Commands: c.seen}
}

// Check decides on one command string (what exec would give to sh -c).
func (p *Exec) Check(command string) Decision {
	c := &checker{p: p, stdin: map[*syntax.CallExpr]*string{}}
	if err := c.script(command, 0); err != nil {
		return Decision{Allowed: false, Reason: err.Error(), Rule: c.rule, Commands: c.seen}
	}
	return Decision{Allowed: true, Commands: c.seen}
}

type checker struct {
	p    *Exec
	seen [][]string
	rule string
	// stdin holds the literal here-document or here-string of a call
	// (nil value: one that is not literal).
	stdin map[*syntax.CallExpr]*string
}

// denial is a refusal with the rule that caused it.
type denial struct {
	msg string
}

func (d *denial) Error() string { return d.msg }

func (c *checker) deny(rule, format string, args ...any) error {
	if c.rule == "" {
		c.rule = rule
	}
	return &denial{fmt.Sprintf(format, args...)}
}

// script parses src as a shell program and checks every simple command.
func (c *checker) script(src string, depth int) error {
	if depth > maxDepth {
		return c.deny("", "shell strings nested more than %d levels deep", maxDepth)
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), "")
	if err != nil {
		return c.deny("", "cannot parse the command, so it cannot be checked: %v", err)
	}
	var first error
	syntax.Walk(f, func(n syntax.Node) bool {
		if first != nil {
			return false
		}
		switch x := n.(type) {
		case *syntax.Stmt:
			// A here-document or here-string given to a shell is a
			// script; remember it for the call (visited next).
			if call, ok := x.Cmd.(*syntax.CallExpr); ok {
				for _, r := range x.Redirs {
					var w *syntax.Word
					switch r.Op {
					case syntax.Hdoc, syntax.DashHdoc:
						w = r.Hdoc
					case syntax.WordHdoc:
						w = r.Word
					}
					if w != nil {
						if v, lit := wordValue(w); lit {
							c.stdin[call] = &v
						}
					}
				}
			}
		case *syntax.CallExpr:
			if len(x.Args) == 0 {
				return true // assignments only; their values are walked
			}
			argv, known := words(x.Args)
			first = c.command(argv, known, c.stdin[x], depth)
		}
		return true
	})
	return first
}

// words resolves each word to its value after quote removal. known[i] is
// false when word i depends on an expansion ($X, $(...), globs are kept
// literally: a glob in the command position is refused by the name check).
func words(ws []*syntax.Word) ([]string, []bool) {
	argv := make([]string, len(ws))
	known := make([]bool, len(ws))
	for i, w := range ws {
		argv[i], known[i] = wordValue(w)
	}
	return argv, known
}

func wordValue(w *syntax.Word) (string, bool) {
	var b strings.Builder
	ok := true
	for _, part := range w.Parts {
		switch x := part.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(x.Value, false))
		case *syntax.SglQuoted:
			if !x.Dollar {
				b.WriteString(x.Value)
				break
			}
			v, lit := ansiC(x.Value)
			b.WriteString(v)
			ok = ok && lit
		case *syntax.DblQuoted:
			for _, dp := range x.Parts {
				if l, isLit := dp.(*syntax.Lit); isLit {
					b.WriteString(unescape(l.Value, true))
				} else {
					ok = false
				}
			}
		default:
			ok = false
		}
	}
	return b.String(), ok
}

// ansiC decodes the escapes of a $'...' string; an escape it does not
// know makes the value unknown.
func ansiC(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"', '?':
			b.WriteByte(s[i])
		case 'a':
			b.WriteByte(7)
		case 'e', 'E':
			b.WriteByte(27)
		default:
			return b.String(), false
		}
	}
	return b.String(), true
}

// unescape removes the backslashes the shell would remove.
func unescape(s string, inDouble bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			next := s[i+1]
			if !inDouble || strings.IndexByte("$`\"\\\n", next) >= 0 {
				if next != '\n' {
					b.WriteByte(next)
				}
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// shells run their -c argument (or script) as shell code.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "ash": true, "fish": true, "busybox-sh": true}

// harmless are shell builtins that run nothing; allow mode accepts them
// without listing them.
var harmless = map[string]bool{"cd": true, "echo": true, "printf": true, "true": true, "false": true, "test": true,
	"[": true, "[[": true, ":": true, "export": true, "unset": true, "set": true, "shift": true, "exit": true,
	"return": true, "pwd": true, "local": true, "declare": true, "typeset": true, "wait": true, "read": true}

// transparent wrappers only change how a command runs (priority, time
// limit, environment), not what it can do: allow mode judges them by the
// command they run, without listing them. Every other wrapper (sudo, a
// shell, eval, xargs, find, busybox, python -m) must be allowed itself.
var transparent = map[string]bool{"env": true, "nice": true, "nohup": true, "timeout": true, "time": true,
	"stdbuf": true, "ionice": true, "setsid": true, "command": true, "exec": true, "taskset": true,
	"chronic": true, "unbuffer": true, "builtin": true}

// command checks one simple command and, through wrappers, what it runs.
func (c *checker) command(argv []string, known []bool, stdin *string, depth int) error {
	denyOnly := false
	for len(argv) > 0 {
		if !known[0] {
			return c.deny("", "the command name %q depends on an expansion and cannot be checked before it runs", argv[0])
		}
		name := normalizeName(strings.ToLower(path.Base(argv[0])))
		argv = append([]string{name}, argv[1:]...)
		c.seen = append(c.seen, argv)
		if err := c.match(argv, denyOnly); err != nil {
			return err
		}
		// python -m MODULE: an allowed interpreter may run any module but a
		// denied one ("python -m pip install" is "pip install").
		denyOnly = denyOnly || name == "python" || name == "pypy"
		next, nk, script, err := c.unwrap(argv, known, stdin)
		if err != nil {
			return err
		}
		if script != nil {
			if err := c.script(*script, depth+1); err != nil {
				return err
			}
		}
		argv, known = next, nk
	}
	return nil
}

// match applies the lists to one argv.
func (c *checker) match(argv []string, denyOnly bool) error {
	for _, r := range c.p.Deny {
		if r.matches(argv) {
			return c.deny(r.Text, "command %q is denied by denyCommands entry %q", strings.Join(argv, " "), r.Text)
		}
	}
	if c.p.Mode != "allow" || denyOnly {
		return nil
	}
	if harmless[argv[0]] || transparent[argv[0]] {
		return nil // builtins that run nothing; transparent wrappers are judged by what they run
	}
	for _, r := range c.p.Allow {
		if r.matches(argv) {
			return nil
		}
	}
	return c.deny("", "command %q is not in allowCommands", strings.Join(argv, " "))
}

// matches: the name is equal, every further word that is an option
// ("-enc") appears among the options, and every other word is the next
// non-option argument ("pip install" matches "pip --quiet install x").
func (r Rule) matches(argv []string) bool {
	if argv[0] != r.Words[0] {
		return false
	}
	args := argv[1:]
	pos := 0
	for _, w := range r.Words[1:] {
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "/") {
			found := false
			for _, a := range args {
				if strings.EqualFold(a, w) || strings.HasPrefix(strings.ToLower(a), strings.ToLower(w)+"=") {
					found = true
				}
			}
			if !found {
				return false
			}
			continue
		}
		for pos < len(args) && strings.HasPrefix(args[pos], "-") {
			pos++
		}
		if pos >= len(args) || !sameWord(r.Words[0], args[pos], w) {
			return false
		}
		pos++
	}
	return true
}

// sameWord compares a subcommand, knowing the aliases of the package
// managers (npm i, npm add, npm isntall are all npm install).
func sameWord(cmd, got, want string) bool {
	got, want = strings.ToLower(got), strings.ToLower(want)
	if got == want {
		return true
	}
	if a, ok := aliases[cmd+" "+want]; ok {
		for _, x := range a {
			if got == x {
				return true
			}
		}
	}
	return false
}

var aliases = map[string][]string{
	"npm install": {"i", "in", "ins", "inst", "insta", "instal", "isnt", "isnta", "isntal", "isntall", "add"},
	"pip install": {"i"},
	"yarn add":    {"install"},
}

// versioned names are normalized to their family: python3.11 -> python.
var versioned = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(python|pip|perl|ruby|php|node|lua|pypy)[0-9.]*$`) })

func normalizeName(n string) string {
	if m := versioned().FindStringSubmatch(n); m != nil {
		return m[1]
	}
	return n
}

// wrapper returns what a wrapper command runs: the rest of argv after its
// own options, or a shell string to parse.
type wrapper func(argv []string, known []bool) (next []string, nk []bool, script *string, err error)

var wrappers map[string]wrapper

func init() {
	// skip returns argv[i:] with its known flags.
	skip := func(argv []string, known []bool, i int) ([]string, []bool) {
		if i >= len(argv) {
			return nil, nil
		}
		return argv[i:], known[i:]
	}
	// options skips leading options; withArg are options that take the
	// next word as their value.
	options := func(argv []string, known []bool, start int, withArg string) ([]string, []bool) {
		i := start
		for i < len(argv) && strings.HasPrefix(argv[i], "-") && argv[i] != "-" {
			if argv[i] == "--" {
				i++
				break
			}
			if strings.Contains(" "+withArg+" ", " "+argv[i]+" ") {
				i++
			}
			i++
		}
		return skip(argv, known, i)
	}
	plain := func(withArg string) wrapper {
		return func(argv []string, known []bool) ([]string, []bool, *string, error) {
			n, k := options(argv, known, 1, withArg)
			return n, k, nil, nil
		}
	}
	wrappers = map[string]wrapper{
		"nohup": plain(""), "time": plain(""), "setsid": plain(""), "command": plain(""),
		"builtin": plain(""), "unbuffer": plain(""), "chronic": plain(""),
		"nice":   plain("-n --adjustment"),
		"stdbuf": plain("-i -o -e"),
		"ionice": plain("-c -n -p -t"),
		"exec":   plain("-a"),
		"sudo":   plain("-u -g -h -p -C -D -r -t -U -T"),
		"doas":   plain("-u -C"),
		"taskset": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			n, k := options(argv, known, 1, "")
			if len(n) > 0 && !strings.Contains(strings.Join(argv[1:len(argv)-len(n)], " "), "-c") {
				n, k = skip(n, k, 1) // the mask
			}
			return n, k, nil, nil
		},
		"timeout": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			n, k := options(argv, known, 1, "-s --signal -k --kill-after")
			n, k = skip(n, k, 1) // the duration
			return n, k, nil, nil
		},
		"flock": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			n, k := options(argv, known, 1, "-w --timeout -E --conflict-exit-code")
			return skipOrScript(n, k, skip)
		},
		"watch": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			n, k := options(argv, known, 1, "-n --interval -d --differences")
			return shellOf(n, k)
		},
		"env": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			i := 1
			for i < len(argv) {
				a := argv[i]
				switch {
				case a == "-S" || a == "--split-string":
					if i+1 < len(argv) {
						s := argv[i+1]
						if !known[i+1] {
							return nil, nil, nil, errors.New("env -S with an expansion cannot be checked")
						}
						return nil, nil, &s, nil
					}
					i++
				case strings.HasPrefix(a, "-S"):
					s := strings.TrimPrefix(a, "-S")
					return nil, nil, &s, nil
				case a == "-u" || a == "--unset" || a == "-C" || a == "--chdir":
					i += 2
					continue
				case a == "--":
					i++
					n, k := skip(argv, known, i)
					return n, k, nil, nil
				case strings.HasPrefix(a, "-"):
				case strings.Contains(a, "="):
				default:
					n, k := skip(argv, known, i)
					return n, k, nil, nil
				}
				i++
			}
			return nil, nil, nil, nil
		},
		"xargs": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			n, k := options(argv, known, 1, "-a --arg-file -d --delimiter -E -e -I -i -L -l -n --max-args -P --max-procs -s --max-chars")
			if len(n) == 0 {
				return []string{"echo"}, []bool{true}, nil, nil
			}
			return n, k, nil, nil
		},
		"busybox": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			n, k := skip(argv, known, 1)
			return n, k, nil, nil
		},
		"eval": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			for _, ok := range known[1:] {
				if !ok {
					return nil, nil, nil, errors.New("eval of an expansion cannot be checked before it runs")
				}
			}
			s := strings.Join(argv[1:], " ")
			return nil, nil, &s, nil
		},
		"find": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			for i, a := range argv {
				if a == "-exec" || a == "-execdir" || a == "-ok" || a == "-okdir" {
					j := i + 1
					for j < len(argv) && argv[j] != ";" && argv[j] != "+" {
						j++
					}
					return argv[i+1 : j], known[i+1 : j], nil, nil
				}
			}
			return nil, nil, nil, nil
		},
		"su": func(argv []string, known []bool) ([]string, []bool, *string, error) {
			for i, a := range argv {
				if (a == "-c" || a == "--command") && i+1 < len(argv) {
					if !known[i+1] {
						return nil, nil, nil, errors.New("su -c with an expansion cannot be checked")
					}
					s := argv[i+1]
					return nil, nil, &s, nil
				}
			}
			return nil, nil, nil, nil
		},
	}
	for s := range shells {
		wrappers[s] = shellWrapper
	}
	// python -m MODULE runs MODULE: "python -m pip install" is pip install.
	for _, py := range []string{"python", "pypy"} {
		wrappers[py] = func(argv []string, known []bool) ([]string, []bool, *string, error) {
			for i := 1; i < len(argv); i++ {
				if argv[i] == "-m" && i+1 < len(argv) {
					return argv[i+1:], known[i+1:], nil, nil
				}
				if !strings.HasPrefix(argv[i], "-") {
					break
				}
			}
			return nil, nil, nil, nil
		}
	}
}

// shellWrapper handles sh -c STRING (options may precede -c, and -c may be
// combined: -ec, -xc). A shell that reads its script from a file or stdin
// runs code this policy cannot see.
func shellWrapper(argv []string, known []bool) ([]string, []bool, *string, error) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a == "-o" || a == "+o" {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") && strings.Contains(a, "c") && !strings.HasPrefix(a, "--") {
			if i+1 >= len(argv) {
				return nil, nil, nil, errors.New("sh -c without a command string")
			}
			if !known[i+1] {
				return nil, nil, nil, fmt.Errorf("%s -c with an expansion cannot be checked before it runs", argv[0])
			}
			s := argv[i+1]
			return nil, nil, &s, nil
		}
		if strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+") {
			continue
		}
		// sh FILE: a script in the workspace; its contents are not
		// known here (the jail is the boundary for what it does).
		return nil, nil, nil, nil
	}
	return nil, nil, nil, errShellStdin
}

// errShellStdin: a shell reading commands from stdin (a pipe or a
// here-document) runs code that is not on the command line.
var errShellStdin = errors.New("a shell reading its commands from standard input cannot be checked")

func shellOf(n []string, k []bool) ([]string, []bool, *string, error) {
	if len(n) == 1 {
		s := n[0]
		if !k[0] {
			return nil, nil, nil, errors.New("a command string with an expansion cannot be checked")
		}
		return nil, nil, &s, nil
	}
	return n, k, nil, nil
}

func skipOrScript(n []string, k []bool, skip func([]string, []bool, int) ([]string, []bool)) ([]string, []bool, *string, error) {
	// flock FILE CMD... or flock FILE -c STRING
	if len(n) >= 3 && (n[1] == "-c" || n[1] == "--command") {
		if !k[2] {
			return nil, nil, nil, errors.New("flock -c with an expansion cannot be checked")
		}
		s := n[2]
		return nil, nil, &s, nil
	}
	n, k = skip(n, k, 1)
	return n, k, nil, nil
}

// unwrap returns what argv runs in turn, if it is a wrapper.
func (c *checker) unwrap(argv []string, known []bool, stdin *string) ([]string, []bool, *string, error) {
	w := wrappers[argv[0]]
	if w == nil {
		return nil, nil, nil, nil
	}
	n, k, s, err := w(argv, known)
	if err == errShellStdin && stdin != nil {
		return nil, nil, stdin, nil // sh <<'EOF' ... EOF: check the document
	}
	if err == errShellStdin && c.p.Mode == "deny" && len(c.p.Deny) == 0 {
		return nil, nil, nil, nil // nothing is denied: nothing to hide
	}
	if err != nil {
		return nil, nil, nil, c.deny("", "%s", err.Error())
	}
	return n, k, s, nil
}
