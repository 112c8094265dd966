package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/cli"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
	"golang.org/x/term"
)

// runFlags is the CLI's view of one jailed command.
type runFlags struct {
	profile    string
	workspace  string
	workdir    string
	timeout    time.Duration
	env        []string
	limits     profiles.Limits
	uid, gid   int
	stats      bool
	auditFile  string
	config     string
	secretEnv  map[string]string
	logLevel   string
	engine     string
	tty        bool
	ttySize    string
	resultFile string
	session    string
	binds      []string
	roBinds    []string
	network    string
	allowHosts []string
}

// runFlagSet defines the flags of `openclaw-run [flags] -- CMD`.
func runFlagSet(f *runFlags, stderr io.Writer) *cli.FlagSet {
	fs := cli.New("openclaw-run", "openclaw-run [flags] -- CMD [ARGS...]", exitSetup, stderr)
	fs.FlagSet.Usage = func() {
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
	fs.StringVar(&f.config, "config", "", "config file (default: $OPENCLAW_RUN_CONFIG, $OPENCLAW_CONFIG_PATH, else $OPENCLAW_STATE_DIR/openclaw.json)")
	fs.StringVar(&f.engine, "engine", "", "jail engine: native or runc (runc's libcontainer, through openclaw-run-runc; default: sandbox.engines/sandbox.engine of the config, else native)")
	fs.StringVarP(&f.workspace, "workspace", "w", ".", "host directory mounted read-write at /workspace")
	fs.StringVar(&f.workdir, "workdir", "", "working directory inside the jail: /workspace or below; relative paths are relative to /workspace (default /workspace)")
	fs.DurationVar(&f.timeout, "timeout", 0, "kill the whole jail after this long (default: the profile's)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set K=V inside the jail (repeatable); nothing else of this environment goes in")
	fs.StringToStringVar(&f.secretEnv, "secret-env", nil, "give the jail VAR=SECRETNAME from the secret store (repeatable); no other secret enters")
	fs.Var(&f.limits.Memory, "memory", "memory limit, e.g. 512M (default: the profile's); swap is off")
	fs.Float64Var(&f.limits.CPUs, "cpus", 0, "CPU limit in cores, e.g. 1.5 (default: the profile's)")
	fs.IntVar(&f.limits.Pids, "pids", 0, "limit on processes and threads (default: the profile's)")
	fs.Var(&f.limits.MaxOutput, "max-output", "cap on stdout+stderr, e.g. 10M; the rest is discarded with a marker (default: the profile's)")
	fs.Var(&f.limits.TmpSize, "tmp-size", "size of the tmpfs /tmp and /dev/shm (default: the profile's)")
	fs.Var(&f.limits.FileSize, "file-size", "largest file the command may write (RLIMIT_FSIZE), e.g. 1G (default: the profile's)")
	fs.Var(&f.limits.Disk, "disk", "what the command may add to the workspace (its staging layer), e.g. 256M; a write past it fails with ENOSPC (default: the profile's)")
	fs.IntVar(&f.limits.DiskInodes, "disk-inodes", 0, "files and directories the command may create in the workspace (default: the profile's)")
	fs.IntVar(&f.limits.OpenFiles, "open-files", 0, "open files per process (RLIMIT_NOFILE) (default: the profile's)")
	fs.IntVar(&f.uid, "uid", 0, "host uid that root in the jail maps to (default: the workspace owner, or 65534 when that is root)")
	fs.IntVar(&f.gid, "gid", 0, "host gid that root in the jail maps to (default: with --uid, the same number)")
	fs.StringArrayVar(&f.roBinds, "ro-bind", nil, "bind host SRC[:DST] read-only into the jail (repeatable; DST defaults to SRC); checked by the path policy of tools.fs.allowedPaths")
	fs.StringArrayVar(&f.binds, "bind", nil, "bind host SRC[:DST] read-write into the jail (repeatable); checked like --ro-bind")
	fs.StringVar(&f.network, "network", "", "the jail's network: none (loopback only) or allowlist (only the hosts of sandbox.network.allow and --allow-host, through the audited egress proxy; docs/network.md) (default: the profile's)")
	fs.StringArrayVar(&f.allowHosts, "allow-host", nil, "with --network allowlist: also allow this host pattern, e.g. pypi.org, *.pythonhosted.org, mirror.internal:8080 (repeatable)")
	fs.BoolVarP(&f.tty, "tty", "t", false, "give the command a pseudo-terminal of the jail's own (for interactive programs); all output arrives on stdout")
	fs.StringVar(&f.ttySize, "tty-size", "", "the pty's size COLSxROWS (default: this terminal's, else 80x24)")
	fs.StringVar(&f.resultFile, "result-file", "", "write how the call ended as JSON to this file when it ends (exit code, signal, timeout, OOM, blocked system calls; an error for a refused call)")
	fs.StringVar(&f.session, "session", "cli", "the session the audit log records the call under")
	fs.StringVar(&f.auditFile, "audit-file", "", "append the call's audit records here (default: $OPENCLAW_STATE_DIR/audit/audit.jsonl)")
	fs.BoolVar(&f.stats, "stats", false, "print a one-line resource summary on stderr when the command ends")
	fs.StringVar(&f.logLevel, "log-level", "", "error, warn, info or debug (default: logging.level of the config); debug prints the plan and the time of each stage of the call")
	return fs
}

func cmdRun(args []string, stderr io.Writer) int {
	var f runFlags
	fs := runFlagSet(&f, stderr)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	res, code := run(&f, fs.Args(), stderr)
	if f.resultFile != "" {
		if err := writeResult(f.resultFile, res); err != nil {
			fmt.Fprintf(stderr, "openclaw-run: --result-file: %v\n", err)
			if code == 0 {
				code = runner.ExitSetup
			}
		}
	}
	return code
}

// callResult is the --result-file document: how the call ended, or why
// it did not run.
type callResult struct {
	CallID string `json:"callId,omitempty"`
	*runner.Result
	Error *callError `json:"error,omitempty"`
}

type callError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeResult writes the result document atomically (a reader never sees
// half of it).
func writeResult(path string, res *callResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".openclaw-run-result-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func run(f *runFlags, argv []string, stderr io.Writer) (*callResult, int) {
	res := &callResult{}
	refuse := func(code string, format string, args ...any) (*callResult, int) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(stderr, "openclaw-run: %s\n", msg)
		res.Error = &callError{Code: code, Message: msg}
		return res, runner.ExitSetup
	}
	if len(argv) == 0 {
		return refuse("invalid_params", "no command given (usage: openclaw-run [flags] -- CMD [ARGS...])")
	}
	env := map[string]string{}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return refuse("invalid_params", "--env %q: want K=V", kv)
		}
		env[k] = v
	}
	f.limits.Timeout = profiles.Duration(f.timeout)
	builtin, err := setup.Profiles()
	if err != nil {
		return refuse("invalid_config", "%v", err)
	}
	cfg, err := setup.Config(f.config, builtin)
	if err != nil {
		return refuse("invalid_config", "%v", err)
	}
	if f.profile == "" {
		f.profile = cfg.Tools.Profile
	}
	if f.logLevel == "" {
		f.logLevel = cfg.Logging.Level
	}
	level, ok := logLevels[f.logLevel]
	if !ok {
		return refuse("invalid_params", "--log-level %q: want error, warn, info or debug", f.logLevel)
	}
	if level == levelDebug {
		runner.EnableTrace()
	}
	prof, ok := builtin[f.profile]
	if !ok {
		return refuse("invalid_params", "unknown profile %q (have %v)", f.profile, profiles.Names(builtin))
	}
	var pty *plan.Pty
	if f.tty {
		if pty, err = ttySize(f.ttySize); err != nil {
			return refuse("invalid_params", "--tty-size: %v", err)
		}
	} else if f.ttySize != "" {
		return refuse("invalid_params", "--tty-size needs --tty")
	}
	var binds []runner.AllowedPath
	for _, b := range []struct {
		flag  string
		specs []string
		rw    bool
	}{{"--ro-bind", f.roBinds, false}, {"--bind", f.binds, true}} {
		for _, spec := range b.specs {
			src, dst, _ := strings.Cut(spec, ":")
			if src == "" || !filepath.IsAbs(src) || (dst != "" && !filepath.IsAbs(dst)) {
				return refuse("invalid_params", "%s %q: want SRC[:DST], both absolute paths", b.flag, spec)
			}
			binds = append(binds, runner.AllowedPath{Path: src, Target: dst, Writable: b.rw})
		}
	}
	opts, err := setup.RunnerOptions(cfg, prof)
	if err != nil {
		return refuse("invalid_config", "%v", err)
	}
	// Everything is audited: a call whose intent cannot be written is
	// refused before it runs.
	alog, err := setup.OpenAudit(f.auditFile, cfg)
	if err != nil {
		return refuse(runner.CodeAudit, "%v", err)
	}
	opts.Workspace, opts.Term, opts.Audit = f.workspace, os.Getenv("TERM"), alog
	opts.Limits = opts.Limits.Override(f.limits)
	if level < levelWarn {
		opts.Warn = func(string) {}
	}
	if f.engine != "" {
		opts.Engine = f.engine
	}
	switch f.network {
	case "", "none", "allowlist":
		if f.network != "" {
			opts.Network = f.network
		}
	default:
		return refuse("invalid_params", "--network %q: want none or allowlist", f.network)
	}
	if len(f.allowHosts) > 0 && opts.Network != "allowlist" {
		return refuse("invalid_params", "--allow-host needs --network allowlist (or a profile whose network is allowlist)")
	}
	if opts.Network == "allowlist" {
		// The operator's command line adds to the config's list.
		nc := cfg.Sandbox.Network
		nc.Allow = append(append([]string(nil), nc.Allow...), f.allowHosts...)
		eg := &helperEgress{cfg: nc}
		if err := eg.check(); err != nil {
			return refuse("invalid_config", "%v", err)
		}
		opts.Egress = eg
	}
	if f.uid != 0 {
		opts.UID, opts.GID = f.uid, f.gid
	}
	r, err := runner.New(opts)
	if err != nil {
		return refuse("jail_setup_failed", "%v", err)
	}
	// The leftovers of runners that died mid-call are swept beside the
	// call, not before it: a sweep removes only what a dead runner owned
	// (its identity is in each name), never this call's, and reading
	// every hierarchy took a millisecond of each cold call. It is done
	// before this process exits.
	swept := make(chan error, 1)
	go func() { _, err := runner.Sweep(); swept <- err }()
	defer func() {
		if err := <-swept; err != nil && level >= levelWarn {
			fmt.Fprintf(stderr, "openclaw-run: warning: sweeping leftover cgroups: %v\n", err)
		}
	}()
	if level == levelDebug {
		l := r.Limits()
		fmt.Fprintf(stderr, "openclaw-run: debug: profile=%s seccomp=%s workspace=%s memory=%s cpus=%g pids=%d timeout=%s argv=%q\n",
			prof.Name, prof.ExecTier, f.workspace, l.Memory, l.CPUs, l.Pids, l.Timeout, argv)
	}

	// Ctrl-C, SIGTERM and SIGHUP kill the jail; the jail itself is in its
	// own session and never sees the terminal's signals.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if pty != nil && term.IsTerminal(int(os.Stdin.Fd())) {
		// The local terminal passes every key through to the jail's own
		// pty (as ssh -t and docker -t do); the jail never gets this
		// terminal itself.
		if old, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), old)
		}
	}
	var result *runner.Result
	var event runner.Event
	err = r.Run(ctx, runner.Call{Tool: "exec", Argv: argv, Env: env, SecretEnv: f.secretEnv, Workdir: f.workdir,
		Pty: pty, Binds: binds, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SessionID: f.session, UserID: cliUser()},
		func(e runner.Event) error {
			switch e.Type {
			case "start":
				res.CallID = e.CallID
			case "result":
				result = e.Result
			case "error":
				event = e
			}
			return nil
		})
	res.Result = result
	if result == nil {
		fmt.Fprintf(stderr, "openclaw-run: %v\n", err)
		res.Error = &callError{Code: event.Code, Message: event.Message}
		return res, runner.ExitCode(err)
	}
	if err != nil {
		// The call ran; only its outcome record failed. Say so loudly,
		// and keep the command's own exit code.
		fmt.Fprintf(stderr, "openclaw-run: WARNING: %v\n", err)
	}
	if f.stats {
		blocked := "-"
		if len(result.BlockedSyscalls) > 0 {
			var parts []string
			for _, b := range result.BlockedSyscalls {
				parts = append(parts, fmt.Sprintf("%s×%d", b.Syscall, b.Count))
			}
			blocked = strings.Join(parts, ",")
		}
		fmt.Fprintf(stderr, "openclaw-run: exit=%d signal=%s timedOut=%t oomKilled=%t outputTruncated=%t duration=%dms cpu=%dms+%dms maxMemory=%s blocked=%s\n",
			result.ExitCode, orDash(result.Signal), result.TimedOut, result.OOMKilled, result.OutputTruncated, result.DurationMs,
			result.CPUUserMs, result.CPUSystemMs, profiles.Size(result.MaxMemoryBytes), blocked)
		if c := result.Changes; c != nil {
			fmt.Fprintf(stderr, "openclaw-run: changes %s: %d added, %d modified, %d deleted, %s written%s\n", c.State, c.Added, c.Modified, c.Deleted,
				profiles.Size(c.BytesWritten), limitNote(c.DiskLimitHit, c.InodeLimitHit))
			for _, ch := range c.Files {
				fmt.Fprintf(stderr, "openclaw-run:   %-8s %-7s %s (%d bytes)\n", ch.Op, ch.Type, ch.Path, ch.Bytes)
			}
			if c.Truncated {
				fmt.Fprintf(stderr, "openclaw-run:   ... (the first %d listed)\n", len(c.Files))
			}
		}
		if result.ChangesError != "" {
			fmt.Fprintf(stderr, "openclaw-run: changes NOT committed: %s\n", result.ChangesError)
		}
		if result.Egress != nil {
			// The report's shape is package egress's (docs/network.md),
			// read here as JSON: this binary does not link the proxy.
			var e struct {
				Allowed, Refused   int
				BytesUp, BytesDown int64
				Connections        []struct {
					Method, Host, Reason string
					Port                 int
					Allowed              bool
				}
			}
			b, _ := json.Marshal(result.Egress)
			json.Unmarshal(b, &e)
			fmt.Fprintf(stderr, "openclaw-run: egress: %d allowed, %d refused, %d bytes up, %d down\n", e.Allowed, e.Refused, e.BytesUp, e.BytesDown)
			for _, c := range e.Connections {
				state := "allowed"
				if !c.Allowed {
					state = "refused " + c.Reason
				}
				fmt.Fprintf(stderr, "openclaw-run:   %s %s:%d %s\n", c.Method, c.Host, c.Port, state)
			}
		}
	}
	switch {
	case result.TimedOut:
		fmt.Fprintf(stderr, "openclaw-run: timed out after %s; the jail was killed\n", time.Duration(result.Limits.TimeoutMs)*time.Millisecond)
		return res, runner.ExitTimeout
	case result.OOMKilled && result.Signal != "":
		fmt.Fprintf(stderr, "openclaw-run: killed by the memory limit (%s)\n", profiles.Size(result.Limits.Memory))
	}
	return res, result.ExitCode
}

func limitNote(disk, inodes bool) string {
	switch {
	case disk:
		return " (the disk limit was hit: a write failed with ENOSPC)"
	case inodes:
		return " (the inode limit was hit: a create failed with ENOSPC)"
	}
	return ""
}

// ttySize parses COLSxROWS, or takes this terminal's size, else 80x24.
func ttySize(s string) (*plan.Pty, error) {
	if s == "" {
		if c, r, err := term.GetSize(int(os.Stdout.Fd())); err == nil && c > 0 && r > 0 {
			return &plan.Pty{Cols: uint16(min(c, 1000)), Rows: uint16(min(r, 1000))}, nil
		}
		return &plan.Pty{Cols: 80, Rows: 24}, nil
	}
	cs, rs, ok := strings.Cut(s, "x")
	c, err1 := strconv.Atoi(cs)
	r, err2 := strconv.Atoi(rs)
	if !ok || err1 != nil || err2 != nil || c < 1 || r < 1 || c > 1000 || r > 1000 {
		return nil, errors.New("want COLSxROWS, each 1 to 1000, e.g. 120x40")
	}
	return &plan.Pty{Cols: uint16(c), Rows: uint16(r)}, nil
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
