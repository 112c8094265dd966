//go:build cgo

package seccomp

import (
	"runtime"
	"testing"
)

// The precompiled programs are exactly what this libseccomp compiles from
// the current rules, for this architecture. After changing a rule, or on
// a new libseccomp: make generate. (internal/bpfgen's own test compares
// the whole generated file.)
func TestEmbeddedProgramsAreCurrent(t *testing.T) {
	if len(embedded) == 0 {
		t.Skipf("no precompiled programs for %s: every tier is compiled at run time", runtime.GOARCH)
	}
	if embeddedArch != runtime.GOARCH || embeddedLibseccomp != LibseccompVersion() {
		t.Fatalf("precompiled for %s with libseccomp %s; this is %s with libseccomp %s: run make generate",
			embeddedArch, embeddedLibseccomp, runtime.GOARCH, LibseccompVersion())
	}
	for name, tier := range Tiers() {
		e, ok := embedded[name]
		if !ok || e.rules != tier.Digest() {
			t.Errorf("tier %s: the precompiled program is stale (rules changed): run make generate", name)
			continue
		}
		p, err := CompileTier(tier)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.filter) != len(p.Filter) {
			t.Errorf("tier %s: precompiled %d instructions, libseccomp %d", name, len(e.filter), len(p.Filter))
			continue
		}
		for i := range e.filter {
			if e.filter[i] != p.Filter[i] {
				t.Errorf("tier %s: instruction %d differs from libseccomp's", name, i)
				break
			}
		}
	}
}

// A rule libseccomp cannot express is an error, never a program without it.
func TestCompileErrorIsNotAProgram(t *testing.T) {
	bad := &Tier{Name: "bad", Rules: []Rule{
		{Names: []string{"read"}, Action: Allow},
		{Names: []string{"write"}, Action: Allow, Conds: []Cond{{Index: 9, Mask: 1, Value: 1}}, Why: "there is no argument 9"},
	}}
	p, err := CompileTier(bad)
	if err == nil || p != nil {
		t.Fatalf("CompileTier with an impossible condition = %v, %v; want an error and no program", p, err)
	}
	if p, err := compileFrom(bad, embedded); err == nil || p != nil {
		t.Fatalf("compileFrom = %v, %v; want an error and no program", p, err)
	}
}
