package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

//go:generate go run ./internal/bpfgen

// Program is a compiled tier: classic BPF ready for seccomp(2), plus what
// the tier could not express on this libseccomp (names it does not know;
// those calls get the default ENOSYS, which is the safe side).
type Program struct {
	Tier    string
	Filter  []unix.SockFilter
	Unknown []string
	// Notify: load with a listener and supervise it (see Supervise).
	Notify bool
	// Origin says where the program came from, for `seccomp dump`:
	// precompiled (with which libseccomp, for which architecture) or
	// compiled by libseccomp in this process.
	Origin string
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Program{}
)

// Compile returns the BPF program of the named built-in tier, at most once
// per process: jails receive bytes, the child needs no cgo.
//
// libseccomp takes about 5 ms to compile a tier, which a one-shot CLI call
// would pay every time. So the programs of the built-in tiers are compiled
// at development time (`make generate`, which runs internal/bpfgen) into
// zbpf_<arch>.go, together with the digest of the rules they came from; a
// program is taken from there only when the digest still matches the
// rules, and compiled here otherwise. `make check-generate` and the tests
// fail when the file is stale.
//
// It fails closed: an unknown tier, or rules that neither match a
// precompiled program nor compile here (a build without libseccomp), give
// an error and never an empty or partial program.
func Compile(name string) (*Program, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if p, ok := cache[name]; ok {
		return p, nil
	}
	t, ok := Tiers()[name]
	if !ok {
		return nil, fmt.Errorf("unknown seccomp tier %q", name)
	}
	p, err := compileFrom(t, embedded)
	if err != nil {
		return nil, err
	}
	cache[name] = p
	return p, nil
}

// compileFrom takes t's program from the precompiled ones when its rules
// are unchanged, and compiles it with libseccomp otherwise.
func compileFrom(t *Tier, pre map[string]embeddedProgram) (*Program, error) {
	if e, ok := pre[t.Name]; ok && e.rules == t.Digest() && len(e.filter) > 0 {
		return &Program{Tier: t.Name, Filter: e.filter, Unknown: e.unknown, Notify: t.Notify,
			Origin: fmt.Sprintf("precompiled for %s with libseccomp %s", embeddedArch, embeddedLibseccomp)}, nil
	}
	p, err := CompileTier(t)
	if err != nil {
		return nil, err
	}
	if len(p.Filter) == 0 {
		return nil, fmt.Errorf("seccomp: tier %s compiled to an empty program", t.Name)
	}
	return p, nil
}

// embeddedProgram is a tier compiled at development time.
type embeddedProgram struct {
	// rules is the Tier.Digest of the rules it was compiled from.
	rules string
	// digest identifies the program's inputs: the architecture, the
	// libseccomp version and the rules (see ToolchainDigest).
	digest  string
	unknown []string
	filter  []unix.SockFilter
}

// The precompiled programs of this architecture, if any: zbpf_<arch>.go
// fills these in from an init function, so that a missing or deleted
// generated file leaves a package that still builds (and compiles every
// tier with libseccomp, or fails closed without it).
var (
	embedded           = map[string]embeddedProgram{}
	embeddedArch       string
	embeddedLibseccomp string
	// syscallNames names every call the tiers mention, for the supervisor.
	syscallNames = map[int32]string{}
)

// Digest identifies the rules of a tier: any change to a name, action,
// condition or their order changes it.
func (t *Tier) Digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %t\n", t.Name, t.Notify)
	for _, r := range t.Rules {
		fmt.Fprintf(h, "%v|%d|%v\n", r.Names, r.Action, r.Conds)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ToolchainDigest identifies a compiled program by all of its inputs: the
// architecture, the libseccomp version and the tier's rules (Digest). The
// generated file records it per tier, so that a stale program names what
// changed.
func ToolchainDigest(arch, libseccompVersion, rulesDigest string) string {
	h := sha256.Sum256([]byte(arch + "\x00" + libseccompVersion + "\x00" + rulesDigest))
	return hex.EncodeToString(h[:])
}

// Decode parses raw struct sock_filter instructions (native byte order).
func Decode(raw []byte) ([]unix.SockFilter, error) {
	if len(raw) == 0 || len(raw)%8 != 0 {
		return nil, fmt.Errorf("seccomp: BPF program of %d bytes is not a whole number of instructions", len(raw))
	}
	out := make([]unix.SockFilter, len(raw)/8)
	for i := range out {
		b := raw[i*8:]
		out[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return out, nil
}

func sortStrings(s []string) { sort.Strings(s) }
