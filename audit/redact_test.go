package audit

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/procid"
)

// limitsLike stands for a typed value a runner puts in a record (its
// limits, blocked syscalls): redacted through its JSON form.
type limitsLike struct {
	Memory string `json:"memory"`
	Note   string `json:"note"`
	Pids   int64  `json:"pids"`
}

// A secret in any string of a record, map keys and ids included, never
// reaches the file (issue 20 item 12), and no value is lost.
func TestRedactEveryString(t *testing.T) {
	const secret = "hunter2-the-configured-secret"
	const key = "sk-abcdefghijklmnopqrstuvwxyz012345"
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, []string{secret})
	if err != nil {
		t.Fatal(err)
	}
	l.AddSecret("given-to-the-call-42")
	l.AddSecret("given-to-the-call-42") // kept once
	if len(l.secrets) != 2 {
		t.Errorf("%d secrets kept, want 2", len(l.secrets))
	}
	r := Record{
		Timestamp: time.Now(),
		SessionID: "agent:" + secret,
		UserID:    key,
		Action:    ActionToolCall,
		Tool:      "exec",
		CallID:    "call-" + secret,
		Channel:   "telegram:" + secret,
		Client:    "bot " + key,
		Profile:   "coding",
		Decision:  "allow",
		Reason:    "exit 1: token=abcdefgh12345678 " + secret,
		Parameters: map[string]any{
			"command": "echo " + secret,
			"env": map[string]any{
				secret:                 "value-of-a-secret-named-key",
				key:                    "value-of-a-keylike-key",
				"GIVEN":                "given-to-the-call-42",
				"api_key=abcdefghijkl": "x",
			},
			"secretEnv":                          map[string]string{"T": secret},
			"argv":                               []string{"curl", "-H", "Authorization: Bearer abcdefghijklmnopqrstuvwx"},
			"edits":                              []any{map[string]any{"oldText": secret, "newText": "ok"}, []any{key}},
			"n":                                  7,
			"ghp_0123456789abcdefghijABCDEFGHIJ": true,
		},
		Limits:  limitsLike{Memory: "512m", Note: "note " + secret, Pids: 1 << 40},
		Usage:   map[string]any{"signal": "", "note": key},
		Blocked: []map[string]any{{"syscall": "ptrace", "count": 1, "detail": secret}},
		Egress:  map[string]any{"connections": []any{map[string]any{"host": secret + ".example", "port": 443, "allowed": false}}},
		Changes: map[string]any{"written": []string{"/workspace/" + secret}},
	}
	if err := l.Append(r); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, leak := range []string{secret, key, "given-to-the-call-42", "abcdefgh12345678", "abcdefghijklmnopqrstuvwx", "0123456789abcdefghij", "api_key=abcdefghijkl"} {
		if strings.Contains(string(data), leak) {
			t.Errorf("%q reached the audit file:\n%s", leak, data)
		}
	}
	got := records(t, path)[0]
	env, _ := got.Parameters["env"].(map[string]any)
	// Two keys that redact to the same text are both kept, suffixed.
	if len(env) != 4 {
		t.Errorf("env has %d keys, want 4 (no value lost): %v", len(env), env)
	}
	values := map[any]bool{}
	for k, v := range env {
		values[v] = true
		if k != "GIVEN" && !strings.HasPrefix(k, redacted) {
			t.Errorf("key %q not redacted", k)
		}
	}
	for _, v := range []string{"value-of-a-secret-named-key", "value-of-a-keylike-key", "x", redacted} {
		if !values[v] {
			t.Errorf("value %q lost: %v", v, env)
		}
	}
	if got.Parameters["n"] != float64(7) || got.Tool != "exec" || got.Profile != "coding" {
		t.Errorf("plain values changed: %+v", got)
	}
	lim, _ := got.Limits.(map[string]any)
	if lim["memory"] != "512m" || lim["pids"] != float64(1<<40) || lim["note"] != "note "+redacted {
		t.Errorf("limits: %v", lim)
	}
	if got.SessionID != "agent:"+redacted || got.CallID != "call-"+redacted || got.Channel != "telegram:"+redacted || got.UserID != redacted {
		t.Errorf("ids: %q %q %q %q", got.SessionID, got.CallID, got.Channel, got.UserID)
	}
}

// What the log writes itself is not redacted: a secret that happens to be
// part of the owner or of the intent's hash must not break recovery.
func TestRedactKeepsTheLogsOwnFields(t *testing.T) {
	self := string(procid.Self())
	pid := strings.SplitN(self, ":", 2)[0]
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, nil)
	ref, err := l.Intent(Record{Tool: "exec", CallID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	l.AddSecret(self[len(pid)+1:]) // start time and boot id
	l.AddSecret(ref.Hash[10:20])
	if _, err := l.Intent(Record{Tool: "exec", CallID: "c2"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Record{Action: ActionToolCall, Tool: "exec", CallID: "c1", Intent: &ref}); err != nil {
		t.Fatal(err)
	}
	recs := records(t, path)
	if recs[1].Owner != self || *recs[2].Intent != ref {
		t.Fatalf("owner %q, intent %+v: changed by redaction", recs[1].Owner, recs[2].Intent)
	}
	rep, _ := VerifyReport(Files(path))
	if len(rep.Dangling) != 1 || rep.Dangling[0].CallID != "c2" {
		t.Errorf("dangling %+v, want c2 only", rep.Dangling)
	}
}

// mayBeKeyLike never skips a string that keyLike matches.
func TestKeyLikePrefilter(t *testing.T) {
	samples := []string{"sk-abcdefghijklmnop1234", "sk-ant-abcdefghijklmnop1234", "ghp_abcdefghijklmnopqrst12", "ghs_abcdefghijklmnopqrstu",
		"xoxb-1234567890ab", "AKIAABCDEFGHIJKLMNOP", "AIza" + strings.Repeat("a", 35), "BeArEr abcdefghijklmnop", "bearer\tabcdefghijklmnopq",
		"Token: abcdefgh1", "PASSWORD=abcdefgh", "api-key:abcdefghij", "APIKEY = abcdefghijk", "passwd=12345678"}
	for _, s := range samples {
		if !keyLike().MatchString(s) {
			t.Fatalf("sample %q does not match keyLike", s)
		}
		if redactSecrets("x "+s+" y", nil) == "x "+s+" y" {
			t.Errorf("%q not redacted", s)
		}
	}
	// Random strings built from the pieces: whatever the expression
	// matches, the prefilter lets through.
	pieces := []string{"sk-", "gh", "p_", "_", "xox", "b-", "AKIA", "AIza", "bearer", "BEARER", " ", "token", "secret", "=", ":", "abcdefgh", "ABCDEFGH", "12345678", "-", "'"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for j := rng.IntN(8); j >= 0; j-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		if keyLike().MatchString(s) && !mayBeKeyLike(s) {
			t.Fatalf("the prefilter skips %q, which keyLike matches", s)
		}
	}
}

// Redact summarizes large values and keys.
func TestRedactLargeKeysAndValues(t *testing.T) {
	big := strings.Repeat("k", 5000)
	got := Redact(map[string]any{big: big}, nil)
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), big) || !strings.Contains(string(b), "5000 bytes, sha256") || !strings.Contains(string(b), `"size":5000`) {
		t.Errorf("large key and value: %s", b)
	}
}
