package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// cmdTools: list the tools, or run one through the same path as the
// gateway (the guide's troubleshooting "openclaw tools test read --path=...").
func cmdTools(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("tools", stderr)
	profile := fs.String("profile", "", "profile (default: tools.profile of the config, else coding)")
	cfgFile := fs.String("config", "", "config file")
	workspace := fs.StringP("workspace", "w", ".", "workspace")
	engine := fs.String("engine", "", "jail engine: native or runc (default: the config's, else native)")
	raw := fs.String("params", "", "the tool's parameters as JSON (merged with the flags below)")
	pathF := fs.String("path", "", "path (read, write, edit, ls)")
	content := fs.String("content", "", "content (write)")
	command := fs.String("command", "", "command (exec)")
	oldText := fs.String("old-text", "", "oldText (edit)")
	newText := fs.String("new-text", "", "newText (edit)")
	input := fs.String("input", "", "patch file (apply_patch); - for stdin")
	asJSON := fs.Bool("json", false, "print the events as NDJSON")
	auditFile := fs.String("audit-file", "", "audit log")
	uid := fs.Int("uid", 0, "host uid that root in the jail maps to (default: the workspace owner, or 65534 when that is root)")
	gid := fs.Int("gid", 0, "host gid that root in the jail maps to (default: with --uid, the same number)")
	session := fs.String("session", "cli", "the session the audit log records the call under")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	known, err := setup.Profiles()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if fs.NArg() == 1 && fs.Arg(0) == "list" {
		cfg, err := setup.Config(*cfgFile, known)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		name := *profile
		if name == "" {
			name = cfg.Tools.Profile
		}
		p := known[name]
		if p == nil {
			fmt.Fprintf(stderr, "unknown profile %q\n", name)
			return 1
		}
		for _, t := range append([]string{"exec"}, tools.Names...) {
			state := "allowed"
			if !p.Allows(t) || (t == "exec" && p.ExecTier == "") {
				state = "denied"
			}
			tier := p.FileTier
			if t == "exec" {
				tier = p.ExecTier
			}
			fmt.Fprintf(stdout, "%-12s %-8s seccomp tier: %s\n", t, state, orDash(tier))
		}
		return 0
	}
	if fs.NArg() != 2 || (fs.Arg(0) != "test" && fs.Arg(0) != "call") {
		fmt.Fprintln(stderr, "usage: openclaw-run tools list | tools test TOOL [--path P] [--content C] [--command C] [--params JSON] | tools call TOOL < PARAMS.json")
		return 2
	}
	tool := fs.Arg(1)
	machine := fs.Arg(0) == "call"
	params := map[string]any{}
	if machine {
		// The machine interface (the OpenClaw plugin's fs bridge): the
		// parameters as one JSON object on stdin, the reply on stdout.
		b, err := io.ReadAll(io.LimitReader(os.Stdin, tools.MaxParams+1))
		if err != nil || len(b) > tools.MaxParams {
			return reply(stdout, nil, &runner.Event{Code: tools.CodeLimit, Message: fmt.Sprintf("the parameters exceed %d bytes or cannot be read", tools.MaxParams)})
		}
		if err := json.Unmarshal(b, &params); err != nil {
			return reply(stdout, nil, &runner.Event{Code: tools.CodeInvalid, Message: "the parameters on stdin are not a JSON object: " + err.Error()})
		}
	}
	if *raw != "" {
		if err := json.Unmarshal([]byte(*raw), &params); err != nil {
			fmt.Fprintf(stderr, "--params: %v\n", err)
			return 2
		}
	}
	set := func(k, v string) {
		if v != "" {
			params[k] = v
		}
	}
	set("path", *pathF)
	set("content", *content)
	set("command", *command)
	set("oldText", *oldText)
	set("newText", *newText)
	if *input != "" {
		var b []byte
		if *input == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(*input)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		params["input"] = string(b)
	}
	cfg, err := setup.Config(*cfgFile, known)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitSetup
	}
	name := *profile
	if name == "" {
		name = cfg.Tools.Profile
	}
	prof := known[name]
	if prof == nil {
		fmt.Fprintf(stderr, "unknown profile %q (have %v)\n", name, profiles.Names(known))
		return exitSetup
	}
	opts, err := setup.RunnerOptions(cfg, prof)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitSetup
	}
	if *engine != "" {
		opts.Engine = *engine
	}
	alog, err := setup.OpenAudit(*auditFile, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitSetup
	}
	opts.Workspace, opts.Audit = *workspace, alog
	if *uid != 0 {
		opts.UID, opts.GID = *uid, *gid
	}
	r, err := runner.New(opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitSetup
	}
	rawParams, _ := json.Marshal(params)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	call := runner.Call{Tool: tool, Params: rawParams, SessionID: *session, UserID: cliUser()}
	if machine {
		var res, fail *runner.Event
		r.Run(ctx, call, func(e runner.Event) error {
			switch e.Type {
			case "result":
				res = &e
			case "error":
				fail = &e
			}
			return nil
		})
		return reply(stdout, res, fail)
	}
	code := 0
	enc := json.NewEncoder(stdout)
	r.Run(ctx, call, func(e runner.Event) error {
		if *asJSON {
			if e.Type == "result" && e.Result != nil && tool == "exec" {
				code = e.Result.ExitCode
			} else if e.Type == "error" {
				code = 1
			}
			return enc.Encode(e)
		}
		switch e.Type {
		case "stdout":
			io.WriteString(stdout, e.Data)
		case "stderr":
			io.WriteString(stderr, e.Data)
		case "result":
			if e.Output != nil {
				out, _ := json.MarshalIndent(e.Output, "", "  ")
				fmt.Fprintf(stdout, "%s\n", out)
			}
			if e.Result != nil && tool == "exec" {
				code = e.Result.ExitCode
			}
		case "error":
			fmt.Fprintf(stderr, "%s: %s\n", e.Code, e.Message)
			code = 1
		}
		return nil
	})
	return code
}

// reply prints the machine interface's answer, {"ok":true,"result":...}
// or {"ok":false,"error":{code,message}}, and returns its exit code: 0,
// 1 when the tool failed (its error says why), 125 when the call was
// refused or its jail could not be built.
func reply(stdout io.Writer, res, fail *runner.Event) int {
	enc := json.NewEncoder(stdout)
	if fail != nil || res == nil {
		if fail == nil {
			fail = &runner.Event{Code: tools.CodeInternal, Message: "the call ended without a result"}
		}
		enc.Encode(map[string]any{"ok": false, "error": map[string]string{"code": fail.Code, "message": fail.Message}})
		switch fail.Code {
		case tools.CodeDenied, tools.CodeSetup, runner.CodeAudit, tools.CodeInternal:
			return exitSetup
		}
		return 1
	}
	out := map[string]any{"ok": true, "result": res.Output}
	if res.Output == nil {
		out["result"] = res.Result
	}
	enc.Encode(out)
	return 0
}
