//go:build !amd64 || race || msan || asan

package jail

import "syscall"

// cloneChild forks the child that runs p (see forkExec): on architectures
// other than amd64, and in sanitizer builds; amd64 clones it into this
// process's memory instead (clone_amd64.go).
func cloneChild(p *program, args *cloneArgs, errFD uintptr) (uintptr, syscall.Errno) {
	return forkExec(p, args, errFD)
}
