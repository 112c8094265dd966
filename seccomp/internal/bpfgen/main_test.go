//go:build cgo

package main

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/seccomp"
)

// The committed file is exactly what make generate writes now.
func TestGeneratedFileIsCurrent(t *testing.T) {
	path := "../../zbpf_" + runtime.GOARCH + ".go"
	old, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("no precompiled programs are committed for %s", runtime.GOARCH)
	}
	if err != nil {
		t.Fatal(err)
	}
	cur, err := render(runtime.GOARCH, seccomp.LibseccompVersion(), seccomp.Tiers())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, cur) {
		t.Errorf("%s is stale (run make generate): %s", path, strings.Join(changes(old, cur), "; "))
	}
}

// A stale file names what changed: the libseccomp version, the
// architecture, a tier's rules, or the generator.
func TestChangesNameWhatChanged(t *testing.T) {
	tiers := seccomp.Tiers()
	base, err := render("amd64", "2.5.4", tiers)
	if err != nil {
		t.Fatal(err)
	}
	newer, _ := render("amd64", "2.6.0", tiers)
	arm, _ := render("arm64", "2.5.4", tiers)
	edited := seccomp.Tiers()
	edited["file"].Rules = edited["file"].Rules[1:]
	ruled, _ := render("amd64", "2.5.4", edited)
	for name, c := range map[string]struct {
		cur  []byte
		want string
	}{
		"libseccomp":   {newer, "libseccomp: 2.5.4 -> 2.6.0"},
		"architecture": {arm, "architecture: amd64 -> arm64"},
		"rules":        {ruled, "tier file: the rules changed"},
		"generator":    {append(append([]byte(nil), base...), "// trailing\n"...), "the generator itself changed"},
	} {
		got := strings.Join(changes(base, c.cur), "; ")
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: changes say %q, want %q", name, got, c.want)
		}
	}
	if got := changes(base, ruled); len(got) != 1 {
		t.Errorf("only the file tier changed, but: %q", got)
	}
	if !bytes.Contains(base, []byte("// libseccomp: 2.5.4\n")) || !bytes.Contains(base, []byte("// architecture: amd64\n")) {
		t.Errorf("the header does not record libseccomp and the architecture")
	}
}
