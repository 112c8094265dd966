// Package procid names a process by identity rather than by number: a
// process ID that the kernel recycles, or a process name that an operator
// may change, cannot tell a live runner from a dead one. An ID is
// "pid:starttime:bootid":
//
//   - pid is the process ID in the reader's PID namespace;
//   - starttime is field 22 of /proc/PID/stat, the time the process started
//     in clock ticks after boot (proc(5)). Two processes that held the same
//     pid one after the other have different start times, short of the pid
//     space wrapping within one clock tick (10 ms at USER_HZ=100);
//   - bootid is /proc/sys/kernel/random/boot_id, a random UUID drawn at each
//     boot (random(4)), so that an ID recorded before a reboot is never
//     taken for a process of this boot.
//
// The audit log names the runner of each call with it (so that recovery
// can tell calls whose runner died from calls still running), and the
// cgroup sweep and the gateway's pid file can use it for runner liveness.
// IDs are meaningful within one PID namespace; processes in another one
// (a container with its own /proc) see other numbers.
//
// It reads /proc by hand instead of using prometheus/procfs: the cold CLI
// writes an audit intent for every call, and procfs would add its
// dependencies (and their init) to that path for one line of parsing.
package procid

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ID is a process identity, "pid:starttime:bootid".
type ID string

// procRoot is where proc(5) is mounted.
const procRoot = "/proc"

// bootID is this boot's id; it cannot change while we run.
var bootID = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(procRoot + "/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("procid: boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" || strings.Contains(id, ":") {
		return "", fmt.Errorf("procid: boot id %q is not a UUID", id)
	}
	return id, nil
})

// self is this process's ID: its start time cannot change either.
var self = sync.OnceValues(func() (ID, error) { return Of(os.Getpid()) })

// Self returns this process's ID, or "" when /proc cannot be read (then
// no identity can be proved, and callers that need one must refuse: see
// audit.Log.Intent).
func Self() ID {
	id, err := self()
	if err != nil {
		return ""
	}
	return id
}

// Of returns the ID of the process pid, as it is now.
func Of(pid int) (ID, error) {
	if pid <= 0 {
		return "", fmt.Errorf("procid: invalid pid %d", pid)
	}
	boot, err := bootID()
	if err != nil {
		return "", err
	}
	st, err := readStat(pid)
	if err != nil {
		return "", err
	}
	return ID(fmt.Sprintf("%d:%d:%s", pid, st.start, boot)), nil
}

// Alive reports whether the process named by id still runs: same boot,
// the pid exists, it has the recorded start time (a recycled pid has
// another), and it is not a zombie (a zombie has exited; only its parent's
// wait is missing, and it will write nothing more). A malformed id is not
// alive.
func Alive(id ID) bool {
	pid, start, boot, err := id.Parse()
	if err != nil {
		return false
	}
	if cur, err := bootID(); err != nil || cur != boot {
		return false
	}
	st, err := readStat(pid)
	if err != nil {
		return false
	}
	return st.start == start && st.state != 'Z' && st.state != 'X'
}

// Gone reports whether the process named by id has certainly ended: its
// pid is free, holds another process (another start time), or a zombie,
// or it was of another boot. It is Alive's opposite for a caller that
// destroys what a dead process left (the cgroup sweep kills its jails):
// a /proc that cannot be read now (no file descriptors left, say) proves
// nothing, and then the process is not gone. A malformed id is gone.
func Gone(id ID) bool {
	pid, start, boot, err := id.Parse()
	if err != nil {
		return true
	}
	cur, err := bootID()
	if err != nil {
		return false
	}
	if cur != boot {
		return true
	}
	st, err := readStat(pid)
	if errors.Is(err, ErrNoProcess) {
		return true
	}
	if err != nil {
		return false
	}
	return st.start != start || st.state == 'Z' || st.state == 'X'
}

// GoneSince is Gone for the process that started at start (field 22 of
// its stat) in pid, in this boot: what the sweeps read from a name they
// recorded. A boot id that cannot be read proves nothing (false).
func GoneSince(pid int, start uint64) bool {
	boot, err := bootID()
	if err != nil {
		return false
	}
	return Gone(ID(fmt.Sprintf("%d:%d:%s", pid, start, boot)))
}

// Parse splits id into its parts, checking each.
func (id ID) Parse() (pid int, start uint64, boot string, err error) {
	parts := strings.SplitN(string(id), ":", 3)
	if len(parts) != 3 {
		return 0, 0, "", fmt.Errorf("procid: %q is not pid:starttime:bootid", string(id))
	}
	pid, err = strconv.Atoi(parts[0])
	if err != nil || pid <= 0 {
		return 0, 0, "", fmt.Errorf("procid: %q: bad pid %q", string(id), parts[0])
	}
	start, err = strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return 0, 0, "", fmt.Errorf("procid: %q: bad start time %q", string(id), parts[1])
	}
	if parts[2] == "" {
		return 0, 0, "", fmt.Errorf("procid: %q: no boot id", string(id))
	}
	return pid, start, parts[2], nil
}

// PID returns the process ID part of id, or 0 when id is malformed.
func (id ID) PID() int {
	pid, _, _, err := id.Parse()
	if err != nil {
		return 0
	}
	return pid
}

// stat is what we need of /proc/PID/stat.
type stat struct {
	state byte   // field 3
	start uint64 // field 22, starttime
}

// ErrNoProcess is returned (wrapped) for a pid that does not exist.
var ErrNoProcess = errors.New("no such process")

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", procRoot, pid))
	if errors.Is(err, os.ErrNotExist) {
		return stat{}, fmt.Errorf("procid: pid %d: %w", pid, ErrNoProcess)
	}
	if err != nil {
		return stat{}, fmt.Errorf("procid: %w", err)
	}
	st, err := parseStat(b)
	if err != nil {
		return stat{}, fmt.Errorf("procid: /proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// parseStat reads the state and start time from a /proc/PID/stat line.
// Field 2, comm, is the executable's name in parentheses, and the name
// itself may hold spaces and parentheses ("a) b (c"), so the fields are
// counted after the LAST ')' (proc(5): "comm ... is displayed in
// parentheses"; the kernel writes it unescaped).
func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || bytes.IndexByte(b, '(') < 0 || bytes.IndexByte(b, '(') > i {
		return stat{}, errors.New("no (comm) field")
	}
	// After ")": " S ppid pgrp ..." -> fields[0] is field 3 (state), so
	// field N is fields[N-3].
	fields := strings.Fields(string(b[i+1:]))
	const startField = 22
	if len(fields) < startField-2 {
		return stat{}, fmt.Errorf("%d fields after comm, want at least %d", len(fields), startField-2)
	}
	if len(fields[0]) != 1 {
		return stat{}, fmt.Errorf("state %q is not one letter", fields[0])
	}
	start, err := strconv.ParseUint(fields[startField-3], 10, 64)
	if err != nil {
		return stat{}, fmt.Errorf("start time %q: %w", fields[startField-3], err)
	}
	return stat{state: fields[0][0], start: start}, nil
}
