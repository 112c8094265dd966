package jail

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/plan"
	"golang.org/x/sys/unix"
)

// output runs s with its stdout and stderr in one pipe and returns them.
func output(t *testing.T, s *Spec) (string, ExitStatus) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s.Stdout, s.Stderr = w, w
	p, err := Start(s)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	st, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return string(b), st
}

// A pty call gets a terminal of the jail's own devpts instance, of the
// asked size, as stdin, stdout, stderr and controlling terminal; the
// runner gets its master.
func TestPty(t *testing.T) {
	testutil.RequireRoot(t)
	s := minimalSpec(t, "sh", "-c", `tty; stty size; test -t 0 && test -t 2 && echo all-terminals; read line; echo "got $line"`)
	s.Plan.Command.Pty = &plan.Pty{Cols: 91, Rows: 17}
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	m := p.Pty()
	if m == nil {
		t.Fatal("no pty master")
	}
	defer m.Close()
	m.Write([]byte("hello\n"))
	var out bytes.Buffer
	io.Copy(&out, m) // EIO once the slave's last holder is gone
	st, err := p.Wait()
	if err != nil || st.Code != 0 {
		t.Fatalf("%+v %v:\n%s", st, err, out.String())
	}
	for _, want := range []string{"/dev/pts/0", "17 91", "all-terminals", "got hello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("pty output lacks %q:\n%s", want, out.String())
		}
	}
}

// The proxy listener exists only inside the jail's network namespace: the
// jail connects to it on loopback, the runner accepts on the fd it was
// given, and the host's loopback has nothing on that port.
func TestProxyListenerInJailNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	port := 20000 + os.Getpid()%20000
	s := minimalSpec(t, "python3", "-c",
		fmt.Sprintf("import socket; c=socket.create_connection(('127.0.0.1',%d)); c.sendall(b'ping'); print(c.recv(4).decode())", port))
	s.Plan.Jail.Network = plan.Network{Mode: plan.NetworkAllowlist, ProxyPort: port}
	r, w, _ := os.Pipe()
	s.Stdout, s.Stderr = w, w
	p, err := Start(s)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	f := p.ProxyListener()
	if f == nil {
		t.Fatal("no proxy listener")
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Errorf("the host's loopback reaches port %d: the listener is not confined to the jail", port)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	io.ReadFull(c, buf)
	c.Write([]byte("pong"))
	c.Close()
	out, _ := io.ReadAll(r)
	st, _ := p.Wait()
	if string(buf) != "ping" || strings.TrimSpace(string(out)) != "pong" || st.Code != 0 {
		t.Fatalf("proxy listener: read %q, jail printed %q, %+v", buf, out, st)
	}
}

// A pinned directory is a mount point: the jail can neither rename nor
// remove it, so a masked path below it keeps its name for the next call.
func TestPinsKeepMaskedPathsInPlace(t *testing.T) {
	testutil.RequireRoot(t)
	ws := t.TempDir()
	os.MkdirAll(filepath.Join(ws, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(ws, "a", "b", "secret"), []byte("s3cret"), 0o644)
	os.WriteFile(filepath.Join(ws, "a", "other"), []byte("x"), 0o644)
	filepath.Walk(ws, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, 4242, 4242) })
	s := minimalSpec(t, "sh", "-c", `
mv /w/a /w/z 2>/dev/null && echo moved-a
mv /w/a/b /w/a/c 2>/dev/null && echo moved-b
rm -rf /w/a 2>/dev/null
mv /w/a/b/secret /w/x 2>/dev/null && echo moved-secret
ln /w/a/b/secret /w/hard 2>/dev/null && echo linked
echo "read: $(cat /w/a/b/secret)"
echo new > /w/a/b/created && echo created`)
	s.Plan.Jail.Binds = append(s.Plan.Jail.Binds, plan.Bind{Source: ws, Target: "/w", Writable: true})
	s.Plan.Jail.Pins = []string{"/w/a", "/w/a/b"}
	s.Plan.Jail.Masks = []plan.Mask{{Path: "/w/a/b/secret"}}
	out, st := output(t, s)
	if st.Code != 0 {
		t.Fatalf("%+v\n%s", st, out)
	}
	for _, bad := range []string{"moved-a", "moved-b", "moved-secret", "linked", "s3cret"} {
		if strings.Contains(out, bad) {
			t.Errorf("the jail could do %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "created") {
		t.Errorf("a pinned directory is not writable:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(ws, "a", "b", "secret")); err != nil || string(b) != "s3cret" {
		t.Errorf("the denied file moved or changed on the host: %q %v", b, err)
	}
}

// Resource limits above the runner's own hard limit still hold: a shell
// with a hard RLIMIT_NOFILE of 4096 (this host's login shells have 20000)
// started a full-profile jail (65536) and failed with EPERM in prlimit.
func TestRlimitsAboveTheRunnersHardLimit(t *testing.T) {
	testutil.RequireRoot(t)
	var old unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &old)
	low := unix.Rlimit{Cur: 1024, Max: 4096}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old) // root may raise it again
	s := minimalSpec(t, "sh", "-c", "ulimit -Sn; ulimit -Hn")
	s.Plan.Jail.Rlimits = []plan.Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 65536, Max: 65536}}
	if !CanRaiseRlimits() {
		// This runner may not raise limits (this machine's root lacks
		// CAP_SYS_RESOURCE): the start fails, saying why, and nothing
		// runs; the runner clamps its plans instead (runner's tests).
		_, err := Start(s)
		if err == nil || !strings.Contains(err.Error(), "CAP_SYS_RESOURCE") {
			t.Fatalf("want a refusal naming CAP_SYS_RESOURCE, got %v", err)
		}
		t.Logf("no CAP_SYS_RESOURCE here: refused as it should be (%v)", err)
		return
	}
	out, st := output(t, s)
	if st.Code != 0 || strings.Fields(out)[0] != "65536" || strings.Fields(out)[1] != "65536" {
		t.Fatalf("want 65536 65536, got %q (%+v)", out, st)
	}
}

// A command that exists but cannot be executed is a ChildError of execve,
// which NotExecutable tells apart from a setup step.
func TestNotExecutable(t *testing.T) {
	testutil.RequireRoot(t)
	_, err := run(t, minimalSpec(t, "/usr/share"))
	ce, ok := err.(*ChildError)
	if !ok || ce.Syscall != "execve" || !ce.NotExecutable() || ce.Errno != syscall.EACCES {
		t.Fatalf("want an execve EACCES ChildError, got %#v", err)
	}
}
