// Package jail turns a call's plan (package plan) into one running process
// inside a fresh set of Linux namespaces (user, mount, pid, net, ipc, uts,
// cgroup): the native engine.
//
// It decides nothing. Which directories are visible, which uid the jail's root
// maps to, which seccomp program applies and which limits hold are chosen by
// the runner, for each call, and arrive here as a validated plan.Plan. This
// package owns the mechanism only: clone, id maps, the mount tree, pivot_root,
// capabilities, no_new_privs, rlimits, fd hygiene, seccomp and execve, in that
// order, and the kill of the whole jail.
//
// The dangerous stretch between clone and execve runs, on amd64, in a child
// that SHARES this process's memory (clone3 with CLONE_VM, on a stack of its
// own: see cloneChild) and elsewhere, and in race/msan/asan builds, in a
// forked copy. Either way it may not allocate, grow its stack, run the Go
// scheduler or a signal handler, or write anything but its own stack and the
// buffers set aside for it: in the shared case any other write would corrupt
// the runner. So the parent compiles the whole setup into a list of raw system
// calls whose arguments already point at prepared memory, kept alive until the
// child has exec'd or died (see program), and the child does nothing but
// execute that list top to bottom (runChild; internal/deptest checks its call
// graph in the machine code of the built binary). The list is the setup order:
// reading it (or printing it with Describe) is reading what the jail does.
// A failed step is reported back with its index, so an error names the exact
// call and its arguments (ChildError).
//
// Requirements: Linux 5.12 or newer (clone3, openat2, open_tree, move_mount,
// mount_setattr, close_range). On older kernels Start fails; it never falls
// back to a weaker setup.
package jail
