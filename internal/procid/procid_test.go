package procid

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSelfIsAlive(t *testing.T) {
	id := Self()
	if id == "" {
		t.Fatal("Self: no identity")
	}
	pid, start, boot, err := id.Parse()
	if err != nil || pid != os.Getpid() || start == 0 || boot == "" {
		t.Fatalf("Self() = %q: pid %d start %d boot %q err %v", id, pid, start, boot, err)
	}
	if !Alive(id) {
		t.Fatalf("Self() %q is not alive", id)
	}
	if again, err := Of(os.Getpid()); err != nil || again != id {
		t.Fatalf("Of(self) = %q, %v; want %q", again, err, id)
	}
}

// startBlocked starts prog, which blocks reading its stdin until the
// returned writer is closed.
func startBlocked(t *testing.T, prog string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(prog)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	return cmd, in
}

// A child's ID is alive while it runs, not once it has exited (a zombie,
// not yet reaped, included), and not after it has been reaped.
func TestDeadChildIsNotAlive(t *testing.T) {
	cmd, in := startBlocked(t, "/bin/cat")
	id, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(id) {
		t.Fatalf("running child %q is not alive", id)
	}
	in.Close()
	// Wait for the exit without reaping (WNOWAIT): the child is a zombie now.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	if Alive(id) {
		t.Errorf("zombie child %q is alive", id)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if Alive(id) {
		t.Errorf("reaped child %q is alive", id)
	}
	if _, err := Of(cmd.Process.Pid); err == nil {
		t.Errorf("Of(reaped pid) succeeded")
	}
}

// The same pid with another start time is another process (the pid was
// recycled), and an ID of another boot is never alive.
func TestRecycledPidIsNotAlive(t *testing.T) {
	pid, start, boot, err := Self().Parse()
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]ID{
		"later start":   ID(fmt.Sprintf("%d:%d:%s", pid, start+1, boot)),
		"earlier start": ID(fmt.Sprintf("%d:%d:%s", pid, start-1, boot)),
		"other boot":    ID(fmt.Sprintf("%d:%d:%s", pid, start, "00000000-0000-0000-0000-000000000000")),
	} {
		if Alive(id) {
			t.Errorf("%s: %q is alive", name, id)
		}
	}
}

func TestMalformedIDs(t *testing.T) {
	for _, id := range []ID{"", "123", "1:2", "x:2:b", "0:2:b", "-1:2:b", "1:x:b", "1:2:", "1:-2:b"} {
		if _, _, _, err := id.Parse(); err == nil {
			t.Errorf("Parse(%q) accepted", id)
		}
		if Alive(id) {
			t.Errorf("Alive(%q)", id)
		}
		if id.PID() != 0 {
			t.Errorf("PID(%q) = %d", id, id.PID())
		}
	}
	if _, err := Of(0); err == nil {
		t.Error("Of(0) accepted")
	}
}

// The comm field may hold spaces and parentheses: the fields are counted
// after the last ')'.
func TestCommWithSpacesAndParens(t *testing.T) {
	line := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n"
	st, err := parseStat([]byte(line))
	if err != nil || st.state != 'S' || st.start != 987654 {
		t.Fatalf("parseStat: %+v, %v", st, err)
	}
	for _, bad := range []string{"", "4242 a S 1", "4242 (x) S 1 2 3", "4242 (x) SS 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 9 1",
		"4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 nine 1", ") 4242 (x S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 9 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}

	// A real process whose name is "a) b (c": the kernel writes it as is.
	dir := t.TempDir()
	prog := filepath.Join(dir, "a) b (c")
	src, err := os.ReadFile("/bin/cat")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, _ := startBlocked(t, prog)
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "(a) b (c)") {
		t.Fatalf("comm is not the planted name: %s", raw)
	}
	id, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(id) {
		t.Fatalf("%q (comm %q) is not alive", id, "a) b (c")
	}
}

// Gone is certain or false: what Alive calls dead is gone, except when
// /proc cannot be read at all (here: no file descriptor left), which
// proves nothing; the cgroup sweep kills only what is gone.
func TestGoneOnlyWhenCertain(t *testing.T) {
	self := Self()
	pid, start, boot, err := self.Parse()
	if err != nil {
		t.Fatal(err)
	}
	recycled := ID(fmt.Sprintf("%d:%d:%s", pid, start+1, boot))
	if Gone(self) || !Gone(recycled) || !Gone(ID(fmt.Sprintf("%d:%d:%s", pid, start, "00000000-0000-0000-0000-000000000000"))) || !Gone("1:2") {
		t.Fatalf("Gone: self %v, recycled %v", Gone(self), Gone(recycled))
	}
	if GoneSince(pid, start) || !GoneSince(pid, start+1) {
		t.Fatalf("GoneSince: self %v, recycled %v", GoneSince(pid, start), GoneSince(pid, start+1))
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The lowest free descriptor becomes the limit: every one below it is
	// taken, so the next open fails with EMFILE.
	free, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(free)
	low := unix.Rlimit{Cur: uint64(free), Max: lim.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	goneRecycled, goneSelf := Gone(recycled), Gone(self)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if goneRecycled || goneSelf {
		t.Errorf("with /proc unreadable, Gone said %v (recycled) and %v (self); want false: nothing is proven", goneRecycled, goneSelf)
	}
	if _, err := os.ReadFile("/proc/self/stat"); err != nil {
		t.Fatalf("limit not restored: %v", err)
	}
}
