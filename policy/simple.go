package policy

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// SimpleArgv returns the argv of a command string that is one plain
// command with literal words, the way sh -c would run it: no expansion,
// glob, redirection, assignment, pipeline, list or shell builtin. The
// runner then starts the program itself, without a shell in between
// (one exec fewer per call); anything else keeps sh -c.
func SimpleArgv(command string) ([]string, bool) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(command), "")
	if err != nil || len(f.Stmts) != 1 {
		return nil, false
	}
	st := f.Stmts[0]
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || st.Negated || st.Background || st.Coprocess || len(st.Redirs) > 0 || len(call.Assigns) > 0 || len(call.Args) == 0 {
		return nil, false
	}
	argv := make([]string, 0, len(call.Args))
	for _, w := range call.Args {
		var b strings.Builder
		for _, part := range w.Parts {
			switch x := part.(type) {
			case *syntax.Lit:
				// Unquoted: globs and tildes would be expanded by sh.
				if strings.ContainsAny(x.Value, "*?[~$") {
					return nil, false
				}
				b.WriteString(unescape(x.Value, false))
			case *syntax.SglQuoted:
				if x.Dollar {
					return nil, false
				}
				b.WriteString(x.Value)
			case *syntax.DblQuoted:
				for _, dp := range x.Parts {
					l, isLit := dp.(*syntax.Lit)
					if !isLit {
						return nil, false
					}
					b.WriteString(unescape(l.Value, true))
				}
			default:
				return nil, false
			}
		}
		argv = append(argv, b.String())
	}
	if shellBuiltins[argv[0]] || argv[0] == "" {
		return nil, false
	}
	return argv, true
}

// shellBuiltins are the names dash runs itself (or that have no program):
// they keep sh -c, whatever PATH holds.
var shellBuiltins = map[string]bool{
	".": true, ":": true, "alias": true, "bg": true, "break": true, "cd": true, "command": true, "continue": true,
	"eval": true, "exec": true, "exit": true, "export": true, "fc": true, "fg": true, "getopts": true, "hash": true,
	"jobs": true, "local": true, "read": true, "readonly": true, "return": true, "set": true, "shift": true,
	"times": true, "trap": true, "type": true, "ulimit": true, "umask": true, "unalias": true, "unset": true, "wait": true,
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "for": true, "while": true, "until": true,
	"do": true, "done": true, "case": true, "esac": true, "{": true, "}": true, "!": true,
}
