package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/openclaw-run/openclaw-run/internal/procid"
	"golang.org/x/sys/unix"
)

// The gateway's pidfile is locked (flock) for as long as the gateway
// runs, and names it by identity (pid and start time, internal/procid):
// "stop" signals only a process that holds the lock and has that identity,
// never whatever process happens to have the pid a dead gateway left in a
// stale file. Under systemd the unit needs no pidfile at all (Type=simple).

// lockPidFile takes the pidfile for this gateway and writes its pid, the
// address a local client reaches it at, and its identity. The returned
// file holds the lock until it is closed (or the process dies).
func lockPidFile(addr string) (*os.File, error) {
	f, err := os.OpenFile(pidFile(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pidfile: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid, _, ok := runningAt(); ok {
				return nil, fmt.Errorf("openclaw-gateway is already running with this state directory (pid %d)", pid)
			}
			return nil, fmt.Errorf("pidfile %s is locked by another process", pidFile())
		}
		return nil, fmt.Errorf("pidfile: lock: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.WriteAt([]byte(fmt.Sprintf("%d\n%s\n%s\n", os.Getpid(), addr, procid.Self())), 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// runningAt reads the pidfile: the running gateway's pid and address. ok
// is true only when a process holds the file's lock and the process named
// in it is alive with the identity it wrote.
func runningAt() (pid int, addr string, ok bool) {
	f, err := os.Open(pidFile())
	if err != nil {
		return 0, "", false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return 0, "", false // nobody holds it: a stale file
	}
	b, err := os.ReadFile(pidFile())
	if err != nil {
		return 0, "", false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 3 {
		return 0, "", false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	id := procid.ID(strings.TrimSpace(lines[2]))
	if id.PID() != pid || !procid.Alive(id) {
		return 0, "", false
	}
	return pid, strings.TrimSpace(lines[1]), true
}

// running reads the pidfile (see runningAt).
func running() (int, bool) {
	pid, _, ok := runningAt()
	return pid, ok
}

// signalGateway signals the gateway of the pidfile, checked as runningAt
// checks it just before.
func signalGateway(sig syscall.Signal) (int, error) {
	pid, ok := running()
	if !ok {
		return 0, errors.New("openclaw-gateway is not running")
	}
	return pid, syscall.Kill(pid, sig)
}
