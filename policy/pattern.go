package policy

import (
	"regexp"
	resyntax "regexp/syntax"
	"sync"

	"mvdan.cc/sh/v3/pattern"
)

// A glob in a command name (/usr/bin/r[m], /?sr/bin/r?, @(rm|ls)) is
// matched by the shell against the files that exist when it runs, and
// the workspace is writable: any name the pattern can match may be what
// runs. The policy therefore asks whether the pattern can match a denied
// name at all, by running the pattern's automaton (mvdan.cc/sh's pattern
// translation, compiled by regexp/syntax) in step with the small
// automaton of the names that normalize to the denied one.

// target is a set of strings: lit in any letter case, followed by a tail.
type target struct {
	lit  string // lower case
	tail tailKind
}

type tailKind int

const (
	tailNone    tailKind = iota
	tailVersion          // [0-9.]*: python3.12 is python
	tailValue            // nothing, or "=" and anything: -enc=... is -enc
)

// compileGlob translates a shell pattern (extglob on) into a regexp that
// matches whole strings.
func compileGlob(pat string, fold bool) (*regexp.Regexp, error) {
	mode := globMode | pattern.EntireString
	if fold {
		mode |= pattern.NoGlobCase
	}
	re, err := pattern.Regexp(pat, mode)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(re)
}

// mayMatch reports whether the glob pattern pat can match some string of
// t, letter case folded. A pattern it cannot translate (!(...), which
// regexp has no way to express) may match anything.
func mayMatch(pat string, t target) bool {
	prog, ok := globProg(pat)
	return !ok || intersects(prog, t)
}

// progs caches compiled patterns: a check asks about the same pattern
// once per rule and reading. It is emptied when full, which bounds it.
var progs = struct {
	sync.Mutex
	m map[string]*resyntax.Prog
}{m: map[string]*resyntax.Prog{}}

const maxProgs = 512

// globProg compiles a pattern, case folded, to a regexp program; false
// when it cannot be translated.
func globProg(pat string) (*resyntax.Prog, bool) {
	progs.Lock()
	prog, ok := progs.m[pat]
	progs.Unlock()
	if ok {
		return prog, prog != nil
	}
	prog, ok = compileProg(pat)
	progs.Lock()
	if len(progs.m) >= maxProgs {
		clear(progs.m)
	}
	progs.m[pat] = prog
	progs.Unlock()
	return prog, ok
}

func compileProg(pat string) (*resyntax.Prog, bool) {
	re, err := pattern.Regexp(pat, globMode|pattern.EntireString|pattern.NoGlobCase)
	if err != nil {
		return nil, false
	}
	parsed, err := resyntax.Parse(re, resyntax.Perl)
	if err != nil {
		return nil, false
	}
	prog, err := resyntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, false
	}
	return prog, true
}

// state of the product automaton: a program counter, the position in
// the target, and whether the end of text was asserted.
type state struct {
	pc    uint32
	pos   int
	ended bool
}

// intersects searches the product of prog and t for an accepting state.
// The target's positions are 0..n for its literal, n+1 for the value
// after "=" (tailValue); n is accepting, and so is n+1.
func intersects(prog *resyntax.Prog, t target) bool {
	lit := []rune(t.lit)
	n := len(lit)
	accepting := func(pos int) bool { return pos == n || (t.tail == tailValue && pos == n+1) }
	// runes the target may read next from pos, and where each leads; any
	// is set when every rune is possible (the value after "=").
	next := func(pos int) (rs []rune, to []int, any bool) {
		switch {
		case pos < n:
			return []rune{lit[pos]}, []int{pos + 1}, false
		case pos == n && t.tail == tailVersion:
			for _, r := range "0123456789." {
				rs, to = append(rs, r), append(to, n)
			}
		case pos == n && t.tail == tailValue:
			return []rune{'='}, []int{n + 1}, false
		case pos == n+1:
			return nil, nil, true
		}
		return rs, to, false
	}
	seen := map[state]bool{}
	work := []state{{pc: uint32(prog.Start)}}
	push := func(s state) {
		if !seen[s] {
			seen[s] = true
			work = append(work, s)
		}
	}
	seen[work[0]] = true
	for len(work) > 0 {
		s := work[len(work)-1]
		work = work[:len(work)-1]
		in := &prog.Inst[s.pc]
		switch in.Op {
		case resyntax.InstMatch:
			if accepting(s.pos) {
				return true
			}
		case resyntax.InstFail:
		case resyntax.InstAlt, resyntax.InstAltMatch:
			push(state{in.Out, s.pos, s.ended})
			push(state{in.Arg, s.pos, s.ended})
		case resyntax.InstCapture, resyntax.InstNop:
			push(state{in.Out, s.pos, s.ended})
		case resyntax.InstEmptyWidth:
			e := resyntax.EmptyOp(in.Arg)
			switch {
			case e&(resyntax.EmptyBeginText|resyntax.EmptyBeginLine) != 0 && s.pos != 0:
			case e&(resyntax.EmptyEndText|resyntax.EmptyEndLine) != 0:
				if accepting(s.pos) {
					push(state{in.Out, s.pos, true})
				}
			default:
				push(state{in.Out, s.pos, s.ended})
			}
		default: // the rune instructions
			if s.ended {
				continue
			}
			rs, to, any := next(s.pos)
			if any {
				if in.Op != resyntax.InstRune || len(in.Rune) > 0 {
					push(state{in.Out, s.pos, false})
				}
				continue
			}
			for i, r := range rs {
				if in.MatchRune(r) {
					push(state{in.Out, to[i], false})
				}
			}
		}
	}
	return false
}
