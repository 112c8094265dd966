package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckEnvRefusesCodeInjection(t *testing.T) {
	for name, value := range map[string]string{
		"LD_PRELOAD": "/workspace/evil.so", "LD_AUDIT": "x.so", "LD_LIBRARY_PATH": "/workspace", "LD_DEBUG_OUTPUT": "/x",
		"GLIBC_TUNABLES": "glibc.malloc.check=3", "GCONV_PATH": "/workspace", "BASH_ENV": "/workspace/x.sh",
		"ENV": "/workspace/x.sh", "BASH_FUNC_ls%%": "() { rm x; }", "BASH_FUNC_ls()": "() { rm x; }",
		"SHELLOPTS": "xtrace", "BASHOPTS": "extdebug", "PS4": "$(rm x)", "PS1": "$(rm x)", "PROMPT_COMMAND": "rm x",
		"ZDOTDIR": "/workspace", "IFS": "/", "PERL5OPT": "-Mevil", "PERL5DB": "BEGIN{system q(rm x)}",
		"RUBYOPT": "-r./evil", "NODE_OPTIONS": "--require ./evil.js", "PYTHONSTARTUP": "evil.py",
		"JAVA_TOOL_OPTIONS": "-javaagent:evil.jar", "_JAVA_OPTIONS": "-XX:OnError=rm", "LUA_INIT": "@evil.lua",
		"LUA_INIT_5_4": "os.execute'rm x'", "OPENSSL_CONF": "/workspace/o.cnf", "GIT_CONFIG_PARAMETERS": "'core.pager'='rm x'",
		"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.fsmonitor", "GIT_EXEC_PATH": "/workspace",
		"GIT_TEMPLATE_DIR": "/workspace/t", "GIT_CONFIG_GLOBAL": "/workspace/gc", "VIMINIT": ":!rm x",
		"PYTHONWARNINGS": "ignore::evil.Warning", "HARMLESS": "() { rm x; }", "": "x", "A=B": "x", "OK": "a\x00b",
	} {
		err := CheckEnv(map[string]string{name: value, "PATH": "/usr/bin:/bin"})
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Name != name || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%q=%q: %v", name, value, err)
		}
	}
}

func TestCheckEnvAllowsOrdinaryVariables(t *testing.T) {
	env := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/workspace", "LANG": "C.UTF-8", "TERM": "xterm",
		"PYTHONPATH": "src", "GOFLAGS": "-mod=vendor", "NODE_ENV": "production", "CI": "true",
		"PAGER": "cat", "GIT_PAGER": "cat", "EDITOR": "true", "MALLOC_ARENA_MAX": "2", "PYTHONWARNINGS": "ignore::DeprecationWarning",
		"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "agent", "OPENCLAW_SESSION": "s1", "TZ": "UTC",
	}
	if err := CheckEnv(env); err != nil {
		t.Error(err)
	}
	if err := CheckEnv(nil); err != nil {
		t.Error(err)
	}
}

func TestCheckEnvReportsEveryVariable(t *testing.T) {
	err := CheckEnv(map[string]string{"LD_PRELOAD": "x", "BASH_ENV": "y", "PATH": "/bin"})
	msg := err.Error()
	if !strings.Contains(msg, `"BASH_ENV"`) || !strings.Contains(msg, `"LD_PRELOAD"`) || strings.Index(msg, "BASH_ENV") > strings.Index(msg, "LD_PRELOAD") {
		t.Errorf("want both, in name order: %v", err)
	}
}

func TestCheckEnvCommands(t *testing.T) {
	p := denyMode(t)
	for env, allowed := range map[[2]string]bool{
		{"PAGER", "cat"}:                       true,
		{"PAGER", "less -R"}:                   true,
		{"GIT_SSH_COMMAND", "ssh -i key -o X"}: true,
		{"EDITOR", "vim"}:                      true,
		{"PAGER", "rm x"}:                      false,
		{"GIT_SSH_COMMAND", "sh -c 'curl x'"}:  false,
		{"EDITOR", "/bin/r?"}:                  false,
		{"LESSOPEN", "|rm %s"}:                 false,
		{"BROWSER", "firefox:curl %s"}:         false,
		{"NOT_A_COMMAND", "rm x"}:              true,
	} {
		d := p.CheckEnvCommands(map[string]string{env[0]: env[1]})
		if d.Allowed != allowed {
			t.Errorf("%s=%q: %s", env[0], env[1], d)
		}
		if !d.Allowed && !strings.Contains(d.Reason, env[0]) {
			t.Errorf("%s=%q: the reason does not name the variable: %s", env[0], env[1], d.Reason)
		}
	}
	if d := p.CheckEnvCommands(map[string]string{"PAGER": "$P"}); !d.Allowed || len(d.Unchecked) == 0 || !strings.HasPrefix(d.Unchecked[0], "PAGER: ") {
		t.Errorf("computed pager: %s", d)
	}
	off := mustExec(t, Options{})
	if d := off.CheckEnvCommands(map[string]string{"PAGER": "rm x"}); !d.Allowed {
		t.Errorf("no lists: %s", d)
	}
	var nilPolicy *Exec
	if d := nilPolicy.CheckEnvCommands(map[string]string{"PAGER": "rm x"}); !d.Allowed {
		t.Errorf("nil policy: %s", d)
	}
}
