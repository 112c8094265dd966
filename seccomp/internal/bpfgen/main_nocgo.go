//go:build !cgo

// Command bpfgen needs libseccomp, through cgo; see main.go.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bpfgen: compiling seccomp programs needs libseccomp: build with CGO_ENABLED=1 and libseccomp-dev installed (make deps)")
	os.Exit(2)
}
