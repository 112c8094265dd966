package policy

import (
	"strings"
	"testing"
)

func TestCheckInput(t *testing.T) {
	p := denyMode(t)
	for _, c := range []struct {
		command, data string
		allowed       bool
		unchecked     bool
	}{
		// a shell reading commands from its input: the data is a script
		{"sh", "rm x\n", false, false},
		{"bash -s", "echo a; rm x\n", false, false},
		{"bash -i", "ls\nrm x\n", false, false},
		{"sh", "echo hi\nmake\n", true, false},
		{"sh", "", true, false},
		{"sh /dev/stdin", "rm x\n", false, false},
		{"timeout 60 bash", "rm x\n", false, false},
		{"sudo -s", "rm x\n", false, false},
		{"su", "rm x\n", false, false},
		{"script -qc sh", "rm x\n", false, false},
		{"sh -c sh", "rm x\n", false, false},
		{"cat | sh", "rm x\n", false, false},
		{"stdbuf -o0 cat | head -n 100 | bash", "rm x\n", false, false},
		{"sh", "x=rm; $x v\n", false, false},
		{"sh", "x=echo; $x hi\n", true, true},
		// a write must end a line: the shell joins a partial one with the
		// next write, which is checked apart ("r" then "m x\n")
		{"sh", "r", false, false},
		{"sh", "echo a \\\n", false, false},
		{"sh", "echo 'a\n", false, false},
		{"sh", "cat <<EOF\n", false, false},
		// xargs runs its command with the words read
		{"xargs sh -c", "'rm x'\n", false, false},
		{"xargs -I{} sh -c '{}'", "rm x\n", false, false},
		{"xargs -n 1 sh -c", "ls 'rm x'\n", false, false},
		{"xargs -0 sh -c", "rm x\x00", false, false},
		{"xargs", "rm x\n", true, false}, // echo rm x
		{"xargs rm", "x\n", false, false},
		{"xargs sh -c", "rm x", false, false}, // no final newline
		{"xargs grep -l TODO", "a.go b.go\n", true, false},
		// read feeding a computed command: tried with the values read
		{"while read l; do $l; done", "rm x\n", false, false},
		{"while read -r f; do wc -l \"$f\"; done", "rm\n", true, false},
		// data that is not run as commands
		{"cat > notes.txt", "rm -rf /\n", true, false},
		{"grep rm", "rm\n", true, false},
		// programs that run their input in their own language: not read
		// (documented; the write is audited and the jail is the boundary)
		{"python3 -", "import os; os.system('rm x')\n", true, false},
		{"awk '{system($0)}'", "rm x\n", true, false},
		{"sed e", "rm x\n", true, false},
		// only what the data makes is reported
		{"x=echo; $x hi; sh", "ls\n", true, false},
	} {
		d := p.CheckInput(c.command, c.data)
		if d.Allowed != c.allowed || (d.Allowed && (len(d.Unchecked) > 0) != c.unchecked) {
			t.Errorf("CheckInput(%q, %q): %s", c.command, c.data, d)
		}
		if !d.Allowed && d.Reason == "" {
			t.Errorf("CheckInput(%q, %q): refused without a reason", c.command, c.data)
		}
	}
	strict := mustExec(t, Options{Deny: guideDeny, Dynamic: DynamicDeny})
	if d := strict.CheckInput("sh", "x=echo; $x hi\n"); d.Allowed || d.Rule != "dynamicCommands" {
		t.Errorf("dynamic deny: %s", d)
	}
	a := allowMode(t)
	if d := a.CheckInput("sh", "git status\nls\n"); !d.Allowed {
		t.Errorf("allow mode, allowed commands: %s", d)
	}
	if d := a.CheckInput("sh", "tar xf x.tgz\n"); d.Allowed || !strings.Contains(d.Reason, "allowCommands") {
		t.Errorf("allow mode, unlisted command: %s", d)
	}
}

func TestXargsWords(t *testing.T) {
	for in, want := range map[string][]string{
		"a b\nc":            {"a", "b", "c"},
		`'rm x' "y z" w\ v`: {"rm x", "y z", "w v"},
		"  lead  trail  \n": {"lead", "trail"},
	} {
		if got := xargsWords(in, ""); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("xargsWords(%q) = %q, want %q", in, got, want)
		}
	}
	if got := xargsWords("a b\x00c\x00", "\x00"); len(got) != 2 || got[0] != "a b" {
		t.Errorf("NUL-delimited: %q", got)
	}
}
