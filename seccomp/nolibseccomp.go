//go:build !cgo

package seccomp

import (
	"fmt"
	"runtime"
)

// CompileTier needs libseccomp, which a build without cgo does not link.
// Such a build (the static release binary on amd64) runs the tiers that
// were compiled into zbpf_<arch>.go and checked against libseccomp by the
// tests; any other tier fails closed here.
func CompileTier(t *Tier) (*Program, error) {
	return nil, fmt.Errorf("seccomp: tier %q has no precompiled program for %s and this binary was built without libseccomp (cgo): rebuild with CGO_ENABLED=1", t.Name, runtime.GOARCH)
}

func libseccompName(nr int32) string { return "" }

// LibseccompVersion is empty: this binary has no libseccomp.
func LibseccompVersion() string { return "" }
