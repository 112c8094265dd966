package seccomp

import (
	"runtime"
	"strings"
	"testing"
)

// Fail closed: whatever is missing (the tier, a precompiled program,
// libseccomp), the answer is an error, never a nil or empty filter.
func TestFailClosed(t *testing.T) {
	if p, err := Compile("no-such-tier"); err == nil || p != nil {
		t.Errorf("Compile(unknown tier) = %v, %v", p, err)
	}
	if err := LoadSelf(nil); err == nil {
		t.Error("LoadSelf(nil) loaded nothing and said nothing")
	}
	if err := LoadSelf(&Program{Tier: "coding"}); err == nil {
		t.Error("LoadSelf(an empty program) succeeded")
	}

	// Rules that no precompiled program matches (or one whose filter is
	// empty) must be compiled by libseccomp; without libseccomp that is an
	// error.
	changed := *Tiers()["coding"]
	changed.Rules = append(append([]Rule(nil), changed.Rules...), Rule{Names: []string{"acct"}, Action: Deny, Why: "test"})
	empty := map[string]embeddedProgram{"coding": {rules: changed.Digest()}}
	for name, pre := range map[string]map[string]embeddedProgram{"stale": embedded, "empty filter": empty} {
		p, err := compileFrom(&changed, pre)
		if LibseccompVersion() == "" {
			if err == nil || p != nil {
				t.Errorf("%s, without libseccomp: %v, %v; want an error and no program", name, p, err)
			} else if !strings.Contains(err.Error(), "without libseccomp") {
				t.Errorf("%s: the error does not say why: %v", name, err)
			}
			continue
		}
		if err != nil || p == nil || len(p.Filter) == 0 || !strings.HasPrefix(p.Origin, "compiled in this process") {
			t.Errorf("%s, with libseccomp: %v, %v", name, p, err)
		}
	}
}

// Without cgo (the shipped amd64 build) every built-in tier comes from the
// precompiled programs, whose digests record this architecture.
func TestBuiltinTiersNeedNoLibseccompOnAmd64(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("only amd64 ships precompiled programs, not %s", runtime.GOARCH)
	}
	if embeddedArch != "amd64" || embeddedLibseccomp == "" {
		t.Fatalf("precompiled programs record architecture %q, libseccomp %q", embeddedArch, embeddedLibseccomp)
	}
	for name, tier := range Tiers() {
		e, ok := embedded[name]
		if !ok || e.rules != tier.Digest() {
			t.Errorf("tier %s has no current precompiled program: run make generate", name)
			continue
		}
		if e.digest != ToolchainDigest(embeddedArch, embeddedLibseccomp, e.rules) {
			t.Errorf("tier %s: digest %s does not match its architecture, libseccomp and rules", name, e.digest)
		}
		p, err := compileFrom(tier, embedded)
		if err != nil || !strings.HasPrefix(p.Origin, "precompiled for amd64 with libseccomp ") {
			t.Errorf("tier %s: %v, %v", name, p, err)
		}
	}
}
