package policy

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/pattern"
	"mvdan.cc/sh/v3/syntax"
)

// field is one word of a command after the shell's expansions, as far as
// the policy can know it before the command runs.
type field struct {
	// text is the value after quote removal. For an open field it holds
	// the known parts only.
	text string
	// src is the word as written, for messages and the audit record.
	src string
	// open: the value depends on an expansion ($x, $(...), ~) that is
	// only known when the shell runs.
	open bool
	// vanish: an unquoted expansion (or "$@") that may expand to no
	// word at all, or to several: the words after it may move left.
	vanish bool
	// pat is set when the shell matches the word against file names
	// (*, ?, [...], extglob): it is the word in pattern syntax.
	pat string
	// base is the last path component when it is known although the
	// directory part is computed ("$dir"/rm): names are checked by it.
	base      string
	baseKnown bool
	// bare: written as one unquoted literal without escapes, so the
	// shell may replace it by an alias.
	bare bool
	// braces: a word with more braces than the policy expands.
	braces bool
}

func literalField(s string) field { return field{text: s, src: s} }

func (f field) show() string {
	if f.src != "" {
		return f.src
	}
	return f.text
}

// nameKind says how far a command name is known.
type nameKind int

const (
	nameLiteral  nameKind = iota // a fixed name
	namePattern                  // a glob the shell matches against files
	nameComputed                 // an expansion: known only when it runs
)

// name returns the command name a field stands for: its last path
// component, case folded and with interpreter versions folded (or the
// base-name pattern), and how far it is known.
func (f field) name() (string, nameKind) {
	text := f.text
	switch {
	case f.open && !f.baseKnown:
		return "", nameComputed
	case f.open:
		text = f.base
	case f.pat != "":
		bp := basePattern(f.pat)
		if hasMeta(bp) {
			return bp, namePattern
		}
		text = unescapePattern(bp)
	}
	if text == "" {
		return "", nameLiteral
	}
	return normalizeName(strings.ToLower(path.Base(text))), nameLiteral
}

// globMode is how bash matches file names once `shopt -s extglob` is on,
// case folded because command names are compared case folded.
const globMode = pattern.ExtendedOperators

// basePattern is the part of a pattern after its last slash: a glob
// never matches across a slash, so it alone decides the base name.
func basePattern(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// hasMeta reports pattern syntax outside backslash escapes: * ? [...]
// and the extglob groups @( !( +( (pattern.HasMeta knows no extglob).
func hasMeta(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		case '[':
			// a bracket expression needs its closing ], and a ] right
			// after [ (or [! [^) is a member, not the end: "[" alone
			// and "[ -f x ]" are literal
			j := i + 1
			if j < len(p) && (p[j] == '!' || p[j] == '^') {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			if strings.IndexByte(p[min(j, len(p)):], ']') >= 0 {
				return true
			}
		case '@', '!', '+':
			if i+1 < len(p) && p[i+1] == '(' {
				return true
			}
		}
	}
	return false
}

// quoteGlob escapes text for pattern syntax (every byte but letters,
// digits, non-ASCII and the slash, which must stay a path separator).
func quoteGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 0x80 || ch == '/' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('\\')
		b.WriteByte(ch)
	}
	return b.String()
}

func unescapePattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// seg is a piece of a word: literal text, or an expansion.
type seg struct {
	text   string // literal text after quote removal, or a candidate value
	raw    string // unquoted literal text as written (pattern syntax)
	quoted bool
	dyn    bool // an expansion whose value is not known (main reading)
	many   bool // "$@"-like: starts a new word even when quoted
	ext    bool // an extglob group: pattern syntax only
	split  bool // an unquoted expansion's value: split into words on blanks
}

// mainFields evaluates words the way the shell will, without knowing the
// value of any expansion: brace expansion is done (it is literal), an
// expansion makes its field open, and glob syntax makes a pattern.
func (c *checker) mainFields(words []*syntax.Word) []field {
	var out []field
	for _, w := range words {
		for _, bw := range c.braces(w) {
			f := c.field(bw, segsOf(bw.Parts, false, true), bw == w)
			if bw == tooManyBraces {
				f.src, f.braces = c.source(w, true), true
			}
			out = append(out, f)
		}
	}
	return out
}

// maxBraceWords bounds the words one brace expansion may yield here, and
// maxBraces the braces in one word (splitting unclosed braces costs the
// square of their number); beyond either, the word is unknown: an open
// field whose words are not listed.
const (
	maxBraceWords = 64
	maxBraces     = 32
)

// tooManyBraces stands for a word whose brace expansion is not computed.
var tooManyBraces = &syntax.Word{Parts: []syntax.WordPart{&syntax.CmdSubst{}}}

// braces performs bash's brace expansion ({a,b}, {1..3}); a word without
// braces is returned as is. Results are kept per word: a check asks for
// them several times.
func (c *checker) braces(w *syntax.Word) []*syntax.Word {
	if r, ok := c.braceMemo[w]; ok {
		return r
	}
	r := expandBraces(w)
	if len(c.braceMemo) < 4096 {
		c.braceMemo[w] = r
	}
	return r
}

func expandBraces(w *syntax.Word) []*syntax.Word {
	switch braceCount(w) {
	case 0:
		return []*syntax.Word{w}
	case -1:
		return []*syntax.Word{tooManyBraces}
	}
	cp := &syntax.Word{Parts: slices.Clone(w.Parts)}
	if !syntax.SplitBraces(cp) {
		return []*syntax.Word{w}
	}
	var out []*syntax.Word
	for ew, err := range expand.BracesSeq(nil, cp) {
		if err != nil || len(out) == maxBraceWords {
			return []*syntax.Word{tooManyBraces}
		}
		out = append(out, ew)
	}
	if len(out) == 0 {
		return []*syntax.Word{w}
	}
	return out
}

// braceCount counts the braces in a word's unquoted literal parts; -1
// when there are more than maxBraces.
func braceCount(w *syntax.Word) int {
	n := 0
	for _, p := range w.Parts {
		if l, ok := p.(*syntax.Lit); ok {
			n += strings.Count(l.Value, "{")
		}
	}
	if n > maxBraces {
		return -1
	}
	return n
}

// hasBraces reports a word that brace expansion changes (or may: one
// with too many braces to expand).
func hasBraces(w *syntax.Word) bool {
	switch braceCount(w) {
	case 0:
		return false
	case -1:
		return true
	}
	cp := &syntax.Word{Parts: slices.Clone(w.Parts)}
	return syntax.SplitBraces(cp)
}

// segsOf splits word parts into segments (main reading: expansions are
// unknown). atStart: the parts begin the word (a tilde there expands).
func segsOf(parts []syntax.WordPart, quoted, atStart bool) []seg {
	var out []seg
	for i, part := range parts {
		switch x := part.(type) {
		case *syntax.Lit:
			if quoted {
				out = append(out, seg{text: unescape(x.Value, true), quoted: true})
				continue
			}
			v := x.Value
			if i == 0 && atStart && strings.HasPrefix(v, "~") {
				// Tilde expansion: ~, ~user, ~+ and ~- stand for a
				// directory named elsewhere ($HOME, passwd, $PWD).
				end := strings.IndexByte(v, '/')
				if end < 0 {
					end = len(v)
				}
				out = append(out, seg{dyn: true, quoted: true})
				v = v[end:]
				if v == "" {
					continue
				}
			}
			out = append(out, seg{text: unescape(v, false), raw: v})
		case *syntax.SglQuoted:
			if !x.Dollar {
				out = append(out, seg{text: x.Value, quoted: true})
				continue
			}
			if v, ok := ansiC(x.Value); ok {
				out = append(out, seg{text: v, quoted: true})
			} else {
				out = append(out, seg{dyn: true, quoted: true})
			}
		case *syntax.DblQuoted:
			if x.Dollar {
				// $"..." is translated through a message catalog
				// chosen by TEXTDOMAIN: its value is not the text.
				out = append(out, seg{dyn: true, quoted: true})
				continue
			}
			out = append(out, segsOf(x.Parts, true, false)...)
		case *syntax.ParamExp:
			out = append(out, seg{dyn: true, quoted: quoted, many: quoted && listParam(x)})
		case *syntax.ExtGlob:
			if quoted {
				out = append(out, seg{text: x.Op.String() + x.Pattern.Value + ")", quoted: true})
				continue
			}
			out = append(out, seg{text: x.Op.String() + x.Pattern.Value + ")", raw: x.Op.String() + x.Pattern.Value + ")", ext: true})
		default: // CmdSubst, ArithmExp, ProcSubst
			out = append(out, seg{dyn: true, quoted: quoted})
		}
	}
	return out
}

// listParam: "$@", "${a[@]}" and "${!a[@]}" expand to one word per
// element even inside double quotes.
func listParam(pe *syntax.ParamExp) bool {
	if pe.Param != nil && pe.Param.Value == "@" {
		return true
	}
	if w, ok := pe.Index.(*syntax.Word); ok && w.Lit() == "@" {
		return true
	}
	return pe.Names == syntax.NamesPrefixWords
}

// field builds the main reading's field of one word from its segments.
func (c *checker) field(w *syntax.Word, segs []seg, orig bool) field {
	f := field{src: c.source(w, orig)}
	var text, pat strings.Builder
	isPat, unquotedDyn := false, false
	lastSlash := -1 // index of the segment holding the last literal slash
	for i, s := range segs {
		switch {
		case s.dyn:
			f.open = true
			if !s.quoted || s.many {
				f.vanish, unquotedDyn = true, true
			}
			pat.WriteString("*")
		case s.quoted:
			text.WriteString(s.text)
			pat.WriteString(quoteGlob(s.text))
		default:
			text.WriteString(s.text)
			pat.WriteString(s.raw)
			if s.ext || hasMeta(s.raw) {
				isPat = true
			}
		}
		if !s.dyn && strings.Contains(s.text, "/") {
			lastSlash = i
		}
	}
	f.text = text.String()
	if isPat {
		f.pat = pat.String()
	}
	if f.open && !unquotedDyn && lastSlash >= 0 {
		// "$dir"/rm: the directory is computed, the name is not.
		known := true
		for _, s := range segs[lastSlash+1:] {
			known = known && !s.dyn
		}
		if known {
			var b strings.Builder
			t := segs[lastSlash].text
			b.WriteString(t[strings.LastIndexByte(t, '/')+1:])
			for _, s := range segs[lastSlash+1:] {
				b.WriteString(s.text)
			}
			f.base, f.baseKnown = b.String(), true
			if isPat {
				f.pat = pat.String() // the base pattern is taken from it
				f.open = false
			}
		}
	}
	if len(w.Parts) == 1 {
		if l, ok := w.Parts[0].(*syntax.Lit); ok && !strings.ContainsAny(l.Value, `\~`) {
			f.bare = true
		}
	}
	return f
}

// maxShown bounds a word's text in messages and Commands.
const maxShown = 200

// source returns a word as written: a slice of the script being checked
// (printing every word anew would cost the square of deep nesting), or,
// for a word made by brace expansion, printed.
func (c *checker) source(w *syntax.Word, orig bool) string {
	a, b := int(w.Pos().Offset()), int(w.End().Offset())
	s := ""
	if orig && w.Pos().IsValid() && a <= b && b <= len(c.src) {
		s = c.src[a:b]
	} else {
		s = printWord(w)
	}
	if len(s) > maxShown {
		s = s[:maxShown] + "..."
	}
	return s
}

// printWord renders a word as written.
func printWord(w *syntax.Word) string {
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, w); err != nil {
		return "?"
	}
	return b.String()
}

// wordText returns a word's value when it has no expansion, with the
// open flag as in field.
func wordText(w *syntax.Word) (string, bool) {
	if w == nil {
		return "", true // an omitted word: ${x/} has no pattern
	}
	var b strings.Builder
	for _, s := range segsOf(w.Parts, false, true) {
		if s.dyn {
			return b.String(), false
		}
		b.WriteString(s.text)
	}
	return b.String(), true
}

// ---- speculative readings ----
//
// In deny mode the policy also tries the values that the command string
// itself gives to its expansions: empty; every literal value assigned to
// the variable anywhere in the string (x=rm, for x in rm, read x <<<rm,
// a=(rm x), printf -v x rm); a default (${x:-rm}); the arguments given to
// sh -c and to functions defined in the string ($1, "$@"); the output of
// echo or printf with literal words. If one of them makes a denied
// command, the call is refused. This is best effort and bounded: the
// computed command stays in Unchecked either way.

// maxReadings bounds the speculative readings of one simple command, and
// maxCands the values tried for one variable or word.
const (
	maxReadings = 64
	maxCands    = 16
)

// vars holds candidate values of shell variables and positional
// parameters, collected from the command string.
type vars struct {
	scalars map[string][]string
	lists   map[string][][]string
	refs    map[string][]string // declare -n NAME=TARGET
}

func newVars() *vars {
	return &vars{scalars: map[string][]string{}, lists: map[string][][]string{}, refs: map[string][]string{}}
}

func (v *vars) addScalar(name, val string) {
	if len(v.scalars[name]) < maxCands && !slices.Contains(v.scalars[name], val) {
		v.scalars[name] = append(v.scalars[name], val)
	}
}

func (v *vars) addList(name string, l []string) {
	if len(v.lists[name]) < maxCands/2 {
		v.lists[name] = append(v.lists[name], l)
	}
}

// values returns the candidate values of a variable, through namerefs.
func (v *vars) values(name string, depth int) []string {
	out := slices.Clone(v.scalars[name])
	for _, l := range v.lists[name] {
		out = append(out, l...)
	}
	if depth < 3 {
		for _, t := range v.refs[name] {
			out = append(out, v.values(t, depth+1)...)
		}
	}
	return out
}

// value is one candidate value of an expansion: a string, or a list of
// words ("$@", "${a[@]}").
type value struct {
	s      string
	list   []string
	isList bool
}

// specReadings returns speculative argvs of a simple command: each
// expansion takes candidate values; the reading with every expansion
// empty comes first. The brace-less reading (how sh, which has no brace
// expansion, reads the words) is one of them.
func (c *checker) specReadings(words []*syntax.Word, x ctx) [][]field {
	var alts [][][]field // per word: its alternatives, each a list of fields
	dynamic := false
	for _, w := range words {
		var wa [][]field
		bws := c.braces(w)
		for _, segsAlt := range c.wordAlternatives(bws, x) {
			wa = append(wa, splitFields(segsAlt))
		}
		if len(bws) > 1 || bws[0] != w {
			// sh (dash) has no brace expansion: the word as written
			wa = append(wa, splitFields([][]seg{c.specSegs(w.Parts, false, x)[0]}))
		}
		if len(wa) > 1 || wordHasExpansion(w) {
			dynamic = true
		}
		if len(wa) == 0 {
			wa = [][]field{nil}
		}
		alts = append(alts, wa)
	}
	if !dynamic {
		return nil
	}
	var out [][]field
	idx := make([]int, len(alts))
	for len(out) < maxReadings {
		var argv []field
		for i, a := range alts {
			argv = append(argv, a[idx[i]]...)
		}
		if len(argv) > 0 {
			out = append(out, argv)
		}
		// next combination, mixed radix
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(alts[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			break
		}
	}
	return out
}

// wordHasExpansion reports a word with any part whose value is computed.
func wordHasExpansion(w *syntax.Word) bool {
	for _, s := range segsOf(w.Parts, false, true) {
		if s.dyn {
			return true
		}
	}
	return false
}

// wordAlternatives returns, for the brace-expanded words of one word, the
// combinations of candidate segments (each alternative is the segments of
// every brace word).
func (c *checker) wordAlternatives(bws []*syntax.Word, x ctx) [][][]seg {
	alts := [][][]seg{nil}
	for _, bw := range bws {
		var next [][][]seg
		for _, s := range c.specSegs(bw.Parts, false, x) {
			for _, a := range alts {
				if len(next) == maxCands {
					break
				}
				next = append(next, append(slices.Clone(a), s))
			}
		}
		alts = next
	}
	return alts
}

// specSegs returns the alternatives of a sequence of word parts, each a
// list of concrete segments.
func (c *checker) specSegs(parts []syntax.WordPart, quoted bool, x ctx) [][]seg {
	alts := [][]seg{nil}
	add := func(choices [][]seg) {
		var next [][]seg
		for _, ch := range choices {
			for _, a := range alts {
				if len(next) == maxCands {
					break
				}
				next = append(next, append(slices.Clone(a), ch...))
			}
		}
		alts = next
	}
	for i, part := range parts {
		switch p := part.(type) {
		case *syntax.DblQuoted:
			if p.Dollar {
				add([][]seg{{{quoted: true}}})
				continue
			}
			add(c.specSegs(p.Parts, true, x))
		case *syntax.ParamExp, *syntax.CmdSubst, *syntax.ArithmExp, *syntax.ProcSubst:
			var choices [][]seg
			for _, v := range c.partValues(part, x) {
				if !v.isList {
					choices = append(choices, []seg{{text: v.s, raw: v.s, quoted: quoted, split: !quoted}})
					continue
				}
				// one segment per element; each after the first starts a word
				ss := []seg{{split: true}} // no element: no word, even quoted
				if len(v.list) > 0 {
					ss = nil
				}
				for j, w := range v.list {
					ss = append(ss, seg{text: w, raw: w, quoted: quoted, split: !quoted, many: j > 0})
				}
				choices = append(choices, ss)
			}
			add(choices)
		default:
			ss := segsOf([]syntax.WordPart{part}, quoted, i == 0)
			for j := range ss {
				if ss[j].dyn {
					ss[j] = seg{quoted: true} // a tilde or $"...": its directory or text is not known
				}
			}
			add([][]seg{ss})
		}
	}
	return alts
}

// splitFields performs field splitting (on blanks: IFS is not known, its
// default is assumed) and pattern detection on the concrete segments of
// the brace words of one word. A word made only of empty unquoted
// expansions disappears, as in the shell.
func splitFields(words [][]seg) []field {
	var out []field
	for _, segs := range words {
		var text, pat strings.Builder
		started, isPat := false, false
		flush := func() {
			if started {
				f := field{text: text.String(), src: text.String()}
				if isPat {
					f.pat = pat.String()
				}
				out = append(out, f)
			}
			text.Reset()
			pat.Reset()
			started, isPat = false, false
		}
		for _, s := range segs {
			if s.many {
				flush()
			}
			switch {
			case s.quoted:
				text.WriteString(s.text)
				pat.WriteString(quoteGlob(s.text))
				started = true
			case s.split:
				if hasMeta(s.text) {
					isPat = true
				}
				for _, r := range s.text {
					if r == ' ' || r == '\t' || r == '\n' {
						flush()
						continue
					}
					text.WriteRune(r)
					pat.WriteRune(r)
					started = true
				}
			default:
				if s.ext || hasMeta(s.raw) {
					isPat = true
				}
				text.WriteString(s.text)
				pat.WriteString(s.raw)
				started = started || s.text != ""
			}
		}
		flush()
	}
	return out
}

// partValues returns candidate values of one expansion. The empty value
// always comes first.
func (c *checker) partValues(part syntax.WordPart, x ctx) []value {
	out := []value{{}}
	addS := func(ss ...string) {
		for _, s := range ss {
			if len(out) < maxCands {
				out = append(out, value{s: s})
			}
		}
	}
	switch p := part.(type) {
	case *syntax.ParamExp:
		if p.Param == nil {
			return out
		}
		name := p.Param.Value
		var vals []string
		switch {
		case name == "@" || name == "*":
			for _, l := range x.pos {
				if len(l) > 0 {
					if name == "@" {
						out = append(out, value{list: l[1:], isList: true})
					} else {
						addS(strings.Join(l[1:], " "))
					}
				}
			}
			return out
		case isDigits(name):
			n, _ := strconv.Atoi(name)
			for _, l := range x.pos {
				if n < len(l) {
					vals = append(vals, l[n])
				}
			}
		case p.Excl && p.Index == nil && p.Names == 0:
			// ${!x}: the value of the variable x names
			for n := range x.vars.scalars {
				vals = append(vals, x.vars.values(n, 0)...)
			}
		case p.Length || p.Names != 0:
			return out
		default:
			if w, ok := p.Index.(*syntax.Word); ok && (w.Lit() == "@" || w.Lit() == "*") {
				for _, l := range x.vars.lists[name] {
					if w.Lit() == "@" {
						out = append(out, value{list: l, isList: true})
					} else {
						addS(strings.Join(l, " "))
					}
				}
			}
			vals = x.vars.values(name, 0)
		}
		for _, v := range vals {
			addS(applyParamOp(p, v)...)
		}
		if p.Exp != nil && p.Exp.Word != nil {
			switch p.Exp.Op {
			case syntax.DefaultUnset, syntax.DefaultUnsetOrNull, syntax.AssignUnset, syntax.AssignUnsetOrNull,
				syntax.AlternateUnset, syntax.AlternateUnsetOrNull:
				for _, a := range c.specSegs(p.Exp.Word.Parts, false, x) {
					addS(segsText(a))
				}
			}
		}
		if p.Repl != nil && p.Repl.With != nil {
			if with, ok := wordText(p.Repl.With); ok {
				addS(with)
			}
		}
	case *syntax.CmdSubst:
		if s, ok := literalOutput(p.Stmts); ok {
			addS(strings.TrimRight(s, "\n"))
		}
	case *syntax.ProcSubst:
		addS("/dev/fd/63")
	}
	return out
}

func segsText(ss []seg) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s.text)
	}
	return b.String()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// applyParamOp applies the string operations of ${x#p}, ${x%p}, ${x/p/r}
// and ${x:o:l} to a candidate value, as far as they are literal; the
// value itself is kept as a candidate too.
func applyParamOp(p *syntax.ParamExp, v string) []string {
	out := []string{v}
	if p.Exp != nil && p.Exp.Word != nil {
		pat, ok := wordText(p.Exp.Word)
		if !ok {
			return out
		}
		switch p.Exp.Op {
		case syntax.RemSmallPrefix, syntax.RemLargePrefix:
			for i := 0; i <= len(v); i++ {
				if globMatches(pat, v[:i]) {
					out = append(out, v[i:])
				}
			}
		case syntax.RemSmallSuffix, syntax.RemLargeSuffix:
			for i := 0; i <= len(v); i++ {
				if globMatches(pat, v[i:]) {
					out = append(out, v[:i])
				}
			}
		}
	}
	if p.Repl != nil {
		orig, ok1 := wordText(p.Repl.Orig)
		with := ""
		ok2 := true
		if p.Repl.With != nil {
			with, ok2 = wordText(p.Repl.With)
		}
		if ok1 && ok2 {
			switch {
			case strings.HasPrefix(orig, "#"):
				out = append(out, with+strings.TrimPrefix(v, orig[1:]))
			case strings.HasPrefix(orig, "%"):
				out = append(out, strings.TrimSuffix(v, orig[1:])+with)
			case orig != "":
				out = append(out, strings.ReplaceAll(v, orig, with), strings.Replace(v, orig, with, 1))
			}
		}
	}
	if p.Slice != nil {
		off, ok := arithLit(p.Slice.Offset)
		if ok && off >= 0 && off <= len(v) {
			s := v[off:]
			if l, ok := arithLit(p.Slice.Length); ok && l >= 0 && l <= len(s) {
				s = s[:l]
			}
			out = append(out, s)
		}
	}
	return out
}

func arithLit(e syntax.ArithmExpr) (int, bool) {
	w, ok := e.(*syntax.Word)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(w.Lit())
	return n, err == nil
}

// globMatches reports whether a shell pattern matches all of s.
func globMatches(pat, s string) bool {
	re, err := compileGlob(pat, false)
	return err == nil && re.MatchString(s)
}

// literalOutput returns what a command substitution or the left side of
// a pipe prints when it is one echo or printf with literal words, or cat
// of a literal here-document.
func literalOutput(stmts []*syntax.Stmt) (string, bool) {
	if len(stmts) != 1 {
		return "", false
	}
	st := stmts[0]
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return "", false
	}
	var args []string
	for _, w := range call.Args {
		t, ok := wordText(w)
		if !ok || hasBraces(w) {
			return "", false
		}
		args = append(args, t)
	}
	switch args[0] {
	case "echo":
		a, nl := args[1:], "\n"
		for len(a) > 0 && (a[0] == "-n" || a[0] == "-e" || a[0] == "-E") {
			if a[0] == "-n" {
				nl = ""
			}
			a = a[1:]
		}
		return strings.Join(a, " ") + nl, true
	case "printf":
		if len(args) < 2 {
			return "", false
		}
		return printfOutput(args[1], args[2:])
	case "cat":
		if len(args) == 1 {
			for _, r := range st.Redirs {
				if r.Hdoc != nil {
					if t, ok := wordText(r.Hdoc); ok {
						return t, true
					}
				}
				if r.Op == syntax.WordHdoc {
					if t, ok := wordText(r.Word); ok {
						return t + "\n", true
					}
				}
			}
		}
	}
	return "", false
}

// printfOutput formats like printf(1) when the format uses only %s, %b,
// %c and %% (the format is reused while arguments remain).
func printfOutput(format string, args []string) (string, bool) {
	f, _ := ansiC(format)
	var b strings.Builder
	for first := true; first || len(args) > 0; first = false {
		consumed := false
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				b.WriteByte(f[i])
				continue
			}
			if i+1 >= len(f) {
				return "", false
			}
			i++
			switch f[i] {
			case '%':
				b.WriteByte('%')
			case 's', 'b', 'c':
				a := ""
				if len(args) > 0 {
					a, args, consumed = args[0], args[1:], true
				}
				if f[i] == 'b' {
					a, _ = ansiC(a)
				}
				if f[i] == 'c' && a != "" {
					a = a[:1]
				}
				b.WriteString(a)
			default:
				return "", false
			}
		}
		if !consumed {
			break
		}
	}
	return b.String(), true
}
