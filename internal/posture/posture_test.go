package posture

import (
	"strings"
	"testing"
)

func TestDiffNamesEveryDifferingLine(t *testing.T) {
	a := Parse("== status\nNoNewPrivs:\t1\nSeccomp:\t2\n== env\nA=1\nTERM=xterm\n== same\nx\n")
	b := Parse("== status\nNoNewPrivs:\t1\nSeccomp:\t0\n== env\nA=1\nTERM=dumb\n== same\nx\n== extra\ny\n")
	d := Diff(a, b, map[string]string{"env": "terminals differ"})
	if len(d) != 2 {
		t.Fatalf("want the status and extra sections, got %q", d)
	}
	if !strings.HasPrefix(d[0], "extra:") || !strings.Contains(d[0], `["y"]`) {
		t.Errorf("a section of one side only: %q", d[0])
	}
	if !strings.HasPrefix(d[1], "status:") || !strings.Contains(d[1], `"Seccomp:\t2"`) || !strings.Contains(d[1], `"Seccomp:\t0"`) {
		t.Errorf("the differing line on each side: %q", d[1])
	}
	if len(Diff(a, a, nil)) != 0 {
		t.Error("a posture differs from itself")
	}
}
