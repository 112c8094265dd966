package procid

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestSelfIsAlive(t *testing.T) {
	if !Alive(Self()) {
		t.Fatalf("%s is not alive", Self())
	}
	if !strings.HasPrefix(string(Self()), strconv.Itoa(os.Getpid())+":") {
		t.Errorf("Self = %s", Self())
	}
}

// A dead process is not alive, reaped or not, and the same pid with
// another start time (a recycled pid) is not alive either.
func TestDeadAndRecycled(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id, err := Of(cmd.Process.Pid)
	if err != nil || !Alive(id) {
		t.Fatalf("a running child: %s %v", id, err)
	}
	cmd.Process.Kill()
	// Not reaped yet: a zombie is dead.
	for i := 0; i < 1000 && Alive(id); i++ {
		if st, _, _ := stat(cmd.Process.Pid); st == 'Z' {
			break
		}
	}
	if Alive(id) {
		t.Errorf("a killed, unreaped child is alive")
	}
	cmd.Wait()
	if Alive(id) {
		t.Errorf("a reaped child is alive")
	}
	pid, start, boot, _ := Parse(Self())
	if Alive(ID(strconv.Itoa(pid) + ":" + strconv.FormatUint(start+1, 10) + ":" + boot)) {
		t.Error("a recycled pid (same pid, other start time) is alive")
	}
	if Alive(ID(strconv.Itoa(pid) + ":" + strconv.FormatUint(start, 10) + ":another-boot")) {
		t.Error("a process of another boot is alive")
	}
	for _, bad := range []ID{"", "12", "x:1:b", "1:y:b"} {
		if Alive(bad) {
			t.Errorf("%q is alive", bad)
		}
	}
}
