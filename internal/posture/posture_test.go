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

func TestDiffExcusesOnlyKnownPairs(t *testing.T) {
	a := Parse("== mounts\n/ ro tmpfs\n/proc/acpi ro,nosuid tmpfs\n")
	b := Parse("== mounts\n/ ro tmpfs\n/proc/acpi ro tmpfs\n")
	k := Known{Section: "mounts", First: "/proc/acpi ro,nosuid tmpfs", Second: "/proc/acpi ro tmpfs", Why: "test"}
	if d := Diff(a, b, nil, k); len(d) != 0 {
		t.Errorf("a known pair still differs: %q", d)
	}
	c := Parse("== mounts\n/ rw tmpfs\n/proc/acpi ro tmpfs\n")
	if d := Diff(a, c, nil, k); len(d) != 1 || !strings.Contains(d[0], `"/ rw tmpfs"`) {
		t.Errorf("a known pair hid another difference: %q", d)
	}
	e := Parse("== mounts\n/ ro tmpfs\n/proc/acpi ro,nodev tmpfs\n")
	if d := Diff(a, e, nil, k); len(d) != 1 {
		t.Errorf("half a known pair was excused: %q", d)
	}
}
