// Package jail turns a fully resolved Spec into one running process inside a
// fresh set of Linux namespaces (user, mount, pid, net, ipc, uts, cgroup).
//
// It decides nothing. Which directories are visible, which uid the jail's root
// maps to, which seccomp program applies and which limits hold are chosen by
// the caller (runner, from a profile) and arrive here as data. This package
// owns the mechanism only: clone, id maps, the mount tree, pivot_root,
// capabilities, no_new_privs, rlimits, fd hygiene, seccomp and execve, in that
// order, and the kill of the whole jail.
//
// The dangerous stretch between clone and execve runs in a forked copy of this
// Go process that may not allocate, grow its stack or touch the scheduler. So
// the parent compiles the whole setup into a list of raw system calls whose
// arguments already point at prepared memory (see program), and the child does
// nothing but execute that list top to bottom. The list is the setup order:
// reading it (or printing it with Describe) is reading what the jail does.
// A failed step is reported back with its index, so an error names the exact
// call and its arguments (ChildError).
//
// Requirements: Linux 5.12 or newer (clone3, openat2, open_tree, move_mount,
// mount_setattr, close_range). On older kernels Start fails; it never falls
// back to a weaker setup.
package jail
