package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/strictjson"
	"github.com/openclaw-run/openclaw-run/plan"
	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// request is one call after its parameters were decoded and checked and
// the policy agreed: what the plan is built from.
type request struct {
	tool string
	// params are the parameters as the audit log shows them (redacted
	// there).
	params map[string]any
	// exec: a shell string (command) or an argv (the CLI's), the
	// call's variables, working directory and pty.
	file    bool
	command string
	argv    []string
	env     []string
	dir     string
	pty     *plan.Pty
	// fileParams feed a file tool's helper on its stdin.
	fileParams []byte
	// timeout and limits only narrow the runner's (0: not set).
	timeout time.Duration
	limits  profiles.Limits
	// unchecked lists what the exec policy could not check and let
	// through (audited).
	unchecked []string
	// warm: the plan of a pre-warmed jail, which has no command yet.
	warm bool
	// network is the call's network (plan.Network*), and egress its
	// allowlist (the operator's, narrowed by the call).
	network string
	egress  Egress
}

// ExecParams are exec's parameters, with OpenClaw's names.
type ExecParams struct {
	Command string            `json:"command"`
	Workdir string            `json:"workdir,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// SecretEnv names secrets to give the command as variables
	// ({VAR: secretName}); no other secret ever enters a jail.
	SecretEnv      map[string]string `json:"secretEnv,omitempty"`
	TimeoutSeconds float64           `json:"timeoutSeconds,omitempty"`
	Background     bool              `json:"background,omitempty"`
	// Pty gives the command a terminal of the jail's own (Cols x Rows,
	// default 80x24); its output arrives as stdout.
	Pty  bool `json:"pty,omitempty"`
	Cols int  `json:"cols,omitempty"`
	Rows int  `json:"rows,omitempty"`
	// Limits narrow the profile's for this call: memory, cpus, pids,
	// maxOutput. A value above the profile's is the profile's.
	Limits *CallLimits `json:"limits,omitempty"`
	// Network narrows the profile's: "none" takes the call off the
	// network; AllowHosts narrows the operator's allowlist (each pattern
	// must be covered by one of the operator's).
	Network    string   `json:"network,omitempty"`
	AllowHosts []string `json:"allowHosts,omitempty"`
}

// CallLimits are the limits a call may narrow.
type CallLimits struct {
	Memory    profiles.Size `json:"memory,omitempty"`
	CPUs      float64       `json:"cpus,omitempty"`
	Pids      int           `json:"pids,omitempty"`
	MaxOutput profiles.Size `json:"maxOutput,omitempty"`
}

// maxCommand bounds exec's command string: far above any real command,
// far below the kernel's argument limit (ARG_MAX is 2 MiB with a 8 MiB
// stack, and one string at most 128 KiB: MAX_ARG_STRLEN), so that a huge
// command is a 400 at once instead of an E2BIG from the jail's execve.
const maxCommand = 128 << 10

// maxEnv bounds the call's variables together, well below ARG_MAX.
const maxEnv = 512 << 10

var envName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// decodeStrict decodes one JSON object into v: unknown fields, a key
// given twice or in another case refused, nothing after it.
func decodeStrict(raw []byte, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	return strictjson.Decode(raw, v)
}

// request decodes and checks a call's parameters and applies the
// profile and the command policy. A refusal is a *tools.Error
// (invalid_params, not_found) or wraps ErrPolicy.
func (r *Runner) request(call *Call) (*request, error) {
	p := r.opts.Profile
	switch {
	case call.Tool == "exec" || call.Tool == "bash":
		return r.execRequest(call)
	case tools.IsFileTool(call.Tool):
		if _, err := tools.Decode(call.Tool, call.Params); err != nil {
			return &request{tool: call.Tool, params: paramsOf(call.Params)}, err
		}
		req := &request{tool: call.Tool, file: true, params: paramsOf(call.Params), fileParams: orEmpty(call.Params)}
		// The bridge's tools are governed by the profile tool whose power
		// they share (stat by read; mkdir, remove, rename by write).
		if g, _ := tools.Governing(call.Tool); !p.Allows(g) {
			return req, fmt.Errorf("%w: profile %q does not allow %s", ErrPolicy, p.Name, g)
		}
		return req, nil
	}
	return &request{tool: call.Tool, params: paramsOf(call.Params)},
		invalidParams("unknown tool %q (runner tools: exec, %s)", call.Tool, strings.Join(tools.Names, ", "))
}

func (r *Runner) execRequest(call *Call) (*request, error) {
	prof := r.opts.Profile
	req := &request{tool: "exec"}
	var ep ExecParams
	if call.Argv != nil {
		// The CLI's command line: no shell in between, quoted exactly.
		req.argv = call.Argv
		req.params = map[string]any{"command": call.Argv}
		if len(call.Argv) == 0 || call.Argv[0] == "" {
			return req, invalidParams("exec: no command")
		}
		ep.Env, ep.SecretEnv, ep.Workdir = call.Env, call.SecretEnv, call.Workdir
		ep.Pty = call.Pty != nil
	} else {
		req.params = paramsOf(call.Params)
		if err := decodeStrict(call.Params, &ep); err != nil {
			return req, invalidParams("exec: %v", err)
		}
		if err := ep.validate(); err != nil {
			return req, err
		}
		req.command = ep.Command
	}
	switch {
	case !prof.Allows("exec") || prof.ExecTier == "":
		return req, fmt.Errorf("%w: profile %q does not allow exec", ErrPolicy, prof.Name)
	case r.opts.ExecDisabled:
		return req, fmt.Errorf("%w: exec is disabled (tools.exec.mode is \"deny\")", ErrPolicy)
	}
	if err := checkEnvNames(ep.Env, ep.SecretEnv); err != nil {
		return req, err
	}
	// Variables that make an allowed program run other code (the dynamic
	// loader's, a shell's startup files, interpreters' options) are
	// refused whatever the lists say: the audit log would show `ls` while
	// other code ran (policy.CheckEnv; docs/config.md).
	if err := policy.CheckEnv(ep.Env); err != nil {
		return req, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	var d policy.Decision
	if req.argv != nil {
		d = r.opts.Exec.CheckArgv(req.argv)
	} else {
		d = r.opts.Exec.Check(req.command) // a shell string, as exec gives it to sh -c
	}
	if !d.Allowed {
		return req, fmt.Errorf("%w: %s", ErrPolicy, d.Reason)
	}
	req.unchecked = d.Unchecked
	d = r.opts.Exec.CheckEnvCommands(ep.Env)
	if !d.Allowed {
		return req, fmt.Errorf("%w: %s", ErrPolicy, d.Reason)
	}
	req.unchecked = append(req.unchecked, d.Unchecked...)
	keys := make([]string, 0, len(ep.Env))
	for k := range ep.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable environment: equal calls, equal plans
	for _, k := range keys {
		req.env = append(req.env, k+"="+ep.Env[k])
	}
	secretEnv, err := r.SecretEnv(ep.SecretEnv)
	if err != nil {
		return req, err
	}
	req.env = append(req.env, secretEnv...)
	req.dir = resolveWorkdir(ep.Workdir)
	if req.dir != WorkspaceDir && !strings.HasPrefix(req.dir, WorkspaceDir+"/") {
		return req, invalidParams("exec: workdir %q is outside the workspace", ep.Workdir)
	}
	if call.Pty != nil {
		req.pty = call.Pty
	} else if ep.Pty {
		req.pty = &plan.Pty{Cols: uint16(orDefault(ep.Cols, 80)), Rows: uint16(orDefault(ep.Rows, 24))}
	}
	req.timeout = time.Duration(ep.TimeoutSeconds * float64(time.Second))
	req.network, req.egress = r.opts.Network, r.opts.Egress
	switch ep.Network {
	case "":
	case plan.NetworkNone:
		req.network, req.egress = plan.NetworkNone, nil
	case plan.NetworkAllowlist:
		if r.opts.Network != plan.NetworkAllowlist {
			return req, fmt.Errorf("%w: network allowlist asked, but this profile's jails have no network (the operator's sandbox.networks)", ErrPolicy)
		}
	default:
		return req, invalidParams("exec: network %q: want none or allowlist", ep.Network)
	}
	if len(ep.AllowHosts) > 0 {
		if req.network != plan.NetworkAllowlist {
			return req, fmt.Errorf("%w: allowHosts given, but the call has no network", ErrPolicy)
		}
		if req.egress, err = req.egress.Narrow(ep.AllowHosts); err != nil {
			return req, fmt.Errorf("%w: allowHosts: %v", ErrPolicy, err)
		}
	}
	if l := ep.Limits; l != nil {
		req.limits = profiles.Limits{Memory: l.Memory, CPUs: l.CPUs, Pids: l.Pids, MaxOutput: l.MaxOutput}
	}
	return req, nil
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func (p *ExecParams) validate() error {
	switch {
	case strings.TrimSpace(p.Command) == "":
		return invalidParams("exec: command is required")
	case len(p.Command) > maxCommand:
		return &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("exec: the command is %d bytes; at most %d (put a long script in a file of the workspace)", len(p.Command), maxCommand)}
	case strings.IndexByte(p.Command, 0) >= 0:
		return invalidParams("exec: command contains a NUL byte")
	case p.Background:
		return invalidParams("exec: background runs outlive the request: they are served by the gateway (POST /v1/tools/exec with background, then the process tool)")
	case p.TimeoutSeconds < 0 || p.TimeoutSeconds > 7*24*3600:
		return invalidParams("exec: timeoutSeconds must be between 0 and 604800")
	case p.Cols < 0 || p.Cols > 1000 || p.Rows < 0 || p.Rows > 1000:
		return invalidParams("exec: cols and rows must be between 1 and 1000")
	case (p.Cols != 0 || p.Rows != 0) && !p.Pty:
		return invalidParams("exec: cols and rows need pty: true")
	}
	if l := p.Limits; l != nil && (l.Memory < 0 || l.CPUs < 0 || l.Pids < 0 || l.MaxOutput < 0) {
		return invalidParams("exec: limits must not be negative")
	}
	return nil
}

// checkEnvNames refuses variable names that are not names, and variables
// the kernel would refuse at the jail's execve (E2BIG after the jail was
// built): one longer than maxCommand, or all together longer than
// maxEnv.
func checkEnvNames(env, secretEnv map[string]string) error {
	total := 0
	for k, v := range env {
		if !envName().MatchString(k) {
			return invalidParams("exec: env name %q is not a valid variable name", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return invalidParams("exec: env %s contains a NUL byte", k)
		}
		if n := len(k) + 1 + len(v); n > maxCommand {
			return &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("exec: env %s is %d bytes; at most %d", k, n, maxCommand)}
		}
		total += len(k) + 1 + len(v)
	}
	if total > maxEnv {
		return &tools.Error{Code: tools.CodeLimit, Message: fmt.Sprintf("exec: env is %d bytes in all; at most %d", total, maxEnv)}
	}
	for k, name := range secretEnv {
		if !envName().MatchString(k) {
			return invalidParams("exec: secretEnv name %q is not a valid variable name", k)
		}
		if name == "" {
			return invalidParams("exec: secretEnv %s names no secret", k)
		}
	}
	return nil
}

// SecretEnv resolves {VAR: secretName} through the configured secrets into
// VAR=value entries, adding each value to the audit log's redactions first.
func (r *Runner) SecretEnv(m map[string]string) ([]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if r.opts.Secrets == nil {
		return nil, invalidParams("exec: secretEnv given, but no secret store is configured")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		v, err := r.opts.Secrets.ForCall(m[k])
		if err != nil {
			return nil, &tools.Error{Code: tools.CodeNotFound, Message: err.Error()}
		}
		if r.opts.Audit != nil {
			r.opts.Audit.AddSecret(v)
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// CheckInput applies the exec policy to data written to the standard
// input of a background process started with command (the gateway's
// process tool): the same rules as a command string where command runs
// its input as commands (policy.CheckInput).
func (r *Runner) CheckInput(command, data string) policy.Decision {
	return r.opts.Exec.CheckInput(command, data)
}

// resolveWorkdir makes workdir absolute in the jail (relative to the
// workspace) and removes "..", so that it can be compared.
func resolveWorkdir(w string) string {
	if w == "" {
		return WorkspaceDir
	}
	if !path.IsAbs(w) {
		w = path.Join(WorkspaceDir, w)
	}
	return path.Clean(w)
}

func invalidParams(format string, args ...any) error {
	return &tools.Error{Code: tools.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

func orEmpty(b json.RawMessage) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}")
	}
	return b
}

// paramsOf is the parameters as the audit log records them.
func paramsOf(raw json.RawMessage) map[string]any {
	var m map[string]any
	if json.Unmarshal(orEmpty(raw), &m) != nil {
		return map[string]any{"unparsed": string(raw)}
	}
	return m
}
