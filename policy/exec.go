package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
)

// Options configure an exec policy (tools.exec.* in openclaw.json).
type Options struct {
	// Mode is "deny" (the default: everything but Deny runs) or "allow"
	// (only Allow runs, and never Deny).
	Mode string
	// Deny and Allow are command names, or a name and the words that
	// must follow it ("pip install", "npm run", "powershell -enc").
	Deny, Allow []string
	// Dynamic says what happens to a command the shell computes when it
	// runs (a name from an expansion, a pattern, eval of a variable, a
	// script piped into a shell, a sourced file): "deny" refuses the
	// call, "audit" allows it and lists the command in
	// Decision.Unchecked. Empty means "audit" in deny mode (a deny list
	// is a convenience that a program can always evade, so refusing
	// ordinary shell buys nothing) and "deny" in allow mode (an allow
	// list must name what runs).
	Dynamic string
}

// The values of Options.Dynamic.
const (
	DynamicDeny  = "deny"
	DynamicAudit = "audit"
)

// Exec is a compiled exec policy.
type Exec struct {
	// Mode is "deny" or "allow" (see Options).
	Mode  string
	Deny  []Rule
	Allow []Rule
	// Dynamic is "deny" or "audit", the default resolved (see Options).
	Dynamic string
}

// Rule is one entry of a command list: a command name and optionally
// further words that must follow it ("pip install", "powershell -enc").
type Rule struct {
	Text  string
	Words []string
}

// Decision is the verdict on one command string, argv or input.
type Decision struct {
	Allowed bool
	// Reason explains a refusal (empty when allowed).
	Reason string
	// Rule is the list entry that caused a refusal, if any
	// ("dynamicCommands" when a computed command was refused).
	Rule string
	// Commands are the simple commands that were checked, as argv; a
	// word whose value is computed appears as written ("$x").
	Commands [][]string
	// Unchecked lists what the shell computes when it runs and the
	// policy therefore could not check: computed command names, eval
	// of a variable, a shell reading a pipe, a sourced file. The audit
	// record carries it; with Dynamic "deny" the call is refused.
	Unchecked []string
}

// maxDepth bounds nested shell strings (sh -c, eval, aliases, traps).
const maxDepth = 8

// NewExec compiles the lists. Entries are split into words on white
// space; an empty entry is an error.
func NewExec(o Options) (*Exec, error) {
	mode := o.Mode
	if mode == "" {
		mode = "deny"
	}
	if mode != "deny" && mode != "allow" {
		return nil, fmt.Errorf("exec policy %q: want \"deny\" (deny list) or \"allow\" (allow list)", o.Mode)
	}
	dyn := o.Dynamic
	switch dyn {
	case "":
		dyn = DynamicAudit
		if mode == "allow" {
			dyn = DynamicDeny
		}
	case DynamicDeny, DynamicAudit:
	default:
		return nil, fmt.Errorf("dynamic commands %q: want %q (refuse commands computed when they run) or %q (allow and flag them)", o.Dynamic, DynamicDeny, DynamicAudit)
	}
	p := &Exec{Mode: mode, Dynamic: dyn}
	var errs []error
	for _, list := range []struct {
		in  []string
		out *[]Rule
	}{{o.Deny, &p.Deny}, {o.Allow, &p.Allow}} {
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

// off reports a policy with nothing to check: deny mode with no deny
// list. Every command runs and nothing is flagged (the jail is the
// boundary either way); commands are not even parsed.
func (p *Exec) off() bool { return p == nil || (p.Mode != "allow" && len(p.Deny) == 0) }

// Check decides on one command string (what exec gives to sh -c).
func (p *Exec) Check(command string) Decision {
	if p.off() {
		return Decision{Allowed: true}
	}
	c := newChecker(p)
	err := c.script(command, c.top())
	return c.decide(err)
}

// CheckArgv decides on a command given as argv (no shell in between): it
// is checked as one simple command whose words are exactly these, with no
// expansion.
func (p *Exec) CheckArgv(argv []string) Decision {
	if len(argv) == 0 {
		return Decision{Reason: "no command"}
	}
	if p.off() {
		return Decision{Allowed: true}
	}
	c := newChecker(p)
	fs := make([]field, len(argv))
	for i, a := range argv {
		fs[i] = literalField(a)
	}
	x := c.top()
	err := c.command(fs, x, x.stdin, false)
	return c.decide(err)
}

// decide turns the outcome of a check into a Decision.
func (c *checker) decide(err error) Decision {
	d := Decision{Commands: c.seen, Unchecked: c.unchecked}
	if err != nil {
		d.Reason, d.Rule = err.Error(), c.rule
		return d
	}
	if len(c.unchecked) > 0 && c.p.Dynamic == DynamicDeny {
		d.Reason = fmt.Sprintf("%s, so it cannot be checked before it runs (tools.exec.dynamicCommands is %q)", c.unchecked[0], DynamicDeny)
		d.Rule = "dynamicCommands"
		return d
	}
	d.Allowed = true
	return d
}

// verdict is the answer of a rule on one argv whose words may be partly
// unknown: no, maybe (an unknown word could make it match), yes.
type verdict int

const (
	no verdict = iota
	maybe
	yes
)

// match applies the lists to one argv whose name is literal. A denial is
// an error; an argument that could make a denied entry match is
// unchecked.
func (c *checker) match(argv []field, x ctx) error {
	for _, r := range c.p.Deny {
		switch r.match(argv) {
		case yes:
			return c.deny(x, r.Text, "command %q is denied by denyCommands entry %q", display(argv), r.Text)
		case maybe:
			c.uncheck(x, "an argument of %q is computed and may make it denyCommands entry %q", display(argv), r.Text)
		}
	}
	if c.p.Mode != "allow" || x.spec || x.denyOnly {
		return nil
	}
	name := argv[0].text
	if harmless[name] || transparent[name] || byString[name] {
		return nil // runs nothing, or is judged by what it runs
	}
	best := no
	for _, r := range c.p.Allow {
		best = max(best, r.match(argv))
	}
	switch best {
	case yes:
		return nil
	case maybe:
		c.uncheck(x, "an argument of %q is computed and decides whether allowCommands admits it", display(argv))
		return nil
	}
	return c.deny(x, "", "command %q is not in allowCommands", display(argv))
}

// match: the name is equal (or a pattern may produce it), every further
// word that is an option ("-enc") appears among the options, and every
// other word is the next non-option argument ("pip install" matches
// "pip --quiet install x").
func (r Rule) match(argv []field) verdict {
	if !nameMatches(argv[0], r.Words[0]) {
		return no
	}
	args := argv[1:]
	res, pos := yes, 0
	for _, w := range r.Words[1:] {
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "/") {
			best := no
			for _, a := range args {
				best = max(best, optionMatches(a, w))
			}
			if best == no {
				return no
			}
			res = min(res, best)
			continue
		}
		for pos < len(args) && !args[pos].open && strings.HasPrefix(args[pos].text, "-") {
			pos++
		}
		if pos >= len(args) {
			return no
		}
		a := args[pos]
		if a.open {
			// Its value (or the words it splits into) could be this
			// word, or an option before it: nothing after it is known.
			return maybe
		}
		if !wordMatches(r.Words[0], a, w) {
			return no
		}
		pos++
	}
	return res
}

// nameMatches compares a command name (normalized, or a base-name
// pattern) with a rule's name.
func nameMatches(f field, want string) bool {
	if f.pat != "" {
		return mayMatch(basePattern(f.pat), nameTarget(want))
	}
	return f.text == want
}

// optionMatches: an option word of a rule ("-enc") matches an argument
// equal to it, or carrying a value ("-enc=...").
func optionMatches(a field, w string) verdict {
	switch {
	case a.open:
		return maybe
	case a.pat != "":
		if mayMatch(a.pat, target{lit: strings.ToLower(w), tail: tailValue}) {
			return yes
		}
		return no
	case strings.EqualFold(a.text, w) || strings.HasPrefix(strings.ToLower(a.text), strings.ToLower(w)+"="):
		return yes
	}
	return no
}

// wordMatches compares a subcommand, knowing the aliases of the package
// managers (npm i, npm add, npm isntall are all npm install).
func wordMatches(cmd string, a field, want string) bool {
	want = strings.ToLower(want)
	cands := append([]string{want}, subcommandAliases[cmd+" "+want]...)
	for _, w := range cands {
		if a.pat != "" {
			if mayMatch(a.pat, target{lit: w}) {
				return true
			}
		} else if strings.ToLower(a.text) == w {
			return true
		}
	}
	return false
}

var subcommandAliases = map[string][]string{
	"npm install": {"i", "in", "ins", "inst", "insta", "instal", "isnt", "isnta", "isntal", "isntall", "add"},
	"pip install": {"i"},
	"yarn add":    {"install"},
}

// versioned names are normalized to their family: python3.11 -> python.
var versioned = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(` + strings.Join(families, "|") + `)[0-9.]*$`)
})

// families are the interpreters whose versioned names (python3.12,
// pip3) stand for the family.
var families = []string{"python", "pip", "perl", "ruby", "php", "node", "lua", "pypy"}

func normalizeName(n string) string {
	if m := versioned().FindStringSubmatch(n); m != nil {
		return m[1]
	}
	return n
}

// nameTarget is the set of file names that normalize to a rule's name:
// the name in any case, and for an interpreter family its versions.
func nameTarget(name string) target {
	t := target{lit: name}
	for _, f := range families {
		if f == name {
			t.tail = tailVersion
		}
	}
	return t
}

// display renders an argv for messages.
func display(argv []field) string {
	s := make([]string, len(argv))
	for i, f := range argv {
		s[i] = f.show()
	}
	return strings.Join(s, " ")
}
