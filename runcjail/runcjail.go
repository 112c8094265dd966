// Package runcjail is the runner's side of the second jail engine, runc's
// libcontainer (`--engine runc`, `sandbox.engine`). libcontainer needs cgo
// (its nsenter constructor runs in every start of the binary that links
// it), the seccomp build tag and about forty modules, so it lives in a
// helper binary of its own, openclaw-run-runc (module runcjail/helper),
// and openclaw-run stays static and cgo-free. This package defines what
// crosses between the two and starts the helper.
//
// One helper process serves one call:
//
//	runner ──Plan (fd 3)──▶ openclaw-run-runc ──libcontainer──▶ jail
//	       ◀─Result (fd 4)─       stdio 0-2 are the jail's own
//
// The helper starts in a mount namespace of its own (CLONE_NEWUSER is
// libcontainer's business; CLONE_NEWNS here is so that the root it builds
// for the jail never appears in the host's mount table and vanishes with
// the helper). The runner ends a call by SIGTERM to the helper, which
// kills the jail and still reports; SIGKILL is for a helper that does not
// answer, and the jail's init then dies of its parent-death signal. A
// runner that dies closes the plan pipe, which ends the call the same way.
package runcjail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/procid"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/seccomp"
)

// HelperName is the helper binary's name, looked for beside openclaw-run.
const HelperName = "openclaw-run-runc"

// Request is what the runner sends the helper for one call: the call's
// plan (the same value the native engine runs, checked by the same
// plan.Validate in the helper) and where libcontainer creates the call's
// cgroup, in its own notation: relative (v1: below the helper's cgroup in
// each hierarchy) or absolute in the hierarchy (v2). See
// cgroups.ForeignPath. The seccomp tier travels by name: libcontainer
// compiles our rule table itself.
type Request struct {
	Plan       *plan.Plan `json:"plan"`
	CgroupPath string     `json:"cgroupPath"`
}

// Supported refuses what this engine does not build yet, before anything
// starts: a plan is never run with less than it asks.
func Supported(p *plan.Plan) error {
	switch {
	case p.Command.Pty != nil:
		return errors.New("the runc engine does not give a call a pty yet; use the native engine (--engine native)")
	case p.Jail.Network.Mode != plan.NetworkNone:
		return fmt.Errorf("the runc engine does not serve network %q yet; use the native engine (--engine native)", p.Jail.Network.Mode)
	}
	return nil
}

// Result is how the jailed process ended and what it used, or why the
// jail could not be built (Error, with nothing run).
type Result struct {
	Error string `json:"error,omitempty"`
	// Exec, with Error, says the command itself could not be executed:
	// ExecNotFound or ExecNotExecutable.
	Exec           string            `json:"exec,omitempty"`
	ExitCode       int               `json:"exitCode"`
	Signal         int               `json:"signal,omitempty"`
	OOMKills       uint64            `json:"oomKills"`
	CPUUserMs      uint64            `json:"cpuUserMs"`
	CPUSystemMs    uint64            `json:"cpuSystemMs"`
	MaxMemoryBytes uint64            `json:"maxMemoryBytes"`
	Blocked        []seccomp.Blocked `json:"blocked,omitempty"`
	// StartedMs is the time from the helper's start to the jailed
	// process running (the libcontainer engine's setup time).
	StartedMs float64 `json:"startedMs"`
}

// Why a command could not be executed.
const (
	ExecNotFound      = "notfound"
	ExecNotExecutable = "notexec"
)

// SetupError is a jail the helper could not build: nothing ran.
type SetupError struct{ Msg string }

func (e *SetupError) Error() string { return "runc engine: " + e.Msg }

// Helper finds the helper binary: explicit, else beside the running
// executable, else beside the executable's resolved path (bin/ of a
// checkout, or /usr/local/bin of an install).
func Helper(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("runc engine: helper %w", err)
		}
		return explicit, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("runc engine: locate %s: %w", HelperName, err)
	}
	cands := []string{filepath.Join(filepath.Dir(exe), HelperName)}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(real), HelperName))
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("runc engine: %s not found beside %s (build it with make build, or set sandbox.engine to native)", HelperName, exe)
}

// DirPrefix names the helper's directory in the temporary directory, with
// its pid and start time after it (DirPattern): the mount point of its
// private tmpfs, empty on the host, and removed by the helper unless it
// was killed.
const DirPrefix = "openclaw-runc-"

// DirPattern is the os.MkdirTemp pattern of this process's directory.
func DirPattern() string {
	pid, start, _, _ := procid.Self().Parse()
	return fmt.Sprintf("%s%d-%d-", DirPrefix, pid, start)
}

// SweepDirs removes the empty directories of helpers that are gone (a
// SIGKILL), and returns how many. A helper is alive when a process with
// its pid and start time exists, whatever its name (a zombie is dead: this
// host's PID 1 does not reap). Only empty directories are removed.
func SweepDirs() int {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), DirPrefix+"*"))
	n := 0
	for _, d := range dirs {
		parts := strings.Split(strings.TrimPrefix(filepath.Base(d), DirPrefix), "-")
		pid, err := strconv.Atoi(parts[0])
		if err != nil || len(parts) < 3 {
			continue // not ours
		}
		start, err := strconv.ParseUint(parts[1], 10, 64)
		if err != nil {
			continue
		}
		if !procid.GoneSince(pid, start) {
			continue // alive, or it cannot be told: a sweep removes only what is certainly left over
		}
		if syscall.Rmdir(d) == nil {
			n++
		}
	}
	return n
}

// Process is one running helper, and so one jail.
type Process struct {
	cmd    *exec.Cmd
	plan   *os.File // held open for the call: its EOF tells the helper the runner is gone
	result *os.File
	killed sync.Once
	waited chan struct{}
}

// Start runs the helper for plan with the jail's stdio. The files are the
// jail's own from here on; the caller may close its copies after Start.
//
// staged, with a staging layer in the plan, is its overlay (a detached
// mount the runner made): the helper gets it as fd 5 and attaches it in
// place of the staged bind.
func Start(helper string, req *Request, stdin, stdout, stderr, staged *os.File) (*Process, error) {
	planR, planW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		planR.Close()
		planW.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path: helper, Args: []string{HelperName},
		// Nothing of the runner's environment but where temporary files
		// go (SweepDirs looks there): libcontainer's init inherits the
		// helper's, and passes the jail only Plan.Env.
		Env:        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=" + os.TempDir()},
		Stdin:      stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: append([]*os.File{planR, resW}, nonNil(staged)...),
		// No parent-death signal: if the runner dies, the helper sees
		// the plan pipe end and takes the jail down in order (its cgroup,
		// its files), which a SIGKILL would leave to the next Sweep.
		SysProcAttr: &syscall.SysProcAttr{
			// Go also makes / recursively private in the new namespace
			// (syscall/exec_linux.go), so nothing the helper mounts
			// propagates back to the host.
			Unshareflags: syscall.CLONE_NEWNS,
		},
	}
	p := &Process{cmd: cmd, plan: planW, result: resR, waited: make(chan struct{})}
	err = cmd.Start()
	planR.Close()
	resW.Close()
	if err != nil {
		planW.Close()
		resR.Close()
		return nil, fmt.Errorf("runc engine: start %s: %w", helper, err)
	}
	// The plan pipe stays open until the call ends: its EOF is how the
	// helper learns that the runner died (a parent-death signal would
	// follow the thread that forked the helper, not the runner).
	go json.NewEncoder(planW).Encode(req)
	return p, nil
}

// Pid is the helper's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill ends the call: SIGTERM, to which the helper answers by killing the
// jail, then SIGKILL if the helper is still there after a grace period.
func (p *Process) Kill() {
	p.killed.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.plan.Close()
		go func() {
			select {
			case <-p.waited:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
			}
		}()
	})
}

// Wait waits for the helper and returns the jail's result. A SetupError
// means nothing ran.
func (p *Process) Wait() (*Result, error) {
	type read struct {
		b   []byte
		err error
	}
	got := make(chan read, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(p.result, 1<<20))
		got <- read{b, err}
	}()
	werr := p.cmd.Wait()
	close(p.waited)
	p.killed.Do(func() { p.plan.Close() })
	// Whatever the helper wrote is in the pipe by now; a process it left
	// behind holding the pipe (it should not) must not hold up the call.
	p.result.SetReadDeadline(time.Now().Add(time.Second))
	r := <-got
	p.result.Close()
	b, rerr := r.b, r.err
	var res Result
	if len(b) == 0 || json.Unmarshal(b, &res) != nil {
		return nil, &SetupError{Msg: fmt.Sprintf("the helper gave no result (%v)", errors.Join(werr, rerr))}
	}
	switch {
	case res.Exec == ExecNotFound:
		return nil, fmt.Errorf("%w: %s", jail.ErrNotFound, res.Error)
	case res.Exec == ExecNotExecutable:
		return nil, &jail.ChildError{Step: "execve (runc engine): " + res.Error, Syscall: "execve", Errno: syscall.EACCES}
	case res.Error != "":
		return nil, &SetupError{Msg: res.Error}
	}
	return &res, nil
}

func nonNil(f *os.File) []*os.File {
	if f == nil {
		return nil
	}
	return []*os.File{f}
}

// StagedFD is where the helper finds the staging layer's overlay.
const StagedFD = 5
