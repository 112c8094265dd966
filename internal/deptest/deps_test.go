// Package deptest holds the import boundaries of DESIGN.md section 3: each
// package owns one mechanism, and the data flow (call -> policy -> cgroup +
// seccomp + jail -> stream -> audit) shows in the imports. A forbidden
// import, even an indirect one, fails this test with the reason.
package deptest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/openclaw-run/openclaw-run/"

// forbidden maps a package to the packages it must not depend on, with why.
var forbidden = map[string]map[string]string{
	"plan": {
		"golang.org/x/sys/unix": "a plan is data: every engine applies it, none decides it",
		mod + "jail":            "the plan is below the engines that apply it",
		mod + "runner":          "the runner makes plans; a plan knows no runner",
		mod + "profiles":        "a plan is resolved: it names no profile to look up",
		mod + "seccomp":         "a plan names its tier; the engines compile it",
		mod + "cgroups":         "a plan holds limits; cgroups applies them",
	},
	"hostpath": {
		mod + "jail":    "the path policy decides; it knows no mechanism",
		mod + "runner":  "the runner asks the path policy, not the other way round",
		mod + "config":  "config asks the path policy, not the other way round",
		mod + "gateway": "the path policy knows no transport",
	},
	"profiles": {
		"golang.org/x/sys/unix": "profiles decide; they do no kernel I/O",
		mod + "jail":            "policy must not depend on mechanism",
		mod + "seccomp":         "policy must not depend on mechanism",
		mod + "cgroups":         "policy must not depend on mechanism",
		"net/http":              "profiles know nothing of transports",
	},
	"seccomp": {
		mod + "jail":    "filters are data for the jail, not the other way round",
		mod + "runner":  "mechanism below the runner",
		mod + "gateway": "mechanism below the gateway",
	},
	"cgroups": {
		mod + "jail":    "one owner per kernel object: cgroups does not know the jail",
		mod + "seccomp": "independent mechanism",
		mod + "runner":  "mechanism below the runner",
		mod + "gateway": "mechanism below the gateway",
	},
	"jail": {
		mod + "profiles":                       "the jail applies a resolved plan and decides nothing",
		mod + "hostpath":                       "the jail applies a resolved plan and decides nothing",
		mod + "runner":                         "mechanism below the runner",
		mod + "gateway":                        "mechanism below the gateway",
		"github.com/seccomp/libseccomp-golang": "the jail gets BPF bytes; the forked child must need no cgo",
	},
	"config": {
		"golang.org/x/sys/unix": "configuration is data; no kernel calls",
		mod + "jail":            "configuration knows no mechanism",
		mod + "seccomp":         "configuration knows no mechanism",
		mod + "cgroups":         "configuration knows no mechanism",
		mod + "runner":          "the runner is configured, not the other way round",
	},
	"secrets": {
		mod + "jail":    "secrets know no mechanism",
		mod + "runner":  "the runner asks for secrets, not the other way round",
		mod + "gateway": "secrets know no transport",
	},
	"policy": {
		"golang.org/x/sys/unix": "policy decides; it does no kernel I/O",
		mod + "jail":            "policy must not depend on mechanism",
		mod + "seccomp":         "policy must not depend on mechanism",
		mod + "cgroups":         "policy must not depend on mechanism",
		"net/http":              "policy knows nothing of transports",
	},
	"audit": {
		mod + "jail":    "the audit log records calls; it knows no mechanism",
		mod + "seccomp": "the audit log records calls; it knows no mechanism",
		mod + "cgroups": "the audit log records calls; it knows no mechanism",
		mod + "runner":  "the runner writes to the audit log, not the other way round",
	},
	"runner": {
		mod + "gateway": "the runner is transport-agnostic",
		"net/http":      "the runner is transport-agnostic",
	},
	"runcjail": {
		mod + "runner":  "the engine's protocol is below the runner",
		mod + "gateway": "mechanism below the gateway",
		mod + "cgroups": "under the runc engine libcontainer owns the cgroup; the runner names its place",
		"github.com/opencontainers/runc/libcontainer": "libcontainer (cgo) lives in the helper binary only",
	},
}

// forbiddenDirect holds rules about a package's own imports (its
// dependencies may use what it may not).
var forbiddenDirect = map[string]map[string]string{
	"gateway": {
		mod + "jail":            "the gateway reaches jails only through the runner",
		mod + "seccomp":         "the gateway reaches jails only through the runner",
		mod + "cgroups":         "the gateway reaches jails only through the runner",
		mod + "runcjail":        "the gateway reaches jails only through the runner",
		"golang.org/x/sys/unix": "no raw kernel calls at the edge",
	},
	"client": {
		mod + "runner": "a client speaks the wire protocol only",
		mod + "jail":   "a client speaks the wire protocol only",
	},
}

func TestDirectImports(t *testing.T) {
	for pkg, rules := range forbiddenDirect {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "../../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			if why, bad := rules[imp]; bad {
				t.Errorf("%s imports %s: %s", pkg, imp, why)
			}
		}
	}
}

// The cold CLI must not link the gateway's libraries: they cost ~10 ms of
// initialisation at every start (see cmd/openclaw-gateway).
func TestCLIStaysLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/openclaw-run").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, heavy := range []string{"net/http", "github.com/prometheus/client_golang/prometheus", "github.com/coder/websocket",
		"go.etcd.io/bbolt", "github.com/containerd/cgroups/v3/cgroup1", mod + "gateway",
		// The runc engine is a helper binary: its cgo constructor and init
		// dispatch must never run in front of a native-engine call.
		"github.com/opencontainers/runc/libcontainer", "github.com/opencontainers/runc/libcontainer/nsenter"} {
		if strings.Contains("\n"+string(out), "\n"+heavy+"\n") {
			t.Errorf("openclaw-run links %s", heavy)
		}
	}
}

func TestImportBoundaries(t *testing.T) {
	for pkg, rules := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "../../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for dep, why := range rules {
			if deps[dep] {
				t.Errorf("%s depends on %s: %s", pkg, dep, why)
			}
		}
	}
}

// Every rule names packages that exist: a rule about a package that was
// removed or renamed holds nothing, silently. Our own packages must exist
// in this module; a forbidden third-party package must exist in this
// module's graph or in the runc helper's (libcontainer lives only there,
// which is the point of its rule).
func TestRulesNamePackagesThatExist(t *testing.T) {
	names := map[string]bool{}
	for _, rules := range []map[string]map[string]string{forbidden, forbiddenDirect} {
		for pkg, deps := range rules {
			names[mod+pkg] = true
			for dep := range deps {
				names[dep] = true
			}
		}
	}
	missing := listMissing(t, "../..", names)
	if len(missing) > 0 {
		// Third-party packages may come from the helper's module.
		again := map[string]bool{}
		for _, m := range missing {
			if !strings.HasPrefix(m, mod) {
				again[m] = true
			}
		}
		helperMissing := map[string]bool{}
		for _, m := range listMissing(t, "../../runcjail/helper", again) {
			helperMissing[m] = true
		}
		for _, m := range missing {
			if strings.HasPrefix(m, mod) || helperMissing[m] {
				t.Errorf("a dependency rule names %s, which does not exist: update or remove the rule", m)
			}
		}
	}
}

// listMissing returns the import paths that go list cannot find from dir.
func listMissing(t *testing.T, dir string, names map[string]bool) []string {
	t.Helper()
	if len(names) == 0 {
		return nil
	}
	args := []string{"list", "-e", "-f", "{{.ImportPath}} {{if .Error}}missing{{else}}ok{{end}}"}
	for n := range names {
		args = append(args, n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v", dir, err)
	}
	var missing []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, state, _ := strings.Cut(line, " "); state != "ok" {
			missing = append(missing, path)
		}
	}
	return missing
}

// A package-level regexp.MustCompile runs at every start of every binary
// that links the package: in the cold CLI that cost ~9 ms. Compile on first
// use instead (sync.OnceValue).
func TestNoRegexpCompiledAtInit(t *testing.T) {
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "var ") && strings.Contains(line, "= regexp.MustCompile(") {
				t.Errorf("%s:%d: a regexp compiled at package init", p, i+1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
