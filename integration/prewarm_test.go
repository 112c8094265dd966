//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// execResult runs one exec call and returns its stdout and result.
func execResult(t *testing.T, g *gw, session, command string) (string, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"sessionId": session, "args": map[string]any{"command": command}})
	r, out := g.post(t, "/v1/tools/exec", g.token, "", string(body))
	if r.StatusCode != 200 {
		t.Fatalf("%s: %d %s", command, r.StatusCode, out)
	}
	var stdout strings.Builder
	var res map[string]any
	for _, l := range strings.Split(out, "\n") {
		var e struct {
			Type   string         `json:"type"`
			Data   string         `json:"data"`
			Result map[string]any `json:"result"`
		}
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		if e.Type == "stdout" {
			stdout.WriteString(e.Data)
		}
		if e.Type == "result" {
			res = e.Result
		}
	}
	return stdout.String(), res
}

// TestPrewarmedJailsAreSingleUse: after the first call of a session, its
// calls run in jails built before they arrived, and no jail serves two
// calls: each call's pid 1 is a process started after the previous call
// (its start time in /proc/1/stat grows), and /tmp is empty although
// every call leaves a file there. (Namespace inode numbers cannot show
// it: the kernel reuses them once a namespace is freed.)
func TestPrewarmedJailsAreSingleUse(t *testing.T) {
	if !nativeOnly(t, "the runc engine pre-warms no jail: libcontainer starts a container with its command", runcPrewarmsNothing) {
		return
	}
	g := startGateway(t, `{}`)
	last := -1
	warm := 0
	for i := 0; i < 6; i++ {
		out, res := execResult(t, g, "warm", `cut -d' ' -f22 /proc/1/stat; ls -A /tmp | wc -l; echo left-by-call > /tmp/marker`)
		if res["exitCode"] != float64(0) {
			t.Fatalf("call %d: %v %q", i, res, out)
		}
		var start, inTmp int
		if n, _ := fmt.Sscan(out, &start, &inTmp); n != 2 || inTmp != 0 {
			t.Errorf("call %d: /tmp holds %d entries (a jail served two calls?): %q", i, inTmp, out)
		}
		if start <= last {
			t.Errorf("call %d: pid 1 started at %d, not after the previous call's (%d): a jail served two calls", i, start, last)
		}
		last = start
		if res["prewarmed"] == true {
			warm++
		}
		waitWarm(g, 5*time.Second) // the next jail is built after a call ends
	}
	if warm < 4 {
		t.Errorf("only %d of 6 calls ran in pre-warmed jails", warm)
	}
}

// TestPrewarmedPosture reads the posture from inside a pre-warmed jail:
// the same as a cold one (TestPosture, TestEnvironmentAndFds).
func TestPrewarmedPosture(t *testing.T) {
	if !nativeOnly(t, "the runc engine pre-warms no jail: libcontainer starts a container with its command", runcPrewarmsNothing) {
		return
	}
	g := startGateway(t, `{}`)
	execResult(t, g, "posture", "true") // the first call is cold; it leaves a warm jail
	waitWarm(g, 5*time.Second)
	out, res := execResult(t, g, "posture", `grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status; cat /proc/self/uid_map;
ls /proc/self/fd | tr '\n' ' '; echo; env | sort | tr '\n' ' '; echo; ls /proc | grep -c '^[0-9]'; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /etc/shadow 2>&1 | head -1`)
	if res["prewarmed"] != true {
		t.Fatalf("the second call did not run pre-warmed: %v", res)
	}
	for _, want := range []string{"CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "CapPrm:\t0000000000000000",
		"NoNewPrivs:\t1", "Seccomp:\t2", "0      65534          1", "\n0 1 2 3 \n", "HOME=/workspace", "\nlo\n", "No such file"} {
		if !strings.Contains(out, want) {
			t.Errorf("pre-warmed jail lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"OPENCLAW", "TOKEN", "SUDO", "SSH_"} {
		if strings.Contains(out, bad) {
			t.Errorf("the runner's environment leaked into a pre-warmed jail (%s):\n%s", bad, out)
		}
	}
	if procs := strings.Fields(out); len(procs) == 0 {
		t.Fatal("no output")
	}
	// A dangerous call is still refused and reported.
	waitWarm(g, 5*time.Second)
	_, res = execResult(t, g, "posture", `python3 -c "import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)"`)
	if res["prewarmed"] != true || !strings.Contains(fmt.Sprint(res["blockedSyscalls"]), "ptrace") {
		t.Errorf("blocked ptrace in a pre-warmed jail: %v", res)
	}
}

// TestExecWithoutShell: a plain command runs as the jail's pid 1 itself,
// with its own name as argv[0]; anything with shell syntax keeps sh -c;
// a missing program is sh's 127, as before.
func TestExecWithoutShell(t *testing.T) {
	g := startGateway(t, `{}`)
	if out, _ := execResult(t, g, "direct", "cat /proc/1/cmdline"); out != "cat\x00/proc/1/cmdline\x00" {
		t.Errorf("plain command: pid 1 is %q, want cat itself", out)
	}
	if out, _ := execResult(t, g, "direct", `cat /proc/1/cmdline; echo " $HOME"`); !strings.HasPrefix(out, "/bin/sh\x00-c\x00") || !strings.HasSuffix(out, " /workspace\n") {
		t.Errorf("shell syntax: %q, want sh -c", out)
	}
	if _, res := execResult(t, g, "direct", "no-such-program-here --x"); res["exitCode"] != float64(127) {
		t.Errorf("missing program: %v, want exit 127", res)
	}
}
