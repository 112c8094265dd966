package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/plan"
	"golang.org/x/sys/unix"
)

// minimalSpec is a jail with /usr and the merged-usr links: enough for sh.
func minimalSpec(t *testing.T, args ...string) *Spec {
	t.Helper()
	s := &Spec{Plan: &plan.Plan{
		Command: plan.Command{Args: args, Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/"},
		Jail: plan.Jail{Hostname: "t", HostUID: 4242, HostGID: 4242, TmpSize: 1 << 20, Tier: "none (jail tests)",
			Network: plan.Network{Mode: plan.NetworkNone}, Memory: 1 << 30, CPUs: 1, Pids: 64,
			Binds: []plan.Bind{{Source: "/usr", Target: "/usr"}}},
	}}
	Unfiltered(s)
	for _, l := range []string{"/bin", "/lib", "/lib64", "/sbin"} {
		if target, err := os.Readlink(l); err == nil {
			s.Plan.Jail.Symlinks = append(s.Plan.Jail.Symlinks, plan.Symlink{Path: l, Target: target})
		} else if _, err := os.Stat(l); err == nil {
			s.Plan.Jail.Binds = append(s.Plan.Jail.Binds, plan.Bind{Source: l, Target: l})
		}
	}
	return s
}

func TestValidateRefusesBadSpecs(t *testing.T) {
	cases := map[string]func(*Spec){
		"root on host":    func(s *Spec) { s.Plan.Jail.HostUID = 0 },
		"no command":      func(s *Spec) { s.Plan.Command.Args = nil },
		"no filter":       func(s *Spec) { s.unfiltered = false },
		"no plan":         func(s *Spec) { s.Plan = nil },
		"relative source": func(s *Spec) { s.Plan.Jail.Binds = append(s.Plan.Jail.Binds, plan.Bind{Source: "usr", Target: "/x"}) },
		"reserved target": func(s *Spec) {
			s.Plan.Jail.Binds = append(s.Plan.Jail.Binds, plan.Bind{Source: "/usr", Target: "/proc/x"})
		},
		"unclean target": func(s *Spec) {
			s.Plan.Jail.Binds = append(s.Plan.Jail.Binds, plan.Bind{Source: "/usr", Target: "/a/../proc"})
		},
		"setuid file":       func(s *Spec) { s.Plan.Jail.Files = append(s.Plan.Jail.Files, plan.File{Path: "/etc/x", Mode: 0o4755}) },
		"no tmp size":       func(s *Spec) { s.Plan.Jail.TmpSize = 0 },
		"no memory limit":   func(s *Spec) { s.Plan.Jail.Memory = 0 },
		"NUL in argument":   func(s *Spec) { s.Plan.Command.Args = append(s.Plan.Command.Args, "a\x00b") },
		"malformed env":     func(s *Spec) { s.Plan.Command.Env = append(s.Plan.Command.Env, "NOEQUALS") },
		"relative work dir": func(s *Spec) { s.Plan.Command.Dir = "workspace" },
		"reserved pin":      func(s *Spec) { s.Plan.Jail.Pins = []string{"/proc/self"} },
		"unknown network":   func(s *Spec) { s.Plan.Jail.Network.Mode = "host" },
		"pre-warmed pty": func(s *Spec) {
			s.Deferred, s.Plan.Command.Pty = true, &plan.Pty{Cols: 80, Rows: 24}
		},
	}
	for name, mutate := range cases {
		s := minimalSpec(t, "true")
		mutate(s)
		if err := s.validate(); err == nil {
			t.Errorf("%s: spec accepted", name)
		}
	}
	if err := minimalSpec(t, "true").validate(); err != nil {
		t.Errorf("good spec refused: %v", err)
	}
}

func TestWithParents(t *testing.T) {
	got := strings.Join(plan.WithParents([]string{"/a/b/c", "/a/d", "/e"}), " ")
	if got != "/a /a/b /a/b/c /a/d /e" {
		t.Errorf("WithParents = %s", got)
	}
}

func run(t *testing.T, s *Spec) (ExitStatus, error) {
	t.Helper()
	p, err := Start(s)
	if err != nil {
		return ExitStatus{}, err
	}
	return p.Wait()
}

func TestStartRuns(t *testing.T) {
	testutil.RequireRoot(t)
	st, err := run(t, minimalSpec(t, "sh", "-c", "exit 7"))
	if err != nil || st.Code != 7 {
		t.Fatalf("got %+v, %v; want exit 7", st, err)
	}
}

// A failed step names the call and its argument, and nothing runs.
func TestChildErrorNamesTheStep(t *testing.T) {
	testutil.RequireRoot(t)
	s := minimalSpec(t, "sh", "-c", "exit 0")
	s.Plan.Command.Dir = "/does-not-exist-in-jail/x"
	s.Plan.Jail.Binds = append(s.Plan.Jail.Binds, plan.Bind{Source: "/usr/share", Target: "/does-not-exist-in-jail"})
	// The bind hides the working directory made before it: chdir fails.
	_, err := run(t, s)
	var ce *ChildError
	if !errors.As(err, &ce) || ce.Step != "chdir /does-not-exist-in-jail/x" || ce.Errno != syscall.ENOENT || ce.Syscall != "chdir" {
		t.Fatalf("want a ChildError 'chdir /does-not-exist-in-jail/x: ENOENT', got %v", err)
	}
	if ce.NotExecutable() {
		t.Error("a failed chdir is reported as a command that is not executable")
	}
}

func TestCommandNotFound(t *testing.T) {
	testutil.RequireRoot(t)
	_, err := run(t, minimalSpec(t, "no-such-command-anywhere"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

// A bind source with a symlink in its path is refused, not followed: the
// runner resolves sources, so a symlink there means one was swapped in.
func TestBindSourceSymlinkRefused(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	os.Symlink("/etc", filepath.Join(dir, "link"))
	s := minimalSpec(t, "true")
	s.Plan.Jail.Binds = append(s.Plan.Jail.Binds, plan.Bind{Source: filepath.Join(dir, "link"), Target: "/x"})
	_, err := run(t, s)
	if err == nil || !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("want ELOOP for a symlinked bind source, got %v", err)
	}
}

// A pre-warmed jail runs the command it is given later, once, with the
// given environment and working directory; a second Exec is refused.
func TestDeferredJail(t *testing.T) {
	testutil.RequireRoot(t)
	s := minimalSpec(t)
	s.Deferred, s.Plan.Command.Dir = true, "/tmp"
	w, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Exec(&plan.Command{Path: "/bin/sh", Args: []string{"sh", "-c", `test "$GREETING" = hello && test "$(pwd)" = /usr/bin && exit 9`},
		Env: []string{"GREETING=hello", "PATH=/usr/bin"}, Dir: "/usr/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Code != 9 {
		t.Fatalf("deferred command: %+v %v; want exit 9", st, err)
	}
	if _, err := w.Exec(&plan.Command{Path: "/bin/true", Args: []string{"true"}, Dir: "/"}); err == nil {
		t.Fatal("a pre-warmed jail ran a second command")
	}
}

func TestDeferredErrors(t *testing.T) {
	testutil.RequireRoot(t)
	s := minimalSpec(t)
	s.Deferred, s.Plan.Command.Dir = true, "/"
	for _, c := range []struct {
		argv []string
		dir  string
		want func(error) bool
	}{
		{[]string{"/no/such/program"}, "/", func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{[]string{"/bin/true"}, "/no/such/dir", func(err error) bool {
			var ce *ChildError
			return errors.As(err, &ce) && ce.Errno == syscall.ENOENT && strings.Contains(ce.Step, "working directory")
		}},
	} {
		w, err := Prepare(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Exec(&plan.Command{Path: c.argv[0], Args: c.argv, Dir: c.dir}); !c.want(err) {
			t.Errorf("%v in %s: %v", c.argv, c.dir, err)
		}
	}
	if Fits(&plan.Command{Path: "true", Args: []string{"true"}, Dir: "/"}) ||
		Fits(&plan.Command{Path: "/bin/sh", Args: []string{"sh", strings.Repeat("x", deferredSize)}, Dir: "/"}) ||
		Fits(&plan.Command{Path: "/bin/sh", Args: []string{"sh"}, Dir: "/", Pty: &plan.Pty{Cols: 80, Rows: 24}}) {
		t.Error("Fits accepts a bare name, an oversized command or a pty")
	}
	// Discard kills the waiting jail.
	w, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	pid := w.Pid()
	w.Discard()
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("discarded jail %d still exists", pid)
	}
}

// deep uses about n*128 bytes of the goroutine's stack and then calls f.
//
//go:noinline
func deep(n int, f func()) {
	var pad [96]byte
	if n > 0 {
		deep(n-1, f)
	} else {
		f()
	}
	runtime.KeepAlive(pad)
}

// Every jail gets a real pidfd, however the stack of the goroutine that
// starts it moves. The kernel writes the pidfd through a raw address; that
// slot was once on the goroutine stack. Jails started together wait for
// each other on syscall.ForkLock, and the garbage collector may shrink the
// stack of a goroutine parked there: the kernel then wrote into the freed
// old stack and the jail's pidfd read 0, so Kill signalled fd 0 and Wait
// closed the runner's stdin (found with 8 concurrent gateway calls).
func TestPidfdSurvivesStackMoves(t *testing.T) {
	testutil.RequireRoot(t)
	stdin0, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		t.Fatalf("fd 0 (the Go runtime opens /dev/null there when it is closed): %v", err)
	}
	stop := make(chan struct{})
	var gcs sync.WaitGroup
	gcs.Add(1)
	go func() {
		defer gcs.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	var (
		mu  sync.Mutex
		bad []string
		wg  sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				// A large stack, mostly unused when Start parks on
				// ForkLock: the collector shrinks such stacks.
				deep(200+i, func() {})
				p, err := Start(minimalSpec(t, "true"))
				if err != nil {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					return
				}
				if link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", p.pidfd)); link != "anon_inode:[pidfd]" {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("jail %d: pidfd %d is %q", p.Pid, p.pidfd, link))
					mu.Unlock()
					syscall.Kill(p.Pid, syscall.SIGKILL)
				}
				p.Wait()
			}
		}()
	}
	wg.Wait()
	close(stop)
	gcs.Wait()
	for _, b := range bad {
		t.Error(b)
	}
	if now, _ := os.Readlink("/proc/self/fd/0"); now != stdin0 {
		t.Errorf("fd 0 of the runner was %q and is now %q: a jail closed it", stdin0, now)
	}
}

// A jail waiting for its command holds its own stdio on 0, 1 and 2 and no
// fd of the runner's: not even the runner's own 0 to 2, which a call's
// pipe can occupy when one of them was closed, and which a waiting jail
// then kept open for its whole wait (the call never saw EOF).
func TestWaitingJailHoldsOnlyItsOwnFds(t *testing.T) {
	testutil.RequireRoot(t)
	var pipes [3][2]*os.File
	for i := range pipes {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		pipes[i] = [2]*os.File{r, w}
	}
	s := minimalSpec(t)
	s.Deferred, s.Plan.Command.Dir = true, "/"
	s.Stdin, s.Stdout, s.Stderr = pipes[0][0], pipes[1][1], pipes[2][1]
	w, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	ino := func(path string) string { l, _ := os.Readlink(path); return l }
	want := map[string]string{
		"0": ino(fmt.Sprintf("/proc/self/fd/%d", pipes[0][0].Fd())),
		"1": ino(fmt.Sprintf("/proc/self/fd/%d", pipes[1][1].Fd())),
		"2": ino(fmt.Sprintf("/proc/self/fd/%d", pipes[2][1].Fd())),
	}
	// The child reaches its wait shortly after Prepare returns.
	var got map[string]string
	for try := 0; try < 200; try++ {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", w.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]string{}
		for _, e := range ents {
			got[e.Name()] = ino(fmt.Sprintf("/proc/%d/fd/%s", w.Pid(), e.Name()))
		}
		if len(got) <= 5 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for fd, link := range want {
		if got[fd] != link {
			t.Errorf("fd %s of the waiting jail is %q, want its own stdio %q", fd, got[fd], link)
		}
	}
	// Besides 0 to 2: the error pipe, the command pipe, and the seccomp
	// socket when asked for. Nothing else of the runner's.
	if len(got) > 5 {
		t.Errorf("the waiting jail holds %d fds: %v", len(got), got)
	}
}

// A pre-warmed jail waits for its command with everything that is the
// same for every call already done (docs/design.md, steps 24 to 27): no
// capabilities, no_new_privs, and its seccomp filter loaded. Read from
// the waiting jail's /proc status, as the kernel reports it.
func TestWaitingJailIsAlreadyFiltered(t *testing.T) {
	testutil.RequireRoot(t)
	s := minimalSpec(t)
	s.unfiltered = false
	s.Seccomp = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	s.Deferred, s.Plan.Command.Dir = true, "/"
	w, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Discard()
	want := map[string]string{"Seccomp": "2", "NoNewPrivs": "1", "CapBnd": "0000000000000000",
		"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapAmb": "0000000000000000"}
	var got map[string]string
	for try := 0; try < 400; try++ { // the child reaches its wait shortly after Prepare returns
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				got[k] = strings.TrimSpace(v)
			}
		}
		if got["Seccomp"] == "2" && got["State"] != "" && strings.HasPrefix(got["State"], "S") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the waiting jail's %s is %q, want %q", k, got[k], v)
		}
	}
	p, err := w.Exec(&plan.Command{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 7"}, Dir: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Code != 7 {
		t.Fatalf("the command of a filtered waiting jail: %+v %v; want exit 7", st, err)
	}
}
