package jail

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/openclaw-run/openclaw-run/plan"
	"golang.org/x/sys/unix"
)

// A deferred jail's command arrives as one block written into a pipe, laid
// out for the address of the buffer the child reads it into (the child
// shares this process's memory or is a copy of it, so that address is the
// same there). Fixed
// offsets let the child's last ops point at it without parsing anything.
const (
	dirOff       = 64        // working directory, NUL-terminated
	pathOff      = 4096      // absolute path of the program
	argvOff      = 8192      // NULL-terminated pointer array
	envOff       = 16384     // NULL-terminated pointer array
	strOff       = 32768     // the strings the arrays point at
	deferredSize = 256 << 10 // the whole buffer, and the pipe's capacity
	maxArgv      = (envOff - argvOff) / 8
	maxEnv       = (strOff - envOff) / 8
)

// deferredBufs are the blocks deferred jails read their command into
// (256 KiB each), kept for the next jail once a command has exec'd: a
// fresh one per call made a warm gateway collect its heap every few
// calls. A block's stale bytes past the next command's are never read:
// the command's arrays and strings, their terminators included, are all
// in the bytes written (block).
var deferredBufs = sync.Pool{New: func() any { b := make([]byte, deferredSize); return &b }}

// ErrTooLarge means a command does not fit a deferred jail's block; the
// caller starts a jail the ordinary way.
var ErrTooLarge = errors.New("the command does not fit a pre-warmed jail")

// Pending is a jail built up to its execve, waiting for its command. It is
// used once: Exec or Discard.
type Pending struct {
	proc    *Process
	prog    *program
	goW     int
	errR    int
	notifyR int
	passed  []passedFD
	fds     []int

	mu   sync.Mutex
	used bool
}

// Pid is the waiting jail's pid (for its cgroup).
func (w *Pending) Pid() int { return w.proc.Pid }

// Fits reports whether Exec can take this command: an absolute program
// path, no pty, and a block within the pipe's capacity.
func Fits(c *plan.Command) bool {
	if c.Pty != nil {
		return false
	}
	_, err := blockSize(c.Path, c.Args, c.Env, c.Dir)
	return err == nil
}

// blockSize checks that a command fits a block and returns the block's
// size, without building it (Fits runs for every exec call).
func blockSize(path string, argv, env []string, dir string) (int, error) {
	if len(argv) == 0 || !strings.HasPrefix(path, "/") || len(path) >= argvOff-pathOff ||
		len(dir) >= pathOff-dirOff || !strings.HasPrefix(dir, "/") || len(argv) >= maxArgv || len(env) >= maxEnv {
		return 0, ErrTooLarge
	}
	if strings.IndexByte(path, 0) >= 0 || strings.IndexByte(dir, 0) >= 0 {
		return 0, fmt.Errorf("a NUL byte in %q or %q", path, dir)
	}
	size := strOff
	for _, list := range [][]string{argv, env} {
		for _, s := range list {
			if strings.IndexByte(s, 0) >= 0 {
				return 0, fmt.Errorf("a NUL byte in %q", s)
			}
			size += len(s) + 1
		}
	}
	if size > deferredSize {
		return 0, ErrTooLarge
	}
	return size, nil
}

// block lays out argv, env and dir for a buffer at base.
func block(base uintptr, path string, argv, env []string, dir string) ([]byte, error) {
	size, err := blockSize(path, argv, env, dir)
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	copy(b[dirOff:], dir)
	copy(b[pathOff:], path)
	at := strOff
	put := func(arr int, i int, s string) {
		*(*uintptr)(unsafe.Pointer(&b[arr+8*i])) = base + uintptr(at)
		copy(b[at:], s)
		at += len(s) + 1
	}
	for i, a := range argv {
		put(argvOff, i, a)
	}
	for i, e := range env {
		put(envOff, i, e)
	}
	return b, nil
}

// Exec gives the jail its command and returns it running, as Start does:
// on error nothing runs and the jail is gone. c.Path is the program's
// absolute path inside the jail (a pre-warmed jail does no PATH search);
// c.Args[0] is its name. The command is checked as every plan's is.
func (w *Pending) Exec(c *plan.Command) (*Process, error) {
	path, argv, env, dir := c.Path, c.Args, c.Env, c.Dir
	if err := (&plan.Plan{Command: *c}).ValidateCommand(); err != nil {
		w.Discard()
		return nil, err
	}
	w.mu.Lock()
	used := w.used
	w.used = true
	w.mu.Unlock()
	if used {
		return nil, errors.New("jail: a pre-warmed jail is used once")
	}
	defer w.closeFDs()
	b, err := block(uintptr(unsafe.Pointer(&w.prog.deferred[0])), path, argv, env, dir)
	if err != nil {
		w.kill()
		return nil, err
	}
	// One write into an empty pipe whose capacity holds the whole block:
	// the child's single read gets all of it.
	// A jail whose setup failed has exited with its report: the write
	// fails (EPIPE) and finish reads why.
	n, werr := unix.Write(w.goW, b)
	proc, err := finish(w.proc, w.prog, w.errR, w.notifyR, w.passed, path)
	if err == nil && (werr != nil || n != len(b)) {
		w.kill()
		return nil, fmt.Errorf("hand the command to the pre-warmed jail: %d of %d bytes, %v", n, len(b), werr)
	}
	if err == nil {
		// The error pipe's end of file: the child has exec'd (or died),
		// and no longer reads this process's memory (finish).
		deferred := w.prog.deferred
		w.prog.deferred = nil
		deferredBufs.Put(&deferred)
	}
	return proc, err
}

// Discard kills a jail that will not be used.
func (w *Pending) Discard() {
	w.mu.Lock()
	used := w.used
	w.used = true
	w.mu.Unlock()
	if !used {
		w.kill()
		w.closeFDs()
	}
}

func (w *Pending) kill() {
	w.proc.destroy()
}

func (w *Pending) closeFDs() {
	for _, fd := range w.fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	w.fds = nil
}
