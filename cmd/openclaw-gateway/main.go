// Command openclaw-gateway serves tool calls over HTTP and WebSocket
// (package gateway) and manages that service: start, stop, status,
// restart, sessions, and a small client (call).
//
// It is a separate binary from openclaw-run so that the cold CLI path
// does not pay for the gateway's libraries at every start: linking
// net/http, the WebSocket library and the Prometheus client costs about 10
// ms of initialisation per process here, more than a whole jail. The CLI
// runs it for "openclaw-run gateway|sessions|call ...".
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/gateway"
	"github.com/openclaw-run/openclaw-run/internal/cli"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/internal/version"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/runner"
)

// stamp is this build's version with where the runc helper is.
func stamp() version.Stamp {
	s := version.Get()
	s.RuncHelper, _ = runcjail.Helper("")
	return s
}

// noArgs parses a subcommand that takes no arguments (only --help).
func noArgs(fs *cli.FlagSet, args []string) (int, bool) {
	if code, ok := fs.Parse(args); !ok {
		return code, false
	}
	if fs.NArg() != 0 {
		return fs.Fail("unexpected argument %q", fs.Arg(0)), false
	}
	return 0, true
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "__flags" {
		os.Exit(printFlags(os.Stdout))
	}
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// printFlags prints every flag set of this binary as JSON (cli.Docs), from
// which make install generates the man page and the shell completion.
func printFlags(w io.Writer) int {
	sets := cli.Describe(func() {
		for _, sub := range [][]string{{"start"}, {"stop"}, {"status"}, {"reset"}, {"sessions"}, {"call"}, {"mcp"},
			{"backup"}, {"restore"}, {"channels"}, {"audit"}} {
			dispatch(sub, io.Discard, io.Discard)
		}
	})
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cli.Docs(sets)); err != nil {
		return 1
	}
	return 0
}

const usageText = `usage: %[1]s start [--foreground] | stop | status | restart | reset
       %[1]s sessions list | sessions prune --older-than 7d
       %[1]s call TOOL ... | mcp ... | backup ... | restore ARCHIVE | audit alerts ...
       %[1]s channels list | test NAME | auth NAME --user U --chat C --check
       %[1]s --version | version
(%[1]s COMMAND --help lists a command's flags)
`

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, usageText, "openclaw-gateway")
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintf(stdout, usageText, "openclaw-gateway")
		return 0
	case "--version", "version":
		fmt.Fprintln(stdout, stamp().String("openclaw-gateway"))
		return 0
	case "gateway": // reached as "openclaw-run gateway ..."
		if len(args) == 1 {
			fmt.Fprintf(stderr, usageText, "openclaw-run gateway")
			return 2
		}
		return dispatch(args[1:], stdout, stderr)
	case "start":
		return cmdStart(args[1:], stdout, stderr)
	case "stop":
		return cmdStop(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "reset":
		return cmdReset(args[1:], stdout, stderr)
	case "channels":
		return cmdChannels(args[1:], stdout, stderr)
	case "restart":
		if code := cmdStop(args[1:], stdout, stderr); code != 0 && code != 3 {
			return code
		}
		return cmdStart(args[1:], stdout, stderr)
	case "sessions":
		return cmdSessions(args[1:], stdout, stderr)
	case "call":
		return cmdCall(args[1:], stdout, stderr)
	case "audit": // "openclaw-run audit alerts"
		return cmdAuditAlerts(args[1:], stdout, stderr)
	case "mcp":
		return cmdMCP(args[1:], stdout, stderr)
	case "backup":
		return cmdBackup(args[1:], stdout, stderr)
	case "restore":
		return cmdRestore(args[1:], stdout, stderr)
	case "__egress": // the CLI's egress proxy (cmd/openclaw-run/egress.go)
		return cmdEgressHelper(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", prog, args[0])
	fmt.Fprintf(stderr, usageText, prog)
	return 2
}

// prog is how the user named this binary: "openclaw-run" when reached
// through it (execGateway sets argv[0]), else "openclaw-gateway".
var prog = func() string {
	if filepath.Base(os.Args[0]) == "openclaw-run" {
		return "openclaw-run"
	}
	return "openclaw-gateway"
}()

// flags returns the flag set of subcommand name with its synopsis (the
// part after the command name): a bad flag is reported by name with the
// synopsis, exit 2.
func flags(name, synopsis string, stderr io.Writer) *cli.FlagSet {
	cmd := prog + " " + name
	if prog == "openclaw-run" && gatewayVerbs[name] {
		cmd = "openclaw-run gateway " + name
	}
	return cli.New(cmd, cmd+" "+synopsis, 2, stderr)
}

// gatewayVerbs are "openclaw-run gateway VERB".
var gatewayVerbs = map[string]bool{"start": true, "stop": true, "status": true, "restart": true, "reset": true}

func pidFile() string { return filepath.Join(config.StateDir(), "gateway.pid") }

// token is gateway.authToken, else OPENCLAW_GATEWAY_TOKEN, else the one in
// <state dir>/gateway.token, generated (0600) on first start.
func token(cfg *config.Config, create bool) (string, error) {
	if cfg.Gateway.AuthToken != "" {
		return cfg.Gateway.AuthToken, nil
	}
	if t := os.Getenv("OPENCLAW_GATEWAY_TOKEN"); t != "" {
		return t, nil
	}
	path := filepath.Join(config.StateDir(), "gateway.token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	if !create {
		return "", fmt.Errorf("no token: set OPENCLAW_GATEWAY_TOKEN or start the gateway once to create %s", path)
	}
	var b [32]byte
	rand.Read(b[:])
	t := hex.EncodeToString(b[:])
	if err := os.MkdirAll(config.StateDir(), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store the generated token: %w", err)
	}
	return t, nil
}

func cmdStart(args []string, stdout, stderr io.Writer) int {
	fs := flags("start", "[--foreground] [--config F] [--listen ADDR] [--drain 30s] [--log-level L]", stderr)
	fg := fs.Bool("foreground", false, "run in the foreground (systemd, make run); otherwise start in the background")
	cfgFile := fs.String("config", "", "config file")
	addr := fs.String("listen", "", "override host:port (tests)")
	drain := fs.Duration("drain", 30*time.Second, "on SIGTERM, how long running calls may finish before they are killed")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default: logging.level of the config)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return fs.Fail("unexpected argument %q", fs.Arg(0))
	}
	if !*fg {
		return background(args, stdout, stderr)
	}
	known, cfg, err := loadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger, logCloser, err := newLogger(cfg.Logging, *logLevel, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer logCloser.Close()
	// fail reports why the gateway did not start on stderr and, when the
	// log goes to logging.file, there too: a service's stderr may be
	// nowhere an operator looks.
	fail := func(err error) int {
		fmt.Fprintln(stderr, err)
		if cfg.Logging.File != "" {
			logger.Error("not started", "err", err)
		}
		return 1
	}
	tok, err := token(cfg, true)
	if err != nil {
		return fail(err)
	}
	alog, err := setup.OpenAudit("", cfg)
	if err != nil {
		return fail(err)
	}
	defer alog.Close()
	// Calls in flight when a gateway or CLI died (crash, OOM, kill -9)
	// have an intent and no outcome: recorded now as abandoned, naming
	// the call.
	if gone, err := alog.Recover(nil); err != nil {
		return fail(fmt.Errorf("audit log: %w", err))
	} else if len(gone) > 0 {
		fmt.Fprintf(stderr, "audit: %d call(s) were in flight when their runner died; recorded as abandoned (openclaw-run audit verify names them)\n", len(gone))
	}
	store, shared, err := openStore(cfg)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	if _, err := runner.Sweep(); err != nil {
		logger.Warn("sweeping leftover cgroups", "err", err)
	}
	listen := *addr
	if listen == "" {
		listen = net.JoinHostPort(cfg.Gateway.Host, strconv.Itoa(cfg.Gateway.Port))
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fail(fmt.Errorf("listen %s: %w", listen, err))
	}
	clients, err := gateway.ResolveClients(cfg, setup.Secrets(cfg).Get)
	if err != nil {
		return fail(err)
	}
	opts := gateway.Options{Config: cfg, Profiles: known, Token: tok, Clients: clients, Store: store, Logger: logger, Version: stamp()}
	if shared != nil {
		// One of several gateways: auth lockouts, background process
		// owners and audit heads are shared too.
		shared.SetLogger(logger)
		opts.Lockout, opts.Cluster = shared, shared
		// Per-gateway values may come from the environment, so that several
		// gateways share one config file (compose, a systemd template).
		self := gateway.Member{ID: cmp.Or(os.Getenv("OPENCLAW_GATEWAY_ID"), cfg.Gateway.ID),
			Addr: cmp.Or(os.Getenv("OPENCLAW_ADVERTISE_ADDR"), cfg.Gateway.AdvertiseAddr), PID: os.Getpid(), Started: time.Now().UTC()}
		if self.Addr == "" {
			self.Addr = localAddr(ln.Addr())
		}
		if self.ID == "" {
			host, _ := os.Hostname()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			self.ID = host + ":" + port
		}
		joinCtx, leave := context.WithCancel(context.Background())
		joined := make(chan struct{})
		go func() { shared.Join(joinCtx, self); close(joined) }()
		defer func() { leave(); <-joined }()
		alog.OnAppend = func(seq uint64, hash string) {
			if err := shared.SetAuditHead(seq, hash); err != nil {
				logger.Error("cluster: publishing the audit chain head", "err", err)
			}
		}
		logger.Info("cluster member", "id", self.ID, "addr", self.Addr, "store", cfg.Sessions.Store.URL)
	}
	srv, err := newServer(opts, alog)
	if err != nil {
		return fail(err)
	}
	hs := &http.Server{Handler: withMCP(srv), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	// The pid file's second line is where a local client (backup) reaches
	// this gateway.
	pf, err := lockPidFile(localAddr(ln.Addr()))
	if err != nil {
		return fail(err)
	}
	defer func() { os.Remove(pidFile()); pf.Close() }()
	fmt.Fprintf(stdout, "openclaw-gateway listening on http://%s (pid %d)\n", ln.Addr(), os.Getpid())
	fmt.Fprintf(stdout, "  token: %s/gateway.token (or OPENCLAW_GATEWAY_TOKEN)\n", config.StateDir())
	fmt.Fprintf(stdout, "  try:   curl -sN -H \"Authorization: Bearer $(cat %s/gateway.token)\" -d '{\"args\":{\"command\":\"id; uname -a\"}}' http://%s/v1/tools/exec\n", config.StateDir(), ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		logger.Info("stopping: no new calls; draining", "signal", s.String(), "deadline", drain.String())
	case err := <-errc:
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		logger.Warn("drain deadline passed: killing the remaining calls")
	}
	srv.Shutdown() // cancels what is left; their jails die with them
	hs.Close()
	logger.Info("stopped")
	return 0
}

// loadConfig reads the profiles (built-in and the state dir's) and the
// validated config; an invalid one is an error.
func loadConfig(flag string) (map[string]*profiles.Profile, *config.Config, error) {
	known, err := setup.Profiles()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := setup.Config(flag, known)
	return known, cfg, err
}

// openStore opens the configured session store: the embedded bbolt file
// in the state dir, or Redis shared with other gateways (then also
// returned as shared).
func openStore(cfg *config.Config) (gateway.Store, *gateway.Redis, error) {
	st := cfg.Sessions.Store
	if st.Type != "redis" {
		s, err := gateway.OpenBolt(filepath.Join(config.StateDir(), "sessions.db"))
		return s, nil, err
	}
	var password string
	if st.PasswordSecret != "" {
		p, err := setup.Secrets(cfg).Get(st.PasswordSecret)
		if err != nil {
			return nil, nil, fmt.Errorf("sessions.store.passwordSecret: %w", err)
		}
		password = p
	}
	n, lock := cfg.Gateway.AuthFailures, cfg.Gateway.LockoutSeconds
	if n <= 0 {
		n = 5
	}
	if lock <= 0 {
		lock = 300
	}
	r, err := gateway.OpenRedis(gateway.RedisOptions{URL: st.URL, KeyPrefix: st.KeyPrefix, Password: password, TLS: st.TLS,
		OwnerTTL: st.OwnerTTL.D(), Failures: n, Window: time.Minute, Lockup: time.Duration(lock) * time.Second})
	return r, r, err
}

// newServer builds the gateway with the runner options of the config: the
// same for "start" and "mcp".
func newServer(o gateway.Options, alog *audit.Log) (*gateway.Server, error) {
	helper, err := helperBinary()
	if err != nil {
		return nil, err
	}
	o.Audit = alog
	pol, err := compileNetwork(o.Config.Sandbox.Network)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	o.RunnerOptions = func(p *profiles.Profile) (runner.Options, error) {
		ro, err := setup.RunnerOptions(o.Config, p)
		ro.Egress = egressPolicy{pol}
		ro.Audit, ro.ToolBinary, ro.Background = alog, helper, true
		if o.Logger != nil {
			ro.Warn = func(msg string) { o.Logger.Warn(msg) }
		}
		return ro, err
	}
	return gateway.New(o)
}

// helperBinary is the openclaw-run binary next to this one: it serves the
// file tools inside their jails.
func helperBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(exe), "openclaw-run")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the file tools need openclaw-run next to openclaw-gateway (%s): %w", p, err)
	}
	return p, nil
}

// background starts "start --foreground" in a new session with its output
// in <state dir>/logs/gateway.log, and waits until it is healthy.
func background(args []string, stdout, stderr io.Writer) int {
	if pid, ok := running(); ok {
		fmt.Fprintf(stderr, "openclaw-gateway is already running (pid %d)\n", pid)
		return 1
	}
	exe, _ := os.Executable()
	logDir := filepath.Join(config.StateDir(), "logs")
	os.MkdirAll(logDir, 0o700)
	logf, err := os.OpenFile(filepath.Join(logDir, "gateway.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	cmd := exec.Command(exe, append([]string{"start", "--foreground"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for i := 0; i < 50; i++ {
		if _, ok := running(); ok {
			fmt.Fprintf(stdout, "openclaw-gateway started (pid %d); log: %s\n", cmd.Process.Pid, logf.Name())
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(stderr, "openclaw-gateway did not come up; see %s\n", logf.Name())
	return 1
}

// localAddr turns a wildcard listen address into a loopback one.
func localAddr(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func cmdStop(args []string, stdout, stderr io.Writer) int {
	if code, ok := noArgs(flags("stop", "", stderr), args); !ok {
		return code
	}
	pid, err := signalGateway(syscall.SIGTERM)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 3
	}
	for i := 0; i < 400; i++ {
		if _, ok := running(); !ok {
			fmt.Fprintf(stdout, "openclaw-gateway stopped (pid %d)\n", pid)
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(stderr, "openclaw-gateway (pid %d) did not stop within 40s\n", pid)
	return 1
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	if code, ok := noArgs(flags("status", "", stderr), args); !ok {
		return code
	}
	pid, ok := running()
	if !ok {
		fmt.Fprintln(stdout, "openclaw-gateway: stopped")
		return 3
	}
	fmt.Fprintf(stdout, "openclaw-gateway: running (pid %d)\n", pid)
	return 0
}

func cmdSessions(args []string, stdout, stderr io.Writer) int {
	fs := flags("sessions", "list | prune --older-than 7d | repair [--config F]", stderr)
	older := fs.String("older-than", "", "prune: sessions not used for this long (7d, 12h)")
	cfgFile := fs.String("config", "", "config file")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "list" && fs.Arg(0) != "prune" && fs.Arg(0) != "repair") {
		return fs.Fail("want list, prune or repair")
	}
	known, _ := setup.Profiles()
	cfg, err := setup.Config(*cfgFile, known)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if fs.Arg(0) == "repair" {
		return repairSessions(cfg, stdout, stderr)
	}
	var age time.Duration
	if fs.Arg(0) == "prune" {
		if age, err = parseAge(*older); err != nil {
			return fs.Fail("%v", err)
		}
	}
	// A running gateway holds the embedded store's lock: ask it (the
	// admin routes of docs/gateway.md). A shared store (redis) is opened
	// directly either way.
	if _, addr, ok := runningAt(); ok && addr != "" && cfg.Sessions.Store.Type != "redis" {
		return sessionsVia(cfg, "http://"+addr, fs.Arg(0), age, *older, stdout, stderr)
	}
	store, _, err := openStore(cfg)
	if err != nil {
		var de *gateway.DamagedError
		if errors.As(err, &de) {
			fmt.Fprintln(stderr, err)
		} else {
			fmt.Fprintln(stderr, err, "(a process without a pid file holds it; stop that process first)")
		}
		return 1
	}
	defer store.Close()
	list, err := store.List()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch fs.Arg(0) {
	case "list":
		printSessions(stdout, list)
		return 0
	case "prune":
		d := age
		alog, err := setup.OpenAudit("", cfg)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		n, err := gateway.Prune(store, cfg, d, alog, nil)
		fmt.Fprintf(stdout, "pruned %d session(s) unused for %s\n", n, *older)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	return fs.Fail("want list, prune or repair")
}

// repairSessions sets a damaged embedded session store aside and starts
// an empty one (gateway.RepairBolt); an intact store is left alone.
func repairSessions(cfg *config.Config, stdout, stderr io.Writer) int {
	if cfg.Sessions.Store.Type == "redis" {
		fmt.Fprintln(stderr, "sessions repair: the sessions are in Redis (sessions.store); repair is for the embedded store")
		return 2
	}
	path := filepath.Join(config.StateDir(), "sessions.db")
	aside, err := gateway.RepairBolt(path)
	switch {
	case err != nil && aside == "":
		fmt.Fprintln(stderr, "sessions repair:", err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "sessions repair: the damaged store is at %s, but a new one could not be made: %v\n", aside, err)
		return 1
	case aside == "":
		fmt.Fprintf(stdout, "%s is not damaged: nothing to do\n", path)
		return 0
	}
	fmt.Fprintf(stdout, "%s was damaged: set aside as %s; an empty store is in its place (workspaces are kept)\n", path, aside)
	return 0
}

// parseAge accepts Go durations and a "d" suffix for days.
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("prune needs --older-than (e.g. 7d)")
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("--older-than %q: want e.g. 7d or 12h", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--older-than %q: want e.g. 7d or 12h", s)
	}
	return d, nil
}
