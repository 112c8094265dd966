// Package procid identifies a process across pid reuse: its pid, its
// start time (clock ticks since boot, field 22 of /proc/PID/stat, proc(5))
// and the boot it belongs to. Liveness is decided by that identity, never
// by a process's name: a runner installed under another name is alive,
// and a recycled pid of another program is not.
package procid

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ID is "pid:starttime:bootid".
type ID string

var bootID = sync.OnceValue(func() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
})

var self = sync.OnceValue(func() ID {
	id, err := Of(os.Getpid())
	if err != nil {
		return ID(strconv.Itoa(os.Getpid()) + ":0:" + bootID())
	}
	return id
})

// Self is this process's identity.
func Self() ID { return self() }

// stat reads the state and start time of pid from /proc/PID/stat. The
// command name (field 2) may hold spaces and parentheses: the fields are
// counted after the last ')'.
func stat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

// Of returns the identity of a running process.
func Of(pid int) (ID, error) {
	_, start, err := stat(pid)
	if err != nil {
		return "", err
	}
	return ID(fmt.Sprintf("%d:%d:%s", pid, start, bootID())), nil
}

// Parse splits an identity.
func Parse(id ID) (pid int, start uint64, boot string, err error) {
	parts := strings.SplitN(string(id), ":", 3)
	if len(parts) != 3 {
		return 0, 0, "", fmt.Errorf("process identity %q: want pid:starttime:bootid", id)
	}
	if pid, err = strconv.Atoi(parts[0]); err != nil || pid <= 0 {
		return 0, 0, "", fmt.Errorf("process identity %q: bad pid", id)
	}
	if start, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return 0, 0, "", fmt.Errorf("process identity %q: bad start time", id)
	}
	return pid, start, parts[2], nil
}

// Alive reports whether the process id names still runs: same boot, the
// pid exists with that start time, and it is not a zombie (a dead process
// its parent has not reaped yet).
func Alive(id ID) bool {
	pid, start, boot, err := Parse(id)
	if err != nil || boot != bootID() {
		return false
	}
	state, s, err := stat(pid)
	return err == nil && s == start && state != 'Z' && state != 'X'
}
