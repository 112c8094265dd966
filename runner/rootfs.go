package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/openclaw-run/openclaw-run/plan"
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

// layout is the part of every jail's root that mirrors the host's own
// layout (system directories, the non-secret /etc entries): what the host
// has installed, not what any policy decided. It is read once per process;
// everything else of a jail is planned per call (plan.go).
type layout struct {
	binds    []plan.Bind
	symlinks []plan.Symlink
	files    []plan.File
}

var hostLayout = sync.OnceValues(func() (*layout, error) {
	l := &layout{files: SynthesizedEtc(Hostname)}
	for _, d := range append(append([]string(nil), systemDirs...), etcFromHost...) {
		if err := l.mirror(d); err != nil {
			return nil, err
		}
	}
	return l, nil
})

// mirror makes host path p appear at the same path in the jail: a symlink
// is recreated with the same target (it resolves inside the jail), a file
// or directory is bound read-only, and a missing path is skipped.
func (l *layout) mirror(p string) error {
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
		l.symlinks = append(l.symlinks, plan.Symlink{Path: p, Target: target})
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
	l.binds = append(l.binds, plan.Bind{Source: src, Target: p, File: !st.IsDir()})
	return nil
}

// SynthesizedEtc returns the /etc files the jail gets instead of the host's:
// one user (root, whose home is the workspace) and the groups it needs, a
// loopback-only hosts file and no DNS server (the jail has no network).
// The host's passwd, shadow, group and ssh keys are never visible.
func SynthesizedEtc(hostname string) []plan.File {
	f := func(name, data string) plan.File {
		return plan.File{Path: "/etc/" + name, Data: []byte(data), Mode: 0o644}
	}
	return []plan.File{
		f("passwd", "root:x:0:0:jail root:"+WorkspaceDir+":/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
		f("group", "root:x:0:\nnogroup:x:65534:\n"),
		f("hosts", "127.0.0.1\tlocalhost "+hostname+"\n::1\tlocalhost ip6-localhost ip6-loopback\n"),
		f("hostname", hostname+"\n"),
		f("nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"),
		f("resolv.conf", "# no network in the jail\n"),
		f("shells", "/bin/sh\n/bin/bash\n/usr/bin/bash\n/usr/bin/sh\n"),
	}
}

// jailPath is the jail's PATH: the system directories, and Go's official
// install (/usr/local/go/bin, under the read-only /usr) when the host has
// one, so that "openclaw-run -- go test ./..." finds go as a login shell would.
var jailPath = sync.OnceValue(func() string {
	p := "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
	if st, err := os.Stat("/usr/local/go/bin/go"); err == nil && st.Mode().IsRegular() {
		p += ":/usr/local/go/bin"
	}
	return p
})

// Env is the complete environment of a jailed command: a fixed base and the
// call's own variables, nothing from the runner's environment. Later
// entries win, and the base cannot be replaced for PATH-less commands.
func Env(term string, extra []string) []string {
	if term == "" {
		term = "dumb"
	}
	env := map[string]string{
		"PATH": jailPath(),
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
