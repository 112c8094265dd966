package backup

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// snapshot maps every path below dir to "mode type content/target".
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, _ := d.Info()
		v := info.Mode().String()
		if os.Geteuid() == 0 {
			st := info.Sys().(*syscall.Stat_t)
			v += fmt.Sprintf(" %d:%d", st.Uid, st.Gid)
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			v += " -> " + l
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			v += " " + string(b)
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fill(t *testing.T, dir string) {
	t.Helper()
	for p, c := range map[string]string{
		"openclaw.json":        `{"tools":{"profile":"coding"}}`,
		"audit/audit.jsonl":    "line1\nline2\n",
		"workspace/s1/a.txt":   "alpha",
		"workspace/s1/bin.dat": string([]byte{0, 1, 2, 255}),
		"secrets.age":          "age-encrypted",
		"gateway.pid":          "123",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o700)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "workspace/s1/a.txt"), 0o640)
	os.MkdirAll(filepath.Join(dir, "workspace/empty"), 0o750)
	os.Symlink("/etc/passwd", filepath.Join(dir, "workspace/s1/link"))
	os.Lchown(filepath.Join(dir, "workspace/s1/a.txt"), 1234, 1235) // as root: a workspace owner's file
}

func TestRoundTrip(t *testing.T) {
	root := t.TempDir()
	state, ws, dest := filepath.Join(root, "state"), filepath.Join(root, "ws"), filepath.Join(root, "backups")
	fill(t, state)
	fill(t, ws)
	trees := []Tree{
		{Name: "state", Dir: state, Skip: func(rel string) bool { return rel == "gateway.pid" },
			Special: map[string]func(io.Writer) error{"secrets.age": func(w io.Writer) error {
				_, err := io.WriteString(w, "age-encrypted") // same bytes, through the hook
				return err
			}}},
		{Name: "workspace", Dir: ws},
	}
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	archive, m, err := Create(dest, trees, now)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(archive) != "openclaw-backup-2026-11-25_02-00-00.tar.gz" || len(m.Files) == 0 {
		t.Fatalf("archive %s, %d files", archive, len(m.Files))
	}
	if _, err := Verify(archive); err != nil {
		t.Fatal(err)
	}
	wantState, wantWS := snapshot(t, state), snapshot(t, ws)
	delete(wantState, "gateway.pid")

	// Wipe, then restore into the same places.
	os.RemoveAll(state)
	os.WriteFile(filepath.Join(ws, "workspace/s1/a.txt"), []byte("changed"), 0o600)
	kept, err := Restore(archive, map[string]string{"state": state, "workspace": ws}, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || !strings.HasPrefix(kept[0], ws+".pre-restore-") {
		t.Fatalf("kept %v, want only the replaced workspace", kept)
	}
	for name, pair := range map[string][2]map[string]string{"state": {wantState, snapshot(t, state)}, "workspace": {wantWS, snapshot(t, ws)}} {
		want, got := pair[0], pair[1]
		for p, v := range want {
			if p != "." && got[p] != v {
				t.Errorf("%s/%s: restored %q, want %q", name, p, got[p], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: restored %d paths, want %d", name, len(got), len(want))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(kept[0], "workspace/s1/a.txt")); string(b) != "changed" {
		t.Errorf("the replaced tree was not kept: %q", b)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restore-") {
			t.Errorf("staging directory %s left behind", e.Name())
		}
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	root := t.TempDir()
	fill(t, filepath.Join(root, "state"))
	archive, _, err := Create(filepath.Join(root, "b"), []Tree{{Name: "state", Dir: filepath.Join(root, "state")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the archive with one file's content changed but the
	// manifest kept: a hash mismatch, not a gzip error.
	tampered := filepath.Join(root, "tampered.tar.gz")
	rewrite(t, archive, tampered, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if strings.HasSuffix(h.Name, "a.txt") {
			return h, []byte("ALPHA")
		}
		return h, b
	})
	if _, err := Verify(tampered); err == nil || !strings.Contains(err.Error(), "does not match the manifest") {
		t.Fatalf("tampered archive: %v", err)
	}
	target := filepath.Join(root, "target")
	os.Mkdir(target, 0o700)
	os.WriteFile(filepath.Join(target, "keep"), []byte("x"), 0o600)
	if _, err := Restore(tampered, map[string]string{"state": target}, time.Now()); err == nil {
		t.Fatal("restored a tampered archive")
	}
	if b, _ := os.ReadFile(filepath.Join(target, "keep")); string(b) != "x" {
		t.Fatal("a refused restore touched the target")
	}
	// Truncated: no manifest.
	rewrite(t, archive, tampered, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if h.Name == ManifestName {
			return nil, nil
		}
		return h, b
	})
	if _, err := Verify(tampered); err == nil || !strings.Contains(err.Error(), "no MANIFEST.json") {
		t.Fatalf("archive without manifest: %v", err)
	}
}

func TestRestoreRefusesEscapes(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(root, "outside")
	os.Mkdir(outside, 0o700)
	for _, entries := range [][]*tar.Header{
		{{Name: "state/../../x", Typeflag: tar.TypeReg}},
		{{Name: "/abs", Typeflag: tar.TypeReg}},
		{{Name: "state/l", Typeflag: tar.TypeSymlink, Linkname: outside}, {Name: "state/l/pwn", Typeflag: tar.TypeReg}},
		{{Name: "state/dev", Typeflag: tar.TypeChar}},
	} {
		p := filepath.Join(root, "evil.tar.gz")
		f, _ := os.Create(p)
		zw := gzip.NewWriter(f)
		tw := tar.NewWriter(zw)
		for _, h := range entries {
			h.Mode = 0o644
			tw.WriteHeader(h)
		}
		tw.Close()
		zw.Close()
		f.Close()
		if _, err := Restore(p, map[string]string{"state": filepath.Join(root, "state")}, time.Now()); err == nil {
			t.Errorf("%s: restored", entries[len(entries)-1].Name)
		}
	}
	if e, _ := os.ReadDir(outside); len(e) != 0 {
		t.Fatal("a restore wrote outside its target")
	}
}

func TestPrune(t *testing.T) {
	dest := t.TempDir()
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	for _, name := range []string{"openclaw-backup-2026-10-01_02-00-00.tar.gz", "openclaw-backup-2026-11-20_02-00-00.tar.gz", "notes.txt"} {
		os.WriteFile(filepath.Join(dest, name), nil, 0o600)
	}
	removed, err := Prune(dest, 30*24*time.Hour, now)
	if err != nil || len(removed) != 1 || !strings.Contains(removed[0], "2026-10-01") {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if e, _ := os.ReadDir(dest); len(e) != 2 {
		t.Fatalf("%d files left, want 2", len(e))
	}
}

// rewrite copies an archive through edit (a nil header drops the entry).
func rewrite(t *testing.T, from, to string, edit func(*tar.Header, []byte) (*tar.Header, []byte)) {
	t.Helper()
	in, _ := os.Open(from)
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.Create(to)
	defer out.Close()
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		b, _ := io.ReadAll(tr)
		h, b = edit(h, b)
		if h == nil {
			continue
		}
		h.Size = int64(len(b))
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
}

// Backups made in the same second each keep their own archive, and Prune
// still reads their time.
func TestSameSecondBackupsDoNotOverwrite(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	os.MkdirAll(state, 0o700)
	dest := filepath.Join(root, "b")
	now := time.Date(2026, 12, 3, 7, 40, 1, 0, time.UTC)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		os.WriteFile(filepath.Join(state, "f"), []byte{byte(i)}, 0o600)
		a, _, err := Create(dest, []Tree{{Name: "state", Dir: state}}, now)
		if err != nil {
			t.Fatal(err)
		}
		if seen[a] {
			t.Fatalf("backup %d overwrote %s", i, a)
		}
		seen[a] = true
		if _, err := Verify(a); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := Prune(dest, time.Hour, now.Add(2*time.Hour))
	if err != nil || len(removed) != 3 {
		t.Fatalf("prune should read every name's time: removed %v, %v", removed, err)
	}
}
