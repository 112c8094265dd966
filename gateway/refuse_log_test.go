package gateway

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/openclaw-run/openclaw-run/config"
)

// Refusals (401, 403, 429 lockout, channel) are logged at warn with their
// code and reason.
func TestRefusalsLoggedAtWarn(t *testing.T) {
	g := newSecServer(t, func(c *config.Config) {
		c.Channels.Telegram = &config.Telegram{Enabled: true, AllowedUsers: []int64{1}}
	})
	var buf syncBuffer
	g.o.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	g.do(t, "POST", "/v1/tools/exec", "wrong-token-0123456789", "", `{"args":{"command":"true"}}`)
	g.do(t, "POST", "/v1/tools/exec", opToken, "", `{"args":{"command":"true"},"channel":"telegram","userId":2}`)
	out := buf.String()
	for _, want := range []string{`level=WARN msg=refused code=unauthorized reason="wrong bearer token"`,
		`level=WARN msg=refused code=channel_denied reason="telegram user \"2\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the log:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
