package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// checker holds the state of one Check, CheckArgv or CheckInput.
type checker struct {
	p         *Exec
	seen      [][]string
	unchecked []string
	rule      string
	// aliases and hashed are the literal alias values and hash -p paths
	// defined anywhere in the command (all nested scripts included: the
	// policy does not follow which shell defines what).
	aliases map[string][]string
	hashed  map[string][]string
	// src is the source of the program being checked: words are shown
	// as slices of it.
	src       string
	braceMemo map[*syntax.Word][]*syntax.Word
	steps     int
	spec      int // steps spent on speculative readings
	// input: CheckInput, which reports only what the written data makes.
	input bool
}

// Work bounds: a command that needs more steps than maxSteps to check is
// refused; speculation stops after maxSpecSteps.
const (
	maxSteps     = 50_000
	maxSpecSteps = 5_000
)

// ctx is where a piece of shell code runs.
type ctx struct {
	depth int
	// spec: a speculative reading. Only the deny list applies to it,
	// and nothing is recorded in Commands or Unchecked; why says which
	// values the reading gave the expansions.
	spec bool
	why  string
	// denyOnly: only the deny list reaches here (python -m MODULE: an
	// allowed interpreter may run any module but a denied one).
	denyOnly bool
	// input: the code comes from data written to the process.
	input bool
	// pos holds candidate lists of positional parameters ($0 first).
	pos [][]string
	// stdin is what the script's commands read by default.
	stdin stdinSrc
	vars  *vars
}

func newChecker(p *Exec) *checker {
	return &checker{p: p, aliases: map[string][]string{}, hashed: map[string][]string{},
		braceMemo: map[*syntax.Word][]*syntax.Word{}}
}

func (c *checker) top() ctx { return ctx{vars: newVars(), stdin: stdinSrc{kind: stdinCall}} }

func (p *Exec) hasDeny() bool { return len(p.Deny) > 0 }

// denial is a refusal.
type denial struct{ msg string }

func (d *denial) Error() string { return d.msg }

func (c *checker) deny(x ctx, rule, format string, args ...any) error {
	if c.rule == "" {
		c.rule = rule
	}
	msg := fmt.Sprintf(format, args...)
	if x.spec && x.why != "" {
		msg += " (" + x.why + ")"
	}
	return &denial{msg}
}

// uncheck records something the shell computes when it runs.
func (c *checker) uncheck(x ctx, format string, args ...any) {
	if x.spec || (c.input && !x.input) {
		return
	}
	s := fmt.Sprintf(format, args...)
	if !slices.Contains(c.unchecked, s) && len(c.unchecked) < 32 {
		c.unchecked = append(c.unchecked, s)
	}
}

func (c *checker) record(argv []field, x ctx) {
	if x.spec || (c.input && !x.input) || len(c.seen) >= 256 {
		return
	}
	s := make([]string, len(argv))
	for i, f := range argv {
		s[i] = f.show()
	}
	c.seen = append(c.seen, s)
}

// step counts work; past the bound a main check is refused and a
// speculative one stops.
func (c *checker) step(x ctx) (stop bool, err error) {
	if x.spec {
		c.spec++
		return c.spec > maxSpecSteps, nil
	}
	c.steps++
	if c.steps > maxSteps {
		return true, c.deny(x, "", "the command is too large or too deeply nested to check")
	}
	return false, nil
}

func parse(src string) (*syntax.File, error) {
	return syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), "")
}

// script parses src as a shell program and checks it.
func (c *checker) script(src string, x ctx) error {
	if x.depth > maxDepth {
		if x.spec {
			return nil
		}
		return c.deny(x, "", "shell strings nested more than %d levels deep", maxDepth)
	}
	if stop, err := c.step(x); stop {
		return err
	}
	f, err := parse(src)
	if err != nil {
		if x.spec {
			return nil // a candidate value that does not parse does not run as this
		}
		return c.deny(x, "", "cannot parse the command, so it cannot be checked: %v", err)
	}
	defer c.withSource(src)()
	return c.file(f, x)
}

// withSource makes src the source words are shown from, until the
// returned function restores the previous one.
func (c *checker) withSource(src string) func() {
	prev := c.src
	c.src = src
	return func() { c.src = prev }
}

// file checks every simple command of a parsed program.
func (c *checker) file(f *syntax.File, x ctx) error {
	stdin := c.stdinMap(f, x.stdin)
	funcPos := c.collect(f, &x, stdin)
	var first error
	var stack []syntax.Node
	var funcs []string // enclosing function names
	syntax.Walk(f, func(n syntax.Node) bool {
		if n == nil {
			if _, ok := stack[len(stack)-1].(*syntax.FuncDecl); ok {
				funcs = funcs[:len(funcs)-1]
			}
			stack = stack[:len(stack)-1]
			return true
		}
		if first != nil {
			return false
		}
		xx := x
		if len(funcs) > 0 {
			xx.pos = funcPos[funcs[len(funcs)-1]]
		}
		switch n := n.(type) {
		case *syntax.FuncDecl:
			funcs = append(funcs, funcName(n))
		case *syntax.CallExpr:
			st, ok := stdin[n]
			if !ok {
				st = stdinSrc{kind: stdinComputed, what: "the input of a command substitution"}
			}
			first = c.call(n, xx, st)
		case *syntax.DeclClause:
			first = c.decl(n, xx)
		case *syntax.ParamExp:
			first = c.paramAssign(n, xx)
		case *syntax.TestClause:
			first = c.latentIn(n, xx)
		}
		if first != nil {
			return false
		}
		stack = append(stack, n)
		return true
	})
	return first
}

// funcName is a function's name ("" for zsh's anonymous functions).
func funcName(f *syntax.FuncDecl) string {
	switch {
	case f.Name != nil:
		return f.Name.Value
	case len(f.Names) > 0:
		return f.Names[0].Value
	}
	return ""
}

// call checks one simple command: its assignments, then its words as the
// shell will read them, then (deny list only) the speculative readings.
func (c *checker) call(call *syntax.CallExpr, x ctx, st stdinSrc) error {
	for _, a := range call.Assigns {
		if a.Name == nil {
			continue
		}
		if err := c.assign(a.Name.Value, a.Value, a.Array, x, "an assignment"); err != nil {
			return err
		}
	}
	if len(call.Args) == 0 {
		return nil
	}
	if fs := c.mainFields(call.Args); len(fs) > 0 {
		if err := c.command(fs, x, st, true); err != nil {
			return err
		}
	}
	if !c.p.hasDeny() || c.spec > maxSpecSteps {
		return nil
	}
	sx := x
	sx.spec = true
	for _, r := range c.specReadings(call.Args, x) {
		sx.why = "reading its expansions with values the command itself gives them: " + display(r)
		if err := c.command(r, sx, st, true); err != nil {
			return err
		}
	}
	return nil
}

// command checks one argv and, through wrappers, what it runs. top: the
// argv is a simple command as written (aliases apply to its first word).
func (c *checker) command(argv []field, x ctx, st stdinSrc, top bool) error {
	if len(argv) == 0 {
		return nil
	}
	if stop, err := c.step(x); stop {
		return err
	}
	f := argv[0]
	name, kind := f.name()
	switch kind {
	case nameComputed:
		if f.braces && c.p.hasDeny() {
			// Ordinary shell never has this many braces in a name; they
			// could hide any name, a denied one included.
			return c.deny(x, "", "the command name %s has more braces than the policy expands (%d)", f.show(), maxBraces)
		}
		c.uncheck(x, "the command name %s is computed when the shell runs it", f.show())
		return c.asWrapper(argv, x, st, func(string) bool { return true })
	case namePattern:
		for _, r := range c.p.Deny {
			if r.match(argv) == yes {
				return c.deny(x, r.Text, "the command name %s is a pattern that may name %q, denied by denyCommands entry %q", f.show(), r.Text, r.Text)
			}
		}
		c.uncheck(x, "the command name %s is a pattern matched against file names when the shell runs it", f.show())
		prog, ok := globProg(name)
		return c.asWrapper(argv, x, st, func(h string) bool { return !ok || intersects(prog, nameTarget(h)) })
	}
	if top && f.bare && x.depth < maxDepth {
		if err := c.aliasReadings(argv, x, st); err != nil {
			return err
		}
	}
	if !strings.Contains(f.text, "/") && x.depth < maxDepth {
		for _, p := range c.hashed[f.text] {
			hx := x
			hx.depth++
			if err := c.command(append([]field{literalField(p)}, argv[1:]...), hx, st, false); err != nil {
				return err
			}
		}
	}
	argv = append([]field{{text: name, src: name}}, argv[1:]...)
	c.record(argv, x)
	if err := c.match(argv, x); err != nil {
		return err
	}
	h := handlerFor(name)
	if h == nil {
		return nil
	}
	runs, err := h(c, argv, x, st)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if err := c.run(r, argv[0].text, x, st); err != nil {
			return err
		}
	}
	return nil
}

// asWrapper: a command name that is not known may be any wrapper (sh,
// env, sudo, eval, xargs, python...), and then the words after it are
// what runs. With the deny list, each wrapper the name may be is tried.
func (c *checker) asWrapper(argv []field, x ctx, st stdinSrc, may func(string) bool) error {
	if !c.p.hasDeny() || x.spec || c.spec > maxSpecSteps || !slices.ContainsFunc(argv[1:], func(f field) bool { return !f.open }) {
		// Only from the main reading (a trial inside a trial multiplies
		// the work, not the findings), and only with known words after
		// the name.
		return nil
	}
	sx := x
	sx.spec = true
	for _, h := range handlerNames {
		if !may(h) {
			continue
		}
		if c.spec++; c.spec > maxSpecSteps {
			return nil
		}
		sx.why = "if " + argv[0].show() + " is " + h
		wargv := append([]field{literalField(h)}, argv[1:]...)
		runs, err := handlers[h](c, wargv, sx, st)
		if err != nil {
			return err
		}
		for _, r := range runs {
			if err := c.run(r, h, sx, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// run checks one thing a wrapper or builtin runs.
func (c *checker) run(r run, by string, x ctx, st stdinSrc) error {
	switch {
	case r.refuse != "":
		return c.deny(x, "", "%s", r.refuse)
	case r.unsure:
		c.uncheck(x, "the arguments of %s are computed (%s), so what it runs is not known", by, r.scan[0].show())
		return c.scan(r.scan, x, r.scanScripts)
	case r.note != "":
		c.uncheck(x, "%s", r.note)
		return nil
	case r.script != nil:
		return c.runScript(r, by, x, st)
	case r.stdin != nil:
		return c.stdinScript(*r.stdin, by, x)
	case r.argv != nil:
		nx := x
		nx.denyOnly = nx.denyOnly || r.denyOnly
		nx.input = nx.input || r.input
		if r.in != nil {
			st = *r.in
		}
		return c.command(r.argv, nx, st, false)
	}
	return nil
}

// runScript checks a shell string run by a shell, eval, trap, an alias...
func (c *checker) runScript(r run, by string, x ctx, st stdinSrc) error {
	s := *r.script
	switch {
	case s.open:
		c.uncheck(x, "%s runs a computed string %s", by, s.show())
		return nil
	case s.pat != "":
		// The shell string is a file name the glob matches: a name
		// that may be a denied command is refused.
		for _, rule := range c.p.Deny {
			if rule.match([]field{s}) == yes {
				return c.deny(x, rule.Text, "%s runs the pattern %s, which may name %q, denied by denyCommands entry %q", by, s.show(), rule.Text, rule.Text)
			}
		}
		c.uncheck(x, "%s runs a pattern %s matched against file names", by, s.show())
		return nil
	}
	nx := x
	nx.depth++
	if r.doc {
		return c.document(s.text, nx)
	}
	nx.stdin = st
	nx.pos = nil
	if r.args != nil || r.positional {
		l := make([]string, len(r.args))
		for i, a := range r.args {
			l[i] = a.text
		}
		if len(l) == 0 {
			l = []string{""}
		}
		nx.pos = [][]string{l}
	}
	return c.script(s.text, nx)
}

// document checks a string the shell expands later as if it were in
// double quotes (a prompt string, a compgen word list): its command
// substitutions run.
func (c *checker) document(s string, x ctx) error {
	if !strings.ContainsAny(s, "$`") {
		return nil
	}
	w, err := syntax.NewParser().Document(strings.NewReader(s))
	if err != nil {
		if x.spec {
			return nil
		}
		return c.deny(x, "", "cannot parse %q, which the shell expands later: %v", s, err)
	}
	defer c.withSource(s)()
	var first error
	syntax.Walk(w, func(n syntax.Node) bool {
		if first != nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.CmdSubst:
			first = c.file(&syntax.File{Stmts: n.Stmts}, x)
			return false
		case *syntax.ProcSubst:
			first = c.file(&syntax.File{Stmts: n.Stmts}, x)
			return false
		}
		return true
	})
	return first
}

// latent checks, with the deny list, the command substitutions inside
// literal strings that bash evaluates later: a variable's value used in
// arithmetic or as an array subscript (x='a[$(rm v)]'; ((x))), test -v,
// printf -v, read and declare targets.
func (c *checker) latent(s string, x ctx) error {
	if !c.p.hasDeny() || !(strings.Contains(s, "$(") || strings.Contains(s, "`")) {
		return nil
	}
	sx := x
	sx.spec, sx.why = true, fmt.Sprintf("found in the string %q, which bash may evaluate later", s)
	sx.depth++
	return c.document(s, sx)
}

func (c *checker) latentIn(n syntax.Node, x ctx) error {
	var first error
	syntax.Walk(n, func(n syntax.Node) bool {
		if w, ok := n.(*syntax.Word); ok && first == nil {
			if t, lit := wordText(w); lit {
				first = c.latent(t, x)
			}
		}
		return first == nil
	})
	return first
}

// scan is the fallback when a wrapper's arguments are computed: with the
// deny list, every literal word after the computed one is tried as the
// start of the command it runs (and, for wrappers that take a shell
// string, as that string).
func (c *checker) scan(fs []field, x ctx, scripts bool) error {
	if !c.p.hasDeny() || len(fs) == 0 {
		return nil
	}
	sx := x
	sx.spec, sx.why = true, "if the computed word "+fs[0].show()+" is empty or an option"
	for j, f := range fs {
		if f.open {
			continue
		}
		if err := c.command(fs[j:], sx, stdinSrc{kind: stdinComputed}, false); err != nil {
			return err
		}
		if scripts && f.pat == "" {
			nx := sx
			nx.depth++
			if err := c.script(f.text, nx); err != nil {
				return err
			}
		}
	}
	return nil
}

// aliasReadings checks a simple command whose first word is an alias
// defined in the command string: the alias value's last simple command
// takes the place of the name (bash: expand_aliases, or POSIX mode; dash
// always). Both readings are checked: with and without the alias.
func (c *checker) aliasReadings(argv []field, x ctx, st stdinSrc) error {
	rest := argv[1:]
	values := c.aliases[argv[0].text]
	if len(rest) > 0 && rest[0].bare && len(c.aliases[rest[0].text]) > 0 && slices.ContainsFunc(values, func(v string) bool {
		return strings.HasSuffix(v, " ") || strings.HasSuffix(v, "\t")
	}) {
		// a value ending in a blank expands the next word too
		ax := x
		ax.depth++
		if err := c.aliasReadings(rest, ax, st); err != nil {
			return err
		}
	}
	for _, v := range values {
		f, err := parse(v)
		if err != nil || len(f.Stmts) == 0 {
			continue // refused where it was defined
		}
		call, ok := f.Stmts[len(f.Stmts)-1].Cmd.(*syntax.CallExpr)
		if !ok || len(call.Args) == 0 {
			continue
		}
		ax := x
		ax.depth++
		restore := c.withSource(v)
		fs := c.mainFields(call.Args)
		restore()
		if err := c.command(append(fs, rest...), ax, st, false); err != nil {
			return err
		}
	}
	return nil
}

// ---- assignments ----

// promptVars are expanded by bash every time it shows them (PS0, PS1, PS2
// interactively, PS4 with set -x): command substitutions in their values
// run then. PROMPT_COMMAND holds commands run before each prompt.
var promptVars = map[string]bool{"PS0": true, "PS1": true, "PS2": true, "PS4": true}

// assign checks an assignment of the command string (x=v, export x=v,
// env x=v, sudo x=v): a variable that holds code later has its value
// checked as code; one that makes later programs load code (the list of
// CheckEnv) cannot be checked.
func (c *checker) assign(name string, val *syntax.Word, arr *syntax.ArrayExpr, x ctx, how string) error {
	var vals []field
	if val != nil {
		vals = append(vals, c.mainFields([]*syntax.Word{val})...)
		if len(vals) == 0 {
			vals = []field{literalField("")}
		}
	}
	if arr != nil {
		for _, e := range arr.Elems {
			if e.Value != nil {
				vals = append(vals, c.mainFields([]*syntax.Word{e.Value})...)
			}
		}
	}
	return c.assignFields(name, vals, x, how)
}

func (c *checker) assignFields(name string, vals []field, x ctx, how string) error {
	switch {
	case promptVars[name] || name == "PROMPT_COMMAND":
		for _, v := range vals {
			if v.open {
				c.uncheck(x, "%s gives %s a computed value, which the shell runs later", how, name)
				continue
			}
			if err := c.runScript(run{script: &v, doc: name != "PROMPT_COMMAND"}, name, x, stdinSrc{kind: stdinComputed}); err != nil {
				return err
			}
		}
	case commandVars[name] != "":
		for _, v := range vals {
			if v.open {
				c.uncheck(x, "%s gives %s a computed value, which programs run as a command", how, name)
				continue
			}
			if err := c.runScript(run{script: &v}, name, x, stdinSrc{kind: stdinComputed}); err != nil {
				return err
			}
		}
	case name == "ENV" || name == "IFS":
		// Only interactive shells read ENV, and the policy flags every
		// interactive shell for its startup files anyway: ENV=production
		// make stays ordinary. IFS set here changes only how expansion
		// results split, and those are unknown already: IFS=, read a b
		// stays ordinary.
	default:
		if why := refusedEnv(name); why != "" {
			c.uncheck(x, "%s sets %s: %s", how, name, why)
		}
	}
	for _, v := range vals {
		if !v.open && v.pat == "" {
			if err := c.latent(v.text, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// assignText checks a NAME=VALUE word given to a builtin or wrapper.
func (c *checker) assignText(f field, x ctx, how string) error {
	if f.open {
		c.uncheck(x, "%s of a computed word %s may set any variable", how, f.show())
		return nil
	}
	name, v, ok := strings.Cut(f.text, "=")
	if !ok {
		return nil
	}
	name = strings.TrimSuffix(name, "+")
	if i := strings.IndexByte(name, '['); i >= 0 {
		if err := c.latent(name[i:], x); err != nil {
			return err
		}
		name = name[:i]
	}
	return c.assignFields(name, []field{literalField(v)}, x, how)
}

// codeTarget reports a variable that a builtin (read, printf -v, mapfile,
// getopts, a nameref) may set to a value the policy does not see.
func (c *checker) codeTarget(name string, x ctx, how string) {
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if promptVars[name] || name == "PROMPT_COMMAND" || commandVars[name] != "" || refusedEnv(name) != "" {
		c.uncheck(x, "%s sets %s, which holds code, to a value the policy does not see", how, name)
	}
}

// decl checks declare, typeset, local, export, readonly and nameref.
func (c *checker) decl(d *syntax.DeclClause, x ctx) error {
	variant := d.Variant.Value
	flags := ""
	for _, a := range d.Args {
		if a.Name == nil && a.Value != nil {
			t, lit := wordText(a.Value)
			if !lit {
				c.uncheck(x, "%s of a computed word %s may set any variable", variant, c.source(a.Value, true))
				continue
			}
			if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
				flags += t
				continue
			}
			if err := c.assignText(literalField(t), x, variant); err != nil {
				return err
			}
			continue
		}
		if a.Name == nil {
			continue
		}
		if strings.Contains(flags, "n") || variant == "nameref" {
			if a.Value != nil {
				if t, lit := wordText(a.Value); !lit {
					c.uncheck(x, "%s -n %s refers to a computed variable name", variant, a.Name.Value)
				} else {
					c.codeTarget(t, x, variant+" -n "+a.Name.Value)
				}
			}
			continue
		}
		if a.Index != nil {
			if err := c.latentIn(a.Index, x); err != nil {
				return err
			}
		}
		if err := c.assign(a.Name.Value, a.Value, a.Array, x, variant); err != nil {
			return err
		}
	}
	return nil
}

// paramAssign checks ${NAME:=word} and ${NAME=word}, which assign.
func (c *checker) paramAssign(p *syntax.ParamExp, x ctx) error {
	if p.Exp == nil || p.Param == nil || p.Exp.Word == nil {
		return nil
	}
	if p.Exp.Op != syntax.AssignUnset && p.Exp.Op != syntax.AssignUnsetOrNull {
		return nil
	}
	return c.assign(p.Param.Value, p.Exp.Word, nil, x, "${"+p.Param.Value+":=...}")
}

// ---- standard input ----

type stdinKind int

const (
	// stdinCall: the process's own standard input, fed by later writes
	// to a background process, which CheckInput checks.
	stdinCall stdinKind = iota
	// stdinLiteral: a here-document, here-string, the output of echo
	// or printf with literal words, or data given to CheckInput.
	stdinLiteral
	// stdinFile: a file (< FILE); like a script file, its contents
	// are the program's business.
	stdinFile
	// stdinComputed: a pipe from a command whose output is not known.
	stdinComputed
)

type stdinSrc struct {
	kind  stdinKind
	text  string
	input bool   // the text is data written to the process (CheckInput)
	what  string // where it comes from, for messages
}

// stdinScript checks the commands a shell reads from its standard input.
func (c *checker) stdinScript(st stdinSrc, by string, x ctx) error {
	switch st.kind {
	case stdinCall, stdinFile:
		return nil
	case stdinComputed:
		what := st.what
		if what == "" {
			what = "a pipe"
		}
		c.uncheck(x, "%s reads commands from %s", by, what)
		return nil
	}
	nx := x
	nx.depth++
	nx.input = nx.input || st.input
	nx.stdin = st
	if st.input {
		if err := completeLines(st.text); err != nil {
			return c.deny(nx, "", "data written to %s: %v", by, err)
		}
	}
	return c.script(st.text, nx)
}

// completeLines: data written to a shell is checked one write at a time,
// but the shell joins a partial line with the next write ("r" then
// "m x\n" runs rm). A write must therefore end a line, not continue one.
func completeLines(s string) error {
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		return fmt.Errorf("it does not end with a newline; the shell would join it with the next write, which is checked apart")
	}
	body := strings.TrimSuffix(s, "\n")
	n := len(body) - len(strings.TrimRight(body, `\`))
	if n%2 == 1 {
		return fmt.Errorf("its last line continues onto the next write (a backslash before the newline)")
	}
	return nil
}

// stdinMap assigns each simple command of a program the standard input
// it reads: the script's own, or a redirection, here-document or pipe.
func (c *checker) stdinMap(f *syntax.File, in stdinSrc) map[*syntax.CallExpr]stdinSrc {
	m := map[*syntax.CallExpr]stdinSrc{}
	var stmts func([]*syntax.Stmt, stdinSrc)
	var stmt func(*syntax.Stmt, stdinSrc)
	words := func(n syntax.Node, s stdinSrc) {
		if n == nil {
			return
		}
		syntax.Walk(n, func(n syntax.Node) bool {
			switch x := n.(type) {
			case *syntax.CmdSubst:
				stmts(x.Stmts, s)
				return false
			case *syntax.ProcSubst:
				if x.Op == syntax.CmdIn {
					stmts(x.Stmts, s)
				} else {
					stmts(x.Stmts, stdinSrc{kind: stdinComputed, what: "a process substitution >(...)"})
				}
				return false
			}
			return true
		})
	}
	stmts = func(ss []*syntax.Stmt, s stdinSrc) {
		for _, st := range ss {
			stmt(st, s)
		}
	}
	stmt = func(st *syntax.Stmt, s stdinSrc) {
		if st == nil {
			return
		}
		for _, r := range st.Redirs {
			words(r.Word, s)
		}
		s = redirected(st, s)
		switch cmd := st.Cmd.(type) {
		case *syntax.CallExpr:
			m[cmd] = s
			words(cmd, s)
		case *syntax.BinaryCmd:
			stmt(cmd.X, s)
			if cmd.Op == syntax.Pipe || cmd.Op == syntax.PipeAll {
				stmt(cmd.Y, pipeSource(cmd.X, s))
			} else {
				stmt(cmd.Y, s)
			}
		case *syntax.Block:
			stmts(cmd.Stmts, s)
		case *syntax.Subshell:
			stmts(cmd.Stmts, s)
		case *syntax.IfClause:
			for ic := cmd; ic != nil; ic = ic.Else {
				stmts(ic.Cond, s)
				stmts(ic.Then, s)
			}
		case *syntax.WhileClause:
			stmts(cmd.Cond, s)
			stmts(cmd.Do, s)
		case *syntax.ForClause:
			words(cmd.Loop, s)
			stmts(cmd.Do, s)
		case *syntax.CaseClause:
			words(cmd.Word, s)
			for _, it := range cmd.Items {
				stmts(it.Stmts, s)
			}
		case *syntax.FuncDecl:
			// A function reads whatever its caller's input is.
			stmt(cmd.Body, stdinSrc{kind: stdinComputed, what: "the input of a function call"})
		case *syntax.TimeClause:
			stmt(cmd.Stmt, s)
		case *syntax.CoprocClause:
			stmt(cmd.Stmt, stdinSrc{kind: stdinComputed, what: "a coprocess pipe"})
		default:
			words(cmd, s)
		}
	}
	stmts(f.Stmts, in)
	return m
}

// redirected applies a statement's input redirections.
func redirected(st *syntax.Stmt, s stdinSrc) stdinSrc {
	for _, r := range st.Redirs {
		if r.N != nil && r.N.Value != "0" {
			continue
		}
		switch r.Op {
		case syntax.RdrIn, syntax.RdrInOut:
			s = stdinSrc{kind: stdinFile}
			if t, ok := wordText(r.Word); !ok || isStdinPath(t) {
				s = stdinSrc{kind: stdinComputed, what: "a computed file"}
			}
			if len(r.Word.Parts) == 1 {
				// < <(echo ...): the output of a process substitution
				if ps, ok := r.Word.Parts[0].(*syntax.ProcSubst); ok && ps.Op == syntax.CmdIn {
					if out, ok := literalOutput(ps.Stmts); ok {
						s = stdinSrc{kind: stdinLiteral, text: out}
					}
				}
			}
		case syntax.Hdoc, syntax.DashHdoc:
			s = stdinSrc{kind: stdinComputed, what: "a here-document with expansions"}
			if r.Hdoc == nil {
				s = stdinSrc{kind: stdinLiteral}
			} else if t, ok := wordText(r.Hdoc); ok {
				s = stdinSrc{kind: stdinLiteral, text: t}
			}
		case syntax.WordHdoc:
			s = stdinSrc{kind: stdinComputed, what: "a here-string with expansions"}
			if t, ok := wordText(r.Word); ok {
				s = stdinSrc{kind: stdinLiteral, text: t + "\n"}
			}
		case syntax.DplIn:
			s = stdinSrc{kind: stdinComputed, what: "another file descriptor"}
		}
	}
	return s
}

// passesInput reports a command whose output is its input (cat with no
// file, tee, head, tail, pv, through stdbuf): `cat | sh` feeds the shell
// the process's own input.
func passesInput(args []string) bool {
	if len(args) == 0 {
		return false
	}
	rest := args[1:]
	switch strings.ToLower(path.Base(args[0])) {
	case "tee", "pv", "buffer":
		return true
	case "stdbuf":
		for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
			if len(rest[0]) == 2 && strings.ContainsAny(rest[0][1:], "ioe") {
				rest = rest[1:]
			}
			rest = rest[1:]
		}
		return passesInput(rest)
	case "cat", "head", "tail":
		for i := 0; i < len(rest); i++ {
			switch a := rest[i]; {
			case a == "-n" || a == "-c" || a == "--lines" || a == "--bytes":
				i++
			case a == "-" || strings.HasPrefix(a, "-"):
			default:
				return false // a file
			}
		}
		return true
	}
	return false
}

// pipeSource is what the right side of a pipe reads from its left side.
func pipeSource(left *syntax.Stmt, s stdinSrc) stdinSrc {
	s = redirected(left, s)
	switch cmd := left.Cmd.(type) {
	case *syntax.CallExpr:
		if out, ok := literalOutput([]*syntax.Stmt{left}); ok {
			return stdinSrc{kind: stdinLiteral, text: out}
		}
		args := make([]string, 0, len(cmd.Args))
		for _, w := range cmd.Args {
			t, ok := wordText(w)
			if !ok {
				t = "\x00computed" // a file name, as far as passesInput knows
			}
			args = append(args, t)
		}
		if passesInput(args) {
			return s
		}
	case *syntax.BinaryCmd:
		if cmd.Op == syntax.Pipe || cmd.Op == syntax.PipeAll {
			return pipeSource(cmd.Y, pipeSource(cmd.X, s))
		}
	}
	return stdinSrc{kind: stdinComputed, what: "a pipe from " + strings.TrimSpace(printNode(left))}
}

func printNode(n syntax.Node) string {
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, n); err != nil {
		return "a command"
	}
	s := b.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// isStdinPath: file names that are the standard input.
func isStdinPath(p string) bool {
	switch p {
	case "-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0", "/proc/thread-self/fd/0":
		return true
	}
	return false
}

// ---- values the command string gives its variables ----

// collect gathers, before a program is checked, what the speculative
// readings and alias expansion need: literal values assigned to
// variables, alias and hash -p definitions, functions and the arguments
// of their calls. It returns the positional parameters of each function.
func (c *checker) collect(f *syntax.File, x *ctx, stdin map[*syntax.CallExpr]stdinSrc) map[string][][]string {
	funcs := map[string]bool{}
	var calls []*syntax.CallExpr
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.FuncDecl:
			funcs[funcName(n)] = true
		case *syntax.CallExpr:
			calls = append(calls, n)
		}
		return true
	})
	vals := func(w *syntax.Word) []string {
		var out []string
		for _, a := range c.specSegs(w.Parts, true, *x) {
			out = append(out, segsText(a))
		}
		return out
	}
	// Two rounds: a value may use a variable assigned later in the text.
	for range 2 {
		syntax.Walk(f, func(n syntax.Node) bool {
			switch n := n.(type) {
			case *syntax.Assign:
				if n.Name == nil {
					if n.Value != nil {
						if t, ok := wordText(n.Value); ok {
							if k, v, ok := strings.Cut(t, "="); ok && !strings.HasPrefix(t, "-") {
								x.vars.addScalar(k, v)
							}
						}
					}
					return true
				}
				if n.Value != nil {
					for _, v := range vals(n.Value) {
						x.vars.addScalar(n.Name.Value, v)
					}
				}
				if n.Array != nil {
					var l []string
					for _, e := range n.Array.Elems {
						if e.Value != nil {
							l = append(l, vals(e.Value)[0])
						}
					}
					x.vars.addList(n.Name.Value, l)
				}
			case *syntax.DeclClause:
				nameref := n.Variant.Value == "nameref"
				for _, a := range n.Args {
					if a.Name == nil && a.Value != nil {
						if t, ok := wordText(a.Value); ok && strings.HasPrefix(t, "-") && strings.Contains(t, "n") {
							nameref = true
						}
					}
					if nameref && a.Name != nil && a.Value != nil {
						if t, ok := wordText(a.Value); ok {
							x.vars.refs[a.Name.Value] = append(x.vars.refs[a.Name.Value], t)
						}
					}
				}
			case *syntax.WordIter:
				for _, it := range n.Items {
					for _, fs := range c.specReadingsOfWord(it, *x) {
						for _, f := range fs {
							x.vars.addScalar(n.Name.Value, f.text)
						}
					}
				}
				if n.InPos.IsValid() {
					break
				}
				for _, l := range x.pos {
					for _, a := range l[min(1, len(l)):] {
						x.vars.addScalar(n.Name.Value, a)
					}
				}
			}
			return true
		})
	}
	funcPos := map[string][][]string{}
	for _, call := range calls {
		if len(call.Args) == 0 {
			continue
		}
		argv := make([]string, 0, len(call.Args))
		for _, w := range call.Args {
			t, _ := wordText(w)
			argv = append(argv, t)
		}
		name := argv[0]
		if funcs[name] && len(funcPos[name]) < maxCands {
			funcPos[name] = append(funcPos[name], append([]string{""}, argv[1:]...))
		}
		if funcs["command_not_found_handle"] && len(funcPos["command_not_found_handle"]) < maxCands {
			funcPos["command_not_found_handle"] = append(funcPos["command_not_found_handle"], append([]string{""}, argv...))
		}
		c.collectCall(argv, call, x, stdin[call])
	}
	return funcPos
}

// collectCall gathers definitions made by builtins: alias, hash -p,
// read, mapfile, printf -v, set --.
func (c *checker) collectCall(argv []string, call *syntax.CallExpr, x *ctx, st stdinSrc) {
	operands := func(withArg string) []string {
		i := 1
		for i < len(argv) && strings.HasPrefix(argv[i], "-") && argv[i] != "-" {
			if argv[i] == "--" {
				i++
				break
			}
			if last := argv[i][len(argv[i])-1:]; strings.Contains(withArg, last) {
				i++
			}
			i++
		}
		return argv[min(i, len(argv)):]
	}
	switch argv[0] {
	case "alias":
		for j, a := range argv[1:] {
			if _, lit := wordText(call.Args[j+1]); !lit {
				continue
			}
			if k, v, ok := strings.Cut(a, "="); ok && len(c.aliases[k]) < maxCands {
				c.aliases[k] = append(c.aliases[k], v)
			}
		}
	case "hash":
		for i := 1; i+1 < len(argv); i++ {
			if argv[i] == "-p" {
				if _, lit := wordText(call.Args[i+1]); !lit {
					break
				}
				for _, n := range argv[i+2:] {
					if len(c.hashed[n]) < maxCands {
						c.hashed[n] = append(c.hashed[n], argv[i+1])
					}
				}
				break
			}
		}
	case "read", "mapfile", "readarray":
		if st.kind != stdinLiteral {
			return
		}
		for _, n := range operands("adinNptuCcOs") {
			for _, line := range strings.Split(st.text, "\n") {
				x.vars.addScalar(n, line)
				for _, w := range strings.Fields(line) {
					x.vars.addScalar(n, w)
				}
			}
		}
	case "printf":
		if len(argv) > 3 && argv[1] == "-v" {
			if out, ok := printfOutput(argv[3], argv[4:]); ok {
				x.vars.addScalar(argv[2], out)
			}
			for _, a := range argv[4:] {
				x.vars.addScalar(argv[2], a)
			}
		}
	case "set":
		for i, a := range argv {
			if a == "--" {
				x.pos = append(x.pos, append([]string{""}, argv[i+1:]...))
				break
			}
		}
	}
}

// specReadingsOfWord returns the speculative fields of one word (for the
// items of a for loop).
func (c *checker) specReadingsOfWord(w *syntax.Word, x ctx) [][]field {
	var out [][]field
	for _, a := range c.wordAlternatives(c.braces(w), x) {
		out = append(out, splitFields(a))
	}
	return out
}
