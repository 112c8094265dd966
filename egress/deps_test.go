package egress

import (
	"os/exec"
	"strings"
	"testing"
)

// The proxy is a mechanism of its own: the runner wires it to a jail's
// listener, the gateway reports on it. It must not depend on either, nor
// on the jail's mechanisms (DESIGN.md section 3; the lead may move this
// rule into internal/deptest).
func TestImportBoundary(t *testing.T) {
	const mod = "github.com/openclaw-run/openclaw-run/"
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
	}
	for dep, why := range map[string]string{
		mod + "runner":   "the runner uses the proxy, not the other way round",
		mod + "gateway":  "the proxy knows no transport of the gateway",
		mod + "jail":     "the jail hands over a listener; the proxy knows no jail",
		mod + "runcjail": "the proxy knows no jail engine",
		mod + "cgroups":  "independent mechanism",
		mod + "seccomp":  "independent mechanism",
	} {
		if deps[dep] {
			t.Errorf("egress depends on %s: %s", dep, why)
		}
	}
}
