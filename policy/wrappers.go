package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// run is one thing a command runs in turn.
type run struct {
	// argv: a command it runs (sudo CMD, find -exec CMD ;).
	argv     []field
	denyOnly bool      // only the deny list reaches it (python -m MODULE)
	in       *stdinSrc // its standard input, when not the wrapper's
	input    bool      // its words come from data written to the process
	// script: shell code it runs (sh -c STRING, eval, trap, alias
	// values), with $0, $1... in args (positional: args are given).
	script     *field
	args       []field
	positional bool
	doc        bool // the script is expanded, not run (a prompt string)
	// stdin: a shell reading its commands from this input.
	stdin *stdinSrc
	// note: something it runs that the policy cannot see.
	note string
	// unsure: the wrapper's own arguments are computed from scan[0] on;
	// those words may hold the command (or, scanScripts, a shell
	// string), and are tried with the deny list.
	unsure      bool
	scan        []field
	scanScripts bool
	// refuse: a refusal with this reason.
	refuse string
}

// handler returns what argv (whose name is checked) runs in turn.
type handler func(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error)

// harmless are shell builtins that run nothing; allow mode accepts them
// without listing them.
var harmless = setOf("cd", "echo", "printf", "true", "false", "test", "[", "[[", ":", "export", "unset", "set",
	"shift", "exit", "return", "pwd", "local", "declare", "typeset", "readonly", "wait", "read", "shopt", "umask",
	"getopts", "type", "unalias", "let", "break", "continue", "times", "dirs", "pushd", "popd", "caller", "help",
	"jobs", "disown", "ulimit", "logout", "compopt")

// transparent wrappers only change how a command runs (priority, time
// limit, environment, buffering), not what it may do: allow mode judges
// them by the command they run, without listing them. Every other
// wrapper adds power (sudo, a shell, xargs, find, busybox, strace, ...)
// and must be allowed itself: allowing it admits everything it can run.
var transparent = setOf("env", "nice", "nohup", "timeout", "time", "stdbuf", "ionice", "setsid", "command",
	"exec", "builtin", "taskset", "chrt", "numactl", "prlimit", "chronic", "unbuffer", "ifne", "catchsegv")

// byString are builtins that run or store a string the policy reads
// with the same rules (eval, trap, alias, ...), or something it flags as
// unchecked (source, fc, enable -f): they are judged by that, and need
// not be listed in allow mode.
var byString = setOf("eval", "trap", "alias", "hash", "complete", "compgen", "bind", "mapfile", "readarray",
	"history", "fc", "enable", "source", ".")

// shells run their -c string, a script file, or their standard input.
var shells = setOf("sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "oksh", "ash", "yash", "posh",
	"rbash", "fish", "csh", "tcsh", "busybox-sh")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// opts describes a getopt-style wrapper: short options that take a value,
// long options that take one (unless given as --name=value), and the
// operands before the command it runs (timeout's DURATION, chroot's
// NEWROOT). Every wrapper here stops at its first operand (getopt "+").
type opts struct {
	short    string
	long     []string
	operands int
}

// scan finds the command after argv[0]'s options and operands. It
// reports uncertain when a computed word stands where an option, a value
// or the command may be; flags collects the short options seen and longs
// the long ones.
func (o opts) scan(argv []field) (i int, flags string, longs []string, uncertain bool) {
	i = 1
	for i < len(argv) {
		a := argv[i]
		if a.open || a.pat != "" {
			return i, flags, longs, true
		}
		t := a.text
		if t == "--" {
			i++
			break
		}
		if t == "-" || !strings.HasPrefix(t, "-") {
			break
		}
		if strings.HasPrefix(t, "--") {
			name, _, hasVal := strings.Cut(t[2:], "=")
			longs = append(longs, name)
			i++
			if !hasVal && slices.Contains(o.long, name) {
				if i < len(argv) && argv[i].vanish {
					return i, flags, longs, true
				}
				i++
			}
			continue
		}
		i++
		for j := 1; j < len(t); j++ {
			flags += t[j : j+1]
			if strings.IndexByte(o.short, t[j]) >= 0 {
				if j == len(t)-1 { // the value is the next word
					if i < len(argv) && argv[i].vanish {
						return i, flags, longs, true
					}
					i++
				}
				break
			}
		}
	}
	for k := 0; k < o.operands && i < len(argv); k++ {
		if argv[i].vanish || argv[i].pat != "" {
			return i, flags, longs, true
		}
		i++
	}
	return min(i, len(argv)), flags, longs, false
}

// uncertain is the run of a wrapper whose own arguments are computed.
func uncertain(argv []field, i int, scripts bool) []run {
	return []run{{unsure: true, scan: argv[i:], scanScripts: scripts}}
}

// wrapped: a wrapper that runs the command after its options.
func wrapped(o opts) handler {
	return wrappedIf(o, "")
}

// wrappedIf: as wrapped, but with one of the flags in none (a process
// id mode such as taskset -p) it runs nothing.
func wrappedIf(o opts, none string) handler {
	return func(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
		i, flags, longs, unc := o.scan(argv)
		if unc {
			return uncertain(argv, i, false), nil
		}
		if none != "" && (strings.ContainsAny(flags, none) || slices.Contains(longs, "pid")) {
			return nil, nil
		}
		if i >= len(argv) {
			return nil, nil
		}
		return []run{{argv: argv[i:]}}, nil
	}
}

// shellDefault: a wrapper that runs a shell when given no command
// (unshare, nsenter, chroot, fakeroot: $SHELL, reading standard input).
func shellDefault(o opts) handler {
	return func(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
		i, _, _, unc := o.scan(argv)
		if unc {
			return uncertain(argv, i, false), nil
		}
		if i >= len(argv) {
			return []run{{stdin: &st}}, nil
		}
		return []run{{argv: argv[i:]}}, nil
	}
}

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"nohup":     wrapped(opts{}),
		"setsid":    wrapped(opts{}),
		"catchsegv": wrapped(opts{}),
		"chronic":   wrapped(opts{}),
		"ifne":      wrapped(opts{}),
		"unbuffer":  wrapped(opts{}),
		"builtin":   wrapped(opts{}),
		"valgrind":  wrapped(opts{}), // its options are --name=value
		"nice":      wrapped(opts{short: "n", long: []string{"adjustment"}}),
		"timeout":   wrapped(opts{short: "ks", long: []string{"kill-after", "signal"}, operands: 1}),
		"stdbuf":    wrapped(opts{short: "ioe", long: []string{"input", "output", "error"}}),
		"time":      wrapped(opts{short: "fo", long: []string{"format", "output"}}),
		"numactl":   wrapped(opts{short: "ipPCNmwISfMLo"}),
		"ionice":    wrappedIf(opts{short: "cnpPu", long: []string{"class", "classdata", "pid", "pgid", "uid"}}, "pPu"),
		"taskset":   wrappedIf(opts{operands: 1}, "p"),
		"chrt":      wrappedIf(opts{short: "TPD", operands: 1}, "pm"),
		"prlimit":   wrappedIf(opts{short: "po", long: []string{"pid", "output"}}, "p"),
		"strace":    straceLike("abeEIoOpPsSuUX"),
		"ltrace":    straceLike("aAbDeEFlnopsuwx"),
		"setpriv": wrapped(opts{long: []string{"reuid", "regid", "ruid", "rgid", "euid", "egid", "groups", "inh-caps",
			"ambient-caps", "bounding-set", "securebits", "pdeathsig", "selinux-label", "apparmor-profile",
			"landlock-access", "landlock-rule", "ptracer"}}),
		"unshare": shellDefault(opts{short: "SGRw", long: []string{"propagation", "setgroups", "boottime", "monotonic",
			"map-user", "map-group", "map-users", "map-groups", "setuid", "setgid", "root", "wd"}}),
		"nsenter":   shellDefault(opts{short: "tSG", long: []string{"target", "setuid", "setgid"}}),
		"chroot":    shellDefault(opts{long: []string{"userspec", "groups"}, operands: 1}),
		"fakeroot":  shellDefault(opts{short: "lsi", long: []string{"lib", "faked"}}),
		"xvfb-run":  wrapped(opts{short: "nsfepw", long: []string{"server-num", "server-args", "auth-file", "error-file", "xauth-protocol", "wait"}}),
		"ld.so":     loaderRun,
		"command":   commandRun,
		"exec":      execRun,
		"env":       envRun,
		"sudo":      sudoRun,
		"doas":      doasRun,
		"su":        suRun,
		"runuser":   runuserRun,
		"sg":        sgRun,
		"flock":     flockRun,
		"watch":     watchRun,
		"script":    scriptRun,
		"xargs":     xargsRun,
		"find":      findRun,
		"parallel":  parallelRun,
		"busybox":   appletRun,
		"toybox":    appletRun,
		"gdb":       gdbRun,
		"python":    pythonRun,
		"pypy":      pythonRun,
		"eval":      evalRun,
		"trap":      trapRun,
		"alias":     aliasRun,
		"hash":      hashRun,
		"complete":  completeRun,
		"compgen":   completeRun,
		"bind":      bindRun,
		"mapfile":   mapfileRun,
		"readarray": mapfileRun,
		"history":   historyRun,
		"fc":        fcRun,
		"enable":    enableRun,
		"source":    sourceRun,
		".":         sourceRun,
		"read":      readRun,
		"printf":    printfRun,
		"getopts":   getoptsRun,
		"test":      latentArgs,
		"[":         latentArgs,
		"unset":     latentArgs,
		"declare":   declRun,
		"typeset":   declRun,
		"local":     declRun,
		"export":    declRun,
		"readonly":  declRun,
	}
	for s := range shells {
		handlers[s] = shellRun
	}
	for h := range handlers {
		handlerNames = append(handlerNames, h)
	}
	// The likeliest first (they name the reading in a refusal), then
	// the rest in order.
	first := []string{"env", "sh", "bash", "eval", "sudo", "python", "xargs", "exec", "command"}
	slices.SortFunc(handlerNames, func(a, b string) int {
		ia, ib := slices.Index(first, a), slices.Index(first, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
}

// handlerNames are the names in handlers, likeliest first.
var handlerNames []string

// ---- shells ----

// shellRun parses a shell's arguments the way bash and dash do: -c makes
// the first operand after all options the command string (bash -c -e
// 'cmd' and bash -ec 'cmd' are the same), -o and -O take a value,
// --rcfile and --init-file take one, "-" and "--" end the options. The
// first operand without -c is a script file (its contents are the
// program's business, like any program's input); with -s, or with no
// operand, the shell reads commands from its standard input.
func shellRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	name := argv[0].text
	cmdMode, stdinMode, startup := false, false, false
	norc := false
	i := 1
	for i < len(argv) {
		a := argv[i]
		if a.open || a.pat != "" {
			return uncertain(argv, i, true), nil
		}
		t := a.text
		if t == "--" || t == "-" {
			i++
			break
		}
		if strings.HasPrefix(t, "--") {
			switch t {
			case "--login":
				startup = true
			case "--rcfile", "--init-file":
				startup = true
				i++
			case "--norc", "--noprofile", "--no-rcs", "--no-config":
				norc = true
			}
			i++
			continue
		}
		if t == "" || (t[0] != '-' && t[0] != '+') {
			break
		}
		i++
		for _, ch := range t[1:] {
			switch ch {
			case 'c':
				cmdMode = cmdMode || t[0] == '-'
			case 's':
				stdinMode = true
			case 'i', 'l':
				startup = true
			case 'f', 'N':
				norc = true // zsh -f, fish -N, csh -f: no startup files
			case 'o', 'O':
				i++ // -o OPTION, -O SHOPT
			}
		}
	}
	i = min(i, len(argv))
	rest := argv[i:]
	var runs []run
	// zsh, fish and csh read startup files even with -c; bash -i or -l,
	// --rcfile and --init-file too.
	if (startup || name == "zsh" || name == "fish" || name == "csh" || name == "tcsh") && !norc {
		runs = append(runs, run{note: fmt.Sprintf("%s runs its startup files (~/.profile, ~/.bashrc, ~/.zshenv...) before its commands", name)})
	}
	switch {
	case cmdMode:
		if len(rest) == 0 {
			return runs, nil // "option requires an argument": runs nothing
		}
		s := rest[0]
		return append(runs, run{script: &s, args: rest[1:], positional: true}), nil
	case !stdinMode && len(rest) > 0:
		if !rest[0].open && isStdinPath(rest[0].text) {
			return append(runs, run{stdin: &st}), nil
		}
		return runs, nil // a script file
	}
	return append(runs, run{stdin: &st}), nil
}

// pythonRun: python -m MODULE runs MODULE ("python -m pip install" is
// pip install); the deny list reaches inside, the allow list does not
// (an allowed interpreter may run its modules).
func pythonRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open {
			return nil, nil
		}
		if a.text == "-m" && i+1 < len(argv) {
			return []run{{argv: argv[i+1:], denyOnly: true}}, nil
		}
		if strings.HasPrefix(a.text, "-m") && len(a.text) > 2 {
			return []run{{argv: append([]field{literalField(a.text[2:])}, argv[i+1:]...), denyOnly: true}}, nil
		}
		if !strings.HasPrefix(a.text, "-") || a.text == "-c" || a.text == "-" {
			break
		}
	}
	return nil, nil
}

// loaderNames are the dynamic loader's names (ld.so(8)): ld.so,
// ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld-musl-x86_64.so.1...
// Compiled on first use: the CLI's cold start pays for no regexp
// (internal/deptest).
var loaderNames = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^ld(-linux[a-z0-9_-]*|-musl-[a-z0-9_]+)?\.so(\.[0-9]+)*$`)
})

// handlerFor returns the handler of a command name.
func handlerFor(name string) handler {
	if h := handlers[name]; h != nil {
		return h
	}
	if loaderNames().MatchString(name) {
		return loaderRun
	}
	return nil
}

// loaderRun: ld.so [OPTION]... PROGRAM [ARGS] loads and runs PROGRAM;
// --preload and --audit load code into it, like LD_PRELOAD and LD_AUDIT.
func loaderRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i, _, longs, unc := opts{long: []string{"library-path", "glibc-hwcaps-prepend", "glibc-hwcaps-mask", "inhibit-rpath",
		"audit", "preload", "argv0"}}.scan(argv)
	if unc {
		return uncertain(argv, i, false), nil
	}
	var runs []run
	if slices.Contains(longs, "preload") || slices.Contains(longs, "audit") || slices.Contains(longs, "library-path") {
		runs = append(runs, run{note: fmt.Sprintf("%s loads other code into the program it runs (--preload, --audit, --library-path)", argv[0].text)})
	}
	if slices.Contains(longs, "list") || slices.Contains(longs, "verify") || i >= len(argv) {
		return runs, nil
	}
	return append(runs, run{argv: argv[i:]}), nil
}

// ---- wrappers with their own grammar ----

// commandRun: command [-p] CMD runs CMD; command -v and -V only look it up.
func commandRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i, flags, _, unc := opts{}.scan(argv)
	if unc {
		return uncertain(argv, i, false), nil
	}
	if strings.ContainsAny(flags, "vV") || i >= len(argv) {
		return nil, nil
	}
	return []run{{argv: argv[i:]}}, nil
}

// execRun: exec [-cl] [-a NAME] [CMD]: with no command it only redirects.
func execRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i, _, _, unc := opts{short: "a"}.scan(argv)
	if unc {
		return uncertain(argv, i, false), nil
	}
	if i >= len(argv) {
		return nil, nil
	}
	return []run{{argv: argv[i:]}}, nil
}

// envRun: env [-i] [-u NAME] [-C DIR] [-S STRING] [NAME=VALUE]... [CMD]. The
// assignments are checked like the shell's; -S splits a string into
// words as a shell would (checked as one).
func envRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i := 1
	for i < len(argv) {
		a := argv[i]
		if a.open || a.pat != "" {
			return uncertain(argv, i, true), nil
		}
		t := a.text
		switch {
		case t == "--":
			i++
			return envCommand(c, argv[i:], x)
		case t == "-S" || t == "--split-string":
			if i+1 < len(argv) {
				s := argv[i+1]
				return []run{{script: &s, args: nil}}, nil
			}
			return nil, nil
		case strings.HasPrefix(t, "--split-string="):
			s := literalField(strings.TrimPrefix(t, "--split-string="))
			return []run{{script: &s}}, nil
		case strings.HasPrefix(t, "-S"):
			s := literalField(t[2:])
			return []run{{script: &s}}, nil
		case t == "-u" || t == "--unset" || t == "-C" || t == "--chdir" || t == "-a" || t == "--argv0":
			i += 2
			continue
		case strings.HasPrefix(t, "-") && t != "-":
			if k := strings.IndexAny(t[1:], "S"); k >= 0 && !strings.HasPrefix(t, "--") {
				// -iS'cmd' and the like
				s := literalField(t[k+2:])
				if s.text == "" && i+1 < len(argv) {
					s = argv[i+1]
				}
				return []run{{script: &s}}, nil
			}
		case strings.Contains(t, "="):
			if err := c.assignText(a, x, "env"); err != nil {
				return nil, err
			}
		default:
			return envCommand(c, argv[i:], x)
		}
		i++
	}
	return nil, nil
}

// envCommand: after env's options and "--", NAME=VALUE words still assign.
func envCommand(c *checker, rest []field, x ctx) ([]run, error) {
	for len(rest) > 0 && !rest[0].open && rest[0].pat == "" && strings.Contains(rest[0].text, "=") && !strings.HasPrefix(rest[0].text, "=") {
		if err := c.assignText(rest[0], x, "env"); err != nil {
			return nil, err
		}
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil, nil
	}
	return []run{{argv: rest}}, nil
}

// sudoRun: sudo [options] [NAME=VALUE]... [CMD]; -s and -i run a shell
// (with a command, it runs the command's words through that shell); -e,
// -l, -v, -k, -K and -V run no command.
func sudoRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	o := opts{short: "aCcDgpRrTtUu", long: []string{"close-from", "chdir", "group", "host", "prompt", "chroot",
		"role", "type", "command-timeout", "other-user", "user", "login-class"}}
	i, flags, longs, unc := o.scan(argv)
	if unc {
		return uncertain(argv, i, false), nil
	}
	if strings.ContainsAny(flags, "elvkKV") || slices.Contains(longs, "edit") || slices.Contains(longs, "list") || slices.Contains(longs, "validate") {
		return nil, nil
	}
	runs, err := envCommand(c, argv[i:], x)
	if err != nil {
		return nil, err
	}
	if strings.Contains(flags, "i") || slices.Contains(longs, "login") {
		runs = append(runs, run{note: "sudo -i runs the target user's login startup files"})
	}
	if len(runs) == 0 || (len(runs) == 1 && runs[0].note != "") {
		if strings.ContainsAny(flags, "si") || slices.Contains(longs, "shell") || slices.Contains(longs, "login") {
			runs = append(runs, run{stdin: &st})
		}
	}
	return runs, nil
}

// doasRun: doas [-Lns] [-C config] [-u user] CMD; -s runs a shell.
func doasRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i, flags, _, unc := opts{short: "Cu"}.scan(argv)
	if unc {
		return uncertain(argv, i, false), nil
	}
	if strings.ContainsAny(flags, "CL") {
		return nil, nil
	}
	if i >= len(argv) {
		if strings.Contains(flags, "s") {
			return []run{{stdin: &st}}, nil
		}
		return nil, nil
	}
	return []run{{argv: argv[i:]}}, nil
}

// suRun: su [options] [-] [USER [ARGS]] runs the user's shell (or -s
// SHELL) with -c COMMAND, or with ARGS; options may follow USER.
func suRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	var command, shell *field
	var positional []field
	login := false
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open || a.pat != "" {
			return uncertain(argv, i, true), nil
		}
		t := a.text
		switch {
		case t == "-" || t == "-l" || t == "--login":
			login = true
		case t == "-c" || t == "-C" || t == "--command" || t == "--session-command":
			if i+1 < len(argv) {
				command = &argv[i+1]
				i++
			}
		case strings.HasPrefix(t, "--command=") || strings.HasPrefix(t, "--session-command="):
			_, v, _ := strings.Cut(t, "=")
			f := literalField(v)
			command = &f
		case t == "-s" || t == "--shell":
			if i+1 < len(argv) {
				shell = &argv[i+1]
				i++
			}
		case strings.HasPrefix(t, "--shell="):
			f := literalField(strings.TrimPrefix(t, "--shell="))
			shell = &f
		case t == "-g" || t == "-G" || t == "-w" || t == "--group" || t == "--supp-group" || t == "--whitelist-environment":
			i++
		case strings.HasPrefix(t, "-") && len(positional) == 0:
		default:
			positional = append(positional, a)
		}
	}
	sh := literalField("sh")
	if shell != nil {
		sh = *shell
	}
	var runs []run
	if login {
		runs = append(runs, run{note: "su - runs the user's login startup files"})
	}
	shellArgv := []field{sh}
	switch {
	case command != nil:
		shellArgv = append(shellArgv, literalField("-c"), *command)
	case len(positional) > 1:
		shellArgv = append(shellArgv, positional[1:]...)
	}
	return append(runs, run{argv: shellArgv}), nil
}

// runuserRun: runuser -u USER [--] CMD [ARGS] runs CMD; without -u it
// takes su's arguments.
func runuserRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for _, a := range argv[1:] {
		if !a.open && (a.text == "-u" || a.text == "--user") {
			i, _, _, unc := opts{short: "ugG", long: []string{"user", "group", "supp-group", "whitelist-environment", "command", "session-command", "shell"}}.scan(argv)
			if unc {
				return uncertain(argv, i, false), nil
			}
			if i >= len(argv) {
				return nil, nil
			}
			return []run{{argv: argv[i:]}}, nil
		}
	}
	return suRun(c, argv, x, st)
}

// sgRun: sg [-] GROUP [-c] COMMAND runs COMMAND through sh -c.
func sgRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	rest := argv[1:]
	if len(rest) > 0 && !rest[0].open && rest[0].text == "-" {
		rest = rest[1:]
	}
	if len(rest) < 2 {
		return []run{{stdin: &st}}, nil
	}
	cmd := rest[1:]
	if !cmd[0].open && cmd[0].text == "-c" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		return nil, nil
	}
	s := joinFields(cmd)
	return []run{{script: &s}}, nil
}

// flockRun: flock [options] FILE CMD [ARGS] or flock [options] FILE -c STRING.
func flockRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i, _, _, unc := opts{short: "wE", long: []string{"timeout", "conflict-exit-code"}, operands: 1}.scan(argv)
	if unc {
		return uncertain(argv, i, true), nil
	}
	rest := argv[i:]
	if len(rest) == 0 {
		return nil, nil
	}
	if !rest[0].open && (rest[0].text == "-c" || rest[0].text == "--command") {
		if len(rest) < 2 {
			return nil, nil
		}
		s := rest[1]
		return []run{{script: &s}}, nil
	}
	return []run{{argv: rest}}, nil
}

// watchRun: watch [options] CMD... runs its words joined by spaces
// through sh -c; with -x (--exec) it runs them as argv.
func watchRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i, flags, longs, unc := opts{short: "nq", long: []string{"interval", "equexit"}}.scan(argv)
	if unc {
		return uncertain(argv, i, true), nil
	}
	rest := argv[i:]
	if len(rest) == 0 {
		return nil, nil
	}
	if strings.Contains(flags, "x") || slices.Contains(longs, "exec") {
		return []run{{argv: rest}}, nil
	}
	s := joinFields(rest)
	return []run{{script: &s}}, nil
}

// scriptRun: script [options] [FILE] runs -c COMMAND through the shell,
// or else an interactive shell reading from script's input.
func scriptRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open || a.pat != "" {
			return uncertain(argv, i, true), nil
		}
		t := a.text
		switch {
		case t == "--command" || t == "-c":
			if i+1 < len(argv) {
				s := argv[i+1]
				return []run{{script: &s}}, nil
			}
		case strings.HasPrefix(t, "--command="):
			s := literalField(strings.TrimPrefix(t, "--command="))
			return []run{{script: &s}}, nil
		case strings.HasPrefix(t, "--"):
			if !strings.Contains(t, "=") && slices.Contains([]string{"--echo", "--log-in", "--log-out", "--log-io", "--log-timing", "--logging-format", "--output-limit"}, t) {
				i++
			}
		case strings.HasPrefix(t, "-") && len(t) > 1:
			for j := 1; j < len(t); j++ {
				if t[j] == 'c' {
					if j+1 < len(t) {
						s := literalField(t[j+1:])
						return []run{{script: &s}}, nil
					}
					if i+1 < len(argv) {
						s := argv[i+1]
						return []run{{script: &s}}, nil
					}
				}
				if strings.IndexByte("EIOBTmo", t[j]) >= 0 {
					if j == len(t)-1 {
						i++
					}
					break
				}
			}
		}
	}
	return []run{{stdin: &st}}, nil
}

// appletRun: busybox APPLET ARGS runs the applet.
func appletRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	if len(argv) < 2 || (!argv[1].open && strings.HasPrefix(argv[1].text, "-")) {
		return nil, nil
	}
	return []run{{argv: argv[1:]}}, nil
}

// gdbRun: gdb --args PROGRAM ARGS runs PROGRAM. (gdb's own commands, -ex
// 'shell ...', are a program's input: gdb must be allowed to run.)
func gdbRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for i, a := range argv {
		if !a.open && a.text == "--args" && i+1 < len(argv) {
			return []run{{argv: argv[i+1:]}}, nil
		}
	}
	return nil, nil
}

// findRun: every -exec, -execdir, -ok and -okdir runs its command; {} is
// a file name found when it runs.
func findRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	var runs []run
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open || a.pat != "" {
			if a.vanish || a.pat != "" {
				return append(runs, uncertain(argv, i, false)...), nil
			}
			continue
		}
		switch a.text {
		case "-exec", "-execdir", "-ok", "-okdir":
			j := i + 1
			var cmd []field
			for ; j < len(argv); j++ {
				if !argv[j].open && (argv[j].text == ";" || argv[j].text == "+") {
					break
				}
				f := argv[j]
				if !f.open && strings.Contains(f.text, "{}") {
					f = field{open: true, src: f.show() + " (a file name found)"}
				}
				cmd = append(cmd, f)
			}
			if len(cmd) > 0 {
				runs = append(runs, run{argv: cmd})
			}
			i = j
		}
	}
	return runs, nil
}

// parallelRun: GNU parallel [options] COMMAND ::: ARGS runs COMMAND with
// {} replaced through the shell; with no COMMAND each argument is one.
func parallelRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	i, _, _, unc := opts{short: "ajSdEICnNLsP", long: []string{"arg-file", "jobs", "sshlogin", "delimiter", "colsep",
		"timeout", "delay", "results", "joblog", "tmpdir", "workdir", "env", "halt", "memfree", "load"}}.scan(argv)
	if unc {
		return uncertain(argv, i, true), nil
	}
	rest := argv[i:]
	sep := len(rest)
	for k, f := range rest {
		if !f.open && strings.HasPrefix(f.text, ":::") {
			sep = k
			break
		}
	}
	if sep == 0 {
		var runs []run
		for _, f := range rest {
			if !f.open && strings.HasPrefix(f.text, ":::") {
				continue
			}
			s := f
			runs = append(runs, run{script: &s})
		}
		if len(rest) == 0 {
			runs = append(runs, run{note: "parallel runs commands read from its standard input"})
		}
		return runs, nil
	}
	s := joinFields(rest[:sep])
	return []run{{script: &s}}, nil
}

// straceLike: strace and ltrace run the command after their options; -p
// attaches to a process instead; -E NAME=VALUE sets its environment.
func straceLike(short string) handler {
	return func(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
		i, flags, _, unc := opts{short: short}.scan(argv)
		if unc {
			return uncertain(argv, i, false), nil
		}
		for k := 1; k+1 < i; k++ {
			if argv[k].text == "-E" {
				if err := c.assignText(argv[k+1], x, argv[0].text+" -E"); err != nil {
					return nil, err
				}
			}
		}
		if strings.Contains(flags, "p") || i >= len(argv) {
			return nil, nil
		}
		return []run{{argv: argv[i:]}}, nil
	}
}

// ---- builtins that run a string ----

// evalRun: eval joins its words with spaces and runs the result.
func evalRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	if len(argv) < 2 {
		return nil, nil
	}
	rest := argv[1:]
	if !rest[0].open && rest[0].text == "--" {
		rest = rest[1:]
	}
	s := joinFields(rest)
	return []run{{script: &s}}, nil
}

// trapRun: trap [-lp] [ACTION] SIGNAL... runs ACTION when a signal (or
// EXIT, ERR, DEBUG, RETURN) comes. A single operand, "-" or an unsigned
// number first resets.
func trapRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	rest := argv[1:]
	for len(rest) > 0 && !rest[0].open && strings.HasPrefix(rest[0].text, "-") && rest[0].text != "-" {
		if rest[0].text == "--" {
			rest = rest[1:]
			break
		}
		if strings.ContainsAny(rest[0].text, "lp") {
			return nil, nil
		}
		rest = rest[1:]
	}
	if len(rest) < 2 {
		return nil, nil
	}
	a := rest[0]
	if !a.open && (a.text == "-" || isDigits(a.text)) {
		return nil, nil
	}
	return []run{{script: &a}}, nil
}

// aliasRun: alias NAME=VALUE... defines aliases; each value is shell code
// run where the alias is used, checked here as a program (it must parse
// on its own) and again at each use with the words that follow it.
func aliasRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	var runs []run
	for _, a := range argv[1:] {
		if a.open || a.pat != "" {
			if a.open && a.baseKnown {
				continue
			}
			runs = append(runs, run{note: fmt.Sprintf("alias %s is computed: any later command name may run other code", a.show())})
			continue
		}
		if _, v, ok := strings.Cut(a.text, "="); ok {
			s := literalField(v)
			runs = append(runs, run{script: &s})
		}
	}
	return runs, nil
}

// hashRun: hash -p PATH NAME makes NAME run PATH.
func hashRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open {
			return uncertain(argv, i, false), nil
		}
		if a.text == "-p" && i+1 < len(argv) {
			return []run{{argv: argv[i+1 : i+2]}}, nil
		}
	}
	return nil, nil
}

// completeRun: complete and compgen -C COMMAND run COMMAND to complete;
// -W WORDLIST is expanded (its command substitutions run).
func completeRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	var runs []run
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open {
			return append(runs, uncertain(argv, i, true)...), nil
		}
		if !strings.HasPrefix(a.text, "-") || i+1 >= len(argv) {
			continue
		}
		switch a.text {
		case "-C":
			s := argv[i+1]
			runs = append(runs, run{script: &s})
			i++
		case "-W":
			s := argv[i+1]
			runs = append(runs, run{script: &s, doc: true})
			i++
		case "-A", "-G", "-F", "-X", "-P", "-S", "-o":
			i++
		}
	}
	return runs, nil
}

// bindRun: bind -x 'KEYSEQ: COMMAND' runs COMMAND on a key press.
func bindRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	var runs []run
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open {
			return append(runs, uncertain(argv, i, true)...), nil
		}
		if a.text != "-x" || i+1 >= len(argv) {
			continue
		}
		b := argv[i+1]
		i++
		if b.open {
			runs = append(runs, run{script: &b})
			continue
		}
		_, cmd, ok := strings.Cut(b.text, ":")
		if !ok {
			continue
		}
		cmd = strings.TrimSpace(cmd)
		if len(cmd) >= 2 && (cmd[0] == '"' || cmd[0] == '\'') && cmd[len(cmd)-1] == cmd[0] {
			cmd = cmd[1 : len(cmd)-1]
		}
		s := literalField(cmd)
		runs = append(runs, run{script: &s})
	}
	return runs, nil
}

// mapfileRun: mapfile -C CALLBACK evaluates CALLBACK while it reads.
func mapfileRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	var runs []run
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open {
			return append(runs, uncertain(argv, i, true)...), nil
		}
		switch {
		case a.text == "-C" && i+1 < len(argv):
			s := argv[i+1]
			runs = append(runs, run{script: &s})
			i++
		case len(a.text) == 2 && a.text[0] == '-' && strings.IndexByte("dnOsuc", a.text[1]) >= 0:
			i++
		case !strings.HasPrefix(a.text, "-"):
			c.codeTarget(a.text, x, argv[0].text)
		}
	}
	return runs, nil
}

// historyRun: history -s ARGS adds a line that fc can run later.
func historyRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	if len(argv) > 2 && !argv[1].open && argv[1].text == "-s" {
		s := joinFields(argv[2:])
		return []run{{script: &s}}, nil
	}
	return nil, nil
}

// fcRun: fc runs commands from the shell's history (fc -l only lists).
func fcRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for _, a := range argv[1:] {
		if !a.open && strings.HasPrefix(a.text, "-") && strings.Contains(a.text, "l") {
			return nil, nil
		}
	}
	return []run{{note: "fc runs commands from the shell's history, which the policy does not see"}}, nil
}

// enableRun: enable -f FILE NAME loads a builtin from a shared object.
func enableRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for _, a := range argv[1:] {
		if a.open || (strings.HasPrefix(a.text, "-") && strings.Contains(a.text, "f")) {
			return []run{{note: fmt.Sprintf("%s loads a builtin from a shared object", display(argv))}}, nil
		}
	}
	return nil, nil
}

// sourceRun: . FILE and source FILE run FILE in this shell: its commands,
// and the functions and aliases it defines for later names, are not seen.
func sourceRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	rest := argv[1:]
	if len(rest) > 0 && !rest[0].open && rest[0].text == "--" {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil, nil
	}
	if !rest[0].open && isStdinPath(rest[0].text) {
		return []run{{stdin: &st}}, nil
	}
	return []run{{note: fmt.Sprintf("%q runs a file in this shell: its commands and the functions and aliases it defines are not checked", display(argv))}}, nil
}

// readRun: read assigns the variables it names; one that holds code (PS4)
// would get a value the policy does not see.
func readRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a.open {
			c.uncheck(x, "read assigns a computed variable name %s", a.show())
			continue
		}
		if len(a.text) == 2 && a.text[0] == '-' && strings.IndexByte("adinNptu", a.text[1]) >= 0 {
			i++
			continue
		}
		if !strings.HasPrefix(a.text, "-") {
			if err := c.latent(a.text, x); err != nil {
				return nil, err
			}
			c.codeTarget(a.text, x, "read")
		}
	}
	return nil, nil
}

// printfRun: printf -v NAME FORMAT assigns NAME.
func printfRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	if len(argv) > 3 && !argv[1].open && argv[1].text == "-v" {
		if argv[2].open {
			c.uncheck(x, "printf -v assigns a computed variable name %s", argv[2].show())
			return nil, nil
		}
		if err := c.latent(argv[2].text, x); err != nil {
			return nil, err
		}
		// The value is the format filled with the arguments: each piece
		// is checked as part of it.
		return nil, c.assignFields(argv[2].text, argv[3:], x, "printf -v")
	}
	return nil, nil
}

// getoptsRun: getopts OPTSTRING NAME assigns NAME.
func getoptsRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	if len(argv) > 2 && !argv[2].open {
		c.codeTarget(argv[2].text, x, "getopts")
	}
	return nil, nil
}

// latentArgs: test -v, [ -v and unset evaluate array subscripts in their
// literal arguments.
func latentArgs(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for _, a := range argv[1:] {
		if !a.open {
			if err := c.latent(a.text, x); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// declRun: declare and its kin as commands (builtin declare, command
// export): NAME=VALUE words assign.
func declRun(c *checker, argv []field, x ctx, st stdinSrc) ([]run, error) {
	for _, a := range argv[1:] {
		if a.open {
			c.uncheck(x, "%s of a computed word %s may set any variable", argv[0].text, a.show())
			continue
		}
		if strings.Contains(a.text, "=") && !strings.HasPrefix(a.text, "-") {
			if err := c.assignText(a, x, argv[0].text); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// joinFields joins words with spaces, as eval and sh -c "$*" do; the
// result is open when any word is.
func joinFields(fs []field) field {
	var text, src []string
	open := false
	for _, f := range fs {
		text = append(text, f.text)
		src = append(src, f.show())
		open = open || f.open || f.pat != ""
	}
	return field{text: strings.Join(text, " "), src: strings.Join(src, " "), open: open}
}
