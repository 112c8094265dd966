package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Redaction covers every string a record carries from a call: parameter
// values and keys (recursively, in arrays and nested objects), ids
// (session, user, call), names (channel, client, tool, profile), the
// reason, and the strings inside limits, usage, blocked syscalls, egress
// and changes. Secret values (configured secrets, the runner's
// credential-like environment, values given to a call) and key-like
// strings become "[REDACTED]"; values over 4 KiB are summarized as their
// size and sha256. A secret hidden in a map key (issue 20 item 12: a
// secretEnv name like {"sk-...": "x"}) is redacted like a value, and two
// keys that redact to the same text are suffixed ("[REDACTED]#2") so that
// no value is lost.
//
// What the log itself writes is not redacted: the sequence, hashes, the
// owner (a process identity), the intent reference and the repair record:
// a secret that happens to be a substring of a hash must not break the
// chain or the recovery.

// redacted replaces a secret or key-like string.
const redacted = "[REDACTED]"

// bigString is the size above which a string is summarized.
const bigString = 4 << 10

// keyLike matches strings that look like credentials: API keys of the
// usual providers, bearer tokens, and long hex or base64 secrets after a
// telling name.
var keyLike = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[baprs]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|(?i:bearer)\s+[A-Za-z0-9._\-]{16,}|(?i:(?:api[_-]?key|token|secret|password|passwd)\s*[=:]\s*)[^\s'"]{8,})`)
})

// RedactRecord returns r with every string it carries from a call
// redacted (see above); secrets are the values to remove.
func RedactRecord(r Record, secrets []string) Record {
	text := func(s string) string { return redactText(s, secrets) }
	r.SessionID, r.UserID, r.Action, r.Tool = text(r.SessionID), text(r.UserID), text(r.Action), text(r.Tool)
	r.CallID, r.Channel, r.Client, r.Profile = text(r.CallID), text(r.Channel), text(r.Client), text(r.Profile)
	r.Engine, r.Decision, r.Code, r.Reason = text(r.Engine), text(r.Decision), text(r.Code), text(r.Reason)
	r.Parameters = Redact(r.Parameters, secrets)
	r.Limits = redactValue(r.Limits, secrets)
	r.Usage = redactValue(r.Usage, secrets)
	r.Blocked = redactValue(r.Blocked, secrets)
	r.Egress = redactValue(r.Egress, secrets)
	r.Changes = redactValue(r.Changes, secrets)
	return r
}

// Redact returns params with secret values and key-like strings replaced
// in keys and values, and large strings (over 4 KiB) summarized as their
// size and sha256.
func Redact(params map[string]any, secrets []string) map[string]any {
	if params == nil {
		return nil
	}
	out := make(map[string]any, len(params))
	redactMap(out, params, secrets)
	return out
}

// redactMap fills out with m's entries, keys and values redacted. Keys
// are taken in sorted order so that the suffixes of colliding keys are
// the same at every run.
func redactMap(out, m map[string]any, secrets []string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[uniqueKey(out, redactText(k, secrets))] = redactValue(m[k], secrets)
	}
}

// uniqueKey returns k, or k#2, k#3... when out already holds it.
func uniqueKey(out map[string]any, k string) string {
	if _, taken := out[k]; !taken {
		return k
	}
	for i := 2; ; i++ {
		s := fmt.Sprintf("%s#%d", k, i)
		if _, taken := out[s]; !taken {
			return s
		}
	}
}

func redactValue(v any, secrets []string) any {
	switch x := v.(type) {
	case nil, bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		return v
	case string:
		return redactString(x, secrets)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = redactString(s, secrets)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e, secrets)
		}
		return out
	case map[string]any:
		return Redact(x, secrets)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return Redact(m, secrets)
	}
	return redactAny(v, secrets)
}

// redactAny redacts a value of any type (a struct, a typed slice or map)
// through its JSON form, as it will be written; numbers are kept exact.
func redactAny(v any, secrets []string) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Not encodable: the record could not be written either. Keep
		// the error visible rather than the value.
		return map[string]any{"unencodable": err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return map[string]any{"unencodable": err.Error()}
	}
	switch x := generic.(type) {
	case map[string]any:
		return Redact(x, secrets)
	case []any, string:
		return redactValue(x, secrets)
	}
	return generic
}

// redactString redacts a value: a large one becomes its size and sha256.
func redactString(s string, secrets []string) any {
	if len(s) > bigString {
		sum := sha256.Sum256([]byte(s))
		return map[string]any{"size": len(s), "sha256": hex.EncodeToString(sum[:])}
	}
	return redactSecrets(s, secrets)
}

// redactText redacts a string that must stay a string (a key, an id): a
// large one becomes a short text naming its size and sha256.
func redactText(s string, secrets []string) string {
	if len(s) > bigString {
		sum := sha256.Sum256([]byte(s))
		return fmt.Sprintf("[%d bytes, sha256 %s]", len(s), hex.EncodeToString(sum[:]))
	}
	return redactSecrets(s, secrets)
}

// minKeyLike is the length of the shortest string keyLike matches
// ("token=" and 8 characters): shorter strings (most ids and names) skip
// the regular expression, the costliest part of an append.
const minKeyLike = 14

func redactSecrets(s string, secrets []string) string {
	if s == "" {
		return s
	}
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	if len(s) < minKeyLike || !mayBeKeyLike(s) {
		return s
	}
	return keyLike().ReplaceAllString(s, redacted)
}

// mayBeKeyLike is a quick test that s holds what every match of keyLike
// holds: "sk-", "gh" and "_", "xox", "AKIA", "AIza", "bearer" in any case,
// or the '=' or ':' after a telling name. A string without any of them
// cannot match, and most parameter keys and ids have none.
func mayBeKeyLike(s string) bool {
	if strings.ContainsAny(s, "=:") || strings.Contains(s, "sk-") || strings.Contains(s, "xox") ||
		strings.Contains(s, "AKIA") || strings.Contains(s, "AIza") || strings.Contains(s, "gh") && strings.Contains(s, "_") {
		return true
	}
	for i := 0; i+len("bearer") <= len(s); i++ {
		if (s[i] == 'b' || s[i] == 'B') && strings.EqualFold(s[i:i+len("bearer")], "bearer") {
			return true
		}
	}
	return false
}
