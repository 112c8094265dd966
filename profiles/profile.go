package profiles

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tailscale/hujson"
)

// Profile is one tool tier: which tools an agent may call, under which
// seccomp tier each kind of tool runs, and the default limits of a call.
type Profile struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Tools       []string `json:"tools"`
	// ExecTier is the seccomp tier of exec calls; empty means exec is not
	// allowed at all (a policy refusal, before any jail is built).
	ExecTier string `json:"execTier"`
	// FileTier is the seccomp tier of the file tools.
	FileTier string `json:"fileTier"`
	// Network is "none": a private network namespace with only loopback;
	// or "allowlist": the same, plus an egress proxy inside it that reaches
	// only the hosts of sandbox.network.allow (docs/network.md).
	Network string `json:"network"`
	Limits  Limits `json:"limits"`
}

// Limits bound one call. Zero means "not set" when merging overrides.
type Limits struct {
	Memory    Size     `json:"memory"`
	CPUs      float64  `json:"cpus"`
	Pids      int      `json:"pids"`
	Timeout   Duration `json:"timeout"`
	MaxOutput Size     `json:"maxOutput"`
	TmpSize   Size     `json:"tmpSize"`
	FileSize  Size     `json:"fileSize"`
	OpenFiles int      `json:"openFiles"`
	// Disk bounds what a call may add to its workspace (its staging
	// layer: docs/staging.md), and DiskInodes the files and directories
	// it may create. A write past either fails with ENOSPC in the jail.
	// They are memory while the call runs (a tmpfs, charged to the
	// call's cgroup). 0: half of Memory, and 65536 inodes.
	Disk       Size `json:"disk,omitempty"`
	DiskInodes int  `json:"diskInodes,omitempty"`
}

// Override returns l with every field that o sets replaced.
func (l Limits) Override(o Limits) Limits {
	if o.Memory != 0 {
		l.Memory = o.Memory
	}
	if o.CPUs != 0 {
		l.CPUs = o.CPUs
	}
	if o.Pids != 0 {
		l.Pids = o.Pids
	}
	if o.Timeout != 0 {
		l.Timeout = o.Timeout
	}
	if o.MaxOutput != 0 {
		l.MaxOutput = o.MaxOutput
	}
	if o.TmpSize != 0 {
		l.TmpSize = o.TmpSize
	}
	if o.FileSize != 0 {
		l.FileSize = o.FileSize
	}
	if o.OpenFiles != 0 {
		l.OpenFiles = o.OpenFiles
	}
	if o.Disk != 0 {
		l.Disk = o.Disk
	}
	if o.DiskInodes != 0 {
		l.DiskInodes = o.DiskInodes
	}
	return l
}

// StagingDisk is the disk limit in force: Disk, else half of Memory.
func (l Limits) StagingDisk() int64 {
	if l.Disk > 0 {
		return int64(l.Disk)
	}
	return int64(l.Memory) / 2
}

// StagingInodes is the inode limit in force: DiskInodes, else 65536.
func (l Limits) StagingInodes() int64 {
	if l.DiskInodes > 0 {
		return int64(l.DiskInodes)
	}
	return 65536
}

// Allows reports whether the profile allows tool.
func (p *Profile) Allows(tool string) bool {
	for _, t := range p.Tools {
		if t == tool {
			return true
		}
	}
	return false
}

// Tools the runner knows. The guide's web_search, browser, canvas and
// nodes run no local code and are not runner tools.
var KnownTools = []string{"read", "write", "ls", "edit", "apply_patch", "exec", "process", "sessions_spawn"}

// Tiers the seccomp package builds (kept in step by a test in runner).
var KnownTiers = []string{"file", "coding", "full"}

//go:embed builtin/*.jsonc
var builtinFS embed.FS

// Builtin returns the built-in profiles by name.
func Builtin() (map[string]*Profile, error) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		return nil, err
	}
	out := map[string]*Profile{}
	for _, e := range entries {
		data, err := builtinFS.ReadFile("builtin/" + e.Name())
		if err != nil {
			return nil, err
		}
		p, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("built-in profile %s: %w", e.Name(), err)
		}
		out[p.Name] = p
	}
	return out, nil
}

// Load returns the built-in profiles plus the custom ones in dir (files
// named NAME.json or NAME.jsonc, JSON with comments). A custom profile is
// validated like a built-in one, must be named like its file, and may not
// take a built-in name: "coding" always means the shipped coding profile.
// A missing dir is not an error; a bad file is, and names the file.
func Load(dir string) (map[string]*Profile, error) {
	out, err := Builtin()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		base := strings.TrimSuffix(strings.TrimSuffix(name, ".jsonc"), ".json")
		if e.IsDir() || base == name {
			continue
		}
		file := filepath.Join(dir, name)
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, err := Parse(data)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
		case p.Name != base:
			errs = append(errs, fmt.Errorf("%s: profile is named %q; the file must be named %s.jsonc", file, p.Name, p.Name))
		case out[p.Name] != nil:
			errs = append(errs, fmt.Errorf("%s: %q is a built-in profile; choose another name", file, p.Name))
		default:
			out[p.Name] = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// BuiltinSource returns the commented source of a built-in profile.
func BuiltinSource(name string) ([]byte, error) {
	return builtinFS.ReadFile("builtin/" + name + ".jsonc")
}

// Parse reads one profile from JSON with comments and trailing commas,
// rejects unknown keys, and validates it.
func Parse(data []byte) (*Profile, error) {
	std, err := hujson.Standardize(bytes.Clone(data))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(std))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// check is one named validation rule.
type check struct {
	name string
	fn   func(*Profile) error
}

// checks run in order before a profile is used; all failures are reported.
var checks = []check{
	{"name", func(p *Profile) error {
		if p.Name == "" || strings.ContainsAny(p.Name, "/ \t\n") {
			return fmt.Errorf("name %q must be a non-empty word", p.Name)
		}
		return nil
	}},
	{"tools-known", func(p *Profile) error {
		var bad []string
		for _, t := range p.Tools {
			if !contains(KnownTools, t) {
				bad = append(bad, t)
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("unknown tools %v (known: %v)", bad, KnownTools)
		}
		return nil
	}},
	{"exec-tier", func(p *Profile) error {
		if p.Allows("exec") && p.ExecTier == "" {
			return errors.New("exec is allowed but execTier is empty")
		}
		if p.ExecTier != "" && !contains(KnownTiers, p.ExecTier) {
			return fmt.Errorf("unknown execTier %q (known: %v)", p.ExecTier, KnownTiers)
		}
		return nil
	}},
	{"file-tier", func(p *Profile) error {
		if !contains(KnownTiers, p.FileTier) {
			return fmt.Errorf("unknown fileTier %q (known: %v)", p.FileTier, KnownTiers)
		}
		return nil
	}},
	{"network", func(p *Profile) error {
		if p.Network != "none" && p.Network != "allowlist" {
			return fmt.Errorf("network %q: want \"none\" (loopback only) or \"allowlist\" (the hosts of sandbox.network.allow, through the egress proxy)", p.Network)
		}
		return nil
	}},
	{"limits", func(p *Profile) error { return p.Limits.Validate() }},
}

// Validate runs every check and joins the failures.
func (p *Profile) Validate() error {
	var errs []error
	for _, c := range checks {
		if err := c.fn(p); err != nil {
			errs = append(errs, fmt.Errorf("profile %q: %s: %w", p.Name, c.name, err))
		}
	}
	return errors.Join(errs...)
}

// Validate checks that every limit is set and within sane bounds. A limit
// can never be "unlimited": an unbounded call is a host at risk.
func (l Limits) Validate() error {
	var errs []error
	bound := func(name string, v, lo, hi float64, unit string) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s %g%s out of range [%g, %g]", name, v, unit, lo, hi))
		}
	}
	const mi = 1 << 20
	// At least 16 MiB: besides being the least a shell and a tool need, the
	// jail's setup runs in this cgroup sharing the runner's mm (CLONE_VM),
	// and an OOM there before execve would kill the runner too
	// (docs/design.md, clone3).
	bound("memory", float64(l.Memory)/mi, 16, 1<<20, "MiB")
	bound("cpus", l.CPUs, 0.01, 1024, "")
	bound("pids", float64(l.Pids), 4, 1<<22, "")
	bound("timeout", l.Timeout.D().Seconds(), 0.1, 7*24*3600, "s")
	bound("maxOutput", float64(l.MaxOutput)/mi, 1.0/1024, 1<<14, "MiB")
	bound("tmpSize", float64(l.TmpSize)/mi, 1, 1<<20, "MiB")
	bound("fileSize", float64(l.FileSize)/mi, 1, 1<<30, "MiB")
	bound("openFiles", float64(l.OpenFiles), 16, 1<<20, "")
	if l.Disk != 0 {
		bound("disk", float64(l.Disk)/mi, 1, 1<<20, "MiB")
	}
	if l.DiskInodes != 0 {
		bound("diskInodes", float64(l.DiskInodes), 64, 1<<24, "")
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Names returns the sorted names of m.
func Names(m map[string]*Profile) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Size is a byte count written as "512M", "1.5G", "64k" or a plain number.
type Size int64

// ParseSize parses a size with an optional K, M, G or T suffix (powers of
// 1024; a trailing "B" or "iB" is accepted).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512M, 1.5G)", s)
	}
	return Size(v * mult), nil
}

func (s Size) String() string {
	switch {
	case s >= 1<<30 && s%(1<<30) == 0:
		return fmt.Sprintf("%dG", s>>30)
	case s >= 1<<20 && s%(1<<20) == 0:
		return fmt.Sprintf("%dM", s>>20)
	case s >= 1<<10 && s%(1<<10) == 0:
		return fmt.Sprintf("%dK", s>>10)
	}
	return strconv.FormatInt(int64(s), 10)
}

// Set implements pflag.Value.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// Type implements pflag.Value.
func (s *Size) Type() string { return "size" }

func (s Size) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s *Size) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*s = Size(n)
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("size must be a string like \"512M\" or a number of bytes")
	}
	return s.Set(str)
}

// Duration is a time.Duration written as "30s", "2m" or a number of seconds.
type Duration time.Duration

func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var secs float64
	if err := json.Unmarshal(b, &secs); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\" or a number of seconds")
	}
	v, err := time.ParseDuration(str)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
