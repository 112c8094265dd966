package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openclaw-run/openclaw-run/config"
)

// A request that names a key twice or in another case, at any depth, is
// a 400 naming the key: the decoder is strict, and what the audit log
// shows is what ran.
func TestDecodeRequestKeys(t *testing.T) {
	for body, want := range map[string]string{
		`{"args":{"command":"ls"},"sessionId":"a","sessionId":"b"}`: `duplicate key "sessionId"`,
		`{"args":{"command":"ls"},"SessionId":"a"}`:                 `key "SessionId"`,
		`{"ARGS":{"command":"ls"}}`:                                 `key "ARGS"`,
		`{"args":{"command":"ls","command":"rm -rf ."}}`:            `duplicate key "args.command"`,
	} {
		_, err := DecodeRequest(strings.NewReader(body), 1<<20)
		he, ok := err.(*httpError)
		if !ok || he.status != http.StatusBadRequest || !strings.Contains(he.message, want) {
			t.Errorf("%s: %v, want a 400 with %q", body, err, want)
		}
	}
}

// Every number the gateway reads itself is range-checked before anything
// runs: yieldMs and background of exec, timeout, offset and limit of the
// process tool.
func TestGatewayNumbersRangeChecked(t *testing.T) {
	s := &Server{cfg: config.Defaults()}
	for _, args := range []string{
		`{"command":"true","yieldMs":9223372036854775807}`,
		`{"command":"true","yieldMs":-9223372036854775808}`,
		`{"command":"true","yieldMs":-1}`,
		`{"command":"true","yieldMs":1.5}`,
		`{"command":"true","yieldMs":"10"}`,
		`{"command":"true","yieldMs":600001}`,
		`{"command":"true","background":"yes"}`,
	} {
		_, handled, err := s.gatewayTool(&Request{Tool: "exec", Args: json.RawMessage(args)})
		he, ok := err.(*httpError)
		if !handled || !ok || he.status != http.StatusBadRequest {
			t.Errorf("%s: handled %v, %v; want a 400", args, handled, err)
		}
	}
	for _, args := range []string{
		`{"action":"poll","processId":"p","timeout":-1}`,
		`{"action":"poll","processId":"p","timeout":30001}`,
		`{"action":"poll","processId":"p","timeout":1e300}`,
		`{"action":"log","processId":"p","offset":-1}`,
		`{"action":"log","processId":"p","limit":-5}`,
		`{"action":"poll","processId":"p","processId":"q"}`,
		`{"action":"poll","ProcessId":"p"}`,
	} {
		_, err := s.process("default", json.RawMessage(args))
		he, ok := err.(*httpError)
		if !ok || he.status != http.StatusBadRequest {
			t.Errorf("%s: %v; want a 400", args, err)
		}
	}
	if _, err := backgroundArgsOf(`{"yieldMs":600000}`); err != nil {
		t.Errorf("yieldMs 600000: %v", err)
	}
}

func backgroundArgsOf(s string) (bool, error) {
	var m map[string]any
	json.Unmarshal([]byte(s), &m)
	bg, _, _, err := backgroundArgs(m)
	return bg, err
}
