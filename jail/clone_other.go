//go:build !amd64

package jail

import "syscall"

// sharedVM: elsewhere the child is a fork of this process.
const sharedVM = false

// cloneChild forks the child that runs p (see forkExec); amd64 clones it
// into this process's memory instead (clone_amd64.go).
func cloneChild(p *program, args *cloneArgs, errFD uintptr) (uintptr, syscall.Errno) {
	return forkExec(p, args, errFD)
}
