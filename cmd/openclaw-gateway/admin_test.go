package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/internal/version"
)

func gw(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return out.String(), errb.String(), code
}

// subcommands are every command of dispatch that parses flags.
var subcommands = [][]string{{"start"}, {"stop"}, {"status"}, {"reset"}, {"sessions", "list"}, {"call", "exec"},
	{"mcp"}, {"backup"}, {"restore", "x.tar.gz"}, {"channels", "list"}, {"audit", "alerts"}, {"gateway", "start"}}

// A bad flag is named with the subcommand's usage line (exit 2); --help
// exits 0, in every subcommand.
func TestGatewayFlagErrors(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	for _, sub := range subcommands {
		_, errOut, code := gw(t, append(sub, "--no-such-flag")...)
		if code != 2 || !strings.Contains(errOut, "unknown flag: --no-such-flag") || !strings.Contains(errOut, "usage: ") {
			t.Errorf("%q --no-such-flag: exit %d, %q", sub, code, errOut)
		}
		_, errOut, code = gw(t, append(sub, "--help")...)
		if code != 0 || !strings.Contains(errOut, "usage: ") {
			t.Errorf("%q --help: exit %d, %q", sub, code, errOut)
		}
	}
	if _, errOut, code := gw(t, "backup", "--keep-days", "many"); code != 2 || !strings.Contains(errOut, `"many" for "--keep-days"`) {
		t.Errorf("a bad value: exit %d, %q", code, errOut)
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		if out, _, code := gw(t, args...); code != 0 || !strings.Contains(out, "usage: openclaw-gateway start") {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
	if _, errOut, code := gw(t, "nosuch"); code != 2 || !strings.Contains(errOut, `unknown command "nosuch"`) || !strings.Contains(errOut, "usage:") {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
}

func TestGatewayVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, code := gw(t, args...)
		if code != 0 || !strings.HasPrefix(out, "openclaw-gateway "+version.Get().Version+" (commit ") {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

// gateway reset posts to the admin route with the token and prints what
// the gateway did; a refusal is reported with the gateway's reason.
func TestGatewayReset(t *testing.T) {
	t.Setenv("OPENCLAW_STATE_DIR", t.TempDir())
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "the-token-0123456789")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/admin/reset" {
			http.Error(w, "no route", 404)
			return
		}
		if r.Header.Get("Authorization") != "Bearer the-token-0123456789" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"admin_denied","message":"the admin routes need the gateway's token"}}`))
			return
		}
		w.Write([]byte(`{"lockoutsCleared":2,"prewarmedExpired":3,"leftoversSwept":1}`))
	}))
	defer srv.Close()
	out, errOut, code := gw(t, "gateway", "reset", "--gateway", srv.URL)
	if code != 0 || !strings.Contains(out, "2 auth lockout(s) cleared, 3 pre-warmed jail(s) expired, 1 leftover cgroup(s) swept") {
		t.Fatalf("reset: exit %d, %q %q", code, out, errOut)
	}
	t.Setenv("OPENCLAW_GATEWAY_TOKEN", "a-wrong-token-0123456789")
	if _, errOut, code := gw(t, "reset", "--gateway", srv.URL); code != 1 || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "need the gateway's token") {
		t.Errorf("refused reset: exit %d, %q", code, errOut)
	}
}

// channels list shows the lists, test says whether a channel can admit
// anyone, auth --check applies the gateway's own rule (telegram: user OR
// chat).
func TestChannels(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPENCLAW_STATE_DIR", dir)
	cfg := filepath.Join(dir, "openclaw.json")
	os.WriteFile(cfg, []byte(`{"channels": {"telegram": {"enabled": true, "allowedUsers": [111], "allowedChats": [-222]},
		"feishu": {"enabled": false, "allowlist": ["oc_a"]}}}`), 0o600)
	out, errOut, code := gw(t, "channels", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "allowedUsers=[111] allowedChats=[-222]") || !strings.Contains(out, "feishu    enabled=false") {
		t.Fatalf("list: exit %d, %q %q", code, out, errOut)
	}
	if out, _, code := gw(t, "channels", "test", "telegram", "--config", cfg); code != 0 || !strings.HasPrefix(out, "OK telegram") {
		t.Errorf("test telegram: exit %d, %q", code, out)
	}
	if out, _, code := gw(t, "channels", "test", "feishu", "--config", cfg); code != 1 || !strings.Contains(out, "not enabled") {
		t.Errorf("test feishu: exit %d, %q", code, out)
	}
	for _, c := range []struct {
		user, chat string
		ok         bool
	}{{"111", "", true}, {"999", "-222", true}, {"999", "-333", false}, {"", "", false}} {
		args := []string{"channels", "auth", "telegram", "--check", "--config", cfg}
		if c.user != "" {
			args = append(args, "--user", c.user)
		}
		if c.chat != "" {
			args = append(args, "--chat", c.chat)
		}
		out, errOut, code := gw(t, args...)
		if (code == 0) != c.ok {
			t.Errorf("auth user %q chat %q: exit %d, %q %q", c.user, c.chat, code, out, errOut)
		}
	}
	if _, errOut, code := gw(t, "channels", "list", "--config", filepath.Join(dir, "typo.json")); code != 1 || !strings.Contains(errOut, "typo.json") {
		t.Errorf("a missing --config: exit %d, %q", code, errOut)
	}
}
