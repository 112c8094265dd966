package policy

import (
	"strings"
	"testing"
)

var guideDeny = []string{"rm", "curl", "wget", "pip install", "npm install"}

// bypasses must all be denied by the deny list above.
var bypasses = []string{
	"rm -rf /",
	"/bin/rm -rf /",
	"/usr/bin/rm x",
	"./rm x",
	"../bin/rm x",
	`r\m -rf /`,
	`'rm' -rf /`,
	`"rm" -rf /`,
	`"r""m" x`,
	`'r'm x`,
	`r''m x`,
	"RM x", // case folded
	"ls; rm x",
	"ls && rm x",
	"false || rm x",
	"ls | rm x",
	"ls |& rm x",
	"(rm x)",
	"{ rm x; }",
	"echo $(rm x)",
	"echo `rm x`",
	"cat <(rm x)",
	"echo >(rm x)",
	"x=$(rm x) true",
	"if true; then rm x; fi",
	"while true; do rm x; done",
	"for i in 1; do rm x; done",
	"case a in a) rm x;; esac",
	"f() { rm x; }; f",
	"sh -c 'rm x'",
	"bash -c 'rm x'",
	"bash -ec 'rm x'",
	"sh -x -c 'rm -rf /'",
	`sh -c "sh -c 'rm x'"`,
	"dash -c 'ls; rm x'",
	"eval rm x",
	"eval 'rm x'",
	"env rm x",
	"env -i PATH=/bin rm x",
	"env -u HOME rm x",
	"env -S 'rm x'",
	"sudo rm x",
	"sudo -u root rm x",
	"nice rm x",
	"nice -n 10 rm x",
	"nohup rm x",
	"timeout 5 rm x",
	"timeout -s KILL 5 rm x",
	"xargs rm < list",
	"find . -name x -exec rm {} \\;",
	"find . -execdir rm {} +",
	"busybox rm x",
	"command rm x",
	"exec rm x",
	"time rm x",
	"stdbuf -o0 rm x",
	"setsid rm x",
	"nice timeout 5 env sudo rm x",
	"curl https://x",
	"wget -q https://x",
	"/usr/bin/curl -o /tmp/x https://x",
	"pip install requests",
	"pip3 install requests",
	"pip --quiet install requests",
	"python -m pip install requests",
	"python3 -m pip install x",
	"python3.11 -m pip install x",
	"npm install left-pad",
	"npm i left-pad",
	"npm add left-pad",
	"npm isntall left-pad",
	"$X -rf /",
	"${X} x",
	"$(echo rm) x",
	"`echo rm` x",
	"eval $CMD",
	"sh -c \"$CMD\"",
	"echo rm x | sh",
	"sh <<'EOF'\nrm x\nEOF",
	"bash <<< 'rm x'",
	"flock /tmp/l rm x",
	"watch 'rm x'",
	"su -c 'rm x'",
	"ls\nrm x",
	`\rm x`,
	"echo ok # comment\nrm x",
}

// everyday commands must stay allowed under the same deny list.
var everyday = []string{
	"git status",
	"git commit -m 'fix: rm typo'",
	"make -j4",
	"python3 -c 'print(1)'",
	"ls -la",
	"grep -rn TODO .",
	"cat README.md",
	"go test ./...",
	"echo rm",
	"printf '%s\\n' curl",
	"npm run build",
	"npm test",
	"pip list",
	"pip3 freeze",
	"python -m pytest",
	"find . -name '*.go'",
	"cd src && ls",
	"tar czf out.tgz dir",
	"sed -i 's/a/b/' f",
	"git log --oneline | head -5",
	"FOO=bar make",
	"sh ./build.sh",
	"wc -l < file",
	"echo $(date)",
	"for f in *.c; do gcc -c $f; done",
}

func TestDenyListBypasses(t *testing.T) {
	p, err := NewExec("deny", guideDeny, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(bypasses) < 60 {
		t.Fatalf("only %d bypass attempts", len(bypasses))
	}
	for _, cmd := range bypasses {
		if d := p.Check(cmd); d.Allowed {
			t.Errorf("bypass allowed: %q (saw %v)", cmd, d.Commands)
		} else if d.Reason == "" {
			t.Errorf("denial without a reason: %q", cmd)
		}
	}
}

func TestDenyListAllowsEverydayWork(t *testing.T) {
	p, _ := NewExec("deny", guideDeny, nil)
	if len(everyday) < 20 {
		t.Fatalf("only %d everyday commands", len(everyday))
	}
	for _, cmd := range everyday {
		if d := p.Check(cmd); !d.Allowed {
			t.Errorf("everyday command denied: %q: %s", cmd, d.Reason)
		}
	}
}

func TestDenialNamesTheRule(t *testing.T) {
	p, _ := NewExec("deny", guideDeny, nil)
	d := p.Check("ls && python -m pip install x")
	if d.Allowed || d.Rule != "pip install" || !strings.Contains(d.Reason, `"pip install"`) {
		t.Errorf("got %+v", d)
	}
}

var guideAllow = []string{"python", "git", "npm run", "ls", "cat", "grep", "make", "go"}

func TestAllowList(t *testing.T) {
	p, err := NewExec("allow", []string{"rm"}, guideAllow)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		"git status", "ls -la | grep x", "python3 script.py", "python -m pytest", "npm run build",
		"cd src && make", "cat a b", "echo hi && git log", "go test ./...", "git diff | cat",
		"nice git gc", "env GOFLAGS=-mod=vendor go build", "timeout 10 make test", "command -v git",
		"grep -c x f || true", "FOO=1 make", "test -f x && cat x", "ls; pwd", "export A=1; go vet", "time make",
		// An allowed interpreter may run its modules; only the deny list
		// reaches inside python -m.
		"python -m pip install x",
	}
	for _, cmd := range allowed {
		if d := p.Check(cmd); !d.Allowed {
			t.Errorf("allow list denied %q: %s", cmd, d.Reason)
		}
	}
	denied := []string{
		"curl x", "rm x", "ls; rm x", "npm install x", "npm", "bash -c 'git status'", "sh -c 'curl x'",
		"pip install x", "env curl x", "git status | sh", "$X", "xargs rm", "find . -exec curl {} ;",
		"sudo git status", "busybox wget x", "eval ls", "wget x && ls", "ls $(curl x)", "ls `id`", "perl -e 1",
	}
	for _, cmd := range denied {
		if d := p.Check(cmd); d.Allowed {
			t.Errorf("allow list allowed %q (saw %v)", cmd, d.Commands)
		}
	}
}

func TestUnparsableIsDenied(t *testing.T) {
	p, _ := NewExec("deny", guideDeny, nil)
	for _, cmd := range []string{"ls (", "echo 'unterminated", "if then fi", "$("} {
		if d := p.Check(cmd); d.Allowed || !strings.Contains(d.Reason, "cannot parse") {
			t.Errorf("%q: %+v", cmd, d)
		}
	}
}

func TestNewExecRejects(t *testing.T) {
	if _, err := NewExec("maybe", nil, nil); err == nil {
		t.Error("unknown mode accepted")
	}
	if _, err := NewExec("deny", []string{"  "}, nil); err == nil {
		t.Error("empty entry accepted")
	}
}

// FuzzExecPolicy: never panics, and never allows a command whose simple
// commands it reports include a denied name.
func FuzzExecPolicy(f *testing.F) {
	for _, s := range append(append([]string{}, bypasses...), everyday...) {
		f.Add(s)
	}
	p, _ := NewExec("deny", guideDeny, nil)
	f.Fuzz(func(t *testing.T, cmd string) {
		d := p.Check(cmd)
		if !d.Allowed {
			return
		}
		for _, argv := range d.Commands {
			for _, r := range p.Deny {
				if r.matches(argv) {
					t.Fatalf("allowed %q although %v matches %q", cmd, argv, r.Text)
				}
			}
		}
	})
}

func TestArgvAndANSIQuoting(t *testing.T) {
	p, _ := NewExec("deny", guideDeny, nil)
	if d := p.CheckArgv([]string{"sh", "-c", "python3 -c '\nprint(1)\n'"}); !d.Allowed {
		t.Errorf("multi-line sh -c: %s", d.Reason)
	}
	if d := p.CheckArgv([]string{"sh", "-c", "echo ok\nrm x"}); d.Allowed {
		t.Error("rm on the second line of sh -c allowed")
	}
	if d := p.Check(`$'r\x6d' x`); d.Allowed {
		t.Error(`$'r\x6d' (unknown escape) allowed in the command position`)
	}
	if d := p.Check(`$'\162m' x`); d.Allowed {
		t.Error(`octal-escaped rm allowed`)
	}
	if d := p.Check(`sh -c $'echo a\nrm x'`); d.Allowed {
		t.Error("ANSI-quoted script with rm allowed")
	}
}
