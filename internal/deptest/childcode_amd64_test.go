package deptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The jail's child that shares the runner's memory (jail.cloneChild, on
// amd64 outside race, msan and asan builds, which fork) must execute
// nothing of the Go runtime: only runChild, reached through its ABI0
// wrapper, and the raw system call functions. This reads the call graph
// from the machine code of openclaw-run built as it ships, so that a
// compiler or build mode that adds a call (as -race adds racefuncenter to the wrapper) is
// caught here instead of corrupting a runner.
func TestChildCodeCallsOnlyRawSyscalls(t *testing.T) {
	// The shipped binary as make build links it, with its symbols kept
	// (go test strips the binaries it runs).
	exe := filepath.Join(t.TempDir(), "openclaw-run")
	build := exec.Command("go", "build", "-trimpath", "-o", exe, "../../cmd/openclaw-run")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	const jail = "github.com/openclaw-run/openclaw-run/jail."
	allowed := map[string][]string{
		jail + "runChild.abi0": {jail + "runChild"},
		jail + "runChild":      {"syscall.RawSyscall6", "syscall.RawSyscall"},
		"syscall.RawSyscall":   {"syscall.RawSyscall6"},
		"syscall.RawSyscall6":  {"internal/runtime/syscall/linux.Syscall6"},
	}
	cmd := exec.Command("go", "tool", "objdump", "-s", `^(`+regexp.QuoteMeta(jail)+`runChild(\.abi0)?|syscall\.RawSyscall6?)$`, exe)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool objdump: %v: %s", err, stderr.String())
	}
	target := regexp.MustCompile(`\s(CALL|JMP)\s+([^\s(]+)\(SB\)`)
	fn := ""
	seen := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f, ok := strings.CutPrefix(l, "TEXT "); ok {
			fn = strings.TrimSuffix(strings.Fields(f)[0], "(SB)")
			seen[fn] = true
			continue
		}
		m := target.FindStringSubmatch(l)
		if m == nil || fn == "" {
			continue
		}
		ok := false
		for _, a := range allowed[fn] {
			ok = ok || m[2] == a
		}
		if !ok {
			t.Errorf("%s calls %s: the shared-memory child may not run it", fn, m[2])
		}
	}
	for fn := range allowed {
		if !seen[fn] {
			t.Errorf("%s not found in the binary: the check did not run", fn)
		}
	}
}
