package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// call runs a tool as the helper does after loading its filter: the
// parameters as JSON, the reply decoded.
func call(t *testing.T, tool string, params map[string]any) (Reply, json.RawMessage) {
	t.Helper()
	raw, _ := json.Marshal(params)
	var out bytes.Buffer
	code := serve(tool, bytes.NewReader(raw), &out)
	var r struct {
		Reply
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%s %s: exit %d, no JSON reply: %q", tool, raw, code, out.String())
	}
	if (code == 0) != r.OK {
		t.Errorf("%s: exit %d with ok=%t", tool, code, r.OK)
	}
	return r.Reply, r.Result
}

func mustOK(t *testing.T, tool string, params map[string]any, into any) {
	t.Helper()
	r, res := call(t, tool, params)
	if !r.OK {
		t.Fatalf("%s %v: %+v", tool, params, r.Error)
	}
	if into != nil {
		if err := json.Unmarshal(res, into); err != nil {
			t.Fatal(err)
		}
	}
}

func wantCode(t *testing.T, tool string, params map[string]any, code, text string) {
	t.Helper()
	r, _ := call(t, tool, params)
	if r.OK || r.Error.Code != code || !strings.Contains(r.Error.Message, text) {
		t.Errorf("%s %v: %+v, want %s containing %q", tool, params, r.Error, code, text)
	}
}

// Every file tool of the registry has an implementation in the helper.
func TestEveryFileToolIsServed(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "f")
	os.WriteFile(f, []byte("x\n"), 0o644)
	args := map[string]map[string]any{
		"read":        {"path": f},
		"write":       {"path": filepath.Join(d, "w"), "content": "w"},
		"edit":        {"path": f, "oldText": "x", "newText": "y"},
		"apply_patch": {"input": "*** Begin Patch\n*** Add File: " + filepath.Join(d, "p") + "\n+p\n*** End Patch"},
		"ls":          {"path": d},
		"stat":        {"path": f},
		"mkdir":       {"path": filepath.Join(d, "m")},
		"remove":      {"path": filepath.Join(d, "w")},
		"rename":      {"from": filepath.Join(d, "p"), "to": filepath.Join(d, "q")},
	}
	for _, name := range NamesOf(KindFile) {
		a, ok := args[name]
		if !ok {
			t.Errorf("no test call for %s", name)
			continue
		}
		mustOK(t, name, a, nil)
	}
}

func TestDecodeRanges(t *testing.T) {
	for _, raw := range []string{
		`{"path":"a","offset":-1}`, `{"path":"a","limit":-5}`, `{"path":"a","offset":2147483648}`,
		`{"path":"a","limit":1e30}`, `{"path":"a","offset":9223372036854775807,"limit":9223372036854775807}`,
		`{"path":"a","offset":1.5}`, `{"path":"a","offset":"1"}`, `{"path":"a","offset":null,"limit":true}`,
	} {
		_, err := Decode("read", json.RawMessage(raw))
		if code(err) != CodeInvalid || !(strings.Contains(err.Error(), "offset") || strings.Contains(err.Error(), "limit")) {
			t.Errorf("read %s: %v", raw, err)
		}
	}
	if p, err := Decode("read", json.RawMessage(`{"path":"a","offset":2147483647,"limit":2147483647}`)); err != nil || p.Offset != MaxLine {
		t.Errorf("the largest offset and limit: %+v %v", p, err)
	}
	for tool, raw := range map[string]string{
		"read":   `[]`,
		"write":  `null`,
		"ls":     `{} {}`,
		"stat":   `{}`,
		"mkdir":  `{"recursive":true}`,
		"rename": `{"from":"a"}`,
		"remove": `{"path":"a\u0000b"}`,
		"edit":   `{"path":"a","edits":[{"oldText":"x","newText":"y","extra":1}]}`,
	} {
		if _, err := Decode(tool, json.RawMessage(raw)); code(err) != CodeInvalid {
			t.Errorf("%s %s: %v", tool, raw, err)
		}
	}
	if _, err := Decode("read", json.RawMessage(`{"path":"a","input":"x"}`)); err == nil || !strings.Contains(err.Error(), `unknown parameter "input"`) {
		t.Errorf("a parameter of another tool: %v", err)
	}
	for raw, want := range map[string]string{
		`{"path":"a"}`: "content (text) or base64 (bytes) is required",
		`{"path":"a","content":"x","base64":"eA=="}`: "not both",
		`{"path":"a","base64":"not base64!"}`:        "not standard base64",
	} {
		if _, err := Decode("write", json.RawMessage(raw)); code(err) != CodeInvalid || !strings.Contains(err.Error(), want) {
			t.Errorf("write %s: %v, want %q", raw, err, want)
		}
	}
	if p, err := Decode("write", json.RawMessage(`{"path":"a","content":""}`)); err != nil || len(p.data) != 0 || !p.mkdirParents() {
		t.Errorf("an empty file: %+v %v", p, err)
	}
}

// Decode never panics, and what it accepts is in range.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"path":"a","offset":3,"limit":4}`, `{"path":"a","encoding":"base64"}`,
		`{"path":"a","base64":"AAE=","exclusive":true,"mkdir":false}`, `{"from":"a","to":"b"}`,
		`{"path":"a","edits":[{"oldText":"x","newText":"y"}]}`, `{"input":"*** Begin Patch\n*** End Patch"}`, `[1]`, `{"offset":-1}`} {
		for _, tool := range NamesOf(KindFile) {
			f.Add(tool, s)
		}
	}
	f.Fuzz(func(t *testing.T, tool, raw string) {
		p, err := Decode(tool, json.RawMessage(raw))
		if err != nil {
			if code(err) != CodeInvalid {
				t.Errorf("%s %q: error %v has code %q", tool, raw, err, code(err))
			}
			return
		}
		if p.Offset < 0 || p.Offset > MaxLine || p.Limit < 0 || p.Limit > MaxLine {
			t.Errorf("%s %q: accepted offset %d, limit %d", tool, raw, p.Offset, p.Limit)
		}
		if strings.ContainsRune(p.Path+p.From+p.To, 0) {
			t.Errorf("%s %q: accepted a NUL byte", tool, raw)
		}
		switch tool {
		case "read", "write", "edit", "stat", "mkdir", "remove":
			if p.Path == "" {
				t.Errorf("%s %q: accepted without a path", tool, raw)
			}
		case "rename":
			if p.From == "" || p.To == "" {
				t.Errorf("rename %q: accepted without from and to", raw)
			}
		}
	})
}

func TestReadBase64(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "b.bin")
	data := []byte{0, 1, 2, 0xff, 'E', 'L', 'F', '\n', 0x80}
	os.WriteFile(f, data, 0o644)
	var res struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		Base64 string `json:"base64"`
	}
	mustOK(t, "read", map[string]any{"path": f, "encoding": "base64"}, &res)
	got, err := base64.StdEncoding.DecodeString(res.Base64)
	if err != nil || !bytes.Equal(got, data) || res.Size != int64(len(data)) || res.Path != f {
		t.Errorf("read base64: %+v (%v)", res, err)
	}
	os.WriteFile(filepath.Join(d, "empty"), nil, 0o644)
	mustOK(t, "read", map[string]any{"path": filepath.Join(d, "empty"), "encoding": "base64"}, &res)
	if res.Size != 0 || res.Base64 != "" {
		t.Errorf("an empty file: %+v", res)
	}
	// Over the cap (a sparse file: no 64 MiB written).
	big := filepath.Join(d, "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(big, MaxReadFileBytes+1)
	wantCode(t, "read", map[string]any{"path": big, "encoding": "base64"}, CodeLimit, "at most")
	// The text read is unchanged by the new parameter.
	os.WriteFile(f, []byte("one\ntwo\n"), 0o644)
	var text ReadResult
	mustOK(t, "read", map[string]any{"path": f}, &text)
	if text.Content != "one\ntwo\n" || text.TotalLines != 2 || text.Base64 != "" {
		t.Errorf("text read: %+v", text)
	}
}

func TestWriteBytesExclusiveMkdir(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "sub", "f.bin")
	bin := []byte{0, 0xfe, 'x'}
	var w WriteResult
	mustOK(t, "write", map[string]any{"path": f, "base64": base64.StdEncoding.EncodeToString(bin), "exclusive": true}, &w)
	if got, _ := os.ReadFile(f); !bytes.Equal(got, bin) || w.Bytes != 3 || !w.Created {
		t.Errorf("write base64: %q %+v", got, w)
	}
	wantCode(t, "write", map[string]any{"path": f, "content": "other", "exclusive": true}, CodeExists, "exists")
	if got, _ := os.ReadFile(f); !bytes.Equal(got, bin) {
		t.Errorf("an exclusive write changed an existing file: %q", got)
	}
	os.Chmod(f, 0o600)
	mustOK(t, "write", map[string]any{"path": f, "content": "new"}, &w)
	if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 || w.Created {
		t.Errorf("replace: mode %v, %+v", st.Mode(), w)
	}
	wantCode(t, "write", map[string]any{"path": filepath.Join(d, "no", "such", "f"), "content": "x", "mkdir": false}, CodeNotFound, "no such file")
	if _, err := os.Stat(filepath.Join(d, "no")); !os.IsNotExist(err) {
		t.Error("mkdir false created a directory")
	}
	wantCode(t, "write", map[string]any{"path": d, "content": "x"}, CodeInvalid, "is a directory")
	// No temporary file is left behind by any of this.
	leftovers, _ := filepath.Glob(filepath.Join(d, "sub", ".openclaw-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// special makes a FIFO, a unix socket and links to three character devices
// in a fresh directory.
func special(t *testing.T) (dir string, kinds map[string]string) {
	t.Helper()
	dir = t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	os.Symlink("/dev/zero", filepath.Join(dir, "zero"))
	os.Symlink("/dev/null", filepath.Join(dir, "null"))
	os.Symlink("/dev/tty", filepath.Join(dir, "tty"))
	return dir, map[string]string{"fifo": "FIFO", "sock": "unix socket", "zero": "character device", "null": "character device",
		"tty": "character device"}
}

// quickly runs f and fails the test if it has not returned by a
// deadline: a call that blocks on a FIFO or device never would. The
// deadline is a bound on waiting for the answer, not a timing claim.
func quickly(t *testing.T, what string, f func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("%s did not return: it blocks on a special file", what)
	}
}

// Issue 20 item 14: file tools refuse FIFOs, sockets and devices at once,
// naming the type, and never replace one.
func TestSpecialFilesAreRefusedWithoutBlocking(t *testing.T) {
	dir, kinds := special(t)
	for name, kind := range kinds {
		p := filepath.Join(dir, name)
		patch := func(body string) map[string]any {
			return map[string]any{"input": "*** Begin Patch\n" + body + "\n*** End Patch"}
		}
		for _, c := range []struct {
			tool   string
			params map[string]any
		}{
			{"read", map[string]any{"path": p}},
			{"read", map[string]any{"path": p, "encoding": "base64"}},
			{"edit", map[string]any{"path": p, "oldText": "a", "newText": "b"}},
			{"apply_patch", patch("*** Update File: " + p + "\n-a\n+b")},
			{"apply_patch", patch("*** Update File: " + p + "\n*** Move to: " + filepath.Join(dir, "moved") + "\n-a\n+b")},
		} {
			quickly(t, fmt.Sprintf("%s of a %s", c.tool, kind), func() {
				wantCode(t, c.tool, c.params, CodeInvalid, kind)
			})
		}
		if name == "zero" || name == "null" || name == "tty" {
			continue // a write replaces the link, not the device: below
		}
		quickly(t, "write over a "+kind, func() {
			wantCode(t, "write", map[string]any{"path": p, "content": "x"}, CodeInvalid, kind)
		})
		quickly(t, "apply_patch delete of a "+kind, func() {
			wantCode(t, "apply_patch", patch("*** Delete File: "+p), CodeInvalid, kind)
		})
		// A patch moving a file onto the special file is refused before
		// anything is written.
		src := filepath.Join(dir, "src-"+name)
		os.WriteFile(src, []byte("a\n"), 0o644)
		quickly(t, "apply_patch move onto a "+kind, func() {
			wantCode(t, "apply_patch", patch("*** Update File: "+src+"\n*** Move to: "+p+"\n-a\n+b"), CodeInvalid, kind)
		})
		if got, _ := os.ReadFile(src); string(got) != "a\n" {
			t.Errorf("a refused patch changed %s", src)
		}
		if st, err := os.Lstat(p); err != nil || st.Mode().IsRegular() {
			t.Errorf("the %s was replaced", kind)
		}
	}
	// Through a symlink, a write replaces the link (as for any link), and
	// the device is untouched.
	quickly(t, "write over a link to /dev/zero", func() {
		mustOK(t, "write", map[string]any{"path": filepath.Join(dir, "zero"), "content": "x"}, nil)
	})
	if st, _ := os.Lstat(filepath.Join(dir, "zero")); !st.Mode().IsRegular() {
		t.Error("the link was not replaced by the file")
	}
	// Describing, listing and removing special files opens none: allowed.
	quickly(t, "stat, ls and remove of special files", func() {
		var st StatResult
		mustOK(t, "stat", map[string]any{"path": filepath.Join(dir, "fifo")}, &st)
		if st.Type != "other" {
			t.Errorf("stat of a FIFO: %+v", st)
		}
		var ls LsResult
		mustOK(t, "ls", map[string]any{"path": dir}, &ls)
		mustOK(t, "ls", map[string]any{"path": filepath.Join(dir, "fifo")}, &ls)
		mustOK(t, "remove", map[string]any{"path": filepath.Join(dir, "fifo")}, nil)
	})
	quickly(t, "ls of a FIFO where a directory was expected", func() {
		syscall.Mkfifo(filepath.Join(dir, "d"), 0o644)
		if _, err := openDir(filepath.Join(dir, "d"), "d"); code(err) != CodeInvalid {
			t.Errorf("openDir of a FIFO: %v", err)
		}
	})
}

func TestStat(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "f")
	os.WriteFile(f, []byte("12345"), 0o640)
	os.Symlink("f", filepath.Join(d, "link"))
	when := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	os.Chtimes(f, when, when)
	for path, want := range map[string]StatResult{
		f:                        {Path: f, Type: "file", Size: 5, MtimeMs: when.UnixMilli(), Mode: "-rw-r-----"},
		d:                        {Path: d, Type: "directory"},
		filepath.Join(d, "link"): {Path: filepath.Join(d, "link"), Type: "symlink", Target: "f"},
	} {
		var got StatResult
		mustOK(t, "stat", map[string]any{"path": path}, &got)
		if got.Type != want.Type || got.Target != want.Target || (want.Type == "file" && got != want) || got.MtimeMs == 0 {
			t.Errorf("stat %s = %+v, want %+v", path, got, want)
		}
	}
	wantCode(t, "stat", map[string]any{"path": filepath.Join(d, "none")}, CodeNotFound, "no such file")
}

func TestMkdir(t *testing.T) {
	d := t.TempDir()
	var r MkdirResult
	mustOK(t, "mkdir", map[string]any{"path": filepath.Join(d, "a")}, &r)
	if !r.Created {
		t.Errorf("mkdir: %+v", r)
	}
	wantCode(t, "mkdir", map[string]any{"path": filepath.Join(d, "a")}, CodeExists, "exists")
	mustOK(t, "mkdir", map[string]any{"path": filepath.Join(d, "a"), "recursive": true}, &r)
	if r.Created {
		t.Errorf("mkdir -p of an existing directory: %+v", r)
	}
	wantCode(t, "mkdir", map[string]any{"path": filepath.Join(d, "x", "y")}, CodeNotFound, "no such file")
	mustOK(t, "mkdir", map[string]any{"path": filepath.Join(d, "x", "y"), "recursive": true}, &r)
	if st, err := os.Stat(filepath.Join(d, "x", "y")); err != nil || !st.IsDir() || !r.Created {
		t.Errorf("mkdir -p: %v %+v", err, r)
	}
	os.WriteFile(filepath.Join(d, "file"), nil, 0o644)
	wantCode(t, "mkdir", map[string]any{"path": filepath.Join(d, "file"), "recursive": true}, CodeExists, "not a directory")
}

func TestRemove(t *testing.T) {
	d := t.TempDir()
	keep := filepath.Join(d, "keep")
	os.MkdirAll(filepath.Join(keep, "inner"), 0o755)
	os.WriteFile(filepath.Join(keep, "inner", "f"), []byte("x"), 0o644)
	os.Symlink(keep, filepath.Join(d, "link"))
	var r RemoveResult
	mustOK(t, "remove", map[string]any{"path": filepath.Join(d, "link"), "recursive": true}, &r)
	if _, err := os.Stat(filepath.Join(keep, "inner", "f")); err != nil || !r.Removed {
		t.Errorf("removing a link to a directory removed what it points to: %v", err)
	}
	wantCode(t, "remove", map[string]any{"path": keep}, CodeInvalid, "recursive")
	mustOK(t, "remove", map[string]any{"path": keep, "recursive": true}, &r)
	if _, err := os.Stat(keep); !os.IsNotExist(err) {
		t.Error("recursive remove left the directory")
	}
	wantCode(t, "remove", map[string]any{"path": keep}, CodeNotFound, "no such file")
	mustOK(t, "remove", map[string]any{"path": keep, "force": true}, &r)
	if r.Removed {
		t.Errorf("force on a missing path: %+v", r)
	}
	for _, root := range []string{".", "", Workspace, "/", "sub/.."} {
		if root == "" {
			continue // path is required
		}
		wantCode(t, "remove", map[string]any{"path": root, "recursive": true}, CodeInvalid, "the workspace itself")
	}
}

func TestRename(t *testing.T) {
	d := t.TempDir()
	from := filepath.Join(d, "a.txt")
	os.WriteFile(from, []byte("A"), 0o644)
	to := filepath.Join(d, "new", "dir", "b.txt")
	mustOK(t, "rename", map[string]any{"from": from, "to": to}, nil)
	if got, _ := os.ReadFile(to); string(got) != "A" {
		t.Errorf("rename: %q", got)
	}
	wantCode(t, "rename", map[string]any{"from": from, "to": to}, CodeNotFound, "no such file")
	wantCode(t, "rename", map[string]any{"from": to, "to": filepath.Join(d, "missing", "c"), "mkdir": false}, CodeNotFound, "no such file")
	// An existing file at the destination is replaced.
	other := filepath.Join(d, "other")
	os.WriteFile(other, []byte("O"), 0o644)
	mustOK(t, "rename", map[string]any{"from": to, "to": other}, nil)
	if got, _ := os.ReadFile(other); string(got) != "A" {
		t.Errorf("replace by rename: %q", got)
	}
	// A directory onto a non-empty one.
	os.MkdirAll(filepath.Join(d, "d1"), 0o755)
	os.MkdirAll(filepath.Join(d, "d2", "x"), 0o755)
	wantCode(t, "rename", map[string]any{"from": filepath.Join(d, "d1"), "to": filepath.Join(d, "d2")}, CodeExists, "exists")
	wantCode(t, "rename", map[string]any{"from": Workspace, "to": filepath.Join(d, "w")}, CodeInvalid, "the workspace itself")

	// Across filesystems (the test directory and /dev/shm are two here).
	var a, b syscall.Stat_t
	if syscall.Stat(d, &a) != nil || syscall.Stat("/dev/shm", &b) != nil || a.Dev == b.Dev {
		t.Logf("no second filesystem beside %s: EXDEV not exercised", d)
		return
	}
	shm, err := os.MkdirTemp("/dev/shm", "tools-test-")
	if err != nil {
		t.Logf("/dev/shm not writable (%v): EXDEV not exercised", err)
		return
	}
	defer os.RemoveAll(shm)
	wantCode(t, "rename", map[string]any{"from": other, "to": filepath.Join(shm, "x")}, CodeInvalid, "EXDEV")
}

func TestLsHasMtime(t *testing.T) {
	d := t.TempDir()
	when := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	os.WriteFile(filepath.Join(d, "f"), nil, 0o644)
	os.Chtimes(filepath.Join(d, "f"), when, when)
	var ls LsResult
	mustOK(t, "ls", map[string]any{"path": d}, &ls)
	if len(ls.Entries) != 1 || ls.Entries[0].MtimeMs != when.UnixMilli() {
		t.Errorf("ls: %+v", ls)
	}
	raw, _ := json.Marshal(ls.Entries[0])
	if !strings.Contains(string(raw), `"mtimeMs":`) {
		t.Errorf("entry JSON lacks mtimeMs: %s", raw)
	}
}
