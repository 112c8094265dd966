// Package seccomp owns the system call filters of the jail's tiers: the
// rule tables (rules.go), their compilation to classic BPF with
// libseccomp-golang (compile.go), once per process, and their readable dump.
//
// The jail receives the compiled instructions as plain data and loads them
// itself at the end of its setup, before it waits for or execs its command, so the forked child needs no cgo.
// Which tier applies to a call is the profile's decision, not this package's.
package seccomp
