package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// CheckInput decides on data written to the standard input of a
// background process started with command (the process tool's write).
// When something in command runs its input as commands, the data is
// checked with the same rules as a command string:
//   - a shell reading its commands from standard input (sh, bash -s,
//     bash -i, sh /dev/stdin, script without -c, sudo -s, su), also
//     through wrappers, sh -c strings and pass-through pipes (cat | sh);
//     each write must end with a complete line, or the shell would join
//     it with the next write, which is checked apart;
//   - xargs, whose command gets the words read (xargs sh -c);
//   - read, whose variables a computed command may run
//     (while read l; do $l; done), tried with the deny list.
//
// Other programs that run their input (sed's e command, awk's system(),
// python -, perl, node, gdb, expect) get data the policy cannot read: the
// write is audited by the caller and the jail stays the boundary. In
// allow mode such a program runs only if it is listed, and listing it
// admits everything it can do.
func (p *Exec) CheckInput(command, data string) Decision {
	if p.off() {
		return Decision{Allowed: true}
	}
	c := newChecker(p)
	c.input = true
	x := c.top()
	x.stdin = stdinSrc{kind: stdinLiteral, text: data, input: true, what: "the data written"}
	return c.decide(c.script(command, x))
}

// maxXargsInput bounds data given to xargs: beyond its command-line
// buffer (128 KiB by default) xargs splits the words into several
// commands at places the policy cannot predict.
const maxXargsInput = 64 << 10

// xargsRun: xargs [options] [CMD [ARGS]] runs CMD (echo by default) with
// words read from its input appended, or with -I R, once per line with R
// replaced. The words are known when the input is (a here-string, a pipe
// from echo, data given to CheckInput); otherwise they are computed.
func xargsRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	replace, replaceMode := "", false
	delim := "" // "": blanks with quotes; else one byte
	maxArgs, maxLines := 0, 0
	fromFile := false
	withValue := map[string]bool{"arg-file": true, "delimiter": true, "max-args": true, "max-procs": true,
		"max-chars": true, "process-slot-var": true}
	i := 1
	for i < len(argv) {
		a := argv[i]
		if a.open || a.pat != "" {
			return uncertain(argv, i, true), nil
		}
		t := a.text
		if t == "--" {
			i++
			break
		}
		if t == "-" || !strings.HasPrefix(t, "-") {
			break
		}
		i++
		if strings.HasPrefix(t, "--") {
			name, val, has := strings.Cut(t[2:], "=")
			if !has && withValue[name] && i < len(argv) {
				if argv[i].open {
					return uncertain(argv, i, true), nil
				}
				val = argv[i].text
				i++
			}
			switch name {
			case "null":
				delim = "\x00"
			case "delimiter":
				delim = xargsDelim(val)
			case "replace":
				replaceMode, replace = true, orDefault(val, "{}")
			case "max-args":
				maxArgs, _ = strconv.Atoi(val)
			case "max-lines":
				maxLines, _ = strconv.Atoi(orDefault(val, "1"))
			case "arg-file":
				fromFile = true
			}
			continue
		}
		for j := 1; j < len(t); j++ {
			ch, rest := t[j], t[j+1:]
			switch ch {
			case '0':
				delim = "\x00"
				continue
			case 'a', 'd', 'E', 'I', 'L', 'n', 'P', 's':
				val := rest
				if val == "" && i < len(argv) {
					if argv[i].open {
						return uncertain(argv, i, true), nil
					}
					val = argv[i].text
					i++
				}
				switch ch {
				case 'a':
					fromFile = true
				case 'd':
					delim = xargsDelim(val)
				case 'I':
					replaceMode, replace = true, val
				case 'L':
					maxLines, _ = strconv.Atoi(val)
				case 'n':
					maxArgs, _ = strconv.Atoi(val)
				}
			case 'i':
				replaceMode, replace = true, orDefault(rest, "{}")
			case 'l':
				maxLines, _ = strconv.Atoi(orDefault(rest, "1"))
			case 'e':
			default:
				continue
			}
			break
		}
	}
	cmd := argv[min(i, len(argv)):]
	if len(cmd) == 0 {
		cmd = []field{literalField("echo")}
	}
	in := st
	if fromFile {
		in = stdinSrc{kind: stdinFile}
	}
	if replaceMode && replace == "" {
		replace = "{}"
	}
	if in.kind != stdinLiteral {
		read := field{open: true, vanish: true, src: "(words xargs reads)"}
		if !replaceMode {
			return []run{{argv: append(cloneFields(cmd), read)}}, nil
		}
		return []run{{argv: replaceIn(cmd, replace, func(string) field { return read })}}, nil
	}
	if in.input {
		end := orDefault(delim, "\n")
		if in.text != "" && !strings.HasSuffix(in.text, end) {
			return nil, c.deny(x, "", "data written to xargs must end with %q: xargs would join its last word with the next write, which is checked apart", end)
		}
		if len(in.text) > maxXargsInput {
			return nil, c.deny(x, "", "data written to xargs is larger than %d bytes: xargs may split it into commands the policy cannot predict", maxXargsInput)
		}
	}
	var runs []run
	add := func(argv []field) {
		if len(runs) < maxReadings {
			runs = append(runs, run{argv: argv, input: in.input})
		}
	}
	if replaceMode {
		for _, line := range strings.Split(strings.TrimSuffix(in.text, "\n"), "\n") {
			line = strings.TrimLeft(line, " \t")
			add(replaceIn(cmd, replace, func(s string) field { return literalField(strings.ReplaceAll(s, replace, line)) }))
		}
		return runs, nil
	}
	var batches [][]string
	if maxLines > 0 && delim == "" {
		lines := strings.Split(strings.TrimSuffix(in.text, "\n"), "\n")
		for k := 0; k < len(lines); k += maxLines {
			var b []string
			for _, l := range lines[k:min(k+maxLines, len(lines))] {
				b = append(b, xargsWords(l, "")...)
			}
			batches = append(batches, b)
		}
	} else {
		words := xargsWords(in.text, delim)
		n := maxArgs
		if n <= 0 {
			n = max(len(words), 1)
		}
		for k := 0; k < len(words); k += n {
			batches = append(batches, words[k:min(k+n, len(words))])
		}
	}
	for _, b := range batches {
		argv := cloneFields(cmd)
		for _, w := range b {
			argv = append(argv, literalField(w))
		}
		add(argv)
	}
	return runs, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func cloneFields(fs []field) []field { return append([]field(nil), fs...) }

// replaceIn replaces the fields of cmd that hold r (xargs -I, find {}).
func replaceIn(cmd []field, r string, by func(string) field) []field {
	out := cloneFields(cmd)
	for k, f := range out {
		if k > 0 && !f.open && strings.Contains(f.text, r) {
			out[k] = by(f.text)
		}
	}
	return out
}

// xargsDelim decodes -d's argument (a character or an escape).
func xargsDelim(v string) string {
	if len(v) == 1 {
		return v
	}
	if d, ok := ansiC(v); ok && len(d) == 1 {
		return d
	}
	if v == `\0` {
		return "\x00"
	}
	return "\n"
}

// xargsWords splits xargs input: on the delimiter, or else on blanks
// and newlines with single quotes, double quotes and backslashes, as GNU
// xargs does by default.
func xargsWords(s, delim string) []string {
	if delim != "" {
		return strings.Split(strings.TrimSuffix(s, delim), delim)
	}
	var out []string
	var b strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				b.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote, in = ch, true
		case ch == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			in = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(ch)
			in = true
		}
	}
	if in {
		out = append(out, b.String())
	}
	return out
}

// String renders a decision for logs and tests.
func (d Decision) String() string {
	if d.Allowed {
		if len(d.Unchecked) > 0 {
			return fmt.Sprintf("allowed, unchecked: %s", strings.Join(d.Unchecked, "; "))
		}
		return "allowed"
	}
	return "refused: " + d.Reason
}
