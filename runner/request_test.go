package runner

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// Bad exec parameters are refused before anything is built, each with
// its code: a key twice or in another case (the decoder is strict), an
// oversized command or environment (413 at once, not an E2BIG from the
// jail's execve), numbers out of range.
func TestExecParamsRefusedAtOnce(t *testing.T) {
	all, err := profiles.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{opts: Options{Profile: all["coding"]}}
	big := strings.Repeat("x", 7<<20)
	env := map[string]string{}
	for i := 0; i < 8; i++ {
		env[string(rune('A'+i))] = strings.Repeat("y", 100<<10)
	}
	envJSON, _ := json.Marshal(map[string]any{"command": "true", "env": env})
	for params, code := range map[string]string{
		`{"command":"ls","command":"rm -rf ."}`:         tools.CodeInvalid,
		`{"command":"ls","Command":"rm -rf ."}`:         tools.CodeInvalid,
		`{"COMMAND":"ls"}`:                              tools.CodeInvalid,
		`{"command":"ls","limits":{"Memory":"1G"}}`:     tools.CodeInvalid,
		`{"command":"` + big + `"}`:                     tools.CodeLimit,
		`{"command":"true","env":{"A":"` + big + `"}}`:  tools.CodeLimit,
		string(envJSON):                                 tools.CodeLimit,
		`{"command":"true","timeoutSeconds":1e300}`:     tools.CodeInvalid,
		`{"command":"true","timeoutSeconds":-1}`:        tools.CodeInvalid,
		`{"command":"true","cols":9223372036854775807}`: tools.CodeInvalid,
	} {
		_, err := r.request(&Call{Tool: "exec", Params: json.RawMessage(params)})
		var te *tools.Error
		if !errors.As(err, &te) || te.Code != code {
			t.Errorf("%.60s: %v, want %s", params, err, code)
		}
	}
}
