//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/posture"
)

// TestPostureColdVersusPrewarmed: a jail built before its call arrives
// shows, from inside, exactly what a jail built for the call shows: the
// same probe through the CLI (cold) and through the gateway (pre-warmed),
// with the same profile, workspace and owner, compared section by
// section. Every section counts; none is expected to differ.
func TestPostureColdVersusPrewarmed(t *testing.T) {
	ws := workspace(t)
	cold := jailed(t, ws, []string{"--profile", "coding"}, posture.Probe)
	if cold.code != 0 {
		t.Fatalf("probe in a cold jail: exit %d: %s", cold.code, cold.stderr)
	}
	cfg, _ := json.Marshal(map[string]any{"sandbox": map[string]any{"workspace": ws, "perSession": false}})
	g := startGateway(t, string(cfg))
	execResult(t, g, "diff", "true") // the first call is cold; it leaves a pre-warmed jail
	time.Sleep(500 * time.Millisecond)
	out, res := execResult(t, g, "diff", posture.Probe)
	if res["prewarmed"] != true || res["exitCode"] != float64(0) {
		t.Fatalf("the probe did not run in a pre-warmed jail: %v\n%s", res, out)
	}
	a, b := posture.Parse(cold.stdout), posture.Parse(out)
	if len(a) < 17 || a["syscalls"] == "" || a["mounts"] == "" {
		t.Fatalf("the probe printed too little:\n%s", cold.stdout)
	}
	intended := map[string]string{
		"term": "the CLI passes on the caller's TERM; a gateway call has no terminal (TERM=dumb)",
	}
	for _, d := range posture.Diff(a, b, intended) {
		t.Error(d)
	}
	// The probe itself is checked against what the jail promises, so that
	// two equally broken jails do not compare equal unnoticed.
	for section, want := range map[string][]string{
		"status":   {"NoNewPrivs:\t1", "Seccomp:\t2", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "SigIgn:\t0000000000000000"},
		"idmaps":   {fmt.Sprintf("0 %d 1", jailUID)},
		"network":  {"lo\n"},
		"syscalls": {"ptrace EPERM", "unshare-user EPERM", "mount EPERM", "bpf EPERM", "socket-packet ENOSYS", "socket-netlink-audit ENOSYS", "socket-netlink-route ok", "socket-inet ok"},
		// (A masked file such as /proc/sysrq-trigger is /dev/null: writing
		// it succeeds and does nothing; the masked section checks it.)
		"readonly": {"/usr/bin/.probe refused", "/workspace/.probe writable", "/etc/.probe refused",
			"/proc/sys/kernel/hostname refused", "/proc/sys/vm/drop_caches refused"},
		"processes": {"2\n"}, // the probe's shell (pid 1) and ls
	} {
		for _, w := range want {
			if !strings.Contains(a[section], w) {
				t.Errorf("section %s of a cold jail lacks %q:\n%s", section, w, a[section])
			}
		}
	}
	// Masked paths read as nothing: absent on this kernel, empty, or an
	// empty directory.
	for _, l := range strings.Split(strings.TrimSpace(a["masked"]), "\n") {
		if !strings.HasSuffix(l, " absent") && !strings.HasSuffix(l, " 0") {
			t.Errorf("a masked path shows something in a cold jail: %s", l)
		}
	}
}
