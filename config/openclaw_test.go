package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// An OpenClaw user's own openclaw.json (which `openclaw config validate`
// accepts) validates: OpenClaw's keys are recognised, the keys that map
// onto ours are honoured, and the only warnings are the documented ones.
func TestOpenClawConfigValidates(t *testing.T) {
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "")
	r, err := Load(filepath.Join("testdata", "openclaw", "openclaw.json"), profilesKnown)
	if err != nil {
		t.Fatal(err)
	}
	if errs := r.Errors(); len(errs) > 0 {
		t.Fatalf("OpenClaw's own config refused: %v", errs)
	}
	for _, p := range r.Problems {
		t.Errorf("unexpected warning: %s", p)
	}
	c := r.Config
	d := c.Agents.Defaults.Sandbox.Docker
	if d.Memory != 1<<30 || d.Cpus != 1.5 || d.PidsLimit != 128 {
		t.Errorf("docker limits not read: %+v", d)
	}
	if c.Sandbox.UID != 1000 || c.Sandbox.GID != 1000 {
		t.Errorf("docker.user 1000:1000 -> sandbox uid/gid %d:%d", c.Sandbox.UID, c.Sandbox.GID)
	}
	if c.Logging.Level != "debug" {
		t.Errorf("OpenClaw's logging.level trace -> %q, want debug", c.Logging.Level)
	}
	if mode, disabled := c.ExecPolicy(); mode != "deny" || disabled {
		t.Errorf("tools.exec.mode full -> %s (disabled %t)", mode, disabled)
	}
	if c.Gateway.Port != 18789 || len(c.Gateway.TrustedProxies) != 1 {
		t.Errorf("shared gateway keys: %+v", c.Gateway)
	}
}

// Typos in our keys are still errors with a hint, inside an OpenClaw
// config, and also where OpenClaw accepts any key (channels.*); a key
// neither product knows is an error that points at OpenClaw's nearest key.
func TestOpenClawConfigTyposStillCaught(t *testing.T) {
	cases := []struct{ src, path, hint string }{
		{`{"gateway": {"mode": "local"}, "tools": {"exec": {"mode": "full", "denyComands": ["rm"]}}}`,
			"tools.exec.denyComands", `did you mean "denyCommands"`},
		{`{"plugins": {}, "channels": {"telegarm": {"enabled": true}}}`,
			"channels.telegarm", `did you mean "telegram"`},
		{`{"agents": {"defaults": {"sandbox": {"docker": {"pidLimit": 10}}}}}`,
			"agents.defaults.sandbox.docker.pidLimit", `did you mean "pidsLimit"`},
		{`{"gateway": {"bnd": "loopback"}}`,
			"gateway.bnd", `did you mean OpenClaw's "bind"`},
		{`{"sandbox": {"workspase": "/srv/ws"}}`,
			"sandbox.workspase", `did you mean "workspace"`},
		{`{"agents": {"defaults": {"nonsense": 1}}}`,
			"agents.defaults.nonsense", "known keys here: sandbox; and OpenClaw"},
	}
	for _, tc := range cases {
		r := Parse([]byte(tc.src), profilesKnown)
		errs := r.Errors()
		if len(errs) != 1 || errs[0].Path != tc.path || !strings.Contains(errs[0].Message, tc.hint) {
			t.Errorf("%s: want one error at %s with %q, got %v", tc.src, tc.path, tc.hint, r.Problems)
		}
	}
}

// OpenClaw's values of shared keys that have no counterpart of ours are
// mapped (or ignored with a warning), never refused.
func TestOpenClawValuesMapped(t *testing.T) {
	r := Parse([]byte(`{"tools": {"profile": "messaging"}, "logging": {"level": "silent"}}`), profilesKnown)
	if len(r.Errors()) != 0 || r.Config.Tools.Profile != "minimal" || r.Config.Logging.Level != "error" {
		t.Errorf("messaging/silent: profile %q level %q, %v", r.Config.Tools.Profile, r.Config.Logging.Level, r.Problems)
	}
	users := []struct {
		src      string
		uid, gid int
		warn     string
	}{
		{`"user": "1000"`, 1000, 1000, ""},
		{`"user": "1000:1001"`, 1000, 1001, ""},
		{`"user": "node"`, 0, 0, "names a user"},
		{`"user": "0:0"`, 0, 0, "is root"},
		{`"user": "1000:0"`, 0, 0, "is root"},
		{`"user": "1000:staff"`, 0, 0, "names a group"},
	}
	for _, u := range users {
		r := Parse([]byte(`{"agents": {"defaults": {"sandbox": {"docker": {`+u.src+`}}}}}`), profilesKnown)
		var warned string
		for _, p := range r.Problems {
			if p.Path == "agents.defaults.sandbox.docker.user" && p.Warning {
				warned = p.Message
			}
		}
		if len(r.Errors()) != 0 || r.Config.Sandbox.UID != u.uid || r.Config.Sandbox.GID != u.gid ||
			(u.warn == "") != (warned == "") || !strings.Contains(warned, u.warn) {
			t.Errorf("%s: uid %d gid %d warning %q; want %d %d %q (%v)", u.src, r.Config.Sandbox.UID, r.Config.Sandbox.GID, warned, u.uid, u.gid, u.warn, r.Problems)
		}
	}
	// Our own sandbox.uid wins over OpenClaw's docker.user.
	r = Parse([]byte(`{"sandbox": {"uid": 2000, "gid": 2000}, "agents": {"defaults": {"sandbox": {"docker": {"user": "1000"}}}}}`), profilesKnown)
	if r.Config.Sandbox.UID != 2000 || len(r.Errors()) != 0 {
		t.Errorf("sandbox.uid must win: %d %v", r.Config.Sandbox.UID, r.Problems)
	}
}

// OPENCLAW_RUN_CONFIG and OPENCLAW_RUN_STATE_DIR, our own names, come
// before OpenClaw's OPENCLAW_CONFIG_PATH and OPENCLAW_STATE_DIR, which
// OpenClaw sets in the environment of everything it starts.
func TestEnvPrecedence(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"OPENCLAW_RUN_CONFIG", "OPENCLAW_RUN_STATE_DIR", "OPENCLAW_CONFIG_PATH", "OPENCLAW_STATE_DIR"} {
		t.Setenv(k, "")
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	check("no variables", Path(""), filepath.Join(home, ".openclaw", "openclaw.json"))
	t.Setenv("OPENCLAW_STATE_DIR", "/oc/state")
	t.Setenv("OPENCLAW_CONFIG_PATH", "/oc/openclaw.json")
	check("OpenClaw's state dir", StateDir(), "/oc/state")
	check("OpenClaw's config", Path(""), "/oc/openclaw.json")
	t.Setenv("OPENCLAW_RUN_STATE_DIR", "/run/state")
	check("our state dir first", StateDir(), "/run/state")
	check("the shared config still", Path(""), "/oc/openclaw.json")
	t.Setenv("OPENCLAW_RUN_CONFIG", "/run/openclaw-run.json")
	check("our config first", Path(""), "/run/openclaw-run.json")
	check("the flag before all", Path("/flag.json"), "/flag.json")
	t.Setenv("OPENCLAW_CONFIG_PATH", "")
	t.Setenv("OPENCLAW_RUN_CONFIG", "")
	check("config in our state dir", Path(""), "/run/state/openclaw.json")
}

// The embedded key tree is the generated one, and knows the keys the
// product depends on.
func TestOpenClawKeyTree(t *testing.T) {
	root, version := openclawKeys()
	if version == "" || version == "unknown" {
		t.Errorf("key tree without an OpenClaw version: %q", version)
	}
	for _, path := range []string{"gateway.auth.token", "agents.defaults.sandbox.backend", "models.providers.anything.baseUrl",
		"plugins.entries.openclaw-run.config.binary", "tools.exec.applyPatch.enabled"} {
		n := root
		for _, k := range strings.Split(path, ".") {
			child, _, ok := n.lookup(k)
			if !ok {
				t.Errorf("%s: OpenClaw's key tree has no %q", path, k)
				break
			}
			if child == nil {
				break // anything below is accepted
			}
			n = child
		}
	}
	if _, _, ok := root.lookup("nosuchtopkey"); ok {
		t.Error("the top level of OpenClaw's config is closed, but the tree accepts any key")
	}
}

// OpenClaw's config objects are closed: a shared file may hold only the
// keys OpenClaw accepts. Ours alone are warned about, by path.
func TestOpenClawRefuses(t *testing.T) {
	src := []byte(`{
  // shared and OpenClaw's own keys
  "tools": {"profile": "coding", "exec": {"mode": "deny"}},
  "gateway": {"port": 18789, "auth": {"mode": "token", "clients": [{"name": "ci"}]}},
  "agents": {"defaults": {"sandbox": {"mode": "all", "docker": {"memory": "1g"}}}},
  "channels": {"anything": {"goes": 1}},
  "sandbox": {"staging": "auto"},
}`)
	var got []string
	for _, p := range OpenClawRefuses(src) {
		if !p.Warning || p.Line == 0 {
			t.Errorf("%+v: want a warning with its place", p)
		}
		got = append(got, p.Path)
	}
	if want := []string{"gateway.auth.clients", "sandbox"}; !slices.Equal(got, want) {
		t.Errorf("refused keys %v, want %v", got, want)
	}
	// A user's file that OpenClaw accepts has nothing it refuses.
	b, err := os.ReadFile(filepath.Join("testdata", "openclaw", "openclaw.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := OpenClawRefuses(b); len(ps) > 0 {
		t.Errorf("OpenClaw's own file: %v", ps)
	}
}

func TestOpenClawReads(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENCLAW_CONFIG_PATH", "")
	t.Setenv("OPENCLAW_STATE_DIR", dir)
	if !OpenClawReads(filepath.Join(dir, "openclaw.json")) || OpenClawReads(filepath.Join(dir, "ours.json")) {
		t.Error("OpenClaw reads openclaw.json in OPENCLAW_STATE_DIR, nothing else")
	}
	t.Setenv("OPENCLAW_CONFIG_PATH", filepath.Join(dir, "elsewhere.json"))
	if !OpenClawReads(filepath.Join(dir, "elsewhere.json")) || OpenClawReads(filepath.Join(dir, "openclaw.json")) {
		t.Error("OPENCLAW_CONFIG_PATH names OpenClaw's file")
	}
}
