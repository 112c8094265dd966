// Package config loads and validates openclaw.json: the hardening guide's
// keys (tools, gateway, channels, logging, secrets), the real OpenClaw
// spellings that map cleanly onto them, and the runner's own sandbox
// section. The file is JSON with comments and trailing commas. It may be
// the OpenClaw user's own openclaw.json: OpenClaw's keys are recognised
// from its schema's key tree (openclaw.go) and left to OpenClaw.
//
// No file at all means the secure defaults: the coding profile, the
// workspace only, no network, the gateway on 127.0.0.1:18789 with a token.
// An unknown key is an error with its JSON path, line and column and a
// "did you mean" hint: a misspelt denyCommands must never be ignored.
package config

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/openclaw-run/openclaw-run/hostpath"
	"github.com/openclaw-run/openclaw-run/profiles"
)

// Config is the whole of openclaw.json.
type Config struct {
	Tools    Tools    `json:"tools"`
	Gateway  Gateway  `json:"gateway"`
	Channels Channels `json:"channels"`
	Logging  Logging  `json:"logging"`
	Secrets  Secrets  `json:"secrets"`
	Sandbox  Sandbox  `json:"sandbox"`
	Alerts   Alerts   `json:"alerts"`
	Sessions Sessions `json:"sessions"`
	// SystemPrompt and Models are accepted so that an OpenClaw config
	// validates, but the runner runs no model and enforces neither.
	SystemPrompt string `json:"systemPrompt,omitempty"`
	Models       Models `json:"models"`
	// MCP is OpenClaw's mcp.* (the MCP servers it consumes, such as
	// "openclaw-run mcp"): accepted so that a shared file validates.
	MCP any `json:"mcp,omitempty"`
	// Agents carries OpenClaw's own sandbox limits, mapped onto ours.
	Agents Agents `json:"agents"`
}

// Tools is tools.*.
type Tools struct {
	// Profile is the default profile: minimal, coding (default) or full,
	// or a custom one.
	Profile string `json:"profile"`
	FS      FS     `json:"fs"`
	Exec    Exec   `json:"exec"`
}

// FS is tools.fs.* (enforced by what is mounted, never by string checks).
type FS struct {
	// WorkspaceOnly (default true) makes only the workspace visible;
	// allowedPaths are then ignored, with a warning.
	WorkspaceOnly *bool `json:"workspaceOnly,omitempty"`
	// AllowedPaths become read-only binds at the same path; a ":rw"
	// suffix makes one writable. "~" is the runner's home.
	AllowedPaths []string `json:"allowedPaths"`
	// DeniedPaths are never visible, even below an allowed path; "*"
	// globs work.
	DeniedPaths []string `json:"deniedPaths"`
	// Force lists allowedPaths that may be bound although they lie in a
	// sensitive place (/proc, /sys, /dev, /boot, /root, /run, runtime
	// sockets, the state dir).
	Force []string `json:"force"`
}

// Exec is tools.exec.*.
type Exec struct {
	// Policy: "deny" (default: everything but denyCommands) or "allow"
	// (only allowCommands).
	Policy        string   `json:"policy"`
	DenyCommands  []string `json:"denyCommands"`
	AllowCommands []string `json:"allowCommands"`
	// DynamicCommands: what happens to a command the shell computes
	// when it runs ($cmd, a glob as a name, eval "$x", a script piped
	// into a shell, a sourced file): "deny" refuses the call, "audit"
	// runs it and flags it in the audit record. Default: "audit" with
	// a deny list (a script can always evade one), "deny" with an
	// allow list (it must name what runs). See docs/config.md.
	DynamicCommands string `json:"dynamicCommands,omitempty"`
	// Mode is OpenClaw's spelling: deny (no exec at all), allowlist
	// (= policy allow), ask and auto (no one to ask here: = policy
	// allow, misses denied), full (= policy deny).
	Mode string `json:"mode,omitempty"`
	// Security is OpenClaw's older spelling of Mode (deny|allowlist|full).
	Security string `json:"security,omitempty"`
}

// Gateway is gateway.*.
type Gateway struct {
	Host         string   `json:"host"`
	Port         int      `json:"port"`
	AllowOrigins []string `json:"allowOrigins"`
	// AllowedHosts are the names (besides address literals and localhost)
	// that the Host header of a request may give: a DNS-rebound name is
	// refused ("*" stands for one label).
	AllowedHosts []string `json:"allowedHosts,omitempty"`
	// AuthToken; better from OPENCLAW_GATEWAY_TOKEN or the secret store,
	// else generated on first start into <state dir>/gateway.token.
	AuthToken string `json:"authToken,omitempty"`
	// Auth is OpenClaw's gateway.auth, of which openclaw-run reads the
	// named clients and rateLimit.exemptLoopback (docs/gateway.md).
	Auth GatewayAuth `json:"auth"`
	// MetricsAuth (default true) requires the token on /metrics too.
	MetricsAuth *bool `json:"metricsAuth,omitempty"`
	// MaxConcurrent calls run at once (default 2 x CPUs); MaxQueue more
	// wait (default 64); beyond that a call gets 429.
	MaxConcurrent int `json:"maxConcurrent,omitempty"`
	MaxQueue      int `json:"maxQueue,omitempty"`
	// Prewarm: jails each session keeps built ahead of its next exec call
	// (default 1; 0 turns pre-warming off). A pre-warmed jail serves one
	// call and is destroyed, like any other; an idle one after a minute.
	Prewarm *int `json:"prewarm,omitempty"`
	// MaxBodyBytes bounds a request body (default 8 MiB).
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
	// AuthFailures within a minute lock a client address out for
	// LockoutSeconds (defaults 5 and 300).
	AuthFailures   int `json:"authFailures,omitempty"`
	LockoutSeconds int `json:"lockoutSeconds,omitempty"`
	// TrustedProxies (addresses or CIDRs) may name the client in
	// X-Real-IP: behind nginx, lockouts and logs are per real client.
	TrustedProxies []string `json:"trustedProxies,omitempty"`
	// ID names this gateway among several sharing a store (default
	// hostname:port); AdvertiseAddr is where the others reach it (host:port,
	// default the listen address) to forward calls for its processes.
	ID            string `json:"id,omitempty"`
	AdvertiseAddr string `json:"advertiseAddr,omitempty"`
}

// OwnSecrets are the names of the secrets the gateway itself uses
// (sessions.store.passwordSecret, the clients' tokenSecret): no call may
// resolve them (besides secrets.Builtin).
func (c *Config) OwnSecrets() []string {
	var out []string
	if n := c.Sessions.Store.PasswordSecret; n != "" {
		out = append(out, n)
	}
	for _, cl := range c.Gateway.Auth.Clients {
		if cl.TokenSecret != "" {
			out = append(out, cl.TokenSecret)
		}
	}
	return out
}

// GatewayAuth is gateway.auth: the keys openclaw-run reads. The others
// (mode, token, password, ...) are OpenClaw's own.
type GatewayAuth struct {
	// Clients are named tokens, each limited to some sessions and
	// profiles, each named in the audit log. The gateway's own token
	// (authToken, OPENCLAW_GATEWAY_TOKEN, gateway.token) stays the
	// operator's: every session, the configured profile, the admin routes.
	Clients   []Client  `json:"clients,omitempty"`
	RateLimit RateLimit `json:"rateLimit"`
}

// RateLimit is gateway.auth.rateLimit, OpenClaw's key of the same meaning.
type RateLimit struct {
	// ExemptLoopback: failed authentications from loopback addresses
	// never lock them out (default false).
	ExemptLoopback bool `json:"exemptLoopback,omitempty"`
}

// Client is one of gateway.auth.clients.
type Client struct {
	Name string `json:"name"`
	// The token: TokenFile (a file of the operator's, 0600) or
	// TokenSecret (a name in the secret store) or, discouraged, Token.
	Token       string `json:"token,omitempty"`
	TokenFile   string `json:"tokenFile,omitempty"`
	TokenSecret string `json:"tokenSecret,omitempty"`
	// Sessions the client may use: "own" (default: those it created),
	// "prefix" (ids beginning with SessionPrefix) or "any".
	Sessions      string `json:"sessions,omitempty"`
	SessionPrefix string `json:"sessionPrefix,omitempty"`
	// Profiles the client's calls may name; the first is its default.
	// Default: tools.profile alone.
	Profiles []string `json:"profiles,omitempty"`
	// Admin allows the admin routes (/v1/admin/*).
	Admin bool `json:"admin,omitempty"`
}

// Channels is channels.*.
type Channels struct {
	Feishu   *Feishu   `json:"feishu,omitempty"`
	Telegram *Telegram `json:"telegram,omitempty"`
}

// Feishu is channels.feishu.
type Feishu struct {
	Enabled   bool     `json:"enabled"`
	Mode      string   `json:"mode"`
	Allowlist []string `json:"allowlist"`
	Denylist  []string `json:"denylist"`
}

// Telegram is channels.telegram.
type Telegram struct {
	Enabled      bool    `json:"enabled"`
	AllowedUsers []int64 `json:"allowedUsers"`
	AllowedChats []int64 `json:"allowedChats"`
}

// Logging is logging.*.
type Logging struct {
	Level       string        `json:"level"`
	File        string        `json:"file"`
	MaxSize     profiles.Size `json:"maxSize"`
	BackupCount int           `json:"backupCount"`
	// Format is "text" or "json"; a Python logging format string (the
	// guide's example) is accepted with a warning and means text.
	Format string `json:"format"`
}

// Secrets is secrets.*.
type Secrets struct {
	// Provider: store (default, the encrypted store), env, file, exec,
	// or aws-secrets-manager (mapped onto exec).
	Provider string   `json:"provider"`
	Region   string   `json:"region,omitempty"`
	Prefix   string   `json:"prefix,omitempty"`
	File     string   `json:"file,omitempty"`
	Command  []string `json:"command,omitempty"`
	// Names declares the secrets a call's secretEnv may name, besides
	// those in the store (provider store) or the file (provider file).
	// The gateway's own credentials (GATEWAY_TOKEN, SECRETS_KEY, the
	// store password and the clients' token secrets) never resolve.
	Names []string `json:"names,omitempty"`
}

// Sandbox is the runner's own section.
type Sandbox struct {
	// Workspace is the workspace root (per-session workspaces below it).
	Workspace string `json:"workspace"`
	// UID and GID that jail root maps to (0: the workspace owner, or 65534).
	UID int `json:"uid,omitempty"`
	GID int `json:"gid,omitempty"`
	// Engine builds the jails: "native" (default) or "runc" (runc's
	// libcontainer, through the openclaw-run-runc helper). The
	// OPENCLAW_ENGINE environment variable, when set, replaces it.
	Engine string `json:"engine,omitempty"`
	// Engines choose the engine per profile name, over Engine.
	Engines map[string]string `json:"engines,omitempty"`
	// PerSession (default true) gives every session its own workspace
	// below Workspace; false shares Workspace itself between sessions.
	PerSession *bool `json:"perSession,omitempty"`
	// Limits override the profiles' limits, per profile name.
	Limits map[string]profiles.Limits `json:"limits,omitempty"`
	// Network is the egress allowlist of jails whose network is
	// "allowlist" (docs/network.md): host patterns, static names, the
	// addresses exempt from the refusal of special ranges, and limits.
	Network Network `json:"network"`
	// Networks choose the network per profile name ("none" or
	// "allowlist"), over the profile's own network field.
	Networks map[string]string `json:"networks,omitempty"`
	// Staging puts each call's workspace writes in a staging layer of its
	// own, committed as a unit after the call, listed in its result and
	// audit record, and undoable (docs/staging.md): "auto" (default: on
	// when the runner is root), "on" (refuse calls when it cannot), "off".
	Staging string `json:"staging,omitempty"`
	// Review: "commit" (default) or "hold": a call's changes wait for
	// `openclaw-run changes approve|reject CALLID`.
	Review string `json:"review,omitempty"`
	// OnAbort: what happens to the changes of a call that timed out, was
	// canceled or OOM-killed: "discard" (default) or "commit". A call that
	// exits non-zero is not aborted: its changes are committed.
	OnAbort string `json:"onAbort,omitempty"`
	// UndoRetention bounds the pre-images kept for undo, per workspace.
	UndoRetention UndoRetention `json:"undoRetention"`
	// AuditSync says when a call's audit intent must be on disk:
	// "before-result" (default: written before the jail runs, synced in
	// parallel, on disk before the call's result) or "before-jail"
	// (synced before the jail runs: also covers a power loss in between,
	// at the cost of an fdatasync on every call's path).
	AuditSync string `json:"auditSync,omitempty"`
}

// Network is sandbox.network, the egress allowlist (docs/network.md), as
// written. Package egress compiles and checks it (host patterns, static
// names, prefixes) where the proxy runs: the gateway at its start, and
// the CLI before a call that uses it; it is not linked into this package
// so that the CLI's cold start does not pay for it.
type Network struct {
	Allow          []string          `json:"allow,omitempty"`
	Hosts          map[string]string `json:"hosts,omitempty"`
	AllowAddresses []string          `json:"allowAddresses,omitempty"`
	MaxConnections int               `json:"maxConnections,omitempty"`
	MaxBytes       profiles.Size     `json:"maxBytes,omitempty"`
	IdleTimeout    profiles.Duration `json:"idleTimeout,omitempty"`
}

// UndoRetention is sandbox.undoRetention: committed calls' records are
// kept for Time (default 7 days) and at most Size bytes of pre-images
// per workspace (default 1 GiB), the oldest dropped first.
type UndoRetention struct {
	Time profiles.Duration `json:"time,omitempty"`
	Size profiles.Size     `json:"size,omitempty"`
}

// Alerts is alerts.*: the thresholds of "openclaw-run audit alerts" and
// where its findings are posted. Zero values take the defaults (a minute,
// 30 execs, 5 failures, 1 denial); any blocked system call is a finding.
type Alerts struct {
	// Webhook receives the findings as a JSON POST (http or https).
	Webhook   string            `json:"webhook,omitempty"`
	Window    profiles.Duration `json:"window,omitempty"`
	ExecBurst int               `json:"execBurst,omitempty"`
	Failures  int               `json:"failures,omitempty"`
	Denials   int               `json:"denials,omitempty"`
}

// Sessions is sessions.*.
type Sessions struct {
	Store SessionStore `json:"store"`
}

// SessionStore chooses where the gateway keeps sessions: "bolt" (default,
// one host) or "redis", shared by several gateways (sessions, background
// process owners, auth lockouts, audit chain heads).
type SessionStore struct {
	Type string `json:"type,omitempty"`
	// URL is redis://host:port/db, or rediss:// for TLS.
	URL       string `json:"url,omitempty"`
	KeyPrefix string `json:"keyPrefix,omitempty"`
	// PasswordSecret names the Redis password in the secret store (never
	// in this file).
	PasswordSecret string `json:"passwordSecret,omitempty"`
	// TLS forces TLS (as rediss:// does).
	TLS bool `json:"tls,omitempty"`
	// OwnerTTL: a gateway that has not renewed its membership for this
	// long is dead, and its background processes are marked ended
	// (default 15s).
	OwnerTTL profiles.Duration `json:"ownerTTL,omitempty"`
}

// Models is models.* (accepted, not enforced).
type Models struct {
	Timeout any `json:"timeout,omitempty"`
}

// Agents is the subset of OpenClaw's agents.defaults.sandbox.docker.* that
// maps onto ours (the rest of OpenClaw's agents.* is recognised and left to
// OpenClaw; see openclaw.go).
type Agents struct {
	Defaults struct {
		Sandbox struct {
			Docker struct {
				Memory    profiles.Size `json:"memory"`
				Cpus      float64       `json:"cpus"`
				PidsLimit int           `json:"pidsLimit"`
				Network   string        `json:"network"`
				// User is the container user, "UID[:GID]": the host ids
				// jail root maps to when sandbox.uid is not set.
				User string `json:"user,omitempty"`
			} `json:"docker"`
		} `json:"sandbox"`
	} `json:"defaults"`
}

// Defaults returns the secure defaults: what no config file means.
func Defaults() *Config {
	t := true
	c := &Config{}
	c.Tools.Profile = "coding"
	c.Tools.FS.WorkspaceOnly = &t
	c.Tools.Exec.Policy = "deny"
	c.Gateway.Host = "127.0.0.1"
	c.Gateway.Port = 18789
	c.Logging.Level = "info"
	c.Logging.Format = "text"
	c.Logging.MaxSize = 100 << 20
	c.Logging.BackupCount = 7
	c.Secrets.Provider = "store"
	c.Sandbox.Workspace = filepath.Join(StateDir(), "workspace")
	c.Sandbox.Engine = "native"
	return c
}

// EngineFor returns the jail engine of a profile: sandbox.engines, else
// OPENCLAW_ENGINE, else sandbox.engine, else native.
func (c *Config) EngineFor(profile string) string {
	if e := c.Sandbox.Engines[profile]; e != "" {
		return e
	}
	if e := os.Getenv("OPENCLAW_ENGINE"); e != "" {
		return e
	}
	if c.Sandbox.Engine != "" {
		return c.Sandbox.Engine
	}
	return "native"
}

// NetworkFor returns the network of a profile's jails: sandbox.networks,
// else the profile's own.
func (c *Config) NetworkFor(p *profiles.Profile) string {
	if n := c.Sandbox.Networks[p.Name]; n != "" {
		return n
	}
	return p.Network
}

// Engines are the jail engines sandbox.engine may name.
var Engines = []string{"native", "runc"}

// StateDir is OPENCLAW_RUN_STATE_DIR, else OPENCLAW_STATE_DIR, else
// ~/.openclaw. OpenClaw sets OPENCLAW_STATE_DIR in its own process, so an
// openclaw-run started from inside OpenClaw shares OpenClaw's state dir
// unless OPENCLAW_RUN_STATE_DIR (our own name) says otherwise.
func StateDir() string {
	for _, name := range []string{"OPENCLAW_RUN_STATE_DIR", "OPENCLAW_STATE_DIR"} {
		if d := os.Getenv(name); d != "" {
			return d
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".openclaw"
	}
	return filepath.Join(home, ".openclaw")
}

// Path returns the config file to read: flag, else OPENCLAW_RUN_CONFIG,
// else OPENCLAW_CONFIG_PATH (OpenClaw's, so that both products read one
// file), else <state dir>/openclaw.json.
func Path(flag string) string {
	p, _ := PathFrom(flag)
	return p
}

// PathFrom is Path with where the path came from: "--config", the
// environment variable's name, or "" for the implicit default, the only
// one that may be absent (LoadFlag).
func PathFrom(flag string) (path, from string) {
	if flag != "" {
		return flag, "--config"
	}
	for _, name := range []string{"OPENCLAW_RUN_CONFIG", "OPENCLAW_CONFIG_PATH"} {
		if p := os.Getenv(name); p != "" {
			return p, name
		}
	}
	return filepath.Join(StateDir(), "openclaw.json"), ""
}

// BackupDir is where "openclaw-run backup" writes by default:
// $OPENCLAW_BACKUP_DIR, else beside the state dir, never in it (a backup
// inside what it backs up grows with every run and is lost with it).
func BackupDir() string {
	if d := os.Getenv("OPENCLAW_BACKUP_DIR"); d != "" {
		return d
	}
	state := filepath.Clean(StateDir())
	return filepath.Join(filepath.Dir(state), filepath.Base(state)+"-backups")
}

// ExpandHome replaces a leading ~ with the runner's home directory.
func ExpandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// PathPolicy is the policy every host path a jail is given must pass
// (package hostpath): tools.fs.force as exceptions, the state directory
// (secrets, audit log, config) as a sensitive place, except the workspace
// root inside it.
func (c *Config) PathPolicy() *hostpath.Policy {
	var force []string
	for _, f := range c.Tools.FS.Force {
		force = append(force, ExpandHome(strings.TrimSuffix(f, ":rw")))
	}
	return hostpath.Default(StateDir(), ExpandHome(c.Sandbox.Workspace), force)
}

// SessionWorkspaces reports sandbox.perSession (default true).
func (c *Config) SessionWorkspaces() bool {
	return c.Sandbox.PerSession == nil || *c.Sandbox.PerSession
}

// WorkspaceOnly reports tools.fs.workspaceOnly (default true).
func (c *Config) WorkspaceOnly() bool {
	return c.Tools.FS.WorkspaceOnly == nil || *c.Tools.FS.WorkspaceOnly
}

// ExecPolicy returns the effective exec policy mode ("deny", "allow"), and
// whether exec is disabled altogether (tools.exec.mode "deny").
func (c *Config) ExecPolicy() (mode string, disabled bool) {
	m := c.Tools.Exec.Mode
	if m == "" {
		m = c.Tools.Exec.Security
	}
	switch m {
	case "deny":
		return "deny", true
	case "allowlist", "ask", "auto":
		return "allow", false
	case "full":
		return "deny", false
	}
	if c.Tools.Exec.Policy == "" {
		return "deny", false
	}
	return c.Tools.Exec.Policy, false
}
