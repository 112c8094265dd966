//go:build !amd64 || race || msan || asan

package jail

import "syscall"

// sharedVM: elsewhere, and in sanitizer builds (see clone_amd64.go), the
// child is a fork of this process.
const sharedVM = false

// cloneChild forks the child that runs p (see forkExec); amd64 clones it
// into this process's memory instead (clone_amd64.go).
func cloneChild(p *program, args *cloneArgs, errFD uintptr) (uintptr, syscall.Errno) {
	return forkExec(p, args, errFD)
}
