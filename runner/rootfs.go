package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openclaw-run/openclaw-run/jail"
)

// WorkspaceDir is where the workspace appears inside every jail, and the
// working directory of every call.
const WorkspaceDir = "/workspace"

// systemDirs are bound read-only so programs find their binaries and
// libraries. On a merged-usr host /bin, /lib, ... are symlinks into /usr and
// are recreated as symlinks; on an older layout they are bound as well.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcFromHost are the only host /etc entries a jail sees, read-only. None of
// them holds a secret; each is there because common programs need it:
var etcFromHost = []string{
	"/etc/ld.so.cache",     // the dynamic loader's library index
	"/etc/ld.so.conf",      // read by ldconfig -p and some loaders
	"/etc/ld.so.conf.d",    // (same)
	"/etc/alternatives",    // Debian's symlink farm behind /usr/bin/editor, java, ...
	"/etc/ssl/certs",       // CA bundle for TLS clients (only public certificates)
	"/etc/ca-certificates", // (same, Debian's update-ca-certificates input)
	"/etc/localtime",       // the host's time zone
	"/etc/timezone",        // (same, Debian's name for it)
	"/etc/protocols",       // getprotobyname(3)
	"/etc/services",        // getservbyname(3)
	"/etc/mime.types",      // content types for python's mimetypes and others
	"/etc/os-release",      // distribution identity, read by build tools
	"/etc/debian_version",  // (same)
	"/etc/python3",         // Debian's python3 site configuration
	"/etc/python3.11",      // (same)
	"/etc/python3.12",      // (same, newer releases)
	"/etc/perl",            // Debian's perl configuration
	"/etc/gitconfig",       // system git defaults (no credentials: those live in $HOME)
	"/etc/bash.bashrc",     // interactive bash defaults
	"/etc/inputrc",         // readline defaults
	"/etc/profile",         // login shell defaults
	"/etc/environment.d",   // nothing secret by convention; read by few
	"/etc/java-17-openjdk", // the JDK's configuration (security policy, jvm.cfg)
	"/etc/java-21-openjdk", // (same)
	"/etc/gai.conf",        // getaddrinfo(3) ordering
	"/etc/host.conf",       // resolver order
	"/etc/magic",           // file(1)
	"/etc/magic.mime",      // (same)
	"/etc/pip.conf",        // pip's index settings (no credentials expected there)
	"/etc/npmrc",           // npm's settings
	"/etc/manpath.config",  // man(1)
	"/etc/locale.alias",    // locale names
	"/etc/ethertypes",      // iproute2 and friends
	"/etc/networks",        // getnetbyname(3)
}

// RootFS describes the filesystem of one jail: what the runner decided, in
// the shape the jail applies.
type RootFS struct {
	Binds    []jail.Bind
	Masks    []jail.Mask
	Files    []jail.File
	Symlinks []jail.Symlink
}

// FSPolicy is tools.fs after configuration: extra host paths to show, and
// host paths (globs) never to show, whatever else would.
type FSPolicy struct {
	Allowed []AllowedPath
	Denied  []string
}

// AllowedPath is a host path bound at the same path in the jail.
type AllowedPath struct {
	Path     string
	Writable bool
}

// BuildRootFS lays out the jail's filesystem: system directories, a
// synthesized /etc, the workspace read-write at /workspace, and extra binds.
// It reads the host layout (which /lib dirs exist, which are symlinks) but
// changes nothing.
func BuildRootFS(workspace, hostname string, pol FSPolicy) (*RootFS, error) {
	fs := &RootFS{}
	for _, d := range systemDirs {
		if err := fs.mirror(d); err != nil {
			return nil, err
		}
	}
	for _, e := range etcFromHost {
		if err := fs.mirror(e); err != nil {
			return nil, err
		}
	}
	fs.Files = append(fs.Files, SynthesizedEtc(hostname)...)

	ws, err := filepath.Abs(workspace)
	if err == nil {
		ws, err = filepath.EvalSymlinks(ws)
	}
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	st, err := os.Stat(ws)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("workspace %s is not a directory", ws)
	}
	fs.Binds = append(fs.Binds, jail.Bind{Source: ws, Target: WorkspaceDir, Writable: true})
	for _, a := range pol.Allowed {
		if !filepath.IsAbs(a.Path) {
			return nil, fmt.Errorf("allowed path %q is not absolute", a.Path)
		}
		src, err := filepath.EvalSymlinks(a.Path)
		if err != nil {
			return nil, fmt.Errorf("allowed path: %w", err)
		}
		fs.Binds = append(fs.Binds, jail.Bind{Source: src, Target: filepath.Clean(a.Path), Writable: a.Writable})
	}
	if err := fs.deny(pol.Denied); err != nil {
		return nil, err
	}
	return fs, nil
}

// deny applies deniedPaths: a bind whose source lies in a denied path is
// dropped, and a denied path inside a bind is covered (jail.Mask). Deny
// beats allow, and the workspace is no exception. Globs are expanded on
// the host now; what the jail creates later is its own.
func (fs *RootFS) deny(patterns []string) error {
	var denied []string
	for _, pat := range patterns {
		m, err := filepath.Glob(pat)
		if err != nil {
			return fmt.Errorf("denied path %q: %w", pat, err)
		}
		for _, p := range m {
			r, err := filepath.EvalSymlinks(p)
			if errors.Is(err, os.ErrNotExist) {
				continue // gone since the glob: nothing to hide
			}
			if err != nil {
				// Fail closed: a denied path we cannot resolve might
				// stay visible.
				return fmt.Errorf("denied path %s: %w", p, err)
			}
			denied = append(denied, r)
		}
	}
	if len(denied) == 0 {
		return nil
	}
	kept := fs.Binds[:0]
	for _, b := range fs.Binds {
		drop := false
		for _, d := range denied {
			if within(b.Source, d) {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, b)
		}
	}
	fs.Binds = kept
	for _, d := range denied {
		for _, b := range fs.Binds {
			if !within(d, b.Source) || d == b.Source {
				continue
			}
			st, err := os.Stat(d)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("denied path %s: %w", d, err)
			}
			rel, _ := filepath.Rel(b.Source, d)
			fs.Masks = append(fs.Masks, jail.Mask{Path: filepath.Join(b.Target, rel), Dir: st.IsDir()})
		}
	}
	return nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	p, dir = filepath.Clean(p), filepath.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// mirror makes host path p appear at the same path in the jail: a symlink
// is recreated with the same target (it resolves inside the jail), a file
// or directory is bound read-only, and a missing path is skipped.
func (fs *RootFS) mirror(p string) error {
	st, err := os.Lstat(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", p, err)
	}
	if st.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("read link %s: %w", p, err)
		}
		fs.Symlinks = append(fs.Symlinks, jail.Symlink{Path: p, Target: target})
		return nil
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		return nil
	}
	// A parent may be a symlink (e.g. /etc/ssl on some hosts): bind the
	// resolved source at the path programs use.
	src, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", p, err)
	}
	fs.Binds = append(fs.Binds, jail.Bind{Source: src, Target: p})
	return nil
}

// SynthesizedEtc returns the /etc files the jail gets instead of the host's:
// one user (root, whose home is the workspace) and the groups it needs, a
// loopback-only hosts file and no DNS server (the jail has no network).
// The host's passwd, shadow, group and ssh keys are never visible.
func SynthesizedEtc(hostname string) []jail.File {
	f := func(name, data string) jail.File {
		return jail.File{Path: "/etc/" + name, Data: []byte(data), Mode: 0o644}
	}
	return []jail.File{
		f("passwd", "root:x:0:0:jail root:"+WorkspaceDir+":/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
		f("group", "root:x:0:\nnogroup:x:65534:\n"),
		f("hosts", "127.0.0.1\tlocalhost "+hostname+"\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
		f("hostname", hostname+"\n"),
		f("nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"),
		f("resolv.conf", "# no network in the jail\n"),
		f("shells", "/bin/sh\n/bin/bash\n/usr/bin/bash\n/usr/bin/sh\n"),
	}
}

// Env is the complete environment of a jailed command: a fixed base and the
// call's own variables, nothing from the runner's environment. Later
// entries win, and the base cannot be replaced for PATH-less commands.
func Env(term string, extra []string) []string {
	if term == "" {
		term = "dumb"
	}
	env := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
		"HOME": WorkspaceDir,
		"LANG": "C.UTF-8",
		"TERM": term,
	}
	order := []string{"PATH", "HOME", "LANG", "TERM"}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		if _, seen := env[k]; !seen {
			order = append(order, k)
		}
		env[k] = v
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out
}
