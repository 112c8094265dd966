package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"

	libseccomp "github.com/seccomp/libseccomp-golang"
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

// CompileTier compiles t with libseccomp for the native architecture only.
// Calls from any other ABI (i386's int 0x80, x32 on x86_64) are refused
// with EPERM before any rule is looked at: a filter written for one ABI's
// numbers means nothing for another's.
func CompileTier(t *Tier) (*Program, error) {
	f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(int16(DefaultErrno)))
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter: %w", err)
	}
	defer f.Release()
	if err := f.SetBadArchAction(libseccomp.ActErrno.SetReturnCode(int16(syscall.EPERM))); err != nil {
		return nil, fmt.Errorf("seccomp: bad-arch action: %w", err)
	}
	// The runner sets no_new_privs itself, in the jail's setup order.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: nnp attribute: %w", err)
	}
	p := &Program{Tier: t.Name, Notify: t.Notify}
	unknown := map[string]bool{}
	for _, r := range t.Rules {
		if r.Action == NoSys && len(r.Conds) == 0 {
			continue // the default already; the rule is there for its reason in the dump
		}
		act := action(r.Action, t.Notify)
		for _, name := range r.Names {
			sc, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				unknown[name] = true
				continue
			}
			if len(r.Conds) == 0 {
				err = f.AddRule(sc, act)
			} else {
				conds := make([]libseccomp.ScmpCondition, 0, len(r.Conds))
				for _, c := range r.Conds {
					cond, err := libseccomp.MakeCondition(c.Index, libseccomp.CompareMaskedEqual, c.Mask, c.Value)
					if err != nil {
						return nil, fmt.Errorf("seccomp: %s: condition %+v: %w", name, c, err)
					}
					conds = append(conds, cond)
				}
				err = f.AddRuleConditional(sc, act, conds)
			}
			if err != nil {
				return nil, fmt.Errorf("seccomp: tier %s: rule %s %s: %w", t.Name, name, r.Action, err)
			}
		}
	}
	for n := range unknown {
		p.Unknown = append(p.Unknown, n)
	}
	sort.Strings(p.Unknown)
	p.Filter, err = export(f)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func action(a Action, notify bool) libseccomp.ScmpAction {
	switch a {
	case Allow:
		return libseccomp.ActAllow
	case Deny:
		if notify {
			return libseccomp.ActNotify
		}
		return libseccomp.ActErrno.SetReturnCode(int16(syscall.EPERM))
	default:
		return libseccomp.ActErrno.SetReturnCode(int16(syscall.ENOSYS))
	}
}

// export writes the filter as BPF through a pipe (libseccomp 2.5 has no
// export to memory) and decodes it into sock_filter instructions.
func export(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() {
		err := f.ExportBPF(w)
		w.Close()
		done <- err
	}()
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("seccomp: read BPF: %w", err)
	}
	if err := <-done; err != nil {
		return nil, fmt.Errorf("seccomp: export BPF: %w", err)
	}
	return Decode(raw)
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
