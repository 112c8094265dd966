package policy

import (
	"slices"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

var guideDeny = []string{"rm", "curl", "wget", "pip install", "npm install"}

// guideAllow never lists rm, and lists sh so that the allow list's
// refusals below come from what sh runs.
var guideAllow = []string{"python", "git", "npm run", "ls", "cat", "grep", "make", "go", "sh", "echo"}

func mustExec(t testing.TB, o Options) *Exec {
	t.Helper()
	p, err := NewExec(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func denyMode(t testing.TB) *Exec { return mustExec(t, Options{Deny: guideDeny}) }
func allowMode(t testing.TB) *Exec {
	return mustExec(t, Options{Mode: "allow", Deny: guideDeny, Allow: guideAllow})
}

// bypasses must be refused in deny mode (rm denied) and in allow mode.
// Each line is a class the red team or the brief named, or a neighbour.
var bypasses = []string{
	// plain names, quoting, escapes, paths, case
	"rm -rf /", "/bin/rm -rf /", "./rm x", "../bin/rm x", `r\m -rf /`, `'rm' -rf /`, `"r""m" x`, `r''m x`,
	"RM x", `\rm x`, `$'\x72m' x`, `$'\162m' x`, `$'\u0072m' x`, `$'r\cMm'x; rm x`,
	// every simple command of the program
	"ls; rm x", "ls && rm x", "false || rm x", "ls | rm x", "ls |& rm x", "(rm x)", "{ rm x; }",
	"echo $(rm x)", "echo `rm x`", "cat <(rm x)", "echo >(rm x)", "x=$(rm x) true", "if true; then rm x; fi",
	"while true; do rm x; done", "for i in 1; do rm x; done", "case a in a) rm x;; esac", "f() { rm x; }; f",
	"ls\nrm x", "echo ok # comment\nrm x", "time rm x", "coproc rm x", "! rm x",
	// globs in a command name
	"/usr/bin/r[m] x", "/?sr/bin/r? x", "/usr/bin/r* x", "/usr/*/rm x", "@(rm|ls) x", "!(ls) x", "+(r)m x",
	"*(r)m x", "/bin/?m x", "/bin/[q-s]m x", "/bin/R? x", "p?p install requests", "pip [i]nstall requests",
	"/bin/s? -c 'rm x'", "/usr/bin/e?v rm x",
	// brace expansion
	"bash -c '{rm,victim}'", "{rm,victim}", "r{m,} x", "{/bin/rm,-rf,/}", "sh -c '{rm,x}'",
	// tilde: the directory is computed, the name is not
	"~/bin/rm x", "~root/../bin/rm x", `"$HOME"/bin/rm x`, `"$d/rm" x`,
	// strings run later
	`trap "rm x" EXIT`, "trap 'rm x' ERR DEBUG", "trap -- 'rm x' EXIT",
	"shopt -s expand_aliases; alias x=rm; x victim", "shopt -s expand_aliases\nalias x=rm\nx victim",
	"alias x='sh -c'\nx 'rm v'", "alias x='ls; rm'", "alias p=pip\np install requests", "alias s='sudo '\nalias y=rm\ns y v",
	"hash -p /bin/rm x; x victim", "hash -p /usr/bin/pip p; p install requests",
	"complete -C 'rm x' ls", "compgen -C 'rm x' y", "compgen -W '$(rm x)' y", `bind -x '"\C-x": rm x'`,
	"mapfile -C 'rm x' -c 1 a <<< y", "history -s 'rm x'; fc -s", "PS4='$(rm x)'; set -x; ls", "PROMPT_COMMAND='rm x'",
	"export PS1='`rm x`'", "declare PS4='$(rm x)'", "printf -v PS4 '%s' '$(rm x)'", "x='a[$(rm v)]'; ((x))",
	"test -v 'a[$(rm v)]'", "PAGER='rm x' git log", "env GIT_SSH_COMMAND='rm x' git fetch",
	// wrappers
	"sh -c 'rm x'", "bash -ec 'rm x'", "bash -c -e 'rm x'", "bash -O extglob -c 'rm x'", "bash --norc -c 'rm x'",
	"bash --rcfile /dev/null -c 'rm x'", "sh -o errexit -c 'rm x'", "bash -euo pipefail -c 'rm x'",
	`sh -c "sh -c 'rm x'"`, "dash -c 'ls; rm x'", "eval rm x", "eval 'rm x'", `eval "r""m x"`, "env rm x",
	"env -i PATH=/bin rm x", "env -u HOME rm x", "env -S 'rm x'", "env -iS'rm x'", "env -- rm x", "env A=1 -- B=2 rm x",
	"sudo rm x", "sudo -u root rm x", "sudo -E -- rm x", "sudo A=1 rm x", "doas rm x", "su -c 'rm x'",
	"su root -c 'rm x'", "su -s /bin/rm root", "runuser -u nobody -- rm x", "sg wheel 'rm x'", "nice rm x",
	"nice -n 10 rm x", "nice -n10 rm x", "nohup rm x", "timeout 5 rm x", "timeout -s KILL 5 rm x", "timeout -k5 10 rm x",
	"xargs rm < list", "find . -name x -exec rm {} \\;", "find . -execdir rm {} +", "find . -exec true \\; -exec rm {} \\;",
	"busybox rm x", "busybox sh -c 'rm x'", "toybox rm x", "command rm x", "command -p rm x", "exec rm x", "exec -a ls rm x",
	"builtin eval 'rm x'", "stdbuf -o0 rm x", "stdbuf -oL rm x", "setsid rm x", "taskset 1 rm x", "taskset -c 0 rm x",
	"ionice -c3 rm x", "chrt 1 rm x", "prlimit --nofile=10 rm x", "numactl -C 0 rm x", "strace -f rm x",
	"ltrace rm x", "valgrind --tool=none rm x", "gdb --args rm x", "unshare -r rm x", "chroot / rm x",
	"setpriv --no-new-privs rm x", "fakeroot rm x", "flock /tmp/l rm x", "flock /tmp/l -c 'rm x'", "watch 'rm x'",
	"watch -n 1 rm x", "watch -x rm x", "script -qc 'rm x'", "script -c 'rm x' /dev/null", "parallel rm ::: x",
	"parallel ::: 'rm x'", "nice timeout 5 env sudo rm x", "python -m pip install requests", "python3 -m pip install x",
	"python3.11 -m pip install x", "python3 -mpip install x", "curl https://x", "wget -q https://x",
	"/usr/bin/curl -o /tmp/x https://x", "pip install requests", "pip3 install requests", "pip --quiet install requests",
	"npm install left-pad", "npm i left-pad", "npm add left-pad", "npm isntall left-pad",
	// scripts on standard input
	"echo rm x | sh", "printf 'rm x' | bash", "sh <<'EOF'\nrm x\nEOF", "bash <<< 'rm x'", "cat <<EOF | sh\nrm x\nEOF",
	"sh -s <<EOF\nrm x\nEOF", ". /dev/stdin <<< 'rm x'", "sh /dev/stdin <<< 'rm x'", "echo rm x | xargs sh -c",
	"echo 'rm x' | xargs -I{} sh -c '{}'", "sh -c 'sh' <<< 'rm x'", "script -qc sh <<< 'rm x'",
	// values the command string gives its expansions
	"x=rm; $x victim", "$X rm v", "${x:-rm} v", "x=r; y=m; $x$y v", `f() { "$@"; }; f rm v`, `bash -c '"$@"' _ rm v`,
	`sh -c '$0 v' rm`, "a=(rm v); \"${a[@]}\"", "$(echo rm) x", "`echo rm` x", "for c in ls rm; do $c x; done",
	"read c <<< rm; $c x", "declare -n r=x; x=rm; $r v", "set -- rm x; \"$@\"", "x=rrm; ${x#r} v",
	"x=Xm; ${x/X/r} v", "x=XmX; ${x//X/r}m", "sh -c \"$(echo rm) x\"", "eval \"$(echo rm x)\"", `command_not_found_handle() { /bin/r"$1" v; }; m`,
	"env -[S] 'rm x'", "timeout \"$T\" 1 5 rm x", "sudo $F rm x", "$SHELL -c 'rm x'", "$PY -m pip install x",
	"x='rm x'; sh -c \"$x\"", "x='rm x'; eval \"$x\"", "RM='rm -f'; $RM x",
	"{r,x}m" + strings.Repeat("{,}", 40) + " v",
	"/lib64/ld-linux-x86-64.so.2 /bin/rm x", "ld.so --argv0 ls rm x", "eval \"$(printf 'r%s' m) x\"",
	"$(printf '%s%s' r m) x", "sh < <(echo rm x)", "printf -v c '%s%s' r m; $c v",
}

// bypassesDenyOnly are refused in deny mode; in allow mode their
// wrapper is not listed, which refuses them too, but for another reason.
var computedOnly = []string{
	"$X -rf /", "${X} x", "sh -i", "bash --login -c ls", "eval $CMD", `sh -c "$CMD"`, "base64 -d <<< cm0= | sh", "source ./env.sh",
	". ./x.sh", "LD_PRELOAD=./evil.so ls", "export BASH_ENV=./x; bash -c ls", "bash -lc ls", "zsh -c ls",
	"enable -f ./x.so ls", "fc -s", "alias \"$a\"=ls", "$(cat cmd.txt) x", "/usr/bin/pyth?n3 x.py",
	"sh -c \"$(cat f)\"", "find . -exec {} \\;", "cat f | sh", "curl_=x; $curl_",
	"/lib64/ld-linux-x86-64.so.2 --preload ./x.so /bin/ls", "sudo -i",
}

// everyday shell must stay allowed in deny mode with nothing flagged.
var everyday = []string{
	"git status", "git commit -m 'fix: rm typo'", "make -j4", "python3 -c 'print(1)'", "ls -la", "grep -rn TODO .",
	"cat README.md", "go test ./...", "echo rm", "printf '%s\\n' curl", "npm run build", "npm test", "pip list",
	"pip3 freeze", "python -m pytest", "find . -name '*.go'", "cd src && ls", "tar czf out.tgz dir",
	"sed -i 's/a/b/' f", "git log --oneline | head -5", "FOO=bar make", "sh ./build.sh", "wc -l < file",
	"echo $(date)", "for f in *.c; do gcc -c $f; done", "for f in *.go; do gofmt -l \"$f\"; done", "cd sub && make",
	"sh -s <<'EOF'\necho hi\nmake\nEOF", "bash <<EOF\ngo vet ./...\nEOF", "command -v curl >/dev/null || echo none",
	"if command -v rm; then :; fi", "type curl", "which rm", "grep -w rm *.sh", "git grep -n 'rm -rf'",
	"trap 'echo done' EXIT; make", "trap - EXIT", "trap INT", "alias ll='ls -l'", "set -euo pipefail; make",
	"x=1; echo $((x+1))", "[ -f go.mod ] && go build ./...", "npm run build 2>&1 | tail -20",
	"find . -name '*.go' -exec gofmt -l {} +", "xargs -0 grep -l TODO < files", "echo a b | xargs echo",
	"timeout 60 go test ./...", "nice -n 10 make", "env GOFLAGS=-mod=vendor go build", "PAGER=cat git log",
	"ENV=production make deploy", "PYTHONPATH=src python -m pytest", "PS4='+ $LINENO: '; set -x; make",
	"sh -c 'set -eu; cat -- \"$1\"' openclaw-sandbox-fs /workspace/a.txt",
	"set -eu\nf=\"$1\"\nif [ -f \"$f\" ]; then cat -- \"$f\"; fi",
	"python3 - <<'PY'\nimport os\nprint(os.getcwd())\nPY", "cat > build.sh <<'EOF'\nrm -rf out\nEOF",
	"echo '$(rm x)'", "git commit -m \"$(cat msg.txt)\"", "tee out.txt < in.txt", "exec 3<&0",
	"script -q -c 'make test' /dev/null", "busybox --list", "sudo -l", "env", "env -i", "command -V curl",
	"awk '{print $1}' f", "python3 -m venv .venv", "npm ci", "go run ./cmd/x", "trap 'make clean' EXIT; x=1",
	"[ -d out ] || mkdir out", "IFS=, read -r a b <<< \"$line\"", "while IFS= read -r l; do echo \"$l\"; done < f", "test -n \"$x\" && echo set", "ls [abc]*.go", "echo [",
}

// everydayFlagged must stay allowed in deny mode, with Unchecked.
var everydayFlagged = []string{
	"x=echo; $x hi", "$CC -o prog main.c", `run() { echo "+ $*"; "$@"; }; run make test`, `"$@"`,
	"python3 -m venv .venv && . .venv/bin/activate && pytest", "$EDITOR notes.txt", "eval \"$(ssh-agent -s)\"",
	"for t in ./test_*.sh; do \"$t\"; done", "cmd=ls; $cmd -la", "$(go env GOROOT)/bin/go version",
}

func TestBypassesRefusedInDenyMode(t *testing.T) {
	p := denyMode(t)
	for _, cmd := range bypasses {
		if d := p.Check(cmd); d.Allowed {
			t.Errorf("deny mode allowed %q (saw %v, unchecked %v)", cmd, d.Commands, d.Unchecked)
		} else if d.Reason == "" {
			t.Errorf("refusal without a reason: %q", cmd)
		}
	}
}

func TestBypassesRefusedInAllowMode(t *testing.T) {
	p := allowMode(t)
	for _, cmd := range append(slices.Clone(bypasses), computedOnly...) {
		if d := p.Check(cmd); d.Allowed {
			t.Errorf("allow mode allowed %q (saw %v, unchecked %v)", cmd, d.Commands, d.Unchecked)
		}
	}
}

func TestComputedCommandsFollowTheSetting(t *testing.T) {
	audit := denyMode(t)
	strict := mustExec(t, Options{Deny: guideDeny, Dynamic: DynamicDeny})
	for _, cmd := range append(slices.Clone(computedOnly), everydayFlagged...) {
		d := audit.Check(cmd)
		if !d.Allowed || len(d.Unchecked) == 0 {
			t.Errorf("deny mode, dynamic audit: %q: want allowed and flagged, got %s", cmd, d)
		}
		s := strict.Check(cmd)
		if s.Allowed || s.Rule != "dynamicCommands" || !strings.Contains(s.Reason, "dynamicCommands") {
			t.Errorf("deny mode, dynamic deny: %q: want refused by dynamicCommands, got %s (rule %q)", cmd, s, s.Rule)
		}
		if !slices.Equal(s.Unchecked, d.Unchecked) {
			t.Errorf("%q: the setting changed what is unchecked: %v vs %v", cmd, d.Unchecked, s.Unchecked)
		}
	}
}

func TestEverydayShellIsAllowed(t *testing.T) {
	p := denyMode(t)
	for _, cmd := range everyday {
		if d := p.Check(cmd); !d.Allowed || len(d.Unchecked) > 0 {
			t.Errorf("everyday command %q: %s", cmd, d)
		}
	}
}

func TestNoListsChecksNothing(t *testing.T) {
	for _, o := range []Options{{}, {Mode: "deny", Allow: []string{"git"}}, {Dynamic: DynamicDeny}} {
		p := mustExec(t, o)
		for _, cmd := range []string{"rm -rf /", "x=echo; $x hi", "ls (", "echo 'unterminated", "/usr/bin/r[m] x"} {
			d := p.Check(cmd)
			if !d.Allowed || len(d.Unchecked) > 0 || d.Reason != "" {
				t.Errorf("%+v: %q: %s", o, cmd, d)
			}
		}
		if d := p.CheckArgv([]string{"rm", "-rf", "/"}); !d.Allowed {
			t.Errorf("%+v: argv: %s", o, d)
		}
		if d := p.CheckInput("sh", "rm -rf /\n"); !d.Allowed {
			t.Errorf("%+v: input: %s", o, d)
		}
	}
}

func TestDefaults(t *testing.T) {
	if p := denyMode(t); p.Dynamic != DynamicAudit || p.Mode != "deny" {
		t.Errorf("deny mode: %+v", p)
	}
	if p := allowMode(t); p.Dynamic != DynamicDeny {
		t.Errorf("allow mode: %+v", p)
	}
	if p := mustExec(t, Options{Mode: "allow", Allow: []string{"ls"}, Dynamic: DynamicAudit}); p.Dynamic != DynamicAudit {
		t.Errorf("explicit audit: %+v", p)
	}
}

func TestNewExecRejects(t *testing.T) {
	for _, o := range []Options{{Mode: "maybe"}, {Deny: []string{"  "}}, {Dynamic: "sometimes"}} {
		if _, err := NewExec(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestDenialNamesTheRule(t *testing.T) {
	p := denyMode(t)
	for cmd, rule := range map[string]string{
		"ls && python -m pip install x": "pip install",
		"/usr/bin/r[m] x":               "rm",
		"x=rm; $x v":                    "rm",
		"trap 'curl x' EXIT":            "curl",
	} {
		d := p.Check(cmd)
		if d.Allowed || d.Rule != rule || !strings.Contains(d.Reason, `"`+rule+`"`) {
			t.Errorf("%q: rule %q, reason %q", cmd, d.Rule, d.Reason)
		}
	}
}

func TestAllowList(t *testing.T) {
	p := mustExec(t, Options{Mode: "allow", Deny: []string{"rm"}, Allow: []string{"python", "git", "npm run", "ls", "cat", "grep", "make", "go"}})
	allowed := []string{
		"git status", "ls -la | grep x", "python3 script.py", "python -m pytest", "npm run build",
		"cd src && make", "cat a b", "echo hi && git log", "go test ./...", "git diff | cat",
		"nice git gc", "env GOFLAGS=-mod=vendor go build", "timeout 10 make test", "command -v git",
		"grep -c x f || true", "FOO=1 make", "test -f x && cat x", "ls; pwd", "export A=1; go vet", "time make",
		// An allowed interpreter may run its modules; only the deny list
		// reaches inside python -m.
		"python -m pip install x",
		// Strings run later are judged by what they run.
		"trap 'make clean' EXIT; make", "eval 'git status'", "alias g=git", "{git,status}",
		"for f in *.go; do go vet \"$f\"; done",
	}
	for _, cmd := range allowed {
		if d := p.Check(cmd); !d.Allowed {
			t.Errorf("allow list refused %q: %s", cmd, d.Reason)
		}
	}
	denied := []string{
		"curl x", "rm x", "ls; rm x", "npm install x", "npm", "bash -c 'git status'", "sh -c 'curl x'",
		"pip install x", "env curl x", "git status | sh", "$X", "xargs rm", "find . -exec curl {} ;",
		"sudo git status", "busybox wget x", "wget x && ls", "ls $(curl x)", "ls `id`", "perl -e 1",
		"x=git; $x status", "trap 'curl x' EXIT", "alias g=curl", "awk '{print}'", "sed -n 1p f",
		"alias ll='ls -l'\nll", // the name ll may run a program named ll when aliases are off
		"npm $cmd", "git status | xargs echo", "eval \"$x\"",
	}
	for _, cmd := range denied {
		if d := p.Check(cmd); d.Allowed {
			t.Errorf("allow list allowed %q (saw %v)", cmd, d.Commands)
		}
	}
	// With dynamicCommands audit, computed names run, flagged; the
	// lists still apply to every name that is known.
	a := mustExec(t, Options{Mode: "allow", Deny: []string{"rm"}, Allow: []string{"git", "echo"}, Dynamic: DynamicAudit})
	if d := a.Check("x=git; $x status"); !d.Allowed || len(d.Unchecked) == 0 {
		t.Errorf("audit: %s", d)
	}
	if d := a.Check("x=git; $x status; curl y"); d.Allowed {
		t.Errorf("audit: curl allowed: %s", d)
	}
}

func TestUnparsableIsRefused(t *testing.T) {
	p := denyMode(t)
	for _, cmd := range []string{"ls (", "echo 'unterminated", "if then fi", "$(", "sh -c 'ls ('", "alias x='echo $('"} {
		if d := p.Check(cmd); d.Allowed || !strings.Contains(d.Reason, "cannot parse") {
			t.Errorf("%q: %s", cmd, d)
		}
	}
}

func TestNestingIsBounded(t *testing.T) {
	p := denyMode(t)
	cmd := "ls"
	for range maxDepth + 2 {
		q, err := syntax.Quote(cmd, syntax.LangBash)
		if err != nil {
			t.Fatal(err)
		}
		cmd = "sh -c " + q
	}
	if d := p.Check(cmd); d.Allowed || !strings.Contains(d.Reason, "nested") {
		t.Errorf("deep nesting: %s", d)
	}
	// A large program is checked (or refused as too large), not looped on.
	big := strings.Repeat("$a $b $c $d; ", 5000) + "x=rm; $x v"
	if d := p.Check(big); d.Allowed && len(d.Unchecked) == 0 {
		t.Errorf("big program allowed unflagged")
	}
}

func TestCommandsAreRecorded(t *testing.T) {
	p := denyMode(t)
	d := p.Check("cd src && sudo -u a make -j2 | tee log")
	want := [][]string{{"cd", "src"}, {"sudo", "-u", "a", "make", "-j2"}, {"make", "-j2"}, {"tee", "log"}}
	if !d.Allowed || len(d.Commands) != len(want) {
		t.Fatalf("got %s %q", d, d.Commands)
	}
	for i := range want {
		if !slices.Equal(d.Commands[i], want[i]) {
			t.Errorf("command %d: %q, want %q", i, d.Commands[i], want[i])
		}
	}
	d = p.Check(`x=ls; "$x" -la`)
	if !d.Allowed || len(d.Unchecked) != 1 || !strings.Contains(d.Unchecked[0], `"$x"`) {
		t.Errorf("unchecked: %q", d.Unchecked)
	}
}

func TestCheckArgv(t *testing.T) {
	p := denyMode(t)
	for _, c := range []struct {
		argv    []string
		allowed bool
	}{
		{[]string{"sh", "-c", "python3 -c '\nprint(1)\n'"}, true},
		{[]string{"sh", "-c", "echo ok\nrm x"}, false},
		{[]string{"sh", "-c", "set -eu; cat -- \"$1\"", "fs", "/workspace/a"}, true},
		{[]string{"sh", "-c", "\"$@\"", "fs", "rm", "x"}, false},
		{[]string{"/usr/bin/r[m]", "x"}, true}, // no shell: no glob; that file name is not rm
		{[]string{"$X", "x"}, true},            // no shell: a file named $X
		{[]string{"env", "rm", "x"}, false},
		{[]string{"sudo", "--", "rm"}, false},
	} {
		if d := p.CheckArgv(c.argv); d.Allowed != c.allowed {
			t.Errorf("%q: %s", c.argv, d)
		}
	}
	if d := p.CheckArgv(nil); d.Allowed {
		t.Error("empty argv allowed")
	}
}

func TestANSIQuoting(t *testing.T) {
	for in, want := range map[string]string{
		`r\x6d`: "rm", `\162m`: "rm", `\u0072m`: "rm", `\U00000072m`: "rm", `a\tb`: "a\tb", `\cA`: "\x01", `\'`: "'",
	} {
		if got, ok := ansiC(in); !ok || got != want {
			t.Errorf("ansiC(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{`\q`, `\x`, `\c`} {
		if _, ok := ansiC(in); ok {
			t.Errorf("ansiC(%q) claims to know it", in)
		}
	}
	p := denyMode(t)
	if d := p.Check(`$'\q' x`); !d.Allowed || len(d.Unchecked) == 0 {
		t.Errorf("unknown escape in a name: %s", d)
	}
}

// FuzzExecPolicy: Check never panics; an allowed command never reports a
// simple command that a deny rule matches; and a literal rm in command
// position anywhere in the parsed program is never allowed.
func FuzzExecPolicy(f *testing.F) {
	for _, s := range slices.Concat(bypasses, computedOnly, everyday, everydayFlagged) {
		f.Add(s)
	}
	p := denyMode(f)
	a := allowMode(f)
	f.Fuzz(func(t *testing.T, cmd string) {
		d := p.Check(cmd)
		a.Check(cmd)
		p.CheckInput(cmd, cmd+"\n")
		if !d.Allowed {
			if d.Reason == "" {
				t.Fatalf("refused %q without a reason", cmd)
			}
			return
		}
		for _, argv := range d.Commands {
			fs := make([]field, len(argv))
			for i, w := range argv {
				fs[i] = literalField(w)
			}
			for _, r := range p.Deny {
				if len(fs) > 0 && r.match(fs) == yes {
					t.Fatalf("allowed %q although %q matches %q", cmd, argv, r.Text)
				}
			}
		}
		if file, err := parse(cmd); err == nil {
			syntax.Walk(file, func(n syntax.Node) bool {
				if call, ok := n.(*syntax.CallExpr); ok && len(call.Args) > 0 && call.Args[0].Lit() == "rm" {
					t.Fatalf("allowed %q although it runs rm (unchecked %v)", cmd, d.Unchecked)
				}
				return true
			})
		}
	})
}
