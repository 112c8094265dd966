package main

import (
	"fmt"
	"io"
)

// cmdModels answers the hardening guide's "openclaw models test": this
// runner runs tools, never a model, so there is nothing to test here; it
// says so and where the models are configured. Exit 0 for list (there are
// none), 3 for test (nothing was tested: a health check must not read it
// as a pass).
func cmdModels(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("models", stderr)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() == 0 || (fs.Arg(0) != "list" && fs.Arg(0) != "test") {
		return fs.Fail("want list or test")
	}
	const note = `openclaw-run runs no model: it only runs the agent's tool calls in jails.
Models are configured in OpenClaw itself: agents.defaults.model and
models.providers in its openclaw.json; test them there (openclaw models
status). openclaw-run accepts and ignores those keys (docs/config.md).
`
	if fs.Arg(0) == "list" {
		fmt.Fprint(stdout, note)
		return 0
	}
	fmt.Fprint(stderr, note)
	return 3
}
