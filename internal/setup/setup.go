// Package setup turns the state directory and openclaw.json into what the
// binaries need: the profiles, the validated config, the runner's options
// and the audit log. Both commands (openclaw-run, openclaw-gateway) use it,
// so that a call means the same thing whichever way it arrives.
package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
	"github.com/openclaw-run/openclaw-run/secrets"
)

// Profiles returns the built-in profiles and the custom ones in
// <state dir>/profiles.
func Profiles() (map[string]*profiles.Profile, error) {
	return profiles.Load(filepath.Join(config.StateDir(), "profiles"))
}

// Config reads and validates the config; errors refuse.
func Config(flag string, known map[string]*profiles.Profile) (*config.Config, error) {
	res, err := config.LoadFlag(flag, profiles.Names(known))
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	return res.Config, nil
}

// RunnerOptions turns the config into the runner's options for a profile:
// limits (profile < agents.defaults.sandbox.docker < sandbox.limits; the
// caller applies flags last), tools.fs and tools.exec, and the jail's ids.
func RunnerOptions(c *config.Config, p *profiles.Profile) (runner.Options, error) {
	o := runner.Options{Profile: p, UID: c.Sandbox.UID, GID: c.Sandbox.GID, Engine: c.EngineFor(p.Name),
		AuditSync: c.Sandbox.AuditSync}
	d := c.Agents.Defaults.Sandbox.Docker
	o.Limits = profiles.Limits{Memory: d.Memory, CPUs: d.Cpus, Pids: d.PidsLimit}
	if l, ok := c.Sandbox.Limits[p.Name]; ok {
		o.Limits = o.Limits.Override(l)
	}
	if !c.WorkspaceOnly() {
		for _, a := range c.Tools.FS.AllowedPaths {
			path, rw := strings.CutSuffix(a, ":rw")
			o.FS.Allowed = append(o.FS.Allowed, runner.AllowedPath{Path: config.ExpandHome(path), Writable: rw})
		}
	}
	for _, d := range c.Tools.FS.DeniedPaths {
		o.FS.Denied = append(o.FS.Denied, config.ExpandHome(d))
	}
	o.FS.Paths = c.PathPolicy()
	mode, disabled := c.ExecPolicy()
	pol, err := policy.NewExec(policy.Options{Mode: mode, Deny: c.Tools.Exec.DenyCommands, Allow: c.Tools.Exec.AllowCommands,
		Dynamic: c.Tools.Exec.DynamicCommands})
	if err != nil {
		return o, err
	}
	o.Exec, o.ExecDisabled = pol, disabled
	o.Staging, o.Review, o.OnAbort = c.Sandbox.Staging, c.Sandbox.Review, c.Sandbox.OnAbort
	o.UndoAge, o.UndoBytes = 7*24*time.Hour, 1<<30
	if t := c.Sandbox.UndoRetention.Time.D(); t > 0 {
		o.UndoAge = t
	}
	if sz := int64(c.Sandbox.UndoRetention.Size); sz > 0 {
		o.UndoBytes = sz
	}
	// The egress allowlist (o.Egress) is compiled where the proxy runs:
	// each binary sets it (cmd/*/egress.go).
	o.Network = c.NetworkFor(p)
	o.Secrets = Secrets(c)
	return o, nil
}

// Secrets returns the resolver of the configured secrets provider.
func Secrets(c *config.Config) *secrets.Resolver {
	return &secrets.Resolver{Store: secrets.Open(config.StateDir()), Provider: c.Secrets.Provider,
		File: config.ExpandHome(c.Secrets.File), Command: c.Secrets.Command, Region: c.Secrets.Region, Prefix: c.Secrets.Prefix,
		Declared: c.Secrets.Names, Reserved: c.OwnSecrets()}
}

// AuditPath is the audit log: flag, else <state dir>/audit/audit.jsonl.
func AuditPath(flag string) string {
	if flag != "" {
		return flag
	}
	return filepath.Join(config.StateDir(), "audit", "audit.jsonl")
}

// OpenAudit opens the audit log and checks that it can be appended to. It
// rotates by logging.maxSize and backupCount, and redacts the values of
// configured secrets and of the runner's credential-like environment.
func OpenAudit(flag string, cfg *config.Config) (*audit.Log, error) {
	path := AuditPath(flag)
	secrets := []string{cfg.Gateway.AuthToken}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		for _, word := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD"} {
			if strings.Contains(strings.ToUpper(k), word) && len(v) >= 8 {
				secrets = append(secrets, v)
				break
			}
		}
	}
	l, err := audit.Open(path, secrets)
	if err != nil {
		return nil, err
	}
	l.MaxSize, l.Backups = int64(cfg.Logging.MaxSize), cfg.Logging.BackupCount
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log %s is not writable, so the call is refused: %w", path, err)
	}
	f.Close()
	return l, nil
}
