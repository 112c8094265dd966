//go:build cgo

package seccomp

import (
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

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
	// A binary tree over the syscall numbers instead of one long chain of
	// comparisons (SCMP_FLTATR_CTL_OPTIMIZE, seccomp_attr_set(3)). Loading
	// a filter, the kernel runs it for every syscall number of every
	// architecture to build its cache of always-allowed calls
	// (seccomp_cache_prepare, with interrupts off): through a chain of a
	// few hundred comparisons that was 5% of all the CPU a gateway call
	// cost. Calls with argument checks, which the cache cannot answer, are
	// filtered faster at run time too. The verdicts are the same either
	// way, so a libseccomp older than 2.5, which cannot build the tree,
	// compiles the chain (only where programs are not precompiled: amd64
	// embeds its own, built here with the tree).
	_ = f.SetOptimize(2)
	p := &Program{Tier: t.Name, Notify: t.Notify, Origin: "compiled in this process by libseccomp " + LibseccompVersion()}
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

// libseccompName asks libseccomp for the name of a native call number.
func libseccompName(nr int32) string {
	n, err := libseccomp.ScmpSyscall(nr).GetName()
	if err != nil {
		return ""
	}
	return n
}

// LibseccompVersion is the version of the libseccomp this binary uses
// ("2.5.4"), which the precompiled programs record.
func LibseccompVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
