package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The environment of a call (exec's env parameter, --env, the OpenClaw
// plugin's env) can make an allowed program run other code: with
// LD_PRELOAD=/workspace/evil.so, `ls` ran arbitrary code while the audit
// record said ls. CheckEnv refuses the variables whose purpose is to
// load or run code chosen by their value when a program starts, whatever
// the command lists say: the lie in the audit record matters without
// lists too, and no tool call needs them.
//
// Not refused, and why:
//   - PATH, PYTHONPATH, PYTHONHOME, PYTHONUSERBASE, PERL5LIB, RUBYLIB,
//     NODE_PATH, CLASSPATH, GOPATH say where a program finds what it asks
//     for by name. What they find lies in the workspace, like a venv,
//     conftest.py or a Makefile that the program would run anyway: only
//     the jail bounds that. Refusing them would break ordinary calls
//     (PYTHONPATH=src pytest).
//   - MALLOC_*, LOCPATH, NLSPATH, TZ and the like change behaviour or
//     data, and load no code.
//   - PAGER, EDITOR, VISUAL, GIT_SSH_COMMAND, GIT_PAGER, LESSOPEN and
//     the other variables whose value is a command line are commands
//     like exec's own: CheckEnvCommands checks them with the lists.
//   - IFS is refused although bash and dash ignore it from the
//     environment: POSIX lets a shell take it, and no call needs it.

// refusedExact are variables refused by name, with the reason.
var refusedExact = map[string]string{
	// The dynamic loader and libc (ld.so(8), iconv(3)).
	"GLIBC_TUNABLES": "the dynamic loader parses it in every program (CVE-2023-4911)",
	"GCONV_PATH":     "iconv loads character-set modules (code) from it (CVE-2021-4034)",
	// Shells (bash(1), dash(1), zsh(1)).
	"BASH_ENV":            "bash runs the file it names before every non-interactive script",
	"ENV":                 "interactive POSIX shells (sh -i, bash --posix) run the file it names; use another name, such as APP_ENV",
	"SHELLOPTS":           "bash turns on the options it lists at start (xtrace runs PS4's command substitutions)",
	"BASHOPTS":            "bash turns on the shell options it lists at start",
	"PS0":                 "interactive bash expands it, running its command substitutions",
	"PS1":                 "interactive shells expand it, running its command substitutions",
	"PS2":                 "interactive shells expand it, running its command substitutions",
	"PS4":                 "bash expands it for every traced command, running its command substitutions",
	"PROMPT_COMMAND":      "interactive bash runs it before every prompt",
	"ZDOTDIR":             "zsh runs .zshenv from it on every start, even for zsh -c",
	"BASH_LOADABLES_PATH": "bash's enable loads builtins (shared objects) from it",
	"IFS":                 "it changes how a shell splits words; POSIX lets a shell import it",
	// Interpreters: options that load code before the program.
	"PERL5OPT":             "perl takes -M (load a module) and -d (run a debugger) from it",
	"PERL5DB":              "perl runs it as debugger code",
	"RUBYOPT":              "ruby takes -r (require a file) from it",
	"NODE_OPTIONS":         "node takes --require, --import and --loader (run a file first) from it",
	"PYTHONSTARTUP":        "interactive python runs the file it names",
	"PYTHONBREAKPOINT":     "python imports and calls the function it names at breakpoint()",
	"JAVA_TOOL_OPTIONS":    "the JVM takes -javaagent (load code) and -XX:OnError (run a command) from it",
	"_JAVA_OPTIONS":        "the JVM takes -javaagent and -XX:OnError from it",
	"JDK_JAVA_OPTIONS":     "the java launcher takes -javaagent and -XX:OnError from it",
	"PHPRC":                "php reads a php.ini from it, whose auto_prepend_file runs code",
	"PHP_INI_SCAN_DIR":     "php reads .ini files from it, whose auto_prepend_file runs code",
	"R_PROFILE":            "R runs the file it names at start",
	"R_PROFILE_USER":       "R runs the file it names at start",
	"ERL_AFLAGS":           "erlang takes -eval (run code) from it",
	"ERL_FLAGS":            "erlang takes -eval (run code) from it",
	"ERL_ZFLAGS":           "erlang takes -eval (run code) from it",
	"DOTNET_STARTUP_HOOKS": "dotnet loads the assemblies it names at start",
	"VIMINIT":              "vim runs its Ex commands (:!cmd) at start",
	"EXINIT":               "vi and ex run its commands at start",
	// Libraries that load plugins (shared objects).
	"OPENSSL_CONF":      "OpenSSL's config can load engines and providers (shared objects) in every program that uses it",
	"OPENSSL_ENGINES":   "OpenSSL loads engines (shared objects) from it",
	"OPENSSL_MODULES":   "OpenSSL loads providers (shared objects) from it",
	"SASL_PATH":         "Cyrus SASL loads plugins (shared objects) from it",
	"GTK_MODULES":       "GTK loads the modules (shared objects) it names",
	"GIO_EXTRA_MODULES": "GIO loads modules (shared objects) from it",
	"QT_PLUGIN_PATH":    "Qt loads plugins (shared objects) from it",
	// git: configuration carries commands (core.fsmonitor, core.sshCommand,
	// alias.x=!cmd, diff.external, credential.helper).
	"GIT_CONFIG":            "git reads configuration, which can run commands, from the file it names",
	"GIT_CONFIG_GLOBAL":     "git reads configuration, which can run commands, from the file it names",
	"GIT_CONFIG_SYSTEM":     "git reads configuration, which can run commands, from the file it names",
	"GIT_CONFIG_PARAMETERS": "git takes configuration, which can run commands, from it",
	"GIT_CONFIG_COUNT":      "git takes configuration, which can run commands, from GIT_CONFIG_KEY_n/VALUE_n",
	"GIT_EXEC_PATH":         "git runs its own helper programs from it",
	"GIT_TEMPLATE_DIR":      "git copies hooks (programs it runs later) from it into new repositories",
}

// refusedPrefix are variable families refused by prefix.
var refusedPrefix = []struct{ prefix, why string }{
	{"LD_", "the dynamic loader reads it (LD_PRELOAD and LD_AUDIT load code into every program, LD_LIBRARY_PATH chooses its libraries)"},
	{"BASH_FUNC_", "bash imports it as a function, which may take the place of any command (Shellshock class, CVE-2014-6271)"},
	{"GIT_CONFIG_KEY_", "git takes configuration, which can run commands, from it"},
	{"GIT_CONFIG_VALUE_", "git takes configuration, which can run commands, from it"},
	{"LUA_INIT", "lua runs it (or the file it names) at start"},
}

// refusedEnv returns why a variable may not be set, or "".
func refusedEnv(name string) string {
	if why, ok := refusedExact[name]; ok {
		return why
	}
	for _, p := range refusedPrefix {
		if strings.HasPrefix(name, p.prefix) {
			return p.why
		}
	}
	return ""
}

// commandVars are variables whose value is a command line that programs
// run (through sh -c, or as a program): git, less, man, sudo, ssh, fc.
// The value is what runs; CheckEnvCommands and assignments in a command
// string check it like a command.
var commandVars = map[string]string{
	"PAGER": "pagers", "GIT_PAGER": "git", "MANPAGER": "man", "SYSTEMD_PAGER": "systemd tools",
	"EDITOR": "editors", "VISUAL": "editors", "GIT_EDITOR": "git", "GIT_SEQUENCE_EDITOR": "git rebase",
	"SUDO_EDITOR": "sudoedit", "FCEDIT": "fc",
	"GIT_SSH": "git", "GIT_SSH_COMMAND": "git", "GIT_ASKPASS": "git", "SSH_ASKPASS": "ssh", "SUDO_ASKPASS": "sudo",
	"GIT_EXTERNAL_DIFF": "git diff", "GIT_PROXY_COMMAND": "git",
	"LESSOPEN": "less", "LESSCLOSE": "less", "BROWSER": "xdg-open and webbrowser",
}

// EnvError is a refused environment variable.
type EnvError struct {
	Name, Reason string
}

func (e *EnvError) Error() string {
	return fmt.Sprintf("environment variable %q is refused: %s", e.Name, e.Reason)
}

// CheckEnv refuses environment variables that make an allowed program
// load or run other code (see the list above), bad names (empty, with
// "=" or NUL) and values with NUL, which execve cannot pass. It applies
// whatever the command lists say. Each refused variable is one
// *EnvError, joined in name order.
func CheckEnv(env map[string]string) error {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	var errs []error
	for _, k := range names {
		v := env[k]
		if why := envProblem(k, v); why != "" {
			errs = append(errs, &EnvError{Name: k, Reason: why})
		}
	}
	return errors.Join(errs...)
}

// envProblem returns why one variable is refused, or "".
func envProblem(k, v string) string {
	switch {
	case k == "":
		return "an empty name"
	case strings.ContainsAny(k, "=\x00"):
		return "a name with \"=\" or NUL"
	case strings.Contains(v, "\x00"):
		return "a value with NUL, which execve cannot pass"
	case strings.HasPrefix(v, "() {"):
		return "a value that old bash imports as a function (CVE-2014-6271)"
	case k == "PYTHONWARNINGS" && warningsImport(v):
		return "a category with a module (action::pkg.Class) makes python import that module at start"
	}
	return refusedEnv(k)
}

// warningsImport reports a PYTHONWARNINGS filter whose category names a
// module: python imports it to resolve the class (warnings._getcategory).
func warningsImport(v string) bool {
	for _, f := range strings.Split(v, ",") {
		parts := strings.Split(f, ":")
		if len(parts) > 2 && strings.Contains(parts[2], ".") {
			return true
		}
	}
	return false
}

// CheckEnvCommands checks the environment variables whose value is a
// command line another program runs (PAGER, EDITOR, GIT_SSH_COMMAND,
// LESSOPEN, ...) as commands, with the same rules and lists as Check.
// With no list configured nothing is checked.
func (p *Exec) CheckEnvCommands(env map[string]string) Decision {
	if p.off() {
		return Decision{Allowed: true}
	}
	names := make([]string, 0, len(env))
	for k := range env {
		if commandVars[k] != "" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	out := Decision{Allowed: true}
	for _, k := range names {
		d := p.Check(envValueCommand(k, env[k]))
		out.Commands = append(out.Commands, d.Commands...)
		for _, u := range d.Unchecked {
			out.Unchecked = append(out.Unchecked, k+": "+u)
		}
		if !d.Allowed {
			return Decision{Reason: fmt.Sprintf("environment variable %s: %s", k, d.Reason), Rule: d.Rule,
				Commands: out.Commands, Unchecked: out.Unchecked}
		}
	}
	return out
}

// envValueCommand turns a command variable's value into a command string:
// LESSOPEN's leading pipes go, BROWSER's list is split on colons.
func envValueCommand(k, v string) string {
	switch k {
	case "LESSOPEN", "LESSCLOSE":
		return strings.TrimLeft(v, "|-")
	case "BROWSER":
		return strings.ReplaceAll(v, ":", "\n")
	}
	return v
}
