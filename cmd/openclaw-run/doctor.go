package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openclaw-run/openclaw-run/audit"
	"github.com/openclaw-run/openclaw-run/cgroups"
	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/internal/setup"
	"github.com/openclaw-run/openclaw-run/profiles"
	"github.com/openclaw-run/openclaw-run/runcjail"
	"github.com/openclaw-run/openclaw-run/runner"
	"golang.org/x/sys/unix"
)

// finding is one line of the doctor's table.
type finding struct {
	Area   string `json:"area"`
	Check  string `json:"check"`
	Status string `json:"status"` // PASS, WARN, FAIL
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// cmdDoctor checks the kernel features the jail needs, the modes of the
// state files, and the hardening guide's security checklist against the
// effective config. It exits 1 when anything FAILs.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", stderr)
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	cfgFile := fs.String("config", "", "config file")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	var out []finding
	add := func(area, check, status, detail, fix string) {
		out = append(out, finding{area, check, status, detail, fix})
	}
	add("build", "version", "PASS", stamp().String("openclaw-run"), "")
	kernelChecks(add)
	known, err := setup.Profiles()
	if err != nil {
		add("config", "profiles", "FAIL", err.Error(), "fix or remove the custom profile named")
	}
	path := config.Path(*cfgFile)
	res, err := config.LoadFlag(*cfgFile, keys(known))
	var cfg *config.Config
	switch {
	case err != nil:
		add("config", "load", "FAIL", err.Error(), "")
	case res.Err() != nil:
		add("config", "validate", "FAIL", res.Err().Error(), "openclaw-run config validate")
	default:
		cfg = res.Config
		src := path
		if res.File == "" {
			src += " (absent: secure defaults)"
		}
		add("config", "validate", "PASS", src, "")
	}
	if res != nil && res.File != "" && config.OpenClawReads(res.File) {
		data, _ := os.ReadFile(res.File)
		if refused := config.OpenClawRefuses(data); len(refused) > 0 {
			var keys []string
			for _, p := range refused {
				keys = append(keys, p.Path)
			}
			add("config", "shared with OpenClaw", "WARN", fmt.Sprintf("%s is OpenClaw's config file too, and OpenClaw %s refuses %s: where OpenClaw runs, it would not start",
				res.File, config.OpenClawSchemaVersion(), strings.Join(keys, ", ")),
				"move openclaw-run's own keys to a file of its own and set OPENCLAW_RUN_CONFIG to it (docs/openclaw.md)")
		} else {
			add("config", "shared with OpenClaw", "PASS", "only keys OpenClaw accepts", "")
		}
	}
	fileChecks(add, path)
	if cfg != nil {
		engineChecks(add, cfg, known)
		checklist(add, cfg, path)
	}
	fails := 0
	for _, f := range out {
		if f.Status == "FAIL" {
			fails++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		for _, f := range out {
			fmt.Fprintf(stdout, "%-4s  %-9s %-36s %s\n", f.Status, f.Area, f.Check, f.Detail)
			if f.Fix != "" && f.Status != "PASS" {
				fmt.Fprintf(stdout, "      %-9s %-36s fix: %s\n", "", "", f.Fix)
			}
		}
	}
	if fails > 0 {
		return 1
	}
	return 0
}

// engineChecks reports the jail engine of each profile, and for the runc
// engine whether its helper is there and this runner may use it.
func engineChecks(add func(area, check, status, detail, fix string), c *config.Config, known map[string]*profiles.Profile) {
	byEngine := map[string][]string{}
	for _, name := range profiles.Names(known) {
		e := c.EngineFor(name)
		byEngine[e] = append(byEngine[e], name)
	}
	for _, e := range config.Engines {
		names := byEngine[e]
		if len(names) == 0 {
			continue
		}
		detail := e + " for " + strings.Join(names, ", ")
		if e != runner.EngineRunc {
			add("engine", "jail engine", "PASS", detail, "")
			continue
		}
		helper, err := runcjail.Helper("")
		switch {
		case err != nil:
			add("engine", "jail engine", "FAIL", detail+": "+err.Error(), "make build (builds bin/openclaw-run-runc), or set sandbox.engine to native")
		case os.Geteuid() != 0:
			add("engine", "jail engine", "FAIL", detail+": the runc engine needs root", "run as root, or use the native engine")
		default:
			add("engine", "jail engine", "PASS", detail+" (helper "+helper+")", "")
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func kernelChecks(add func(area, check, status, detail, fix string)) {
	var u unix.Utsname
	unix.Uname(&u)
	rel := unix.ByteSliceToString(u.Release[:])
	var maj, min int
	fmt.Sscanf(rel, "%d.%d", &maj, &min)
	if maj > 5 || maj == 5 && min >= 12 {
		add("kernel", "version >= 5.12", "PASS", rel, "")
	} else {
		add("kernel", "version >= 5.12", "FAIL", rel+": clone3, openat2, mount_setattr and close_range are needed", "upgrade the kernel")
	}
	switch n := readTrim("/proc/sys/user/max_user_namespaces"); {
	case n == "" || n == "0":
		add("kernel", "user namespaces", "FAIL", "user.max_user_namespaces = "+n, "sysctl -w user.max_user_namespaces=65536")
	default:
		add("kernel", "user namespaces", "PASS", "user.max_user_namespaces = "+n, "")
	}
	if v := readTrim("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); v == "1" {
		st := "WARN"
		if os.Geteuid() != 0 {
			st = "FAIL"
		}
		add("kernel", "AppArmor userns restriction", st, "kernel.apparmor_restrict_unprivileged_userns = 1 (blocks rootless mode)",
			"run as root, or add an AppArmor profile allowing userns for openclaw-run")
	}
	if v := readTrim("/proc/sys/kernel/unprivileged_userns_clone"); v == "0" && os.Geteuid() != 0 {
		add("kernel", "unprivileged userns", "FAIL", "kernel.unprivileged_userns_clone = 0", "sysctl -w kernel.unprivileged_userns_clone=1, or run as root")
	}
	if a := readTrim("/proc/sys/kernel/seccomp/actions_avail"); strings.Contains(a, "user_notif") {
		add("kernel", "seccomp (filter, user notification)", "PASS", a, "")
	} else {
		add("kernel", "seccomp (filter, user notification)", "FAIL", "actions: "+a, "a kernel with CONFIG_SECCOMP_FILTER (5.0+)")
	}
	mode := cgroups.Mode()
	if bases, err := cgroups.Bases(); err != nil {
		add("kernel", "cgroups ("+mode+")", "FAIL", err.Error(), "delegate memory, cpu and pids to the runner (systemd Delegate=yes), or run as root")
	} else {
		add("kernel", "cgroups ("+mode+")", "PASS", "calls go under "+strings.Join(bases, ", "), "")
	}
	if abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */); e == 0 {
		add("kernel", "Landlock", "PASS", "ABI "+strconv.Itoa(int(abi)), "")
	} else {
		add("kernel", "Landlock", "WARN", "not available: "+e.Error()+" (an optional extra layer)", "")
	}
	if strings.Contains(readTrim("/proc/filesystems"), "overlay") {
		add("kernel", "overlayfs", "PASS", "available", "")
	} else {
		add("kernel", "overlayfs", "WARN", "not in /proc/filesystems (optional)", "modprobe overlay")
	}
	if fd, err := unix.PidfdOpen(os.Getpid(), 0); err == nil {
		unix.Close(fd)
		add("kernel", "pidfd", "PASS", "pidfd_open works", "")
	} else {
		add("kernel", "pidfd", "FAIL", err.Error(), "a 5.3+ kernel")
	}
}

// fileChecks: the state dir and what it holds must be the owner's alone.
func fileChecks(add func(area, check, status, detail, fix string), cfgPath string) {
	state := config.StateDir()
	check := func(p string, max os.FileMode, what string) {
		st, err := os.Stat(p)
		if err != nil {
			return
		}
		if perm := st.Mode().Perm(); perm&^max != 0 {
			add("files", what, "FAIL", fmt.Sprintf("%s is %o", p, perm), fmt.Sprintf("chmod %o %s", max, p))
		} else {
			add("files", what, "PASS", fmt.Sprintf("%s is %o", p, perm), "")
		}
	}
	check(state, 0o700, "state dir 0700")
	check(cfgPath, 0o600, "config file 0600")
	check(filepath.Join(state, "gateway.token"), 0o600, "gateway token 0600")
	check(setup.AuditPath(""), 0o600, "audit log 0600")
	check(filepath.Join(state, "sessions.db"), 0o600, "session store 0600")
}

// keyInFile finds API-key-like strings in a config file (the guide's
// "wrong way").
var keyInFile = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`sk-[A-Za-z0-9_\-]{12,}|sk-ant-[A-Za-z0-9_\-]{12,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|xox[baprs]-[A-Za-z0-9\-]{10,}`)
})

// checklist is the guide's section 8 against the effective config.
func checklist(add func(area, check, status, detail, fix string), c *config.Config, cfgPath string) {
	ip := net.ParseIP(c.Gateway.Host)
	if c.Gateway.Host == "localhost" || ip != nil && ip.IsLoopback() {
		add("checklist", "gateway on loopback", "PASS", c.Gateway.Host, "")
	} else {
		add("checklist", "gateway on loopback", "WARN", c.Gateway.Host+" is reachable from other hosts (token required)",
			"bind to 127.0.0.1 and put a TLS reverse proxy in front")
	}
	switch c.Tools.Profile {
	case "minimal", "coding":
		add("checklist", "profile coding or minimal", "PASS", c.Tools.Profile, "")
	default:
		add("checklist", "profile coding or minimal", "WARN", c.Tools.Profile, `set "tools.profile": "coding"`)
	}
	if c.WorkspaceOnly() {
		add("checklist", "workspaceOnly", "PASS", "only the workspace is visible", "")
	} else {
		add("checklist", "workspaceOnly", "WARN", "allowedPaths are visible to jails", `"tools.fs.workspaceOnly": true`)
	}
	mode, disabled := c.ExecPolicy()
	switch {
	case disabled || mode == "allow":
		add("checklist", "exec command policy", "PASS", "allow list (or exec disabled)", "")
	case len(c.Tools.Exec.DenyCommands) > 0:
		add("checklist", "exec command policy", "PASS", fmt.Sprintf("%d denyCommands", len(c.Tools.Exec.DenyCommands)), "")
	default:
		add("checklist", "exec command policy", "WARN", "no denyCommands (the jail is the boundary; the list is an audit signal)",
			`"tools.exec.denyCommands": ["rm", "curl", "wget", "pip install", "npm install"]`)
	}
	if b, err := os.ReadFile(cfgPath); err == nil && keyInFile().Match(b) {
		add("checklist", "no API keys in files", "FAIL", cfgPath+" contains a key-like string",
			"move it to the secret store or an OPENCLAW_<NAME> environment variable")
	} else {
		add("checklist", "no API keys in files", "PASS", "none found in the config", "")
	}
	if c.Gateway.AuthToken != "" {
		add("checklist", "token not in the config", "WARN", "gateway.authToken is in the file", "use OPENCLAW_GATEWAY_TOKEN or the generated token file")
	}
	open := false
	if f := c.Channels.Feishu; f != nil && f.Enabled && f.Mode == "open" {
		open = true
	}
	if t := c.Channels.Telegram; t != nil && t.Enabled && len(t.AllowedUsers) == 0 && len(t.AllowedChats) == 0 {
		open = true
	}
	if open {
		add("checklist", "channel allowlists", "WARN", "an enabled channel has no allowlist", "list the chats and users allowed")
	} else {
		add("checklist", "channel allowlists", "PASS", "no open channel", "")
	}
	// The guide wants info or debug: below info, refusals and requests
	// are not logged.
	switch lv := strings.ToLower(c.Logging.Level); lv {
	case "", "info", "debug":
		add("checklist", "log level info or debug", "PASS", cmp.Or(lv, "info"), "")
	default:
		add("checklist", "log level info or debug", "WARN", lv+": requests and refusals are not logged", `"logging.level": "info"`)
	}
	files := audit.Files(setup.AuditPath(""))
	var torn *audit.Torn
	if len(files) == 0 {
		add("checklist", "audit log", "PASS", "on (no record yet)", "")
	} else if n, err := audit.VerifyFiles(files); errors.As(err, &torn) {
		add("checklist", "audit log verified now", "WARN", err.Error()+" (a crash or a full disk; the chain before it is intact)", "openclaw-run audit repair")
	} else if err != nil {
		add("checklist", "audit log verified now", "FAIL", err.Error(), "investigate: the audit chain is broken")
	} else {
		add("checklist", "audit log verified now", "PASS", fmt.Sprintf("%d records, chain intact", n), "")
	}
	backupCheck(add, config.BackupDir(), time.Now())
	stagingCheck(add, c)
	if c.Alerts.Webhook != "" {
		add("checklist", "alerts configured", "PASS", "alerts.webhook is set", "")
	} else {
		add("checklist", "alerts configured", "WARN", "no alerts.webhook: findings of audit alerts go nowhere unless a cron job mails them",
			`set "alerts.webhook" and run openclaw-run audit alerts --cursor FILE from cron`)
	}
}

// stagingCheck reports what the staging stores (".openclaw-run" in the
// workspace root and in each session's workspace below it: the undo
// pre-images and held changes) take on disk, read without opening them.
// WARN when one is past sandbox.undoRetention.size by more than a tenth:
// pruning happens as calls commit, so an idle workspace keeps its size.
func stagingCheck(add func(area, check, status, detail, fix string), c *config.Config) {
	root := config.ExpandHome(c.Sandbox.Workspace)
	limit := int64(c.Sandbox.UndoRetention.Size)
	if limit <= 0 {
		limit = 1 << 30
	}
	dirs := []string{filepath.Join(root, ".openclaw-run")}
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			if e.IsDir() && e.Name() != ".openclaw-run" {
				dirs = append(dirs, filepath.Join(root, e.Name(), ".openclaw-run"))
			}
		}
	}
	stores, total, over := 0, int64(0), []string{}
	for _, d := range dirs {
		var n int64
		err := filepath.WalkDir(d, func(_ string, e os.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				if fi, err := e.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		if _, serr := os.Stat(d); serr != nil || err != nil {
			continue
		}
		stores++
		total += n
		if n > limit+limit/10 {
			over = append(over, fmt.Sprintf("%s (%.0f MB)", d, float64(n)/(1<<20)))
		}
	}
	detail := fmt.Sprintf("%d store(s) under %s, %.1f MB", stores, root, float64(total)/(1<<20))
	if len(over) > 0 {
		add("checklist", "staging store usage", "WARN", detail+"; past sandbox.undoRetention.size: "+strings.Join(over, ", "),
			"openclaw-run changes list --workspace W shows what they hold; the next committed call prunes to the retention")
		return
	}
	add("checklist", "staging store usage", "PASS", detail, "")
}

// backupCheck: the guide's running checklist wants daily backups. WARN
// when dir holds none, or the newest is older than two days.
func backupCheck(add func(area, check, status, detail, fix string), dir string, now time.Time) {
	fix := "openclaw-run backup --dest " + dir + " (daily, from cron or a systemd timer; docs/operations.md)"
	matches, _ := filepath.Glob(filepath.Join(dir, "openclaw-backup-*.tar.gz"))
	var newest time.Time
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	switch {
	case newest.IsZero():
		add("checklist", "backups present and recent", "WARN", "no backup in "+dir, fix)
	case now.Sub(newest) > 48*time.Hour:
		add("checklist", "backups present and recent", "WARN", fmt.Sprintf("the newest backup in %s is %s old", dir, now.Sub(newest).Round(time.Hour)), fix)
	default:
		add("checklist", "backups present and recent", "PASS", fmt.Sprintf("%d in %s, the newest %s old", len(matches), dir, now.Sub(newest).Round(time.Minute)), "")
	}
}
