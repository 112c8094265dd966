package main

import (
	"fmt"
	"io"
	"os"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/secrets"
)

// cmdSecrets: set NAME [VALUE|-], get NAME, list, rm NAME. Values live
// encrypted (age) in the state dir; list shows names only.
func cmdSecrets(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("secrets", stderr)
	cfgFile := fs.String("config", "", "config file (secrets.provider)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	a := fs.Args()
	store := secrets.Open(config.StateDir())
	usage := func() int { return fs.Fail("want set NAME [VALUE|-], get NAME, list or rm NAME") }
	if len(a) == 0 {
		return usage()
	}
	known, _ := setup.Profiles()
	cfg, err := setup.Config(*cfgFile, known)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// set, list and rm manage the local store; with another provider, get
	// and every call read that provider instead, so they would disagree:
	// refuse, and say where that provider's secrets are managed.
	if p := cfg.Secrets.Provider; p != "" && p != "store" && a[0] != "get" {
		fmt.Fprintf(stderr, "openclaw-run secrets %s: secrets.provider is %q, so calls never read the local store; %s\n", a[0], p, providerHint(cfg.Secrets))
		return 1
	}
	switch {
	case a[0] == "set" && (len(a) == 2 || len(a) == 3):
		var v string
		var err error
		if len(a) == 2 || a[2] == "-" {
			v, err = secrets.ReadValue(os.Stdin) // keeps the value out of shell history and ps
		} else {
			v = a[2]
			fmt.Fprintln(stderr, "note: a value on the command line is visible in ps and shell history; prefer: secrets set NAME -")
		}
		if err == nil {
			err = store.Set(a[1], v)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case a[0] == "get" && len(a) == 2:
		v, err := setup.Secrets(cfg).Get(a[1])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, v)
		return 0
	case a[0] == "list" && len(a) == 1:
		names, err := store.Names()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return 0
	case a[0] == "rm" && len(a) == 2:
		if err := store.Remove(a[1]); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	return usage()
}

// providerHint says where a provider's secrets are managed.
func providerHint(c config.Secrets) string {
	switch c.Provider {
	case "env":
		return "set OPENCLAW_<NAME> in the environment of the runner and the gateway"
	case "file":
		return "edit " + c.File + " (a JSON object of NAME: value)"
	case "aws-secrets-manager":
		return fmt.Sprintf("manage them in AWS Secrets Manager as %s<NAME> in %s (aws secretsmanager create-secret / list-secrets --region %s)", c.Prefix, c.Region, c.Region)
	}
	return "manage them where secrets.command reads them"
}
