package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/openclaw-run/openclaw-run/client"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/setup"
)

// cmdCall: openclaw-run call [--gateway URL] [--token T] TOOL --command ...
// streams like the local CLI and exits with the command's code.
func cmdCall(args []string, stdout, stderr io.Writer) int {
	fs := flags("call", stderr)
	url := fs.String("gateway", "", "gateway URL (default: http://gateway.host:port of the config)")
	tok := fs.String("token", "", "bearer token (default: OPENCLAW_GATEWAY_TOKEN or the state dir's gateway.token)")
	session := fs.String("session", "", "sessionId")
	command := fs.String("command", "", "exec: the command")
	pathF := fs.String("path", "", "file tools: the path")
	content := fs.String("content", "", "write: the content")
	raw := fs.String("params", "", "the tool's parameters as JSON")
	asJSON := fs.Bool("json", false, "print the events as NDJSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: openclaw-run call [--gateway URL] [--token T] TOOL [--command C] [--path P] [--params JSON]")
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
	if *tok == "" {
		if *tok, err = token(cfg, false); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	params := map[string]any{}
	if *raw != "" {
		if err := json.Unmarshal([]byte(*raw), &params); err != nil {
			fmt.Fprintf(stderr, "--params: %v\n", err)
			return 2
		}
	}
	for k, v := range map[string]string{"command": *command, "path": *pathF, "content": *content} {
		if v != "" {
			params[k] = v
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := 0
	c := &client.Client{URL: *url, Token: *tok}
	err = c.Call(ctx, fs.Arg(0), params, client.Request{SessionID: *session}, func(e client.Event) error {
		if *asJSON {
			b, _ := json.Marshal(e)
			fmt.Fprintf(stdout, "%s\n", b)
		}
		switch e.Type {
		case "stdout", "stderr":
			if *asJSON {
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
			var r struct {
				ExitCode int `json:"exitCode"`
			}
			json.Unmarshal(e.Result, &r)
			code = r.ExitCode
			if len(e.Output) > 0 && !*asJSON {
				fmt.Fprintf(stdout, "%s\n", e.Output)
			}
		case "error":
			if !*asJSON {
				fmt.Fprintf(stderr, "%s: %s\n", e.Code, e.Message)
			}
			code = 1
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return code
}
