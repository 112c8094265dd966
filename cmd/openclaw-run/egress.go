package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/runner"
)

// helperEgress serves a CLI call's egress allowlist in a helper process,
// openclaw-gateway __egress (which links the HTTP stack this binary
// leaves out, so that every cold start stays lean): the listener the jail
// made goes to it as fd 3, the allowlist on its stdin, and its report
// comes back on its stdout when it is stopped.
type helperEgress struct {
	cfg    config.Network
	narrow []string
}

// gatewayBinary is openclaw-gateway beside this executable.
func gatewayBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	gw := filepath.Join(filepath.Dir(exe), "openclaw-gateway")
	if _, err := os.Stat(gw); err != nil {
		return "", fmt.Errorf("the egress proxy runs in openclaw-gateway, which is not beside openclaw-run: %w", err)
	}
	return gw, nil
}

func (e *helperEgress) request() []byte {
	b, _ := json.Marshal(map[string]any{"config": e.cfg, "narrow": e.narrow})
	return b
}

// check compiles the allowlist (in the helper) before a call uses it: a
// bad entry refuses the call, naming it.
func (e *helperEgress) check() error {
	gw, err := gatewayBinary()
	if err != nil {
		return err
	}
	cmd := exec.Command(gw, "__egress", "--check")
	cmd.Stdin = bytes.NewReader(e.request())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sandbox.network: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

func (e *helperEgress) Narrow(allow []string) (runner.Egress, error) {
	n := *e
	n.narrow = allow
	return &n, n.check()
}

func (e *helperEgress) Serve(listener *os.File) (runner.Proxy, error) {
	gw, err := gatewayBinary()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(gw, "__egress")
	cmd.Stdin = bytes.NewReader(e.request())
	cmd.ExtraFiles = []*os.File{listener}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the egress proxy: %w", err)
	}
	return &helperProxy{cmd: cmd, out: &out, errb: &errb}, nil
}

type helperProxy struct {
	cmd           *exec.Cmd
	out, errb     *bytes.Buffer
	once          sync.Once
	audit, caller any
}

func (h *helperProxy) Stop() (any, any) {
	h.once.Do(func() {
		h.cmd.Process.Signal(syscall.SIGTERM)
		err := h.cmd.Wait()
		var rep struct {
			Audit  json.RawMessage `json:"audit"`
			Caller json.RawMessage `json:"caller"`
		}
		if jerr := json.Unmarshal(h.out.Bytes(), &rep); jerr != nil || len(rep.Audit) == 0 {
			msg := map[string]any{"error": "the egress proxy gave no report: " + strings.TrimSpace(errors.Join(err, jerr).Error()+" "+h.errb.String())}
			h.audit, h.caller = msg, msg
			return
		}
		h.audit, h.caller = rep.Audit, rep.Caller
	})
	return h.audit, h.caller
}
