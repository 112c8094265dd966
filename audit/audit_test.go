package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func fill(t *testing.T, n int, secrets []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	l, err := Open(path, secrets)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ { // concurrent writers share one chain
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				err := l.Append(Record{Timestamp: time.Now(), SessionID: "s", UserID: "u", Action: "tool_call", Tool: "exec",
					Parameters: map[string]any{"command": fmt.Sprintf("echo %d TOPSECRETVALUE sk-abcdefghijklmnopqrstuvwx", i)},
					Result:     &Outcome{Success: true}, CallID: fmt.Sprint(i), Profile: "coding", Decision: "allow"})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	return path
}

func verifyFile(t *testing.T, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f)
}

func TestChainOf1000Verifies(t *testing.T) {
	path := fill(t, 1000, []string{"TOPSECRETVALUE"})
	n, err := verifyFile(t, path)
	if err != nil || n != 1000 {
		t.Fatalf("verify: %d lines, %v", n, err)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte("TOPSECRETVALUE")) || bytes.Contains(data, []byte("sk-abcdefghijklmnop")) {
		t.Error("a secret reached the audit file")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit file mode %v, want 0600", st.Mode().Perm())
	}
}

func TestTamperingIsNamed(t *testing.T) {
	path := fill(t, 50, nil)
	orig, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(orig), "\n")
	lines = lines[:len(lines)-1]
	cases := map[string]struct {
		mutate func([]string) []string
		line   int
	}{
		"flip a byte": {func(l []string) []string {
			b := []byte(l[9])
			i := bytes.Index(b, []byte(`"exec"`))
			b[i+1] = 'E'
			l[9] = string(b)
			return l
		}, 10},
		"delete a line":    {func(l []string) []string { return append(l[:20:20], l[21:]...) }, 21},
		"swap two lines":   {func(l []string) []string { l[30], l[31] = l[31], l[30]; return l }, 31},
		"insert a line":    {func(l []string) []string { return append(l[:5:5], append([]string{l[40]}, l[5:]...)...) }, 6},
		"delete the first": {func(l []string) []string { return l[1:] }, 1},
	}
	for name, c := range cases {
		mutated := c.mutate(append([]string(nil), lines...))
		os.WriteFile(path, []byte(strings.Join(mutated, "")), 0o600)
		_, err := verifyFile(t, path)
		var p *Problem
		if !errors.As(err, &p) || p.Line != c.line {
			t.Errorf("%s: got %v, want a problem at line %d", name, err, c.line)
		}
	}
}

func TestRedact(t *testing.T) {
	big := strings.Repeat("x", 5000)
	got := Redact(map[string]any{
		"command": "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz' https://x",
		"env":     map[string]any{"K": "AKIAABCDEFGHIJKLMNOP", "L": "api_key=supersecretvalue"},
		"content": big,
		"n":       3,
	}, []string{"hunter22"})
	s := fmt.Sprint(got)
	for _, leak := range []string{"abcdefghijklmnopqrstuvwxyz", "AKIAABCDEFGHIJKLMNOP", "supersecretvalue", big} {
		if strings.Contains(s, leak) {
			t.Errorf("not redacted: %.40s", leak)
		}
	}
	if !strings.Contains(s, "sha256") || !strings.Contains(s, "size:5000") {
		t.Errorf("large content should be summarized: %.200s", s)
	}
}

func TestRotationKeepsTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.MaxSize, l.Backups = 8<<10, 3
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := l.Append(Record{Tool: "exec", Action: "tool_call", Parameters: map[string]any{"i": i, "w": w}}); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	files := Files(path)
	if len(files) != 4 {
		t.Fatalf("want the current file and 3 backups, got %v", files)
	}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > 8<<10 {
			t.Errorf("%s is %d bytes, over maxSize", f, st.Size())
		}
	}
	n, err := VerifyFiles(files)
	if err != nil || n == 0 {
		t.Fatalf("rotated chain: %d lines, %v", n, err)
	}
	// The last line's sequence counts every record ever written.
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"seq":200,`) {
		t.Errorf("sequence does not continue across files")
	}
	// Removing a middle file breaks the chain at the next file's first line.
	os.Rename(files[1], files[1]+".gone")
	_, err = VerifyFiles([]string{files[0], files[2], files[3]})
	var p *Problem
	if !errors.As(err, &p) || p.File != files[2] || p.Line != 1 {
		t.Errorf("a missing file must be named at the next file's first line: %v", err)
	}
}

// Two writers of one file (a gateway and CLI calls, say) keep one chain: a
// writer trusts the head it remembers only while the file is exactly as
// its own last append left it, and reads the last line otherwise, also
// when that line is longer than the first step it reads.
func TestWritersShareTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Open(path, nil)
	long := strings.Repeat("x", 3000) // under the redaction size, over 4 KiB with both fields
	for i := 0; i < 40; i++ {
		w := a
		if i%3 == 2 {
			w = b
		}
		err := w.Append(Record{Timestamp: time.Now(), Action: "tool_call", Tool: "exec", CallID: fmt.Sprint(i),
			Parameters: map[string]any{"command": long, "workdir": long}, Decision: "allow"})
		if err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Verify(bytes.NewReader(data)); err != nil || n != 40 {
		t.Fatalf("Verify: %d lines, %v; want 40 and no problem", n, err)
	}
	if lines := bytes.Split(bytes.TrimSpace(data), []byte("\n")); len(lines[len(lines)-1]) <= 4096 {
		t.Fatalf("the lines are %d bytes: the test needs lines longer than the first read step", len(lines[len(lines)-1]))
	}
}
