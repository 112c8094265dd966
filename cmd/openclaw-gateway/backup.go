package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openclaw-run/openclaw-run/backup"
	"github.com/openclaw-run/openclaw-run/config"
	"golang.org/x/sys/unix"
)

// The backup and restore commands live in this binary because a
// consistent copy of the session store needs bbolt, or the running
// gateway over HTTP; "openclaw-run backup|restore" lands here.

// backupTrees: the state dir (config, encrypted secrets and key, audit
// logs, session store, profiles, tokens, logs, and the workspaces when
// they live there), plus the workspace root and the config file when they
// live elsewhere.
func backupTrees(cfgFlag string, cfg *config.Config) []backup.Tree {
	state := filepath.Clean(config.StateDir())
	ws := filepath.Clean(config.ExpandHome(cfg.Sandbox.Workspace))
	trees := []backup.Tree{{Name: "state", Dir: state,
		Skip: func(rel string) bool { return rel == "gateway.pid" },
		Special: map[string]func(io.Writer) error{
			"sessions.db": func(w io.Writer) error { return snapshotSessions(cfg, filepath.Join(state, "sessions.db"), w) },
		}}}
	if !within(ws, state) {
		if _, err := os.Stat(ws); err == nil {
			trees = append(trees, backup.Tree{Name: "workspace", Dir: ws})
		}
	}
	if p := config.Path(cfgFlag); !within(p, state) {
		if _, err := os.Stat(p); err == nil {
			trees = append(trees, backup.Tree{Name: "config", Dir: p})
		}
	}
	return trees
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// snapshotSessions copies the session store consistently: through the
// running gateway (which holds bbolt's lock), else byte for byte under a
// shared flock, which keeps a gateway from opening it meanwhile (bbolt
// takes an exclusive one).
func snapshotSessions(cfg *config.Config, path string, w io.Writer) error {
	if _, addr, ok := runningAt(); ok && addr != "" {
		tok, err := token(cfg, false)
		if err != nil {
			return err
		}
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/admin/backup/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			return fmt.Errorf("session store from the running gateway at %s: %w", addr, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return fmt.Errorf("session store from the running gateway at %s: %s: %s", addr, resp.Status, b)
		}
		_, err = io.Copy(w, resp.Body) // Content-Length: a short copy is an error
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return fmt.Errorf("a process without a pid file holds the session store %s; stop it first", path)
	}
	_, err = io.Copy(w, f)
	return err
}

func cmdBackup(args []string, stdout, stderr io.Writer) int {
	fs := flags("backup", "[--dest DIR] [--keep-days 30] [--config F]", stderr)
	dest := fs.String("dest", config.BackupDir(), "directory of the dated archives ($OPENCLAW_BACKUP_DIR)")
	keepDays := fs.Int("keep-days", 30, "remove archives in --dest older than this many days (0: keep all)")
	cfgFile := fs.String("config", "", "config file")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return fs.Fail("unexpected argument %q", fs.Arg(0))
	}
	_, cfg, err := loadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	trees := backupTrees(*cfgFile, cfg)
	d, _ := filepath.Abs(*dest)
	for _, t := range trees {
		if within(d, t.Dir) {
			fmt.Fprintf(stderr, "backup: --dest %s is inside %s, which it backs up; choose a directory outside it\n", d, t.Dir)
			return 2
		}
	}
	now := time.Now()
	archive, m, err := backup.Create(d, trees, now)
	if err != nil {
		fmt.Fprintf(stderr, "backup failed, nothing written: %v\n", err)
		return 1
	}
	var bytes int64
	for _, f := range m.Files {
		bytes += f.Size
	}
	fmt.Fprintf(stdout, "backup: %s (%d entries, %d bytes of files", archive, len(m.Files), bytes)
	for name, dir := range m.Trees {
		fmt.Fprintf(stdout, "; %s=%s", name, dir)
	}
	fmt.Fprintln(stdout, ")")
	if *keepDays > 0 {
		removed, err := backup.Prune(d, time.Duration(*keepDays)*24*time.Hour, now)
		for _, r := range removed {
			fmt.Fprintf(stdout, "pruned %s (older than %d days)\n", r, *keepDays)
		}
		if err != nil {
			fmt.Fprintf(stderr, "prune: %v\n", err)
			return 1
		}
	}
	return 0
}

func cmdRestore(args []string, stdout, stderr io.Writer) int {
	fs := flags("restore", "ARCHIVE [--verify] [--config F]", stderr)
	cfgFile := fs.String("config", "", "config file (where a backed-up config outside the state dir goes back)")
	verifyOnly := fs.Bool("verify", false, "only check the archive against its manifest")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.Fail("name one archive")
	}
	archive := fs.Arg(0)
	if *verifyOnly {
		m, err := backup.Verify(archive)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "OK %s: %d entries match the manifest (created %s on %s)\n", archive, len(m.Files), m.Created.Format(time.RFC3339), m.Host)
		return 0
	}
	state := filepath.Clean(config.StateDir())
	if err := gatewayStopped(state); err != nil {
		fmt.Fprintln(stderr, "restore:", err)
		return 1
	}
	m, err := backup.Verify(archive)
	if err != nil {
		fmt.Fprintf(stderr, "restore: refused, nothing changed: %v\n", err)
		return 1
	}
	// Trees go back where this host keeps them now: the state dir, and
	// for a workspace or config kept elsewhere, where they were read from
	// unless this host's config says otherwise.
	targets := map[string]string{"state": state}
	if dir, ok := m.Trees["workspace"]; ok {
		targets["workspace"] = dir
	}
	if p, ok := m.Trees["config"]; ok {
		targets["config"] = p
		if *cfgFile != "" {
			targets["config"] = *cfgFile
		}
	}
	kept, err := backup.Restore(archive, targets, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s (%d entries) into", archive, len(m.Files))
	for name, dir := range targets {
		fmt.Fprintf(stdout, " %s=%s", name, dir)
	}
	fmt.Fprintln(stdout)
	for _, k := range kept {
		fmt.Fprintf(stdout, "the replaced copy is kept at %s (remove it when satisfied)\n", k)
	}
	fmt.Fprintln(stdout, "check it: openclaw-run audit verify; then start the gateway")
	return 0
}

// gatewayStopped refuses a restore while a gateway uses the state dir:
// by its pid file, and by bbolt's lock on the session store, which also
// catches a gateway whose pid file was removed.
func gatewayStopped(state string) error {
	if pid, ok := running(); ok {
		return fmt.Errorf("the gateway is running (pid %d): stop it first (openclaw-run gateway stop)", pid)
	}
	f, err := os.Open(filepath.Join(state, "sessions.db"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return fmt.Errorf("a process holds the session store %s/sessions.db (a gateway without a pid file?): stop it first", state)
	}
	return nil
}
