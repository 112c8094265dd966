package tools

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestDecode(t *testing.T) {
	p, err := Decode("edit", json.RawMessage(`{"file_path":"a.txt","old_string":"x","new_string":"y"}`))
	if err != nil || p.Path != "a.txt" || p.OldText != "x" || p.NewText != "y" {
		t.Fatalf("aliases: %+v %v", p, err)
	}
	for tool, raw := range map[string]string{
		"read":        `{}`,
		"write":       `{"path":"a","bogus":1}`,
		"edit":        `{"path":"a"}`,
		"apply_patch": `{}`,
		"frob":        `{}`,
		"ls":          `{"path":"a\u0000b"}`,
	} {
		if _, err := Decode(tool, json.RawMessage(raw)); code(err) != CodeInvalid {
			t.Errorf("%s %s: got %v", tool, raw, err)
		}
	}
}

func TestEditCases(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f.txt")
	os.WriteFile(f, []byte("alpha\nbeta\nbeta\ngamma"), 0o640)
	if _, err := Edit(&Params{Path: f, OldText: "beta", NewText: "B"}); code(err) != CodeInvalid || !strings.Contains(err.Error(), "2 times") {
		t.Errorf("ambiguous: %v", err)
	}
	if _, err := Edit(&Params{Path: f, OldText: "delta", NewText: "D"}); code(err) != CodeNotFound {
		t.Errorf("missing text: %v", err)
	}
	if _, err := Edit(&Params{Path: filepath.Join(dir, "none"), OldText: "a", NewText: "b"}); code(err) != CodeNotFound {
		t.Errorf("missing file: %v", err)
	}
	r, err := Edit(&Params{Path: f, Edits: []Replacement{{"alpha\nbeta", "A\nbeta"}, {"gamma", "G"}}})
	if err != nil || r.Replacements != 2 {
		t.Fatal(r, err)
	}
	got, _ := os.ReadFile(f)
	if string(got) != "A\nbeta\nbeta\nG" {
		t.Errorf("after edits: %q (no trailing newline must stay none)", got)
	}
	if st, _ := os.Stat(f); st.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", st.Mode())
	}
}

func TestApplyPatchCases(t *testing.T) {
	dir := t.TempDir()
	p := func(s string) string { return filepath.Join(dir, s) }
	os.WriteFile(p("main.go"), []byte("package main\n\nfunc main() {\n\tprintln(1)\n}\n"), 0o644)
	os.WriteFile(p("old.txt"), []byte("x\n"), 0o644)
	os.WriteFile(p("noeol.txt"), []byte("one\ntwo"), 0o644)
	os.WriteFile(p("gone.txt"), []byte("bye\n"), 0o644)
	patch := strings.Join([]string{
		"*** Begin Patch",
		"*** Add File: " + p("sub/new.txt"),
		"+hello",
		"+world",
		"*** Update File: " + p("main.go"),
		"@@ func main() {",
		"-\tprintln(1)",
		"+\tprintln(2)",
		"*** Update File: " + p("old.txt"),
		"*** Move to: " + p("moved/renamed.txt"),
		"-x",
		"+y",
		"*** Update File: " + p("noeol.txt"),
		" one",
		"-two",
		"+three",
		"*** End of File",
		"*** Delete File: " + p("gone.txt"),
		"*** End Patch",
	}, "\n")
	res, err := ApplyPatch(&Params{Input: patch})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{"sub/new.txt": "hello\nworld\n", "main.go": "package main\n\nfunc main() {\n\tprintln(2)\n}\n",
		"moved/renamed.txt": "y\n", "noeol.txt": "one\nthree"}
	for f, want := range checks {
		if got, _ := os.ReadFile(p(f)); string(got) != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	for _, f := range []string{"old.txt", "gone.txt"} {
		if _, err := os.Stat(p(f)); !os.IsNotExist(err) {
			t.Errorf("%s should be gone", f)
		}
	}
	if len(res.Added) != 1 || len(res.Deleted) != 1 || len(res.Moved) != 1 {
		t.Errorf("result %+v", res)
	}

	// Failures change nothing.
	os.WriteFile(p("dup.txt"), []byte("a\nb\na\nb\n"), 0o644)
	bad := map[string]string{
		"ambiguous":  "*** Begin Patch\n*** Update File: " + p("dup.txt") + "\n-a\n+c\n*** End Patch",
		"no match":   "*** Begin Patch\n*** Update File: " + p("dup.txt") + "\n-zzz\n+c\n*** End Patch",
		"missing":    "*** Begin Patch\n*** Update File: " + p("nope.txt") + "\n-a\n+c\n*** End Patch",
		"add exists": "*** Begin Patch\n*** Add File: " + p("dup.txt") + "\n+x\n*** End Patch",
		"no header":  "*** Update File: x\n-a\n+b",
		"bad line":   "*** Begin Patch\n*** Update File: " + p("dup.txt") + "\n?a\n*** End Patch",
	}
	for name, patch := range bad {
		if _, err := ApplyPatch(&Params{Input: patch}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got, _ := os.ReadFile(p("dup.txt")); string(got) != "a\nb\na\nb\n" {
		t.Errorf("a failed patch changed a file: %q", got)
	}
	// All or nothing: the second file fails, the first is not written.
	os.WriteFile(p("first.txt"), []byte("1\n"), 0o644)
	_, err = ApplyPatch(&Params{Input: "*** Begin Patch\n*** Update File: " + p("first.txt") + "\n-1\n+2\n*** Update File: " + p("nope.txt") + "\n-a\n+b\n*** End Patch"})
	if got, _ := os.ReadFile(p("first.txt")); err == nil || string(got) != "1\n" {
		t.Errorf("partial patch applied: %q, %v", got, err)
	}
}

func TestReadTextAndBinary(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "t.txt")
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		b.WriteString("line " + strings.Repeat("x", i%7) + "\n")
	}
	os.WriteFile(f, []byte(b.String()), 0o644)
	r, err := Read(&Params{Path: f, Offset: 10, Limit: 5})
	if err != nil || r.StartLine != 10 || r.EndLine != 14 || r.TotalLines != 100 || strings.Count(r.Content, "\n") != 5 || !r.Truncated {
		t.Errorf("read range: %+v %v", r, err)
	}
	bin := filepath.Join(dir, "b.bin")
	os.WriteFile(bin, []byte{0x7f, 'E', 'L', 'F', 0, 1, 2, 0xff}, 0o644)
	r, err = Read(&Params{Path: bin})
	if err != nil || !r.Binary || r.Content != "" || r.Base64 == "" || r.SHA256 == "" || r.Size != 8 {
		t.Errorf("binary: %+v %v", r, err)
	}
	if _, err := Read(&Params{Path: dir}); code(err) != CodeInvalid {
		t.Errorf("directory: %v", err)
	}
}

func TestWriteAndLs(t *testing.T) {
	dir := t.TempDir()
	w, err := Write(&Params{Path: filepath.Join(dir, "a/b/c.txt"), Content: "hi"})
	if err != nil || !w.Created || w.Bytes != 2 {
		t.Fatal(w, err)
	}
	os.Symlink("c.txt", filepath.Join(dir, "a/b/link"))
	l, err := Ls(&Params{Path: filepath.Join(dir, "a/b")})
	if err != nil || len(l.Entries) != 2 || l.Entries[0].Name != "c.txt" || l.Entries[1].Type != "symlink" || l.Entries[1].Target != "c.txt" {
		t.Errorf("ls: %+v %v", l, err)
	}
}
