package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/profiles"
)

// cmdConfig: validate and show.
func cmdConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config", stderr)
	file := fs.String("config", "", "config file (default: $OPENCLAW_CONFIG_PATH, else $OPENCLAW_STATE_DIR/openclaw.json)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "validate" && fs.Arg(0) != "show") {
		return fs.Fail("want validate or show")
	}
	known, err := setup.Profiles()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	path := config.Path(*file)
	res, err := config.LoadFlag(*file, profiles.Names(known))
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
	problems := res.Problems
	if res.File != "" && config.OpenClawReads(res.File) {
		if data, err := os.ReadFile(res.File); err == nil {
			problems = append(problems, config.OpenClawRefuses(data)...)
		}
	}
	errs := 0
	for _, p := range problems {
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
