package jail

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
)

// minimalSpec is a jail with /usr and the merged-usr links: enough for sh.
func minimalSpec(t *testing.T, args ...string) *Spec {
	t.Helper()
	s := &Spec{Args: args, Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/", Hostname: "t",
		HostUID: 4242, HostGID: 4242, TmpSize: 1 << 20, Unfiltered: true,
		Binds: []Bind{{Source: "/usr", Target: "/usr"}}}
	for _, l := range []string{"/bin", "/lib", "/lib64", "/sbin"} {
		if target, err := os.Readlink(l); err == nil {
			s.Symlinks = append(s.Symlinks, Symlink{Path: l, Target: target})
		} else if _, err := os.Stat(l); err == nil {
			s.Binds = append(s.Binds, Bind{Source: l, Target: l})
		}
	}
	return s
}

func TestValidateRefusesBadSpecs(t *testing.T) {
	cases := map[string]func(*Spec){
		"root on host":      func(s *Spec) { s.HostUID = 0 },
		"no command":        func(s *Spec) { s.Args = nil },
		"no filter":         func(s *Spec) { s.Unfiltered = false },
		"relative source":   func(s *Spec) { s.Binds = append(s.Binds, Bind{Source: "usr", Target: "/x"}) },
		"reserved target":   func(s *Spec) { s.Binds = append(s.Binds, Bind{Source: "/usr", Target: "/proc/x"}) },
		"unclean target":    func(s *Spec) { s.Binds = append(s.Binds, Bind{Source: "/usr", Target: "/a/../proc"}) },
		"setuid file":       func(s *Spec) { s.Files = append(s.Files, File{Path: "/etc/x", Mode: 0o4755}) },
		"no tmp size":       func(s *Spec) { s.TmpSize = 0 },
		"NUL in argument":   func(s *Spec) { s.Args = append(s.Args, "a\x00b") },
		"malformed env":     func(s *Spec) { s.Env = append(s.Env, "NOEQUALS") },
		"relative work dir": func(s *Spec) { s.Dir = "workspace" },
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
	got := strings.Join(withParents([]string{"/a/b/c", "/a/d", "/e"}), " ")
	if got != "/a /a/b /a/b/c /a/d /e" {
		t.Errorf("withParents = %s", got)
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
	s.Dir = "/does-not-exist-in-jail/x"
	s.Binds = append(s.Binds, Bind{Source: "/usr/share", Target: "/does-not-exist-in-jail"})
	// The bind hides the working directory made before it: chdir fails.
	_, err := run(t, s)
	var ce *ChildError
	if !errors.As(err, &ce) || ce.Step != "chdir /does-not-exist-in-jail/x" || ce.Errno != syscall.ENOENT {
		t.Fatalf("want a ChildError 'chdir /does-not-exist-in-jail/x: ENOENT', got %v", err)
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
	s.Binds = append(s.Binds, Bind{Source: filepath.Join(dir, "link"), Target: "/x"})
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
	s.Deferred, s.Dir = true, "/tmp"
	w, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Exec("/bin/sh", []string{"sh", "-c", `test "$GREETING" = hello && test "$(pwd)" = /usr/bin && exit 9`}, []string{"GREETING=hello", "PATH=/usr/bin"}, "/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(); err != nil || st.Code != 9 {
		t.Fatalf("deferred command: %+v %v; want exit 9", st, err)
	}
	if _, err := w.Exec("/bin/true", []string{"true"}, nil, "/"); err == nil {
		t.Fatal("a pre-warmed jail ran a second command")
	}
}

func TestDeferredErrors(t *testing.T) {
	testutil.RequireRoot(t)
	s := minimalSpec(t)
	s.Deferred, s.Dir = true, "/"
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
		if _, err := w.Exec(c.argv[0], c.argv, nil, c.dir); !c.want(err) {
			t.Errorf("%v in %s: %v", c.argv, c.dir, err)
		}
	}
	if Fits("true", []string{"true"}, nil, "/") || Fits("/bin/sh", []string{"sh", strings.Repeat("x", deferredSize)}, nil, "/") {
		t.Error("Fits accepts a bare name or an oversized command")
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
