//go:build integration

package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// treeDigest maps every path below dir to its type, mode, owner and
// content hash (or link target).
func treeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		st := info.Sys().(*syscall.Stat_t)
		v := fmt.Sprintf("%s %d:%d", info.Mode(), st.Uid, st.Gid)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			v += " -> " + l
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			v += " " + hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = v
		return nil
	})
	return out
}

func sameTree(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	for p, v := range want {
		if got[p] != v {
			t.Errorf("%s/%s: after restore %q, before %q", what, p, got[p], v)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s/%s: restored but did not exist", what, p)
		}
	}
}

// TestBackupRestoreRoundTrip is the guide's section 6: a backup taken
// while the gateway serves (the session store copied through it), restore
// refused while it runs, then backup -> wipe -> restore byte for byte,
// with the audit chain, sessions and secrets intact.
func TestBackupRestoreRoundTrip(t *testing.T) {
	workspace(t)
	root := t.TempDir()
	state, ws, dest := filepath.Join(root, "state"), filepath.Join(root, "workspaces"), filepath.Join(root, "backups")
	os.MkdirAll(state, 0o700)
	os.Mkdir(ws, 0o755) // a configured workspace root must exist (docs/config.md)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	os.WriteFile(filepath.Join(state, "openclaw.json"), []byte(fmt.Sprintf(`{"gateway": {"port": %d}, "sandbox": {"workspace": %q}}`, port, ws)), 0o600)
	env := append(os.Environ(), "OPENCLAW_STATE_DIR="+state, "OPENCLAW_GATEWAY_TOKEN=", "OPENCLAW_BACKUP_DIR="+dest)
	cli := func(stdin string, args ...string) run { return runEnv(env, stdin, args...) }
	const secret = "sk-backup-0123456789abcdef"
	if r := cli(secret+"\n", "secrets", "set", "MODEL_KEY", "-"); r.code != 0 {
		t.Fatalf("secrets set: %+v", r)
	}
	if r := cli("", "gateway", "start"); r.code != 0 {
		t.Fatalf("gateway start: %+v", r)
	}
	defer cli("", "gateway", "stop")
	if r := cli("", "call", "--session", "keep", "exec", "--command", "mkdir -p d && printf 'data\\n' > d/f && ln -s d/f link && echo ok"); r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("call: %+v", r)
	}
	hot := cli("", "backup")
	if hot.code != 0 || !strings.Contains(hot.stdout, "workspace="+ws) {
		t.Fatalf("backup while the gateway runs: %+v", hot)
	}
	hotArchive := strings.Fields(strings.TrimPrefix(hot.stdout, "backup: "))[0]
	if r := cli("", "restore", hotArchive); r.code == 0 || !strings.Contains(r.stderr, "gateway is running") {
		t.Errorf("restore while the gateway runs: %+v", r)
	}
	if r := cli("", "gateway", "stop"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}

	// Cold: every file byte for byte.
	beforeState, beforeWS := treeDigest(t, state), treeDigest(t, ws)
	cold := cli("", "backup", "--keep-days", "0")
	if cold.code != 0 {
		t.Fatalf("backup: %+v", cold)
	}
	coldArchive := strings.Fields(strings.TrimPrefix(cold.stdout, "backup: "))[0]
	if r := cli("", "restore", "--verify", coldArchive); r.code != 0 {
		t.Fatalf("verify: %+v", r)
	}
	if b, _ := os.ReadFile(coldArchive); bytes.Contains(b, []byte(secret)) {
		t.Error("the secret's value is in the archive in clear") // gzip of a clear value would not show; the store is age-encrypted anyway
	}
	os.RemoveAll(state)
	os.RemoveAll(ws)
	r := cli("", "restore", coldArchive)
	if r.code != 0 {
		t.Fatalf("restore: %+v", r)
	}
	sameTree(t, "state", beforeState, treeDigest(t, state))
	sameTree(t, "workspaces", beforeWS, treeDigest(t, ws))
	if r := cli("", "audit", "verify"); r.code != 0 || !strings.HasPrefix(r.stdout, "OK") {
		t.Errorf("audit verify after restore: %+v", r)
	}
	if r := cli("", "secrets", "get", "MODEL_KEY"); strings.TrimSpace(r.stdout) != secret {
		t.Errorf("secret after restore: %+v", r)
	}

	// The hot archive restores too, replacing what is there (kept aside).
	os.WriteFile(filepath.Join(ws, "keep", "d", "f"), []byte("changed\n"), 0o644)
	r = cli("", "restore", hotArchive)
	if r.code != 0 || !strings.Contains(r.stdout, ".pre-restore-") {
		t.Fatalf("restore of the hot archive: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "keep", "d", "f")); string(b) != "data\n" {
		t.Errorf("restored workspace file: %q", b)
	}
	if r := cli("", "sessions", "list"); !strings.Contains(r.stdout, "keep") {
		t.Errorf("sessions after restoring the hot archive: %+v", r)
	}
	if r := cli("", "audit", "verify"); r.code != 0 {
		t.Errorf("audit verify after the hot restore: %+v", r)
	}
	// A damaged archive is refused and changes nothing.
	b, _ := os.ReadFile(coldArchive)
	b[len(b)/2] ^= 0xff
	bad := filepath.Join(root, "bad.tar.gz")
	os.WriteFile(bad, b, 0o600)
	before := treeDigest(t, state)
	if r := cli("", "restore", bad); r.code == 0 {
		t.Errorf("a damaged archive was restored: %+v", r)
	}
	sameTree(t, "state after a refused restore", before, treeDigest(t, state))
	// --dest inside what it backs up is refused.
	if r := cli("", "backup", "--dest", filepath.Join(state, "b")); r.code != 2 {
		t.Errorf("backup into the state dir: %+v", r)
	}
}
