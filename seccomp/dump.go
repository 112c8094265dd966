package seccomp

import (
	"fmt"
	"sort"
	"strings"
)

// Dump renders a tier for review: one line per system call and rule, with
// its action, argument conditions and reason; then the default action and
// the names this libseccomp does not know.
func Dump(t *Tier, p *Program) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# tier %s: %s\n", t.Name, t.About)
	fmt.Fprintf(&b, "# architecture: native only; i386 and x32 calls -> EPERM\n")
	fmt.Fprintf(&b, "# %d BPF instructions\n", len(p.Filter))
	if p.Origin != "" {
		fmt.Fprintf(&b, "# program: %s\n", p.Origin)
	}
	type line struct{ name, text string }
	var lines []line
	for _, r := range t.Rules {
		cond := ""
		if len(r.Conds) > 0 {
			parts := make([]string, len(r.Conds))
			for i, c := range r.Conds {
				parts[i] = fmt.Sprintf("arg%d&%#x==%#x", c.Index, c.Mask, c.Value)
			}
			cond = " if " + strings.Join(parts, " && ")
		}
		for _, n := range r.Names {
			lines = append(lines, line{n, fmt.Sprintf("%-22s %-6s%s  # %s", n, r.Action, cond, r.Why)})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].name < lines[j].name })
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%-22s %-6s  # not listed: unknown or newer calls, so libc falls back\n", "*", "ENOSYS")
	if len(p.Unknown) > 0 {
		fmt.Fprintf(&b, "# not known to this libseccomp, so ENOSYS: %s\n", strings.Join(p.Unknown, ", "))
	}
	return b.String()
}
