package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/openclaw-run/openclaw-run/hostpath"
	"github.com/openclaw-run/openclaw-run/policy"
	"github.com/tailscale/hujson"
)

// Problem is one finding of validation, located in the file.
type Problem struct {
	Warning bool
	Path    string // JSON path, e.g. tools.exec.denyCommands[2]
	Line    int    // 1-based; 0 when not tied to a place
	Col     int
	Message string
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	loc := ""
	if p.Line > 0 {
		loc = fmt.Sprintf("%d:%d: ", p.Line, p.Col)
	}
	where := ""
	if p.Path != "" {
		where = p.Path + ": "
	}
	return fmt.Sprintf("%s%s: %s%s", loc, kind, where, p.Message)
}

// Result is a loaded config and what validation found.
type Result struct {
	Config   *Config
	File     string // "" when no file exists (defaults)
	Problems []Problem
}

// Errors returns the problems that are errors.
func (r *Result) Errors() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Err returns an error listing every error problem, or nil.
func (r *Result) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, p := range errs {
		lines[i] = r.File + ":" + p.String()
	}
	return fmt.Errorf("invalid config:\n  %s", strings.Join(lines, "\n  "))
}

// Load reads and validates the config at path. A missing file yields the
// defaults. knownProfiles are the profile names that tools.profile may use.
func Load(path string, knownProfiles []string) (*Result, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		r := &Result{Config: Defaults()}
		r.Problems = check(r.Config, nil, knownProfiles)
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	r := Parse(data, knownProfiles)
	r.File = path
	return r, nil
}

// LoadFlag loads the config file of Path(flag). A file named explicitly
// (--config, OPENCLAW_RUN_CONFIG, OPENCLAW_CONFIG_PATH) must exist: a typo
// must not silently mean the defaults. Only the implicit default path may
// be absent.
func LoadFlag(flag string, knownProfiles []string) (*Result, error) {
	path, from := PathFrom(flag)
	if def := filepath.Join(StateDir(), "openclaw.json"); from != "" && filepath.Clean(path) != def {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("config: %s %s: %w (only the default %s may be absent)", from, path, unwrapPath(err), def)
		}
	}
	return Load(path, knownProfiles)
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse validates config source (JSON with comments).
func Parse(data []byte, knownProfiles []string) *Result {
	r := &Result{Config: Defaults()}
	v, err := hujson.Parse(data)
	if err != nil {
		r.Problems = append(r.Problems, Problem{Message: "not valid JSON (with comments): " + err.Error(), Line: lineOf(data, offsetOf(err))})
		return r
	}
	pos := &positions{src: data}
	// OpenClaw's key tree is parsed only for a file that has keys not of
	// ours: parsing it costs a cold CLI call about half its time.
	var probs []Problem
	walkKeys(&v, reflect.TypeOf(Config{}), nil, "", pos, &probs)
	if len(probs) > 0 {
		theirs, _ := openclawKeys()
		probs = nil
		walkKeys(&v, reflect.TypeOf(Config{}), theirs, "", pos, &probs)
	}
	r.Problems = append(r.Problems, probs...)
	std := v.Clone()
	std.Standardize()
	dec := json.NewDecoder(bytes.NewReader(std.Pack()))
	if err := dec.Decode(r.Config); err != nil {
		var te *json.UnmarshalTypeError
		p := Problem{Message: err.Error()}
		if errors.As(err, &te) {
			p.Path = te.Field
			p.Message = fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
			p.Line, p.Col = pos.at(int(te.Offset))
		}
		if !unknownReported(r.Problems) || p.Path != "" {
			r.Problems = append(r.Problems, p)
		}
	}
	r.Problems = append(r.Problems, check(r.Config, pos, knownProfiles)...)
	return r
}

func unknownReported(ps []Problem) bool { return len(ps) > 0 }

// positions maps JSON paths to places in the source.
type positions struct {
	src   []byte
	paths map[string]int // path -> offset of its value
}

func (p *positions) at(off int) (int, int) {
	if off < 0 || off > len(p.src) {
		return 0, 0
	}
	line := 1 + bytes.Count(p.src[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(p.src[:off], '\n')
	return line, col
}

func (p *positions) of(path string) (int, int) {
	if off, ok := p.paths[path]; ok {
		return p.at(off)
	}
	return 0, 0
}

// walkKeys compares the object keys of v with the fields of t (ours) and
// with OpenClaw's key tree at the same place (theirs, nil where OpenClaw
// has nothing or accepts anything), recording unknown keys with a
// suggestion and the offset of every path. A key only OpenClaw knows is
// accepted without looking below it: OpenClaw validates its own.
func walkKeys(v *hujson.Value, t reflect.Type, theirs *keyNode, path string, pos *positions, out *[]Problem) {
	if pos.paths == nil {
		pos.paths = map[string]int{}
	}
	pos.paths[path] = v.StartOffset
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := v.Value.(type) {
	case *hujson.Object:
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			for i := range val.Members {
				m := &val.Members[i]
				name := m.Name.Value.(hujson.Literal).String()
				sub := join(path, name)
				sub2, explicit, known := theirs.lookup(name)
				if ft, ok := fields[name]; ok {
					walkKeys(&m.Value, ft, sub2, sub, pos, out)
					continue
				}
				if known && (explicit || suggestOurs(name, fields) == "") {
					continue // OpenClaw's key
				}
				l, c := pos.at(m.Name.StartOffset)
				*out = append(*out, Problem{Path: sub, Line: l, Col: c, Message: "unknown key" + suggest(name, fields, theirs)})
			}
		case reflect.Map:
			var elem *keyNode
			if theirs != nil {
				elem = theirs.any
			}
			for i := range val.Members {
				m := &val.Members[i]
				walkKeys(&m.Value, t.Elem(), elem, join(path, m.Name.Value.(hujson.Literal).String()), pos, out)
			}
		}
	case *hujson.Array:
		if t.Kind() == reflect.Slice {
			var elem *keyNode
			if theirs != nil {
				elem = theirs.items
			}
			for i := range val.Elements {
				walkKeys(&val.Elements[i], t.Elem(), elem, fmt.Sprintf("%s[%d]", path, i), pos, out)
			}
		}
	}
}

// parent returns the JSON path one level up ("a.b[2]" -> "a.b").
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}

// suggestOurs returns a "did you mean" hint when name is a near miss (a
// different case, or at most two edits) of one of our keys, else "".
func suggestOurs(name string, fields map[string]reflect.Type) string {
	if f, _ := nearest(name, fieldNames(fields)); f != "" {
		return fmt.Sprintf(" (did you mean %q?)", f)
	}
	return ""
}

// nearest returns the name in names that differs from name only in case
// (distance 0), else the closest one within two edits, else "".
func nearest(name string, names []string) (string, int) {
	best, bestD := "", 3
	for _, f := range names {
		if strings.EqualFold(f, name) {
			return f, 0
		}
		if d := distance(strings.ToLower(name), strings.ToLower(f)); d < bestD {
			best, bestD = f, d
		}
	}
	return best, bestD
}

func fieldNames(fields map[string]reflect.Type) []string {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	return names
}

// suggest returns a "did you mean" hint for a misspelt key: the nearest of
// our keys or of OpenClaw's there (ours on a tie), else the list of ours.
func suggest(name string, fields map[string]reflect.Type, theirs *keyNode) string {
	ours, oursD := nearest(name, fieldNames(fields))
	other, otherD := nearest(name, theirs.names())
	switch {
	case ours != "" && oursD <= otherD:
		return fmt.Sprintf(" (did you mean %q?)", ours)
	case other != "":
		return fmt.Sprintf(" (did you mean OpenClaw's %q?)", other)
	}
	also := ""
	if n := len(theirs.names()); n > 0 {
		also = fmt.Sprintf("; and OpenClaw %s's %d keys here", OpenClawSchemaVersion(), n)
	}
	return fmt.Sprintf(" (known keys here: %s%s)", strings.Join(fieldNames(fields), ", "), also)
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var offsetRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`offset (\d+)`) })

func offsetOf(err error) int {
	if m := offsetRe().FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return -1
}

func lineOf(src []byte, off int) int {
	if off < 0 || off > len(src) {
		return 0
	}
	return 1 + bytes.Count(src[:off], []byte("\n"))
}

// Windows-only entries of the guide's examples: harmless here, and useless.
var windowsCommands = map[string]bool{"taskkill": true, "format": true, "del": true, "reg": true, "netsh": true,
	"sc": true, "services.msc": true, "cmd": true, "cmd /c": true, "powershell": true, "powershell -enc": true,
	"findstr": true, "tasklist": true, "regedit": true}

var windowsPath = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z]:\\|\\`) })

// check runs the named semantic checks on a decoded config.
func check(c *Config, src *positions, knownProfiles []string) []Problem {
	var out []Problem
	add := func(warn bool, path, format string, args ...any) {
		p := Problem{Warning: warn, Path: path, Message: fmt.Sprintf(format, args...)}
		if src != nil {
			// The nearest enclosing key that is in the file.
			for q := path; q != "" && p.Line == 0; q = parent(q) {
				p.Line, p.Col = src.of(q)
			}
		}
		out = append(out, p)
	}
	applyOpenClaw(c, knownProfiles, add)
	// tools.profile
	if !contains(knownProfiles, c.Tools.Profile) {
		add(false, "tools.profile", "unknown profile %q (have %s)", c.Tools.Profile, strings.Join(knownProfiles, ", "))
	}
	// tools.exec
	mode, _ := c.ExecPolicy()
	if c.Tools.Exec.Policy != "" && c.Tools.Exec.Policy != "deny" && c.Tools.Exec.Policy != "allow" {
		add(false, "tools.exec.policy", "want \"deny\" or \"allow\", got %q", c.Tools.Exec.Policy)
	}
	for _, k := range []struct{ path, v string }{{"tools.exec.mode", c.Tools.Exec.Mode}, {"tools.exec.security", c.Tools.Exec.Security}} {
		switch k.v {
		case "", "deny", "allowlist", "full":
		case "ask", "auto":
			add(true, k.path, "%q needs a person to approve; the runner has none, so commands not in allowCommands are denied", k.v)
		default:
			add(false, k.path, "want deny, allowlist, ask, auto or full, got %q", k.v)
		}
	}
	if mode == "allow" && len(c.Tools.Exec.AllowCommands) == 0 {
		add(true, "tools.exec.allowCommands", "allow mode with an empty list: every command is denied")
	}
	switch d := c.Tools.Exec.DynamicCommands; {
	case d != "" && d != policy.DynamicDeny && d != policy.DynamicAudit:
		add(false, "tools.exec.dynamicCommands", "want %q or %q, got %q", policy.DynamicDeny, policy.DynamicAudit, d)
	case d != "" && mode == "deny" && len(nonEmpty(c.Tools.Exec.DenyCommands)) == 0:
		add(true, "tools.exec.dynamicCommands", "has no effect without denyCommands or allowCommands: no command is checked")
	}
	if _, err := policy.NewExec(policy.Options{Mode: mode, Deny: nonEmpty(c.Tools.Exec.DenyCommands),
		Allow: nonEmpty(c.Tools.Exec.AllowCommands)}); err != nil {
		add(false, "tools.exec", "%v", err)
	}
	for _, l := range []struct {
		path string
		list []string
	}{{"tools.exec.denyCommands", c.Tools.Exec.DenyCommands}, {"tools.exec.allowCommands", c.Tools.Exec.AllowCommands}} {
		for i, e := range l.list {
			p := fmt.Sprintf("%s[%d]", l.path, i)
			if strings.TrimSpace(e) == "" {
				add(false, p, "empty command")
			} else if windowsCommands[strings.ToLower(strings.Join(strings.Fields(e), " "))] || windowsCommands[strings.ToLower(strings.Fields(e)[0])] {
				add(true, p, "%q is a Windows command; it does not apply on Linux", e)
			}
		}
	}
	// tools.fs
	for i, p := range c.Tools.FS.AllowedPaths {
		path := fmt.Sprintf("tools.fs.allowedPaths[%d]", i)
		if windowsPath().MatchString(p) {
			add(true, path, "%q is a Windows path; it does not apply on Linux", p)
			continue
		}
		host := ExpandHome(strings.TrimSuffix(p, ":rw"))
		if !filepath.IsAbs(host) {
			add(false, path, "%q is not an absolute path", p)
			continue
		}
		if filepath.Clean(host) == filepath.Clean(ExpandHome(c.Sandbox.Workspace)) {
			continue // the workspace root: bound at /workspace anyway
		}
		if c.WorkspaceOnly() {
			add(true, path, "ignored: tools.fs.workspaceOnly is true (set it to false to bind %s)", p)
		}
		if within(host, "/tmp") {
			add(false, path, "%q: every jail has a private /tmp of its own; put shared files elsewhere (e.g. /var/tmp or /srv)", p)
			continue
		}
		// The one path policy (hostpath), as each call's plan applies it:
		// symlinks resolved, and a bind may neither lie under nor contain
		// a sensitive place (the state directory among them).
		if err := c.PathPolicy().Check(host); err != nil {
			add(false, path, "%v; list it in tools.fs.force to bind it anyway", err)
		}
	}
	for i, p := range c.Tools.FS.DeniedPaths {
		path := fmt.Sprintf("tools.fs.deniedPaths[%d]", i)
		if windowsPath().MatchString(p) {
			add(true, path, "%q is a Windows path; it does not apply on Linux", p)
			continue
		}
		if !filepath.IsAbs(ExpandHome(p)) {
			add(false, path, "%q is not an absolute path", p)
		}
		if _, err := filepath.Match(p, "/"); err != nil {
			add(false, path, "bad glob %q: %v", p, err)
		}
	}
	// gateway
	g := c.Gateway
	if g.Port < 1 || g.Port > 65535 {
		add(false, "gateway.port", "port %d out of range 1-65535", g.Port)
	}
	ip := net.ParseIP(g.Host)
	if ip == nil && g.Host != "localhost" {
		add(false, "gateway.host", "%q is not an IP address (bind to an address, e.g. 127.0.0.1)", g.Host)
	} else if !(g.Host == "localhost" || ip.IsLoopback()) && g.AuthToken == "" && os.Getenv("OPENCLAW_GATEWAY_TOKEN") == "" {
		add(false, "gateway.host", "%s is reachable from other hosts: set gateway.authToken or OPENCLAW_GATEWAY_TOKEN, or bind to 127.0.0.1", g.Host)
	}
	if g.AuthToken != "" {
		if len(g.AuthToken) < 16 {
			add(false, "gateway.authToken", "a token of %d characters is guessable; use at least 16 (openssl rand -hex 32)", len(g.AuthToken))
		}
		add(true, "gateway.authToken", "a token in the config file: prefer OPENCLAW_GATEWAY_TOKEN or the secret store")
	}
	checkClients(c, knownProfiles, add)
	for i, n := range c.Secrets.Names {
		p := fmt.Sprintf("secrets.names[%d]", i)
		switch {
		case !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`).MatchString(n):
			add(false, p, "%q is not a secret name (letters, digits, _)", n)
		case strings.EqualFold(n, "GATEWAY_TOKEN") || strings.EqualFold(n, "SECRETS_KEY") || contains(c.OwnSecrets(), n):
			add(false, p, "%q is one of the gateway's own credentials; it never enters a jail", n)
		}
	}
	for i, h := range g.AllowedHosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, "/:@ ") {
			add(false, fmt.Sprintf("gateway.allowedHosts[%d]", i), "%q is not a host name (a name, * for one label; no scheme or port)", h)
		}
	}
	for i, o := range g.AllowOrigins {
		if !validOrigin(o) {
			add(false, fmt.Sprintf("gateway.allowOrigins[%d]", i), "%q is not an origin (scheme://host[:port], * allowed in the host)", o)
		}
	}
	// channels
	if f := c.Channels.Feishu; f != nil {
		if f.Mode != "" && f.Mode != "allowlist" && f.Mode != "denylist" && f.Mode != "open" {
			add(false, "channels.feishu.mode", "want allowlist, denylist or open, got %q", f.Mode)
		}
		if f.Enabled && f.Mode == "allowlist" && len(f.Allowlist) == 0 {
			add(true, "channels.feishu.allowlist", "allowlist mode with an empty list: every chat is denied")
		}
	}
	if t := c.Channels.Telegram; t != nil && t.Enabled && len(t.AllowedUsers) == 0 && len(t.AllowedChats) == 0 {
		add(true, "channels.telegram", "enabled with no allowedUsers or allowedChats: every call from it is denied")
	}
	// logging
	switch c.Logging.Level {
	case "debug", "info", "warn", "warning", "error":
	default:
		add(false, "logging.level", "want debug, info, warn or error, got %q", c.Logging.Level)
	}
	switch {
	case c.Logging.Format == "journald":
		if c.Logging.File != "" {
			add(false, "logging.file", "with format journald the log goes to stderr, which systemd hands to the journal; remove logging.file")
		}
	case c.Logging.Format == "text" || c.Logging.Format == "json" || c.Logging.Format == "":
	case strings.Contains(c.Logging.Format, "%("):
		add(true, "logging.format", "a Python logging format string; this runner writes \"text\" (or \"json\")")
	default:
		add(false, "logging.format", "want text, json or journald, got %q", c.Logging.Format)
	}
	if c.Logging.BackupCount < 0 {
		add(false, "logging.backupCount", "must not be negative")
	}
	if c.Logging.MaxSize < 0 {
		add(false, "logging.maxSize", "must not be negative")
	} else if c.Logging.MaxSize > 0 && c.Logging.MaxSize < 1<<20 {
		// lumberjack rotates at whole megabytes: a smaller size cannot be
		// honoured, and must not silently become the 100MB default.
		add(false, "logging.maxSize", "at least 1MB (the log rotates at whole megabytes), got %d bytes", int64(c.Logging.MaxSize))
	}
	// secrets
	switch c.Secrets.Provider {
	case "store", "env", "file", "exec":
	case "aws-secrets-manager":
		if c.Secrets.Region == "" {
			add(false, "secrets.region", "aws-secrets-manager needs a region")
		}
	default:
		add(false, "secrets.provider", "want store, env, file, exec or aws-secrets-manager, got %q", c.Secrets.Provider)
	}
	if c.Secrets.Provider == "exec" && len(c.Secrets.Command) == 0 {
		add(false, "secrets.command", "the exec provider needs a command")
	}
	if c.Gateway.Prewarm != nil && (*c.Gateway.Prewarm < 0 || *c.Gateway.Prewarm > 8) {
		add(false, "gateway.prewarm", "want 0 to 8 jails per session, got %d", *c.Gateway.Prewarm)
	}
	for _, p := range c.Gateway.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				add(false, "gateway.trustedProxies", "%q is neither an address nor a CIDR prefix", p)
			}
		}
	}
	// sessions
	switch st := c.Sessions.Store; st.Type {
	case "", "bolt":
	case "redis":
		u, err := url.Parse(st.URL)
		if st.URL == "" || err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			add(false, "sessions.store.url", "want redis://host:port[/db] or rediss://..., got %q", st.URL)
		} else if _, has := u.User.Password(); has {
			add(true, "sessions.store.url", "a password in the URL is a secret in a file: use passwordSecret (the secret store)")
		}
		if st.OwnerTTL < 0 {
			add(false, "sessions.store.ownerTTL", "must not be negative")
		}
	default:
		add(false, "sessions.store.type", "want bolt or redis, got %q", st.Type)
	}
	// alerts
	if w := c.Alerts.Webhook; w != "" && !strings.HasPrefix(w, "https://") && !strings.HasPrefix(w, "http://") {
		add(false, "alerts.webhook", "want an http(s) URL, got %q", w)
	} else if strings.HasPrefix(w, "http://") {
		add(true, "alerts.webhook", "plain http: findings (session ids, commands refused) travel unencrypted")
	}
	if c.Alerts.Window < 0 || c.Alerts.ExecBurst < 0 || c.Alerts.Failures < 0 || c.Alerts.Denials < 0 {
		add(false, "alerts", "thresholds and window must not be negative")
	}
	// sandbox
	if e := c.Sandbox.Engine; e != "" && !contains(Engines, e) {
		add(false, "sandbox.engine", "want one of %v, got %q", Engines, e)
	}
	if e := os.Getenv("OPENCLAW_ENGINE"); e != "" && !contains(Engines, e) {
		add(false, "sandbox.engine", "OPENCLAW_ENGINE: want one of %v, got %q", Engines, e)
	}
	for name, e := range c.Sandbox.Engines {
		if !contains(knownProfiles, name) {
			add(false, "sandbox.engines."+name, "no profile named %q", name)
		} else if !contains(Engines, e) {
			add(false, "sandbox.engines."+name, "want one of %v, got %q", Engines, e)
		}
	}
	if n := c.Sandbox.Network; n.MaxConnections < 0 || n.MaxBytes < 0 || n.IdleTimeout < 0 {
		add(false, "sandbox.network", "limits must not be negative")
	}
	for name, n := range c.Sandbox.Networks {
		if !contains(knownProfiles, name) {
			add(false, "sandbox.networks."+name, "no profile named %q", name)
		} else if n != "none" && n != "allowlist" {
			add(false, "sandbox.networks."+name, "want none or allowlist, got %q", n)
		}
		if n == "allowlist" && len(c.Sandbox.Network.Allow) == 0 {
			add(true, "sandbox.network.allow", "profile %s has network allowlist, but nothing is allowed: its jails reach nothing", name)
		}
	}
	for _, k := range []struct {
		path, v string
		ok      []string
	}{
		{"sandbox.staging", c.Sandbox.Staging, []string{"", "auto", "on", "off"}},
		{"sandbox.review", c.Sandbox.Review, []string{"", "commit", "hold"}},
		{"sandbox.onAbort", c.Sandbox.OnAbort, []string{"", "discard", "commit"}},
	} {
		if !contains(k.ok, k.v) {
			add(false, k.path, "want one of %s, got %q", strings.Join(k.ok[1:], ", "), k.v)
		}
	}
	if c.Sandbox.UndoRetention.Time < 0 || c.Sandbox.UndoRetention.Size < 0 {
		add(false, "sandbox.undoRetention", "time and size must not be negative")
	}
	switch c.Sandbox.AuditSync {
	case "", "before-result", "before-jail":
	default:
		add(false, "sandbox.auditSync", "want before-result or before-jail, got %q", c.Sandbox.AuditSync)
	}
	if c.Sandbox.UID < 0 || c.Sandbox.GID < 0 {
		add(false, "sandbox.uid", "ids must not be negative")
	}
	for name, l := range c.Sandbox.Limits {
		if !contains(knownProfiles, name) {
			add(false, "sandbox.limits."+name, "no profile named %q", name)
		}
		_ = l
	}
	d := c.Agents.Defaults.Sandbox.Docker
	if d.Network != "" && d.Network != "none" {
		add(false, "agents.defaults.sandbox.docker.network", "only \"none\" is supported: jails have no network")
	}
	// accepted, not enforced
	if c.SystemPrompt != "" {
		add(true, "systemPrompt", "accepted but not enforced: the runner runs no model (the jail is what enforces)")
	}
	if c.Models.Timeout != nil {
		add(true, "models.timeout", "accepted but not enforced: the runner runs no model")
	}
	return out
}

func validOrigin(o string) bool {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") || rest == "" || strings.ContainsAny(rest, "/?#") {
		return false
	}
	host := rest
	if h, port, err := net.SplitHostPort(rest); err == nil {
		if _, err := strconv.Atoi(port); err != nil && port != "*" {
			return false
		}
		host = h
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".*-[]:", r)) {
			return false
		}
	}
	return host != ""
}

// within reports whether p is dir or below it.
func within(p, dir string) bool { return hostpath.Within(p, dir) }

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var clientName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`) })

// checkClients validates gateway.auth.clients.
func checkClients(c *Config, knownProfiles []string, add func(warn bool, path, format string, args ...any)) {
	seen := map[string]bool{}
	if len(c.Gateway.Auth.Clients) > 0 && !c.SessionWorkspaces() {
		add(true, "gateway.auth.clients", "sandbox.perSession is false: every client's sessions share one workspace, so a client reaches the files of the others")
	}
	for i, cl := range c.Gateway.Auth.Clients {
		p := fmt.Sprintf("gateway.auth.clients[%d]", i)
		if !clientName().MatchString(cl.Name) {
			add(false, p+".name", "%q: letters, digits, . _ - only, at most 64, starting with a letter or digit", cl.Name)
		}
		if cl.Name == "operator" {
			add(false, p+".name", "\"operator\" names the gateway's own token (X-OpenClaw-Client)")
		}
		if seen[cl.Name] {
			add(false, p+".name", "client %q is listed twice", cl.Name)
		}
		seen[cl.Name] = true
		n := 0
		for _, v := range []string{cl.Token, cl.TokenFile, cl.TokenSecret} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			add(false, p, "give exactly one of token, tokenFile, tokenSecret")
		}
		if cl.Token != "" {
			if len(cl.Token) < 16 {
				add(false, p+".token", "a token of %d characters is guessable; use at least 16 (openssl rand -hex 32)", len(cl.Token))
			}
			add(true, p+".token", "a token in the config file: prefer tokenFile or tokenSecret")
		}
		if cl.TokenFile != "" && !filepath.IsAbs(ExpandHome(cl.TokenFile)) {
			add(false, p+".tokenFile", "%q is not an absolute path", cl.TokenFile)
		}
		switch cl.Sessions {
		case "", "own", "any":
			if cl.SessionPrefix != "" {
				add(false, p+".sessionPrefix", "only with sessions: \"prefix\"")
			}
		case "prefix":
			if !clientName().MatchString(strings.ReplaceAll(cl.SessionPrefix, ":", ".")) {
				add(false, p+".sessionPrefix", "%q: a session id's beginning (letters, digits, . _ : -), at most 64", cl.SessionPrefix)
			}
		default:
			add(false, p+".sessions", "want own, prefix or any, got %q", cl.Sessions)
		}
		for j, name := range cl.Profiles {
			if !contains(knownProfiles, name) {
				add(false, fmt.Sprintf("%s.profiles[%d]", p, j), "unknown profile %q", name)
			}
		}
	}
}
