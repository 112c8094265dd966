package policy

import (
	"reflect"
	"testing"
)

func TestSimpleArgv(t *testing.T) {
	for cmd, want := range map[string][]string{
		"/bin/true":                  {"/bin/true"},
		"ls -la src":                 {"ls", "-la", "src"},
		`grep -n 'a b*' "file x.go"`: {"grep", "-n", "a b*", "file x.go"},
		`echo a\ b`:                  {"echo", "a b"},
		"python3 -c 'print(1)'":      {"python3", "-c", "print(1)"},
	} {
		got, ok := SimpleArgv(cmd)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q %v, want %q", cmd, got, ok, want)
		}
	}
	for _, cmd := range []string{
		"echo $HOME", "ls *.go", "cat ~/x", "a | b", "a && b", "a; b", "x=1 env", "echo hi > f", "cd /tmp",
		"exit 3", "! true", "sleep 1 &", `echo "$(id)"`, "echo `id`", "", "for i in 1; do echo; done", "export A=1",
		"if true; then :; fi", "$CMD", "{ ls; }", "(ls)", "echo $'a\\n'",
	} {
		if got, ok := SimpleArgv(cmd); ok {
			t.Errorf("%q: simple %q, want sh -c", cmd, got)
		}
	}
}
