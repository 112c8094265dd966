package hostpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		p, dir string
		want   bool
	}{
		{"/a/b", "/a", true}, {"/a", "/a", true}, {"/ab", "/a", false}, {"/a/b", "/", true},
		{"/", "/", true}, {"/a/../b", "/a", false}, {"/a/b/", "/a/b", true}, {"/", "/a", false},
	} {
		if got := Within(c.p, c.dir); got != c.want {
			t.Errorf("Within(%q, %q) = %v", c.p, c.dir, got)
		}
	}
}

// Symlinks are resolved before the path is judged, and a bind may neither
// lie under a sensitive place nor contain one: the string checks that came
// before let /etc, /var and a symlink to /root through.
func TestCheckBothDirectionsAfterSymlinks(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	ws := filepath.Join(state, "workspace")
	home := filepath.Join(dir, "home")
	for _, d := range []string{ws, filepath.Join(home, ".ssh"), filepath.Join(dir, "data", "sub")} {
		os.MkdirAll(d, 0o755)
	}
	os.Symlink("/root", filepath.Join(dir, "toroot"))
	os.Symlink("/etc/ssl", filepath.Join(dir, "tossl"))
	os.Symlink(filepath.Join(dir, "data"), filepath.Join(dir, "todata"))
	p := &Policy{Extra: []string{state}, Exempt: []string{ws}, Homes: []string{home}}
	refused := []string{
		"/", "/etc", "/etc/shadow", "/var", "/var/lib", "/proc/1", "/sys", "/dev/sda", "/root", "/run",
		filepath.Join(dir, "toroot"), filepath.Join(dir, "toroot", "new", "file"), filepath.Join(dir, "tossl"),
		state, filepath.Join(state, "secrets.key"), home, filepath.Join(home, ".ssh", "id_ed25519"), dir,
	}
	for _, path := range refused {
		var he *Error
		if err := p.Check(path); !errors.As(err, &he) {
			t.Errorf("Check(%q) = %v, want a refusal", path, err)
		}
	}
	allowed := []string{ws, filepath.Join(ws, "proj"), filepath.Join(dir, "data"), filepath.Join(dir, "todata", "sub"), "/usr/share/doc", "/opt/x"}
	for _, path := range allowed {
		if err := p.Check(path); err != nil {
			t.Errorf("Check(%q) = %v, want nil", path, err)
		}
	}
	if err := p.Check("relative/path"); err == nil {
		t.Error("a relative path passed")
	}
	p.Force = []string{filepath.Join(dir, "tossl")}
	if err := p.Check(filepath.Join(dir, "tossl")); err != nil {
		t.Errorf("a forced path was refused: %v", err)
	}
}

func TestResolveKeepsTheMissingTail(t *testing.T) {
	dir := t.TempDir()
	os.Symlink("/etc", filepath.Join(dir, "l"))
	got, err := Resolve(filepath.Join(dir, "l", "no", "such"))
	if err != nil || got != "/etc/no/such" {
		t.Errorf("Resolve = %q, %v; want /etc/no/such", got, err)
	}
}
