package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LoadSelf installs prog on every thread of the calling process (TSYNC:
// a Go program has several). no_new_privs must already be set, as it is
// in every jail. Filters stack: the stricter answer of all wins, so a
// process can narrow its own tier but never widen it.
func LoadSelf(p *Program) error {
	if p == nil {
		return fmt.Errorf("seccomp: no program to load (refusing to run unfiltered)")
	}
	if len(p.Filter) == 0 {
		return fmt.Errorf("seccomp: empty program for tier %s (refusing to run unfiltered)", p.Tier)
	}
	prog := unix.SockFprog{Len: uint16(len(p.Filter)), Filter: &p.Filter[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return fmt.Errorf("seccomp: load tier %s on this process: %w", p.Tier, e)
	}
	return nil
}
