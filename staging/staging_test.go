package staging

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"golang.org/x/sys/unix"
)

// ov is a call writing through its overlay, as its jail would (the
// overlay's detached mount, relative paths).
type ov struct {
	t  *testing.T
	fd int
}

func (o ov) parent(p string) (int, string) {
	dir, base := filepath.Split(p)
	if dir == "" {
		return o.fd, base
	}
	fd, err := unix.Openat(o.fd, dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		o.t.Fatalf("open %s: %v", dir, err)
	}
	return fd, base
}

func (o ov) write(p, content string) error {
	d, b := o.parent(p)
	fd, err := unix.Openat(d, b, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), b) // Write goes on after a short write, as programs do
	defer f.Close()
	_, err = f.Write([]byte(content))
	return err
}

func (o ov) mkdir(p string) {
	d, b := o.parent(p)
	if err := unix.Mkdirat(d, b, 0o755); err != nil {
		o.t.Fatalf("mkdir %s: %v", p, err)
	}
}

func (o ov) rm(p string, dir bool) {
	d, b := o.parent(p)
	flag := 0
	if dir {
		flag = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(d, b, flag); err != nil {
		o.t.Fatalf("rm %s: %v", p, err)
	}
}

func (o ov) rename(a, b string) {
	da, ba := o.parent(a)
	db, bb := o.parent(b)
	if err := unix.Renameat(da, ba, db, bb); err != nil {
		o.t.Fatalf("rename %s %s: %v", a, b, err)
	}
}

// tree is a workspace's content, for comparison: path -> type and data.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return nil
		}
		if rel == storeName {
			return filepath.SkipDir
		}
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "link:" + l
		case info.IsDir():
			out[rel] = fmt.Sprintf("dir %o", info.Mode().Perm())
		case info.Mode()&os.ModeNamedPipe != 0:
			out[rel] = "fifo"
		default:
			b, _ := os.ReadFile(p)
			out[rel] = fmt.Sprintf("file %o %s", info.Mode().Perm(), b)
		}
		return nil
	})
	return out
}

func diff(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, fmt.Sprintf("%s: %q != %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s: missing != %q", k, v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func workspace(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	ws := t.TempDir()
	for p, c := range map[string]string{"keep.txt": "keep", "edit.txt": "before", "gone.txt": "bye",
		"dir/a.txt": "a", "dir/sub/b.txt": "b", "old/x.txt": "x", "mv-from.txt": "moving", "swap/inner.txt": "i"} {
		os.MkdirAll(filepath.Join(ws, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(ws, p), []byte(c), 0o644)
	}
	return ws
}

// The change list and the committed workspace for adds, edits, deletes,
// renames, directory trees, symlinks, hard links, FIFOs and mode changes,
// compared with the same changes made on the workspace directly.
func TestCommitMatchesDirectChanges(t *testing.T) {
	ws := workspace(t)
	direct := t.TempDir()
	exec.Command("cp", "-a", ws+"/.", direct).Run()
	l, err := NewLayer(ws, 64<<20, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := ov{t, l.Tree()}
	do := func(f func(o ov) error, g func(root string) error) {
		if err := f(o); err != nil {
			t.Fatal(err)
		}
		if err := g(direct); err != nil {
			t.Fatal(err)
		}
	}
	do(func(o ov) error { return o.write("new.txt", "new") }, func(r string) error { return os.WriteFile(r+"/new.txt", []byte("new"), 0o644) })
	do(func(o ov) error { return o.write("edit.txt", "after") }, func(r string) error { return os.WriteFile(r+"/edit.txt", []byte("after"), 0o644) })
	do(func(o ov) error { o.rm("gone.txt", false); return nil }, func(r string) error { return os.Remove(r + "/gone.txt") })
	do(func(o ov) error { o.rm("dir/sub/b.txt", false); o.rm("dir/sub", true); return nil }, func(r string) error { return os.RemoveAll(r + "/dir/sub") })
	do(func(o ov) error { o.rename("mv-from.txt", "mv-to.txt"); return nil }, func(r string) error { return os.Rename(r+"/mv-from.txt", r+"/mv-to.txt") })
	do(func(o ov) error { o.mkdir("tree"); o.mkdir("tree/deep"); return o.write("tree/deep/f.txt", "deep") },
		func(r string) error {
			os.MkdirAll(r+"/tree/deep", 0o755)
			return os.WriteFile(r+"/tree/deep/f.txt", []byte("deep"), 0o644)
		})
	do(func(o ov) error { return unix.Symlinkat("keep.txt", o.fd, "link") }, func(r string) error { return os.Symlink("keep.txt", r+"/link") })
	do(func(o ov) error { return unix.Fchmodat(o.fd, "keep.txt", 0o600, 0) }, func(r string) error { return os.Chmod(r+"/keep.txt", 0o600) })
	do(func(o ov) error { return unix.Linkat(o.fd, "new.txt", o.fd, "hard.txt", 0) }, func(r string) error { return os.Link(r+"/new.txt", r+"/hard.txt") })
	do(func(o ov) error { return unix.Mknodat(o.fd, "pipe", unix.S_IFIFO|0o644, 0) }, func(r string) error { return unix.Mkfifo(r+"/pipe", 0o644) })
	// A directory replaced by a file, and a file by a directory.
	do(func(o ov) error {
		o.rm("swap/inner.txt", false)
		o.rm("swap", true)
		return o.write("swap", "now a file")
	},
		func(r string) error {
			os.RemoveAll(r + "/swap")
			return os.WriteFile(r+"/swap", []byte("now a file"), 0o644)
		})
	do(func(o ov) error {
		o.rm("old/x.txt", false)
		o.rm("old", true)
		o.mkdir("old")
		return o.write("old/y.txt", "y")
	},
		func(r string) error {
			os.RemoveAll(r + "/old")
			os.Mkdir(r+"/old", 0o755)
			return os.WriteFile(r+"/old/y.txt", []byte("y"), 0o644)
		})

	s, err := OpenStore(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ch, err := s.Commit(l, "c1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(tree(t, direct), tree(t, ws)); d != "" {
		t.Errorf("committed workspace differs from the direct changes:\n%s", d)
	}
	want := map[string]string{"new.txt": "added", "edit.txt": "modified", "gone.txt": "deleted", "dir/sub": "deleted",
		"mv-from.txt": "deleted", "mv-to.txt": "added", "tree": "added", "tree/deep/f.txt": "added", "link": "added",
		"keep.txt": "modified", "hard.txt": "added", "pipe": "added", "swap": "modified", "old/y.txt": "added"}
	got := map[string]string{}
	for _, c := range ch.Files {
		got[c.Path] = c.Op
	}
	for p, op := range want {
		if got[p] != op {
			t.Errorf("change of %s: %q, want %q (all: %v)", p, got[p], op, got)
		}
	}
	if ch.State != "committed" || ch.BytesWritten == 0 || ch.BytesDeleted == 0 {
		t.Errorf("totals: %+v", ch)
	}
	var a, b unix.Stat_t
	unix.Stat(ws+"/new.txt", &a)
	unix.Stat(ws+"/hard.txt", &b)
	if a.Ino != b.Ino {
		t.Errorf("a hard link the call made is two files in the workspace")
	}
	// Undo brings the workspace back as it was.
	before := workspace(t)
	if _, err := s.Undo("c1"); err != nil {
		t.Fatal(err)
	}
	if d := diff(tree(t, before), tree(t, ws)); d != "" {
		t.Errorf("undo did not restore the workspace:\n%s", d)
	}
}

// A call that writes nothing leaves nothing, not even a record.
func TestNothingChanged(t *testing.T) {
	ws := workspace(t)
	l, _ := NewLayer(ws, 1<<20, 100)
	defer l.Close()
	s, err := OpenStore(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ch, err := s.Commit(l, "c0", Options{})
	if err != nil || !ch.Empty() {
		t.Fatalf("%+v %v", ch, err)
	}
	if ms, _ := s.List(); len(ms) != 0 {
		t.Errorf("records for an empty call: %+v", ms)
	}
}

// Writes past the disk limit fail with ENOSPC; so do new files past the
// inode limit; the change list says so, and the host's disk never sees
// the writes.
func TestLimits(t *testing.T) {
	ws := workspace(t)
	l, err := NewLayer(ws, 256<<10, 50)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := ov{t, l.Tree()}
	err = o.write("bomb", strings.Repeat("x", 1<<20))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a 1 MiB write under a 256 KiB limit: %v", err)
	}
	var ierr error
	for i := 0; i < 100 && ierr == nil; i++ {
		ierr = o.write(fmt.Sprintf("f%d", i), "")
	}
	if !errors.Is(ierr, syscall.ENOSPC) {
		t.Errorf("100 files under a limit of 50 inodes: %v", ierr)
	}
	s, _ := OpenStore(ws)
	defer s.Close()
	ch, err := s.Commit(l, "c2", Options{Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ch.DiskLimitHit && !ch.InodeLimitHit {
		t.Errorf("the limits are not reported: %+v", ch)
	}
}

// hold keeps the workspace unchanged until approve; reject drops.
func TestHoldApproveReject(t *testing.T) {
	ws := workspace(t)
	s, _ := OpenStore(ws)
	defer s.Close()
	for _, id := range []string{"held-a", "held-r"} {
		l, _ := NewLayer(ws, 1<<20, 100)
		if err := (ov{t, l.Tree()}).write(id+".txt", id); err != nil {
			t.Fatal(err)
		}
		ch, err := s.Commit(l, id, Options{Hold: true})
		l.Close()
		if err != nil || ch.State != "held" {
			t.Fatalf("%+v %v", ch, err)
		}
		if _, err := os.Stat(filepath.Join(ws, id+".txt")); err == nil {
			t.Fatalf("held changes reached the workspace")
		}
	}
	if ch, err := s.Approve("held-a"); err != nil || ch.State != "approved" {
		t.Fatalf("approve: %+v %v", ch, err)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "held-a.txt")); string(b) != "held-a" {
		t.Errorf("approved change: %q", b)
	}
	if _, err := s.Reject("held-r"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws, "held-r.txt")); err == nil {
		t.Error("a rejected change reached the workspace")
	}
	if _, err := s.Approve("held-r"); err == nil {
		t.Error("a rejected call was approved")
	}
}

// Undo refuses when a later call changed the same path, naming it.
func TestUndoConflict(t *testing.T) {
	ws := workspace(t)
	s, _ := OpenStore(ws)
	defer s.Close()
	for i, content := range []string{"first", "second"} {
		l, _ := NewLayer(ws, 1<<20, 100)
		(ov{t, l.Tree()}).write("edit.txt", content)
		if _, err := s.Commit(l, fmt.Sprintf("u%d", i), Options{}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		time.Sleep(time.Millisecond) // distinct commit times, which order the calls
	}
	_, err := s.Undo("u0")
	if err == nil || !strings.Contains(err.Error(), "u1") || !strings.Contains(err.Error(), "edit.txt") {
		t.Fatalf("undo of the older call: %v", err)
	}
	if _, err := s.Undo("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Undo("u0"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "edit.txt")); string(b) != "before" {
		t.Errorf("after both undos: %q", b)
	}
}

// The commit never follows a symlink out of the workspace: a directory
// of the workspace replaced by a symlink (by something else, while the
// call ran) fails the commit instead of writing where it points.
func TestCommitFollowsNoSymlink(t *testing.T) {
	ws := workspace(t)
	outside := t.TempDir()
	l, _ := NewLayer(ws, 1<<20, 100)
	defer l.Close()
	o := ov{t, l.Tree()}
	if err := o.write("dir/planted.txt", "x"); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(ws, "dir"))
	os.Symlink(outside, filepath.Join(ws, "dir"))
	s, _ := OpenStore(ws)
	defer s.Close()
	s.Commit(l, "sy", Options{})
	if _, err := os.Stat(filepath.Join(outside, "planted.txt")); err == nil {
		t.Fatal("the commit wrote through a symlink out of the workspace")
	}
}

// A crash (SIGKILL) of the runner in the middle of a commit leaves the
// workspace, once the store is opened again, at the state before the call
// or after it, never in between: a helper process commits many changes
// and is killed at a varying moment, several times.
func TestCrashMidCommit(t *testing.T) {
	if os.Getenv("STAGING_CRASH_HELPER") != "" {
		crashHelper()
		return
	}
	testutil.RequireRoot(t)
	outcomes := map[string]int{}
	// Runs 0-5 are killed from outside at a moment that varies; runs 6-9
	// kill themselves in the middle of applying the operations (before
	// operation 0, 50, 150 and 200 of 201), after the commit point.
	for i := 0; i < 10; i++ {
		ws := t.TempDir()
		for j := 0; j < 200; j++ {
			os.WriteFile(filepath.Join(ws, fmt.Sprintf("f%03d", j)), []byte("before"), 0o644)
		}
		before := tree(t, ws)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidCommit$")
		cmd.Env = append(os.Environ(), "STAGING_CRASH_HELPER="+ws)
		if i >= 6 {
			cmd.Env = append(cmd.Env, fmt.Sprintf("STAGING_CRASH_AT=%d", []int{0, 50, 150, 200}[i-6]))
		}
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		stdout.Read(buf) // "ready\n": the layer is written, the commit starts
		if i < 6 {
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			cmd.Process.Kill()
		}
		cmd.Wait()
		s, err := OpenStore(ws) // recovers
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		after := tree(t, ws)
		switch {
		case diff(before, after) == "":
			outcomes["before"]++
		case after["f000"] == "file 644 after" && after["f199"] == "file 644 after" && after["added"] != "":
			full := true
			for j := 0; j < 200; j++ {
				if after[fmt.Sprintf("f%03d", j)] != "file 644 after" {
					full = false
				}
			}
			if !full {
				t.Fatalf("run %d: half a commit:\n%s", i, diff(before, after))
			}
			outcomes["after"]++
		default:
			t.Fatalf("run %d: the workspace is neither before nor after the call:\n%s", i, diff(before, after))
		}
	}
	t.Logf("outcomes of killed commits: %v", outcomes)
	if outcomes["after"] < 4 {
		t.Errorf("the commits killed after their commit point were not finished by recovery: %v", outcomes)
	}
}

func crashHelper() {
	ws := os.Getenv("STAGING_CRASH_HELPER")
	l, err := NewLayer(ws, 64<<20, 10000)
	if err != nil {
		panic(err)
	}
	for j := 0; j < 200; j++ {
		fd, _ := unix.Openat(l.Tree(), fmt.Sprintf("f%03d", j), unix.O_WRONLY|unix.O_TRUNC, 0)
		unix.Write(fd, []byte("after"))
		unix.Close(fd)
	}
	fd, _ := unix.Openat(l.Tree(), "added", unix.O_WRONLY|unix.O_CREAT, 0o644)
	unix.Close(fd)
	s, err := OpenStore(ws)
	if err != nil {
		panic(err)
	}
	if at := os.Getenv("STAGING_CRASH_AT"); at != "" {
		var n int
		fmt.Sscan(at, &n)
		opHook = func(i int) {
			if i == n {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	os.Stdout.Write([]byte("ready\n"))
	s.Commit(l, "crash", Options{})
	os.Exit(0)
}

// The path older kernels take (their overlayfs refuses detached layers)
// makes the same layer, and attaches nothing in the host's mount
// namespace: the thread's namespace is private and goes with the thread.
func TestLayerOnOlderKernels(t *testing.T) {
	testutil.RequireRoot(t)
	forceAttached = true
	defer func() { forceAttached = false }()
	// This goroutine's thread is in the process's own namespace.
	before, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("commit", TestCommitMatchesDirectChanges)
	t.Run("limits", TestLimits)
	after, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("the host's mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// /proc/PID (the main thread) still shows the process's namespace.
	main, _ := os.Readlink("/proc/self/ns/mnt")
	own, _ := os.Readlink("/proc/thread-self/ns/mnt")
	if main != own {
		t.Errorf("the main thread is in mount namespace %s, the process in %s", main, own)
	}
}

// A call that changed nothing skips the store; any change, a deletion or
// a chmod of the workspace root included, does not.
func TestUntouched(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(o ov)
	}{
		{"nothing", func(ov) {}},
		{"delete", func(o ov) { o.rm("gone.txt", false) }},
		{"chmod root", func(o ov) { unix.Fchmodat(o.fd, ".", 0o700, 0) }},
		{"new file", func(o ov) { o.write("n.txt", "n") }},
	} {
		ws := workspace(t)
		l, err := NewLayer(ws, 1<<20, 100)
		if err != nil {
			t.Fatal(err)
		}
		c.change(ov{t, l.Tree()})
		if got, want := l.Untouched(), c.name == "nothing"; got != want {
			t.Errorf("%s: Untouched %v, want %v", c.name, got, want)
		}
		l.Close()
	}
}
