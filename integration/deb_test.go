//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The package of make deb installs on this host: its binaries run
// (--version, a jailed true), its postinst made the service user and the
// 0700 state dir, its units and man pages are in place; then it is
// removed. Run by make deb-test (OPENCLAW_DEB names the package: it
// changes the host, so only on request).
func TestDebPackage(t *testing.T) {
	deb := os.Getenv("OPENCLAW_DEB")
	if deb == "" {
		t.Skip("OPENCLAW_DEB unset: make deb-test builds and installs the package")
	}
	workspace(t) // root check
	if out, err := exec.Command("dpkg", "-i", deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	defer func() {
		if out, err := exec.Command("dpkg", "-r", "openclaw-run").CombinedOutput(); err != nil {
			t.Errorf("dpkg -r: %v\n%s", err, out)
		}
	}()
	out, err := exec.Command("/usr/bin/openclaw-run", "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "openclaw-run ") || !strings.Contains(string(out), "runc helper: /usr/bin/openclaw-run-runc") {
		t.Errorf("openclaw-run --version: %v %q", err, out)
	}
	ws := workspace(t)
	cmd := exec.Command("/usr/bin/openclaw-run", "--workspace", ws, "--", "true")
	cmd.Env = append(os.Environ(), "OPENCLAW_STATE_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("a jailed true from the package: %v\n%s", err, out)
	}
	if out, err := exec.Command("getent", "passwd", "openclaw").Output(); err != nil || !strings.Contains(string(out), ":/var/lib/openclaw:") {
		t.Errorf("the service user: %v %q", err, out)
	}
	if st, err := os.Stat("/var/lib/openclaw/.openclaw"); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the state dir: %v", err)
	}
	for _, f := range []string{"/lib/systemd/system/openclaw-gateway.service", "/usr/share/man/man1/openclaw-run.1.gz",
		"/usr/share/bash-completion/completions/openclaw-run", "/usr/share/doc/openclaw-run/gateway.md"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	unit, _ := os.ReadFile("/lib/systemd/system/openclaw-gateway.service")
	for _, l := range strings.Split(string(unit), "\n") {
		if !strings.HasPrefix(l, "#") && strings.Contains(l, "/usr/local") {
			t.Errorf("%s: the unit names /usr/local: %q", filepath.Base(deb), l)
		}
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/bin/openclaw-gateway start") {
		t.Errorf("%s: the unit's ExecStart is not the package's binary", filepath.Base(deb))
	}
}
