// Package hostpath is the one policy on which host paths a jail may be
// given: config validation (tools.fs.allowedPaths), the plan of every call
// and the CLI's per-call binds all ask it, so that a path means the same
// thing whichever way it arrives.
//
// A path is judged after its symlinks are resolved (through its longest
// existing prefix, so that a path that does not exist yet is judged by
// where it would land), and in both directions: a bind may lie neither
// under a sensitive place (/etc/shadow, ~/.ssh) nor contain one (/var
// contains /var/run/docker.sock; / contains everything). String checks
// before resolution let /etc, /var and a symlink to /root through.
package hostpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Within reports whether p is dir or lies below it. Both are cleaned;
// everything is within "/".
func Within(p, dir string) bool {
	p, dir = filepath.Clean(p), filepath.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// Resolve returns p absolute, cleaned and free of symlinks. A part that
// does not exist yet is kept as written below the resolved prefix that
// does, so that it is judged by where it would be created.
func Resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is not an absolute path", p)
	}
	p = filepath.Clean(p)
	rest := ""
	for cur := p; ; cur = filepath.Dir(cur) {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if cur == "/" {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
	}
}

// Sensitive are the host places no bind may lie under or contain, unless
// the operator forces it: kernel interfaces, devices, boot, the host's own
// configuration and runtime sockets (container runtimes, systemd), root's
// home, and credential directories (those of OpenClaw's sandbox
// validation, validate-sandbox-security.ts, and its docs).
var Sensitive = []string{
	"/proc", "/sys", "/dev", "/boot", "/etc", "/root", "/run", "/var/run",
	"/var/lib/docker", "/var/lib/containerd", "/var/lib/containers", "/var/lib/kubelet",
	"/var/log", "/var/spool/cron", "/var/lib/sudo",
}

// homeSecrets are credential places below a home directory.
var homeSecrets = []string{".ssh", ".aws", ".gnupg", ".docker", ".kube", ".config/gcloud", ".azure",
	".netrc", ".npmrc", ".pypirc", ".git-credentials", ".cargo/credentials", ".cargo/credentials.toml",
	".local/share/keyrings", ".password-store", ".vault-token"}

// Policy judges host paths. Extra are sensitive places of this runner
// (its state directory: secrets, audit log, config); Exempt are places
// inside them that are not (the workspace root, which may live in the
// state directory); Homes are home directories whose credential places are
// sensitive (the runner's own); Force are paths the operator listed in
// tools.fs.force.
type Policy struct {
	Extra  []string
	Exempt []string
	Homes  []string
	Force  []string
}

// Default is the policy of this process: its state directory (minus the
// workspace root) and its home's credential places.
func Default(stateDir, workspaceRoot string, force []string) *Policy {
	p := &Policy{Force: force}
	if stateDir != "" {
		p.Extra = append(p.Extra, stateDir)
	}
	if workspaceRoot != "" {
		p.Exempt = append(p.Exempt, workspaceRoot)
	}
	if h, err := os.UserHomeDir(); err == nil {
		p.Homes = append(p.Homes, h)
	}
	return p
}

// places returns every sensitive place, resolved.
func (p *Policy) places() []string {
	var out []string
	add := func(s string) {
		if r, err := Resolve(s); err == nil {
			out = append(out, r)
		}
		out = append(out, filepath.Clean(s))
	}
	for _, s := range Sensitive {
		add(s)
	}
	for _, s := range p.Extra {
		add(s)
	}
	for _, h := range p.Homes {
		for _, s := range homeSecrets {
			add(filepath.Join(h, s))
		}
	}
	return out
}

// Error is a refused path: which, where it resolved to, and the sensitive
// place it lies under or contains.
type Error struct {
	Path, Resolved, Place string
	Contains              bool
}

func (e *Error) Error() string {
	via := ""
	if e.Resolved != filepath.Clean(e.Path) {
		via = " (it resolves to " + e.Resolved + ")"
	}
	if e.Contains {
		return fmt.Sprintf("%s%s contains %s, which a jail must not see", e.Path, via, e.Place)
	}
	return fmt.Sprintf("%s%s lies under %s, which a jail must not see", e.Path, via, e.Place)
}

// Check refuses a host path to be bound into a jail when, symlinks
// resolved, it lies under a sensitive place or contains one, or is the
// root itself. A path listed in Force passes (the operator's explicit
// choice, recorded in the config).
func (p *Policy) Check(path string) error {
	r, err := Resolve(path)
	if err != nil {
		return err
	}
	for _, f := range p.Force {
		if fr, err := Resolve(f); err == nil && (fr == r || filepath.Clean(f) == filepath.Clean(path)) {
			return nil
		}
	}
	if r == "/" {
		return &Error{Path: path, Resolved: r, Place: "/ (the whole host)", Contains: true}
	}
	var exempt []string
	for _, e := range p.Exempt {
		if er, err := Resolve(e); err == nil {
			exempt = append(exempt, er)
		}
	}
outer:
	for _, s := range p.places() {
		if !Within(r, s) {
			continue
		}
		for _, e := range exempt {
			if Within(r, e) && Within(e, s) && e != s {
				continue outer // inside the workspace root, which lies in s
			}
		}
		return &Error{Path: path, Resolved: r, Place: s}
	}
	for _, s := range p.places() {
		if Within(s, r) {
			return &Error{Path: path, Resolved: r, Place: s, Contains: true}
		}
	}
	return nil
}
