//go:build integration

package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeSections are the README sections whose shell examples a new user
// pastes in order; every line must exit 0 here, as root, with nothing but
// the files of a small project.
var readmeSections = []string{"## Running a command in a jail", "## Profiles and seccomp tiers", "## Tool calls",
	"## Staged writes, review and undo", "## Network: none, or only the hosts you name", "## Configuration, policy and audit"}

// readmeSkip are the example lines not run, with why.
var readmeSkip = map[string]string{
	"openclaw-run audit tail -n 20 -f": "-f follows the log until interrupted",
}

// readmeExamples returns the lines of the sh blocks of a section of
// markdown, in order.
func readmeExamples(md, section string) []string {
	_, rest, ok := strings.Cut(md, "\n"+section+"\n")
	if !ok {
		return nil
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	var lines []string
	in := false
	for _, l := range strings.Split(rest, "\n") {
		switch {
		case strings.HasPrefix(l, "```sh"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && len(lines) > 0 && strings.HasSuffix(lines[len(lines)-1], "\\"):
			// A continued line: one command.
			lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], "\\") + " " + strings.TrimSpace(l)
		case in && strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#"):
			lines = append(lines, l)
		}
	}
	return lines
}

// The README's examples work when pasted in order.
func TestReadmeExamples(t *testing.T) {
	ws := workspace(t)
	home := t.TempDir()
	proj := filepath.Join(home, "proj")
	os.Mkdir(proj, 0o755)
	os.Chown(proj, 4242, 4242)
	for dir, files := range map[string]map[string]string{
		ws: {"Makefile": "test:\n\t@echo tests pass\n", "train.py": "print('trained')\n",
			"go.mod": "module example.com/x\n\ngo 1.22\n", "x_test.go": "package x\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) {}\n"},
		proj: {"Makefile": "test:\n\t@echo tests pass\n"},
	} {
		for name, body := range files {
			p := filepath.Join(dir, name)
			os.WriteFile(p, []byte(body), 0o644)
			os.Chown(p, 4242, 4242)
		}
	}
	// The go test example compiles the standard library's testing
	// packages on a cold cache: minutes on the jail's one CPU. Warm the
	// workspace's cache (HOME is /workspace in the jail) here first.
	if goBin, err := exec.LookPath("go"); err == nil {
		warm := exec.Command(goBin, "test", "./...")
		warm.Dir = ws
		warm.Env = append(os.Environ(), "GOCACHE="+filepath.Join(ws, ".cache", "go-build"), "GOFLAGS=-mod=vendor")
		if out, err := warm.CombinedOutput(); err != nil {
			t.Fatalf("warming the go cache: %v\n%s", err, out)
		}
		exec.Command("chown", "-R", "4242:4242", ws).Run()
	}
	// The checkout's README, or (the VM suite) the copy beside the test binary.
	md, err := os.ReadFile("../README.md")
	if os.IsNotExist(err) {
		md, err = os.ReadFile("README.md")
	}
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"), "HOME="+home, "OPENCLAW_STATE_DIR="+filepath.Join(home, ".openclaw"),
		"OPENCLAW_CONFIG_PATH=", "OPENCLAW_RUN_CONFIG=")
	n := 0
	for _, section := range readmeSections {
		lines := readmeExamples(string(md), section)
		if len(lines) == 0 {
			t.Errorf("README has no examples under %q", section)
		}
		for _, line := range lines {
			cmdline, _, _ := strings.Cut(line, "  #") // the comments are two spaces or more away
			cmdline = strings.TrimSpace(cmdline)
			if why, ok := readmeSkip[cmdline]; ok {
				t.Logf("skipped %q: %s", cmdline, why)
				continue
			}
			if _, err := exec.LookPath("go"); err != nil && strings.Contains(cmdline, "-- go ") {
				t.Logf("skipped %q: no Go toolchain on this machine (the VM has none)", cmdline)
				continue
			}
			if strings.Contains(cmdline, "--engine runc") && engine() != "runc" && !runcAvailable() {
				t.Logf("skipped %q: no runc helper", cmdline)
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
			cmd.Dir, cmd.Env = ws, env
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				t.Errorf("README example %q: %v\n%s", cmdline, err, out)
			}
			n++
		}
	}
	t.Logf("ran %d README examples", n)
}

// runcAvailable: the runc engine's helper beside the binary under test.
func runcAvailable() bool {
	_, err := os.Stat(filepath.Join(filepath.Dir(binary), "openclaw-run-runc"))
	return err == nil
}
