package config

// OpenClaw's own keys in a shared openclaw.json.
//
// OpenClaw (the agent) and openclaw-run read the same file
// (~/.openclaw/openclaw.json, OPENCLAW_CONFIG_PATH). OpenClaw's keys are
// recognised from data: openclaw-keys.json is the key tree of the pinned
// OpenClaw's config schema, extracted by
// integrations/openclaw/gen-config-keys.mjs from `openclaw config schema`
// (regenerate with `make openclaw-keys`). A key that only OpenClaw knows is
// accepted and left to OpenClaw to validate; a key that neither knows is an
// error, and a misspelling of one of ours is an error even where OpenClaw
// accepts any key (channels.*), so that a typo in denyCommands can never
// pass as "someone else's key".

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tailscale/hujson"
)

//go:embed openclaw-keys.json
var openclawKeysJSON []byte

// keyNode is one object of OpenClaw's key tree.
type keyNode struct {
	keys  map[string]*keyNode // the object's own keys; a nil child accepts anything below
	any   *keyNode            // any further key ("*"); nil when the object is closed
	open  bool                // "*" is present (any.keys may still be nil: anything below)
	items *keyNode            // array elements ("[]")
}

// openclawKeys is the parsed tree with the OpenClaw version it came from.
var openclawKeys = sync.OnceValues(func() (*keyNode, string) {
	var doc struct {
		Version string          `json:"openclawVersion"`
		Keys    json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(openclawKeysJSON, &doc); err != nil {
		// The file is generated and embedded: a broken one is a build defect.
		panic(fmt.Sprintf("config: embedded openclaw-keys.json: %v", err))
	}
	n, err := parseKeyNode(doc.Keys)
	if err != nil {
		panic(fmt.Sprintf("config: embedded openclaw-keys.json: %v", err))
	}
	return n, doc.Version
})

// OpenClawSchemaVersion is the OpenClaw release whose keys are recognised.
func OpenClawSchemaVersion() string {
	_, v := openclawKeys()
	return v
}

// parseKeyNode decodes one node: 1 (accept anything below, returned as
// nil) or an object of children with the special keys "*" and "[]".
func parseKeyNode(raw json.RawMessage) (*keyNode, error) {
	if string(raw) == "1" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("want 1 or an object, got %.40s", raw)
	}
	n := &keyNode{keys: map[string]*keyNode{}}
	for k, v := range m {
		child, err := parseKeyNode(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "*":
			n.any, n.open = child, true
		case "[]":
			n.items = child
		default:
			n.keys[k] = child
		}
	}
	return n, nil
}

// lookup returns the child for key: named explicitly, or through "*".
func (n *keyNode) lookup(key string) (child *keyNode, explicit, ok bool) {
	if n == nil {
		return nil, false, false
	}
	if c, found := n.keys[key]; found {
		return c, true, true
	}
	if n.open {
		return n.any, false, true
	}
	return nil, false, false
}

// names lists the node's explicit keys.
func (n *keyNode) names() []string {
	if n == nil {
		return nil
	}
	out := make([]string, 0, len(n.keys))
	for k := range n.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// applyOpenClaw honours OpenClaw's keys that clearly mean one of ours, and
// maps OpenClaw's values of shared keys onto ours (docs/config.md has the
// table). It runs after decoding and before the semantic checks, so that
// everything downstream sees only openclaw-run's own values.
func applyOpenClaw(c *Config, knownProfiles []string, add func(warn bool, path, format string, args ...any)) {
	// logging.level: OpenClaw also has silent, fatal and trace.
	switch c.Logging.Level {
	case "trace":
		c.Logging.Level = "debug"
	case "fatal", "silent":
		c.Logging.Level = "error"
	}
	// tools.profile: OpenClaw's "messaging" has no file or runtime tools;
	// the narrowest profile of ours (no exec) stands for it.
	if c.Tools.Profile == "messaging" && !contains(knownProfiles, "messaging") {
		c.Tools.Profile = "minimal"
		add(true, "tools.profile", `OpenClaw's "messaging" profile runs no exec or file tools; openclaw-run uses its narrowest profile, "minimal", for it`)
	}
	// agents.defaults.sandbox.docker.user: the container user OpenClaw's
	// Docker backend runs as. Without a user namespace that is the host
	// owner of every file the sandbox writes, which is exactly what our
	// sandbox.uid/gid decide (the host ids jail root maps to), so a numeric
	// "UID[:GID]" is honoured when sandbox.uid is not set. A name is
	// resolved in the container image's /etc/passwd, which we do not have,
	// and root never maps to host root here: both are ignored, with a warning.
	const userPath = "agents.defaults.sandbox.docker.user"
	if u := strings.TrimSpace(c.Agents.Defaults.Sandbox.Docker.User); u != "" {
		uid, gid, err := parseDockerUser(u)
		switch {
		case err != nil:
			add(true, userPath, "ignored: %v; set sandbox.uid and sandbox.gid to choose the host ids jail root maps to", err)
		case uid == 0 || gid == 0:
			add(true, userPath, "ignored: %q is root, and jail root never maps to host root; set sandbox.uid and sandbox.gid", u)
		case c.Sandbox.UID != 0:
			add(true, userPath, "ignored: sandbox.uid is set and wins")
		default:
			c.Sandbox.UID, c.Sandbox.GID = uid, gid
		}
	}
}

// parseDockerUser parses Docker's --user forms that name host ids:
// "UID" (the group is the same number, as openclaw-run's --uid does) or
// "UID:GID".
func parseDockerUser(u string) (uid, gid int, err error) {
	us, gs, hasGroup := strings.Cut(u, ":")
	uid, err = strconv.Atoi(us)
	if err != nil || uid < 0 {
		return 0, 0, fmt.Errorf("%q names a user, not a numeric UID[:GID]", u)
	}
	gid = uid
	if hasGroup {
		gid, err = strconv.Atoi(gs)
		if err != nil || gid < 0 {
			return 0, 0, fmt.Errorf("%q names a group, not a numeric UID:GID", u)
		}
	}
	return uid, gid, nil
}

// OpenClawReads reports whether OpenClaw itself reads the config file at
// path: $OPENCLAW_CONFIG_PATH, else openclaw.json in $OPENCLAW_STATE_DIR,
// else ~/.openclaw/openclaw.json (OpenClaw's own lookup).
func OpenClawReads(path string) bool {
	theirs := os.Getenv("OPENCLAW_CONFIG_PATH")
	if theirs == "" {
		dir := os.Getenv("OPENCLAW_STATE_DIR")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return false
			}
			dir = filepath.Join(home, ".openclaw")
		}
		theirs = filepath.Join(dir, "openclaw.json")
	}
	a, err1 := filepath.Abs(path)
	b, err2 := filepath.Abs(theirs)
	return err1 == nil && err2 == nil && a == b
}

// OpenClawRefuses lists, as warnings, the keys of config source data that
// OpenClaw's schema refuses: its config objects are closed, so a file
// that OpenClaw reads too and that holds one of openclaw-run's own keys
// (sandbox, gateway.auth.clients, ...) stops OpenClaw ("Unrecognized
// key"). Those keys belong in a file of openclaw-run's own
// (OPENCLAW_RUN_CONFIG). Parsing OpenClaw's key tree is slow, so only
// "config validate" and "doctor" ask, never a call.
func OpenClawRefuses(data []byte) []Problem {
	v, err := hujson.Parse(data)
	if err != nil {
		return nil // Parse reports it
	}
	theirs, version := openclawKeys()
	pos := &positions{src: data}
	var out []Problem
	var walk func(v *hujson.Value, n *keyNode, path string)
	walk = func(v *hujson.Value, n *keyNode, path string) {
		if n == nil {
			return // OpenClaw accepts anything here
		}
		switch val := v.Value.(type) {
		case *hujson.Object:
			for i := range val.Members {
				m := &val.Members[i]
				name := m.Name.Value.(hujson.Literal).String()
				child, _, ok := n.lookup(name)
				if !ok {
					l, c := pos.at(m.Name.StartOffset)
					out = append(out, Problem{Warning: true, Path: join(path, name), Line: l, Col: c,
						Message: fmt.Sprintf("this is OpenClaw's config file too, and OpenClaw %s refuses this key: where OpenClaw runs, it would not start (\"Unrecognized key\"). "+
							"Put openclaw-run's own keys in a file of its own (OPENCLAW_RUN_CONFIG, docs/openclaw.md)", version)})
					continue
				}
				walk(&m.Value, child, join(path, name))
			}
		case *hujson.Array:
			for i := range val.Elements {
				walk(&val.Elements[i], n.items, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(&v, theirs, "")
	return out
}
