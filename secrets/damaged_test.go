package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A damaged store (garbage, cut short, or encrypted to another key) is a
// one-line error naming the file and the fixes, whatever bytes it holds.
func TestDamagedStoreIsOneLine(t *testing.T) {
	t.Setenv("OPENCLAW_SECRETS_KEY", "")
	os.Unsetenv("OPENCLAW_SECRETS_KEY")
	dir := filepath.Join(t.TempDir(), "state")
	s := Open(dir)
	if err := s.Set("A", "1"); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(s.file())
	other := Open(filepath.Join(t.TempDir(), "other"))
	other.Set("B", "2")
	foreign, _ := os.ReadFile(other.file())
	for name, b := range map[string][]byte{
		"garbage":     []byte("\x8a\xa6\xc3\n\xd4{\a\xb5\x00\xff"),
		"cut short":   good[:len(good)/2],
		"another key": foreign,
	} {
		os.WriteFile(s.file(), b, 0o600)
		_, err := s.Names()
		if err == nil {
			t.Fatalf("%s: read", name)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\x00") || !strings.Contains(msg, s.file()) || !strings.Contains(msg, "backup") {
			t.Errorf("%s: %q", name, msg)
		}
	}
}
