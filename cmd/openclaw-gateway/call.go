package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/openclaw-run/openclaw-run/client"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/setup"
)

// Exit codes of `call`, as the CLI's (docs/cli.md).
const (
	callExitFailed  = 1   // a file tool failed (its error says why)
	callExitTimeout = 124 // exec hit its timeout
	callExitRefused = 125 // refused, or the jail could not be built
)

// cmdCall: openclaw-run call [--gateway URL] [--token T] TOOL ... runs one
// tool call on a gateway, in the session's workspace there (not in this
// directory), streams its output like the local CLI and exits with the
// command's code. It is also the OpenClaw plugin's path to a gateway
// (docs/openclaw.md): --raw, --result-file, --params-stdin, --reply.
func cmdCall(args []string, stdout, stderr io.Writer) int {
	fs := flags("call", "[--gateway URL] [--token T | --token-file F] [--session S] TOOL [--command C] [--workdir D] [--env K=V] [--path P] [--params JSON | --params-stdin] [--json | --raw | --reply] [--result-file F]", stderr)
	url := fs.String("gateway", "", "gateway URL (default: http://gateway.host:port of the config)")
	tok := fs.String("token", "", "bearer token (default: OPENCLAW_GATEWAY_TOKEN or the state dir's gateway.token)")
	tokFile := fs.String("token-file", "", "read the bearer token from this file")
	session := fs.String("session", "", "sessionId (default: the gateway's \"default\" session)")
	command := fs.String("command", "", "exec: the command")
	workdir := fs.String("workdir", "", "exec: working directory in the jail (/workspace or below)")
	var env []string
	fs.StringArrayVarP(&env, "env", "e", nil, "exec: set K=V in the jail (repeatable)")
	tty := fs.BoolP("tty", "t", false, "exec: give the command a pty of the jail's own")
	ttySize := fs.String("tty-size", "", "exec: the pty's size COLSxROWS (default 80x24)")
	pathF := fs.String("path", "", "file tools: the path")
	content := fs.String("content", "", "write: the content")
	raw := fs.String("params", "", "the tool's parameters as JSON")
	paramsStdin := fs.Bool("params-stdin", false, "read the tool's parameters as one JSON object from stdin")
	asJSON := fs.Bool("json", false, "print the events as NDJSON")
	rawOut := fs.Bool("raw", false, "exec: only the command's output, as bytes (the default without --json)")
	reply := fs.Bool("reply", false, "print one reply document, {\"ok\":true,\"result\":...} or {\"ok\":false,\"error\":{code,message}}, as `openclaw-run tools call` does")
	resultFile := fs.String("result-file", "", "write how the call ended as JSON to this file (as openclaw-run --result-file)")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.Fail("name one tool")
	}
	tool := fs.Arg(0)
	if *asJSON && (*rawOut || *reply) || *rawOut && *reply {
		fmt.Fprintln(stderr, "openclaw-run call: --json, --raw and --reply exclude each other")
		return 2
	}
	known, _ := setup.Profiles()
	cfg, err := setup.Config("", known)
	if err != nil {
		cfg = config.Defaults()
	}
	if *url == "" {
		*url = "http://" + cfg.Gateway.Host + ":" + strconv.Itoa(cfg.Gateway.Port)
	}
	switch {
	case *tokFile != "":
		b, err := os.ReadFile(*tokFile)
		if err != nil {
			fmt.Fprintf(stderr, "openclaw-run call: --token-file: %v\n", err)
			return 2
		}
		*tok = strings.TrimSpace(string(b))
	case *tok == "":
		if *tok, err = token(cfg, false); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	params := map[string]any{}
	if *paramsStdin {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<20+1))
		if err == nil {
			err = json.Unmarshal(b, &params)
		}
		if err != nil {
			fmt.Fprintf(stderr, "openclaw-run call: --params-stdin: want one JSON object: %v\n", err)
			return 2
		}
	}
	if *raw != "" {
		if err := json.Unmarshal([]byte(*raw), &params); err != nil {
			fmt.Fprintf(stderr, "openclaw-run call: --params: %v\n", err)
			return 2
		}
	}
	for k, v := range map[string]string{"command": *command, "path": *pathF, "content": *content, "workdir": *workdir} {
		if v != "" {
			params[k] = v
		}
	}
	if len(env) > 0 {
		m := map[string]string{}
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				fmt.Fprintf(stderr, "openclaw-run call: --env %q: want K=V\n", kv)
				return 2
			}
			m[k] = v
		}
		params["env"] = m
	}
	if *tty {
		params["pty"] = true
		if *ttySize != "" {
			c, r, ok := strings.Cut(*ttySize, "x")
			cols, err1 := strconv.Atoi(c)
			rows, err2 := strconv.Atoi(r)
			if !ok || err1 != nil || err2 != nil {
				fmt.Fprintf(stderr, "openclaw-run call: --tty-size %q: want COLSxROWS\n", *ttySize)
				return 2
			}
			params["cols"], params["rows"] = cols, rows
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := 0
	var callID string
	var result json.RawMessage
	var output json.RawMessage
	var fail *client.Event
	c := &client.Client{URL: *url, Token: *tok}
	err = c.Call(ctx, tool, params, client.Request{SessionID: *session}, func(e client.Event) error {
		if *asJSON {
			b, _ := json.Marshal(e)
			fmt.Fprintf(stdout, "%s\n", b)
		}
		switch e.Type {
		case "start":
			callID = e.CallID
		case "stdout", "stderr":
			if *asJSON || *reply {
				return nil
			}
			w := stdout
			if e.Type == "stderr" {
				w = stderr
			}
			if e.Base64 != "" {
				b, _ := base64.StdEncoding.DecodeString(e.Base64)
				w.Write(b)
			} else {
				io.WriteString(w, e.Data)
			}
		case "result":
			result, output = e.Result, e.Output
			var r struct {
				ExitCode int  `json:"exitCode"`
				TimedOut bool `json:"timedOut"`
			}
			json.Unmarshal(e.Result, &r)
			code = r.ExitCode
			if r.TimedOut {
				code = callExitTimeout
			}
			if len(e.Output) > 0 && !*asJSON && !*reply && !*rawOut {
				fmt.Fprintf(stdout, "%s\n", e.Output)
			}
		case "error":
			ev := e
			fail = &ev
			if !*asJSON && !*reply {
				fmt.Fprintf(stderr, "%s: %s\n", e.Code, e.Message)
			}
			code = errorExit(e.Code)
		}
		return nil
	})
	if err != nil && fail == nil {
		fail = &client.Event{Code: "unreachable", Message: err.Error()}
		if !*reply {
			fmt.Fprintln(stderr, err)
		}
		code = callExitRefused
	}
	if *resultFile != "" {
		if werr := writeCallResult(*resultFile, callID, result, fail); werr != nil {
			fmt.Fprintf(stderr, "openclaw-run call: --result-file: %v\n", werr)
			if code == 0 {
				code = callExitRefused
			}
		}
	}
	if *reply {
		enc := json.NewEncoder(stdout)
		if fail != nil {
			enc.Encode(map[string]any{"ok": false, "error": map[string]string{"code": fail.Code, "message": fail.Message}})
			return code
		}
		res := output
		if len(res) == 0 {
			res = result
		}
		enc.Encode(map[string]any{"ok": true, "result": res})
		return 0
	}
	return code
}

// errorExit is the exit code of an error event: refused or not built
// (125), else a tool that failed (1).
func errorExit(code string) int {
	switch code {
	case "policy_denied", "jail_setup_failed", "audit_unavailable", "internal", "unauthorized", "forbidden",
		"origin_denied", "channel_denied", "locked_out", "overloaded", "shared_state_unavailable", "session_pruned":
		return callExitRefused
	}
	return callExitFailed
}

// writeCallResult writes the --result-file document atomically: the
// result's fields and the call id, or the error.
func writeCallResult(path, callID string, result json.RawMessage, fail *client.Event) error {
	doc := map[string]any{}
	if len(result) > 0 {
		json.Unmarshal(result, &doc)
	}
	if callID != "" {
		doc["callId"] = callID
	}
	if fail != nil {
		doc["error"] = map[string]string{"code": fail.Code, "message": fail.Message}
	}
	b, err := json.Marshal(doc)
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
