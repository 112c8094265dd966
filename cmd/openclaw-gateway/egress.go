package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/egress"
	"github.com/openclaw-run/openclaw-run/runner"
)

// compileNetwork checks sandbox.network and compiles it (package egress):
// a bad entry fails the gateway's start, naming it.
func compileNetwork(n config.Network) (*egress.Policy, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	var c egress.Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return c.Compile()
}

// egressPolicy is runner.Egress served in this process.
type egressPolicy struct{ p *egress.Policy }

func (e egressPolicy) Narrow(allow []string) (runner.Egress, error) {
	n, err := e.p.Narrow(allow)
	if err != nil {
		return nil, err
	}
	return egressPolicy{n}, nil
}

func (e egressPolicy) Serve(f *os.File) (runner.Proxy, error) {
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	px := egress.NewProxy(e.p, egress.Options{})
	go px.Serve(ln)
	return &inProcess{px: px}, nil
}

type inProcess struct {
	px            *egress.Proxy
	once          sync.Once
	audit, caller any
}

func (x *inProcess) Stop() (any, any) {
	x.once.Do(func() { x.audit, x.caller = reports(x.px) })
	return x.audit, x.caller
}

// reports shuts a proxy down and returns its report, whole and without
// the operator's details.
func reports(px *egress.Proxy) (egress.Report, egress.Report) {
	px.Shutdown()
	r := px.Report()
	c := r
	c.Connections = append([]egress.Conn(nil), r.Connections...)
	for i := range c.Connections {
		c.Connections[i].Detail = ""
	}
	return r, c
}

// helperRequest is what the CLI's egress helper reads on stdin: the
// operator's allowlist and the call's narrowing of it.
type helperRequest struct {
	Config egress.Config `json:"config"`
	Narrow []string      `json:"narrow,omitempty"`
}

// cmdEgressHelper serves one CLI call's egress proxy (openclaw-run links
// no HTTP stack: cmd/openclaw-run/egress.go): the allowlist on stdin, the
// listener the jail made as fd 3; on SIGTERM it stops and prints the
// report, {"audit": ..., "caller": ...}. With --check it only compiles
// the allowlist and says what is wrong with it.
func cmdEgressHelper(args []string, stdout, stderr io.Writer) int {
	var req helperRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(stderr, "egress: read the allowlist: %v\n", err)
		return 2
	}
	p, err := req.Config.Compile()
	if err == nil && len(req.Narrow) > 0 {
		p, err = p.Narrow(req.Narrow)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if len(args) == 1 && args[0] == "--check" {
		return 0
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		fmt.Fprintf(stderr, "egress: the listener: %v\n", err)
		return 2
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	px := egress.NewProxy(p, egress.Options{})
	done := make(chan error, 1)
	go func() { done <- px.Serve(ln) }()
	select {
	case <-sig:
	case err := <-done:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(stderr, "egress: %v\n", err)
		}
	}
	a, c := reports(px)
	json.NewEncoder(stdout).Encode(map[string]any{"audit": a, "caller": c})
	return 0
}
