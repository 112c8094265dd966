package runner

import (
	"encoding/json"
	"testing"

	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// FuzzRequest: every tool's parameters, whatever their bytes, are decoded
// and checked into a request or refused with an error; never a panic
// (issue 20: a panic in one request must not end the gateway).
func FuzzRequest(f *testing.F) {
	names := append([]string{"exec", "bash"}, tools.Names...)
	for i, s := range []string{`{"command":"ls"}`, `{"command":"ls","timeoutSeconds":1e308}`, `{"command":"x","limits":{"memory":"-1"}}`,
		`{"command":"x","env":{"LD_PRELOAD":"/w/e.so"},"secretEnv":{"T":"GATEWAY_TOKEN"}}`, `{"command":"x","pty":true,"cols":-1}`,
		`{"path":"a","offset":-1,"limit":-1}`, `{"path":"a","content":"x"}`, `{"path":"../../etc/passwd"}`, `{"patch":"*** Begin Patch"}`,
		`{"command":"x","network":"allowlist","allowHosts":["*"]}`, `null`, `[]`, `{"command":"x","workdir":"/.."}`} {
		f.Add(uint8(i), s)
	}
	b, err := profiles.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	pol, err := policy.NewExec(policy.Options{Mode: "deny", Deny: []string{"rm"}})
	if err != nil {
		f.Fatal(err)
	}
	r, err := New(Options{Profile: b["full"], Workspace: f.TempDir(), Exec: pol, Staging: StagingOff})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tool uint8, params string) {
		call := &Call{Tool: names[int(tool)%len(names)], Params: json.RawMessage(params)}
		r.request(call)
	})
}
