//go:build cgo

package seccomp

import libseccomp "github.com/seccomp/libseccomp-golang"

// libseccompNr asks libseccomp for a native call number, for names the
// generated table does not hold (architectures without precompiled
// programs).
func libseccompNr(name string) (int, bool) {
	sc, err := libseccomp.GetSyscallFromName(name)
	return int(sc), err == nil
}
