//go:build integration

package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVagrantfileValidates: `vagrant validate` (Debian's vagrant package
// checks the file without a hypervisor).
func TestVagrantfileValidates(t *testing.T) {
	if _, err := exec.LookPath("vagrant"); err != nil {
		t.Skip("vagrant is not installed (apt-get install vagrant); not a jail test")
	}
	cmd := exec.Command("vagrant", "validate")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "validated successfully") {
		t.Errorf("vagrant validate: %v\n%s", err, out)
	}
}
