package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/seccomp"
)

// cmdProfiles lists or shows the built-in profiles.
func cmdProfiles(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("profiles", stderr)
	asJSON := fs.Bool("json", false, "print the profile as JSON")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	builtin, err := setup.Profiles()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rest := fs.Args()
	switch {
	case len(rest) == 1 && rest[0] == "list":
		for _, n := range profiles.Names(builtin) {
			p := builtin[n]
			exec := p.ExecTier
			if exec == "" {
				exec = "-"
			}
			fmt.Fprintf(stdout, "%-8s exec:%-7s file:%-5s memory:%-5s cpus:%-4g pids:%-5d timeout:%-6s %s\n",
				n, exec, p.FileTier, p.Limits.Memory, p.Limits.CPUs, p.Limits.Pids, p.Limits.Timeout, p.Description)
		}
		return 0
	case len(rest) == 2 && rest[0] == "show":
		p, ok := builtin[rest[1]]
		if !ok {
			fmt.Fprintf(stderr, "unknown profile %q (have %v)\n", rest[1], profiles.Names(builtin))
			return 1
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(p)
			return 0
		}
		if src, err := profiles.BuiltinSource(p.Name); err == nil {
			stdout.Write(src)
			return 0
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(p)
		return 0
	}
	fmt.Fprintln(stderr, "usage: openclaw-run profiles list | profiles show NAME [--json]")
	return 2
}

// cmdSeccomp prints a tier's rules readably, or its compiled BPF.
func cmdSeccomp(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("seccomp", stderr)
	bpf := fs.Bool("bpf", false, "print the compiled BPF program instead of the rules")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	rest := fs.Args()
	if len(rest) != 2 || rest[0] != "dump" {
		fmt.Fprintln(stderr, "usage: openclaw-run seccomp dump TIER [--bpf]   (tiers: file, coding, full)")
		return 2
	}
	tier, ok := seccomp.Tiers()[rest[1]]
	if !ok {
		fmt.Fprintf(stderr, "unknown tier %q (tiers: file, coding, full)\n", rest[1])
		return 1
	}
	prog, err := seccomp.Compile(tier.Name)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *bpf {
		for i, in := range prog.Filter {
			fmt.Fprintf(stdout, "%04d: code=%#04x jt=%d jf=%d k=%#08x\n", i, in.Code, in.Jt, in.Jf, in.K)
		}
		return 0
	}
	fmt.Fprint(stdout, seccomp.Dump(tier, prog))
	return 0
}
