package config

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var profilesKnown = []string{"minimal", "coding", "full"}

// Every example config of the hardening guide validates; the only
// warnings are the documented ones (Windows-only entries and keys that are
// accepted but not enforced).
func TestGuideExamples(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("OPENCLAW_STATE_DIR", "")
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "")
	want := map[string][]string{
		"2.1-profile.json":       nil,
		"2.2-fs.json":            {"tools.fs.allowedPaths[1]", "tools.fs.deniedPaths[2]", "tools.fs.deniedPaths[3]"},
		"2.3-exec-deny.json":     {"tools.exec.denyCommands[10]", "tools.exec.denyCommands[11]", "tools.exec.denyCommands[12]", "tools.exec.denyCommands[13]", "tools.exec.denyCommands[14]", "tools.exec.denyCommands[3]", "tools.exec.denyCommands[5]", "tools.exec.denyCommands[6]", "tools.exec.denyCommands[9]"},
		"2.3-exec-allow.json":    {"tools.exec.allowCommands[9]"},
		"2.4-secrets.json":       nil,
		"3.1-gateway-local.json": nil,
		"3.1-gateway-lan.json":   {"gateway.authToken"},
		"3.2-feishu.json":        nil,
		"3.2-telegram.json":      nil,
		"3.3-system-prompt.json": {"systemPrompt"},
		"4.1-logging.json":       {"logging.format"},
	}
	files, _ := filepath.Glob("testdata/guide/*.json")
	if len(files) != len(want) {
		t.Fatalf("%d example files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		r, err := Load(f, profilesKnown)
		if err != nil {
			t.Fatal(err)
		}
		if errs := r.Errors(); len(errs) > 0 {
			t.Errorf("%s: %v", f, errs)
		}
		var got []string
		for _, p := range r.Problems {
			if p.Warning {
				got = append(got, p.Path)
				if p.Line == 0 {
					t.Errorf("%s: warning without a place: %s", f, p)
				}
			}
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want[filepath.Base(f)], " ") {
			t.Errorf("%s: warnings %v, want %v", f, got, want[filepath.Base(f)])
		}
	}
	// The Windows warnings say so.
	r, _ := Load("testdata/guide/2.3-exec-deny.json", profilesKnown)
	for _, p := range r.Problems {
		if p.Warning && !strings.Contains(p.Message, "Windows") {
			t.Errorf("unexpected warning: %s", p)
		}
	}
}

func TestUnknownKeyIsAnErrorWithPlaceAndHint(t *testing.T) {
	src := `{
  // a typo must never be silently ignored
  "tools": {
    "exec": {
      "policy": "deny",
      "denyComands": ["rm"],
    },
  },
}`
	r := Parse([]byte(src), profilesKnown)
	errs := r.Errors()
	if len(errs) != 1 {
		t.Fatalf("want one error, got %v", r.Problems)
	}
	p := errs[0]
	if p.Path != "tools.exec.denyComands" || p.Line != 6 || p.Col != 7 || !strings.Contains(p.Message, `did you mean "denyCommands"`) {
		t.Errorf("got %s (path %s, %d:%d)", p, p.Path, p.Line, p.Col)
	}
}

func TestTypeErrorHasAPlace(t *testing.T) {
	r := Parse([]byte("{\n \"gateway\": {\n  \"port\": \"eighty\"\n }\n}"), profilesKnown)
	errs := r.Errors()
	if len(errs) == 0 || errs[0].Line != 3 || !strings.Contains(errs[0].Path, "port") {
		t.Errorf("got %v", r.Problems)
	}
}

func TestSemanticChecks(t *testing.T) {
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "")
	cases := map[string]string{
		`{"tools": {"profile": "godmode"}}`:                                                                         "tools.profile",
		`{"tools": {"exec": {"policy": "maybe"}}}`:                                                                  "tools.exec.policy",
		`{"tools": {"exec": {"mode": "yolo"}}}`:                                                                     "tools.exec.mode",
		`{"tools": {"exec": {"dynamicCommands": "sometimes"}}}`:                                                     "tools.exec.dynamicCommands",
		`{"gateway": {"host": "0.0.0.0"}}`:                                                                          "gateway.host",
		`{"gateway": {"port": 70000}}`:                                                                              "gateway.port",
		`{"gateway": {"authToken": "short"}}`:                                                                       "gateway.authToken",
		`{"gateway": {"allowOrigins": ["javascript:alert(1)"]}}`:                                                    "gateway.allowOrigins[0]",
		`{"tools": {"fs": {"workspaceOnly": false, "allowedPaths": ["/proc/1"]}}}`:                                  "tools.fs.allowedPaths[0]",
		`{"tools": {"fs": {"workspaceOnly": false, "allowedPaths": ["relative/x"]}}}`:                               "tools.fs.allowedPaths[0]",
		`{"logging": {"level": "loud"}}`:                                                                            "logging.level",
		`{"secrets": {"provider": "aws-secrets-manager"}}`:                                                          "secrets.region",
		`{"secrets": {"provider": "exec"}}`:                                                                         "secrets.command",
		`{"agents": {"defaults": {"sandbox": {"docker": {"network": "bridge"}}}}}`:                                  "agents.defaults.sandbox.docker.network",
		`{"sandbox": {"engine": "qemu"}}`:                                                                           "sandbox.engine",
		`{"sandbox": {"engines": {"coding": "gvisor"}}}`:                                                            "sandbox.engines.coding",
		`{"sandbox": {"engines": {"nosuch": "runc"}}}`:                                                              "sandbox.engines.nosuch",
		`{"secrets": {"names": ["GATEWAY_TOKEN"]}}`:                                                                 "secrets.names[0]",
		`{"secrets": {"names": ["ok", "bad name"]}}`:                                                                "secrets.names[1]",
		`{"gateway": {"allowedHosts": ["http://x.example"]}}`:                                                       "gateway.allowedHosts[0]",
		`{"gateway": {"auth": {"clients": [{"name": "a b", "token": "0123456789abcdef"}]}}}`:                        "gateway.auth.clients[0].name",
		`{"gateway": {"auth": {"clients": [{"name": "a"}]}}}`:                                                       "gateway.auth.clients[0]",
		`{"gateway": {"auth": {"clients": [{"name": "a", "token": "short"}]}}}`:                                     "gateway.auth.clients[0].token",
		`{"gateway": {"auth": {"clients": [{"name": "a", "token": "0123456789abcdef", "sessions": "all"}]}}}`:       "gateway.auth.clients[0].sessions",
		`{"gateway": {"auth": {"clients": [{"name": "a", "token": "0123456789abcdef", "sessions": "prefix"}]}}}`:    "gateway.auth.clients[0].sessionPrefix",
		`{"gateway": {"auth": {"clients": [{"name": "a", "token": "0123456789abcdef", "profiles": ["godmode"]}]}}}`: "gateway.auth.clients[0].profiles[0]",
		`{"gateway": {"auth": {"clients": [{"name": "a", "tokenSecret": "A"}]}}, "secrets": {"names": ["A"]}}`:      "secrets.names[0]",
	}
	for src, path := range cases {
		r := Parse([]byte(src), profilesKnown)
		found := false
		for _, p := range r.Errors() {
			if p.Path == path {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error at %s: %v", src, path, r.Problems)
		}
	}
	// A non-loopback gateway is fine with a token.
	r := Parse([]byte(`{"gateway": {"host": "10.0.0.5", "authToken": "0123456789abcdef0123"}}`), profilesKnown)
	if len(r.Errors()) != 0 {
		t.Errorf("token-protected LAN gateway refused: %v", r.Errors())
	}
	// Named clients beside OpenClaw's own gateway.auth keys.
	r = Parse([]byte(`{"gateway": {"auth": {"mode": "token", "rateLimit": {"maxAttempts": 10, "exemptLoopback": true},
		"clients": [{"name": "ci", "tokenFile": "/etc/openclaw/ci.token", "sessions": "prefix", "sessionPrefix": "ci-", "profiles": ["minimal", "coding"]}]}}}`), profilesKnown)
	if len(r.Errors()) != 0 || !r.Config.Gateway.Auth.RateLimit.ExemptLoopback || r.Config.Gateway.Auth.Clients[0].SessionPrefix != "ci-" {
		t.Errorf("named clients: %v %+v", r.Errors(), r.Config.Gateway.Auth)
	}
	// Forcing a sensitive path is possible, explicitly.
	r = Parse([]byte(`{"tools": {"fs": {"workspaceOnly": false, "allowedPaths": ["/run/x"], "force": ["/run/x"]}}}`), profilesKnown)
	if len(r.Errors()) != 0 {
		t.Errorf("forced path refused: %v", r.Errors())
	}
}

func TestNoFileMeansSecureDefaults(t *testing.T) {
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "")
	r, err := Load(filepath.Join(t.TempDir(), "none.json"), profilesKnown)
	if err != nil || len(r.Errors()) != 0 {
		t.Fatal(err, r.Errors())
	}
	c := r.Config
	mode, disabled := c.ExecPolicy()
	if c.Tools.Profile != "coding" || !c.WorkspaceOnly() || c.Gateway.Host != "127.0.0.1" || c.Gateway.Port != 18789 || mode != "deny" || disabled {
		t.Errorf("defaults: %+v", c)
	}
}

func TestOpenClawSpellings(t *testing.T) {
	for mode, want := range map[string]string{"allowlist": "allow", "full": "deny", "ask": "allow"} {
		r := Parse([]byte(`{"tools": {"exec": {"mode": "`+mode+`", "allowCommands": ["git"]}}}`), profilesKnown)
		if got, _ := r.Config.ExecPolicy(); got != want {
			t.Errorf("mode %s -> %s, want %s", mode, got, want)
		}
	}
	r := Parse([]byte(`{"tools": {"exec": {"mode": "deny"}}}`), profilesKnown)
	if _, disabled := r.Config.ExecPolicy(); !disabled {
		t.Error("tools.exec.mode deny must disable exec")
	}
	r = Parse([]byte(`{"agents": {"defaults": {"sandbox": {"docker": {"memory": "512m", "cpus": 1.5, "pidsLimit": 100, "network": "none"}}}}}`), profilesKnown)
	if len(r.Errors()) != 0 || r.Config.Agents.Defaults.Sandbox.Docker.PidsLimit != 100 {
		t.Errorf("OpenClaw docker limits: %v", r.Problems)
	}
}

func TestDynamicCommands(t *testing.T) {
	for _, v := range []string{"deny", "audit"} {
		for _, lists := range []string{`"denyCommands": ["rm"]`, `"policy": "allow", "allowCommands": ["git"]`} {
			src := `{"tools": {"exec": {` + lists + `, "dynamicCommands": "` + v + `"}}}`
			r := Parse([]byte(src), profilesKnown)
			if len(r.Problems) != 0 || r.Config.Tools.Exec.DynamicCommands != v {
				t.Errorf("%s: %v", src, r.Problems)
			}
		}
	}
	// Without a list nothing is checked: the setting is a warning, not
	// an error.
	r := Parse([]byte(`{"tools": {"exec": {"dynamicCommands": "deny"}}}`), profilesKnown)
	if len(r.Errors()) != 0 || len(r.Problems) != 1 || !r.Problems[0].Warning || r.Problems[0].Path != "tools.exec.dynamicCommands" {
		t.Errorf("no lists: %v", r.Problems)
	}
	// A typo in the key is caught like any other.
	r = Parse([]byte(`{"tools": {"exec": {"dynamicCommand": "deny"}}}`), profilesKnown)
	if len(r.Errors()) == 0 || !strings.Contains(r.Errors()[0].String(), "dynamicCommands") {
		t.Errorf("typo: %v", r.Problems)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/guide/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte(`{"tools": {"exec": {"denyComands": [1, {}]}}, }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		r := Parse(src, profilesKnown)
		if r == nil || r.Config == nil {
			t.Fatal("nil result")
		}
		for _, p := range r.Problems {
			_ = p.String()
		}
	})
}

func TestEngineFor(t *testing.T) {
	t.Setenv("OPENCLAW_ENGINE", "")
	c := Defaults()
	if e := c.EngineFor("coding"); e != "native" {
		t.Errorf("default engine %q", e)
	}
	c.Sandbox.Engine = "runc"
	c.Sandbox.Engines = map[string]string{"minimal": "native"}
	if c.EngineFor("coding") != "runc" || c.EngineFor("minimal") != "native" {
		t.Errorf("sandbox.engines must win over sandbox.engine: %q %q", c.EngineFor("coding"), c.EngineFor("minimal"))
	}
	t.Setenv("OPENCLAW_ENGINE", "native")
	if c.EngineFor("coding") != "native" || c.EngineFor("minimal") != "native" {
		t.Errorf("OPENCLAW_ENGINE replaces sandbox.engine")
	}
	t.Setenv("OPENCLAW_ENGINE", "lxc")
	r := Parse([]byte(`{}`), profilesKnown)
	if len(r.Errors()) == 0 {
		t.Errorf("an unknown OPENCLAW_ENGINE was accepted")
	}
}

// Only the implicit default config path may be absent: a file named by
// --config or the environment must exist, and the error names it.
func TestExplicitConfigMustExist(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENCLAW_STATE_DIR", dir)
	t.Setenv("OPENCLAW_RUN_CONFIG", "")
	t.Setenv("OPENCLAW_CONFIG_PATH", "")
	if r, err := LoadFlag("", nil); err != nil || r.File != "" {
		t.Fatalf("absent default: %v", err)
	}
	typo := filepath.Join(dir, "typo.json")
	if _, err := LoadFlag(typo, nil); err == nil || !strings.Contains(err.Error(), "--config "+typo) {
		t.Errorf("--config typo: %v", err)
	}
	for _, env := range []string{"OPENCLAW_RUN_CONFIG", "OPENCLAW_CONFIG_PATH"} {
		t.Setenv(env, typo)
		if _, err := LoadFlag("", nil); err == nil || !strings.Contains(err.Error(), env+" "+typo) {
			t.Errorf("%s typo: %v", env, err)
		}
		t.Setenv(env, "")
	}
}

// logging.maxSize below 1MB cannot be honoured (lumberjack rotates at whole
// megabytes): refused, never silently 100MB. journald writes to stderr.
func TestLoggingSizeAndJournald(t *testing.T) {
	for src, want := range map[string]string{
		`{"logging": {"maxSize": "512K"}}`:                          "logging.maxSize",
		`{"logging": {"maxSize": "1M"}}`:                            "",
		`{"logging": {"format": "journald"}}`:                       "",
		`{"logging": {"format": "journald", "file": "/tmp/x.log"}}`: "logging.file",
		`{"logging": {"format": "syslog"}}`:                         "logging.format",
	} {
		err := Parse([]byte(src), []string{"minimal", "coding", "full"}).Err()
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}
