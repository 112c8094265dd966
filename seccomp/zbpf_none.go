//go:build !amd64

package seccomp

// No tier is precompiled for this architecture: Compile uses libseccomp.
var embedded = map[string]embeddedProgram{}

// syscallNames is empty here: SyscallName asks libseccomp.
var syscallNames = map[int32]string{}
