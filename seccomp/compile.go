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

// Program is a compiled tier: classic BPF ready for seccomp(2), plus what
// the tier could not express on this libseccomp (names it does not know;
// those calls get the default ENOSYS, which is the safe side).
type Program struct {
	Tier    string
	Filter  []unix.SockFilter
	Unknown []string
	// Notify: load with a listener and supervise it (see Supervise).
	Notify bool
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
// at development time into zbpf_<arch>.go, together with a digest of the
// rules they came from; a program is taken from there only when the digest
// still matches the rules, and compiled here otherwise. A test compiles
// every tier afresh and fails when the embedded bytes differ.
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
	if e, ok := embedded[name]; ok && e.digest == t.Digest() {
		p := &Program{Tier: name, Filter: e.filter, Unknown: e.unknown, Notify: t.Notify}
		cache[name] = p
		return p, nil
	}
	p, err := CompileTier(t)
	if err != nil {
		return nil, err
	}
	cache[name] = p
	return p, nil
}

// embeddedProgram is a tier compiled at development time.
type embeddedProgram struct {
	digest  string
	unknown []string
	filter  []unix.SockFilter
}

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
