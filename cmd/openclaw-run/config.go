package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
)

// loadConfig reads and validates the config; warnings go to stderr, errors
// refuse the call.
func loadConfig(flag string, known map[string]*profiles.Profile, stderr io.Writer) (*config.Config, error) {
	res, err := config.Load(config.Path(flag), profiles.Names(known))
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	return res.Config, nil
}

// runnerOptions turns the config into the runner's options for a profile:
// limits (profile < agents.defaults.sandbox.docker < sandbox.limits <
// flags), tools.fs and tools.exec, and the jail's ids.
func runnerOptions(c *config.Config, p *profiles.Profile) (runner.Options, error) {
	o := runner.Options{Profile: p, UID: c.Sandbox.UID, GID: c.Sandbox.GID}
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
	mode, disabled := c.ExecPolicy()
	pol, err := policy.NewExec(mode, c.Tools.Exec.DenyCommands, c.Tools.Exec.AllowCommands)
	if err != nil {
		return o, err
	}
	o.Exec, o.ExecDisabled = pol, disabled
	return o, nil
}

// cmdConfig: validate and show.
func cmdConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config", stderr)
	file := fs.String("config", "", "config file (default: $OPENCLAW_CONFIG_PATH, else $OPENCLAW_STATE_DIR/openclaw.json)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "validate" && fs.Arg(0) != "show") {
		fmt.Fprintln(stderr, "usage: openclaw-run config validate|show [--config F]")
		return 2
	}
	known, err := loadProfiles()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path := config.Path(*file)
	res, err := config.Load(path, profiles.Names(known))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	name := res.File
	if name == "" {
		name = path + " (absent: secure defaults)"
	}
	if fs.Arg(0) == "show" {
		if err := res.Err(); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		c := *res.Config
		if c.Gateway.AuthToken != "" {
			c.Gateway.AuthToken = "[REDACTED]"
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(c)
		return 0
	}
	errs := 0
	for _, p := range res.Problems {
		fmt.Fprintf(stdout, "%s:%s\n", name, p)
		if !p.Warning {
			errs++
		}
	}
	if errs > 0 {
		fmt.Fprintf(stdout, "%s: %d error(s)\n", name, errs)
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid\n", name)
	return 0
}
