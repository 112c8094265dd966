package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
)

// runFlags is the CLI's view of one jailed command.
type runFlags struct {
	profile   string
	workspace string
	timeout   time.Duration
	env       []string
	limits    profiles.Limits
	uid, gid  int
	stats     bool
	auditFile string
	config    string
	secretEnv map[string]string
	logLevel  string
	engine    string
}

func cmdRun(args []string, stderr io.Writer) int {
	var f runFlags
	fs := newFlags("openclaw-run", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: openclaw-run [flags] -- CMD [ARGS...]\n\n"+
			"Runs CMD in a fresh jail: new user, mount, pid, net, ipc, uts and cgroup\n"+
			"namespaces, the workspace read-write at /workspace, system directories\n"+
			"read-only, a synthesized /etc, no network, no capabilities, a seccomp\n"+
			"filter of the profile's tier and cgroup limits. The exit code is CMD's\n"+
			"(128+N when killed by signal N; 124 timeout, 125 setup failure or\n"+
			"refusal, 126 not executable, 127 not found).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.profile, "profile", "", "tool profile: minimal, coding or full (default: tools.profile of the config, else coding)")
	fs.StringVar(&f.config, "config", "", "config file (default: $OPENCLAW_CONFIG_PATH, else $OPENCLAW_STATE_DIR/openclaw.json)")
	fs.StringVar(&f.engine, "engine", "", "jail engine: native or runc (runc's libcontainer, through openclaw-run-runc; default: sandbox.engines/sandbox.engine of the config, else native)")
	fs.StringVarP(&f.workspace, "workspace", "w", ".", "host directory mounted read-write at /workspace (the working directory)")
	fs.DurationVar(&f.timeout, "timeout", 0, "kill the whole jail after this long (default: the profile's)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set K=V inside the jail (repeatable); nothing else of this environment goes in")
	fs.StringToStringVar(&f.secretEnv, "secret-env", nil, "give the jail VAR=SECRETNAME from the secret store (repeatable); no other secret enters")
	fs.Var(&f.limits.Memory, "memory", "memory limit, e.g. 512M (default: the profile's); swap is off")
	fs.Float64Var(&f.limits.CPUs, "cpus", 0, "CPU limit in cores, e.g. 1.5 (default: the profile's)")
	fs.IntVar(&f.limits.Pids, "pids", 0, "limit on processes and threads (default: the profile's)")
	fs.Var(&f.limits.MaxOutput, "max-output", "cap on stdout+stderr, e.g. 10M; the rest is discarded with a marker (default: the profile's)")
	fs.Var(&f.limits.TmpSize, "tmp-size", "size of the tmpfs /tmp and /dev/shm (default: the profile's)")
	fs.IntVar(&f.uid, "uid", 0, "host uid that root in the jail maps to (default: the workspace owner, or 65534 when that is root)")
	fs.IntVar(&f.gid, "gid", 0, "host gid that root in the jail maps to (default: with --uid, the same number)")
	fs.StringVar(&f.auditFile, "audit-file", "", "append the call's audit record here (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	fs.BoolVar(&f.stats, "stats", false, "print a one-line resource summary on stderr when the command ends")
	fs.StringVar(&f.logLevel, "log-level", "", "error, warn, info or debug (default: logging.level of the config); debug prints the resolved jail and the time of each stage of the call")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "openclaw-run: no command given (usage: openclaw-run [flags] -- CMD [ARGS...])")
		return exitSetup
	}
	for _, kv := range f.env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			fmt.Fprintf(stderr, "openclaw-run: --env %q: want K=V\n", kv)
			return exitSetup
		}
	}
	f.limits.Timeout = profiles.Duration(f.timeout)

	builtin, err := setup.Profiles()
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		return exitSetup
	}
	cfg, err := setup.Config(f.config, builtin)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		return exitSetup
	}
	if f.profile == "" {
		f.profile = cfg.Tools.Profile
	}
	if f.logLevel == "" {
		f.logLevel = cfg.Logging.Level
	}
	level, ok := logLevels[f.logLevel]
	if !ok {
		fmt.Fprintf(stderr, "openclaw-run: --log-level %q: want error, warn, info or debug\n", f.logLevel)
		return exitSetup
	}
	if level == levelDebug {
		runner.EnableTrace()
	}
	prof, ok := builtin[f.profile]
	if !ok {
		fmt.Fprintf(stderr, "openclaw-run: unknown profile %q (have %v)\n", f.profile, profiles.Names(builtin))
		return exitSetup
	}
	opts, err := setup.RunnerOptions(cfg, prof)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		return exitSetup
	}
	// Everything is audited: a call whose record cannot be written is
	// refused before it runs.
	alog, err := setup.OpenAudit(f.auditFile, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		return exitSetup
	}
	opts.Workspace, opts.Term, opts.Audit = f.workspace, os.Getenv("TERM"), alog
	opts.Limits = opts.Limits.Override(f.limits)
	if f.engine != "" {
		opts.Engine = f.engine
	}
	if f.uid != 0 {
		opts.UID, opts.GID = f.uid, f.gid
	}
	r, err := runner.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		return exitSetup
	}

	if _, err := runner.Sweep(); err != nil && level >= levelWarn {
		fmt.Fprintf(stderr, "openclaw-run: warning: sweeping leftover cgroups: %v\n", err)
	}
	if level == levelDebug {
		l := r.Limits().Override(f.limits)
		fmt.Fprintf(stderr, "openclaw-run: debug: profile=%s seccomp=%s workspace=%s memory=%s cpus=%g pids=%d timeout=%s argv=%q\n",
			prof.Name, prof.ExecTier, f.workspace, l.Memory, l.CPUs, l.Pids, l.Timeout, argv)
	}

	// Ctrl-C, SIGTERM and SIGHUP kill the jail; the jail itself is in its
	// own session and never sees the terminal's signals.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	secretVars, err := r.SecretEnv(f.secretEnv)
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		return exitSetup
	}
	res, err := r.Exec(ctx, runner.Command{
		Argv: argv, Env: append(f.env, secretVars...),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SessionID: "cli", UserID: cliUser(),
	})
	if err != nil && res != nil {
		// The call ran; only its audit record failed. Say so loudly, and
		// keep the command's own exit code.
		fmt.Fprintf(stderr, "openclaw-run: WARNING: %v\n", err)
		err = nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		var ce *jail.ChildError
		switch {
		case errors.Is(err, jail.ErrNotFound):
			return exitNotFound
		case errors.As(err, &ce) && (ce.Errno == syscall.EACCES || ce.Errno == syscall.ENOEXEC):
			return exitNotExec
		}
		return exitSetup
	}
	if f.stats {
		blocked := "-"
		if len(res.BlockedSyscalls) > 0 {
			var parts []string
			for _, b := range res.BlockedSyscalls {
				parts = append(parts, fmt.Sprintf("%s×%d", b.Syscall, b.Count))
			}
			blocked = strings.Join(parts, ",")
		}
		fmt.Fprintf(stderr, "openclaw-run: exit=%d signal=%s timedOut=%t oomKilled=%t outputTruncated=%t duration=%dms cpu=%dms+%dms maxMemory=%s blocked=%s\n",
			res.ExitCode, orDash(res.Signal), res.TimedOut, res.OOMKilled, res.OutputTruncated, res.DurationMs,
			res.CPUUserMs, res.CPUSystemMs, profiles.Size(res.MaxMemoryBytes), blocked)
	}
	switch {
	case res.TimedOut:
		fmt.Fprintf(stderr, "openclaw-run: timed out after %s; the jail was killed\n", r.Limits().Override(f.limits).Timeout)
		return exitTimeout
	case res.OOMKilled && res.Signal != "":
		fmt.Fprintf(stderr, "openclaw-run: killed by the memory limit (%s)\n", r.Limits().Memory)
	}
	return res.ExitCode
}

// The CLI's log levels: warnings are shown from warn up, and debug adds
// the resolved jail and the per-stage trace (OPENCLAW_TRACE=1).
const (
	levelError = iota
	levelWarn
	levelInfo
	levelDebug
)

var logLevels = map[string]int{"error": levelError, "warn": levelWarn, "warning": levelWarn, "info": levelInfo, "debug": levelDebug}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
