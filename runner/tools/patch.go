package tools

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The apply_patch format (OpenAI's, used by OpenClaw and Codex):
//
//	*** Begin Patch
//	*** Add File: path
//	+line
//	*** Delete File: path
//	*** Update File: path
//	*** Move to: new/path
//	@@ optional line to find first
//	 context
//	-removed
//	+added
//	*** End of File
//	*** End Patch
//
// Every change is checked against the files before any file is written.

type fileOp struct {
	kind   string // add, delete, update
	path   string
	moveTo string
	add    []string // add: the lines
	hunks  []hunk
}

type hunk struct {
	anchor string // @@ text, "" if none
	old    []string
	new    []string
	atEOF  bool
}

// PatchResult is what apply_patch returns.
type PatchResult struct {
	Added   []string          `json:"added,omitempty"`
	Updated []string          `json:"updated,omitempty"`
	Deleted []string          `json:"deleted,omitempty"`
	Moved   map[string]string `json:"moved,omitempty"`
}

func parsePatch(input string) ([]fileOp, error) {
	lines := strings.Split(strings.ReplaceAll(input, "\r\n", "\n"), "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "*** Begin Patch" || strings.TrimSpace(lines[len(lines)-1]) != "*** End Patch" {
		return nil, invalid("apply_patch: the input must start with '*** Begin Patch' and end with '*** End Patch'")
	}
	lines = lines[1 : len(lines)-1]
	var ops []fileOp
	var cur *fileOp
	var h *hunk
	flush := func() {
		if cur != nil && h != nil && (len(h.old) > 0 || len(h.new) > 0 || h.anchor != "") {
			cur.hunks = append(cur.hunks, *h)
		}
		h = nil
	}
	for i, l := range lines {
		bad := func(msg string) error { return invalid("apply_patch line %d: %s: %q", i+2, msg, l) }
		switch {
		case strings.HasPrefix(l, "*** Add File: "), strings.HasPrefix(l, "*** Delete File: "), strings.HasPrefix(l, "*** Update File: "):
			flush()
			if cur != nil {
				ops = append(ops, *cur)
			}
			kind, p, _ := strings.Cut(strings.TrimPrefix(l, "*** "), " File: ")
			if strings.TrimSpace(p) == "" {
				return nil, bad("missing path")
			}
			cur = &fileOp{kind: strings.ToLower(kind), path: strings.TrimSpace(p)}
		case strings.HasPrefix(l, "*** Move to: "):
			if cur == nil || cur.kind != "update" || h != nil {
				return nil, bad("Move to must follow Update File")
			}
			cur.moveTo = strings.TrimSpace(strings.TrimPrefix(l, "*** Move to: "))
		case strings.TrimSpace(l) == "*** End of File":
			if h == nil {
				return nil, bad("End of File outside a hunk")
			}
			h.atEOF = true
		case cur == nil:
			return nil, bad("expected *** Add File, *** Update File or *** Delete File")
		case cur.kind == "add":
			if !strings.HasPrefix(l, "+") {
				return nil, bad("lines of an added file start with +")
			}
			cur.add = append(cur.add, l[1:])
		case cur.kind == "delete":
			return nil, bad("a deleted file has no content lines")
		case strings.HasPrefix(l, "@@"):
			flush()
			h = &hunk{anchor: strings.TrimSpace(strings.TrimPrefix(l, "@@"))}
		default:
			if h == nil {
				h = &hunk{}
			}
			if l == "" { // an empty context line whose space was stripped
				l = " "
			}
			switch l[0] {
			case ' ':
				h.old = append(h.old, l[1:])
				h.new = append(h.new, l[1:])
			case '-':
				h.old = append(h.old, l[1:])
			case '+':
				h.new = append(h.new, l[1:])
			default:
				return nil, bad("hunk lines start with ' ', '-' or '+'")
			}
		}
	}
	flush()
	if cur != nil {
		ops = append(ops, *cur)
	}
	if len(ops) == 0 {
		return nil, invalid("apply_patch: the patch changes no file")
	}
	return ops, nil
}

// ApplyPatch applies a patch: all changes are computed first, then written.
func ApplyPatch(p *Params) (*PatchResult, error) {
	ops, err := parsePatch(p.Input)
	if err != nil {
		return nil, err
	}
	type write struct {
		path string
		data []byte
		del  bool
	}
	var writes []write
	res := &PatchResult{}
	for _, op := range ops {
		name := Resolve(op.path)
		switch op.kind {
		case "add":
			if _, err := os.Lstat(name); err == nil {
				return nil, invalid("apply_patch: Add File %s: the file exists (use Update File)", op.path)
			}
			writes = append(writes, write{path: name, data: []byte(joinLines(op.add, true))})
			res.Added = append(res.Added, op.path)
		case "delete":
			if st, err := os.Lstat(name); err != nil {
				return nil, fsError(err, op.path)
			} else if st.IsDir() {
				return nil, invalid("apply_patch: Delete File %s is a directory", op.path)
			} else if !st.Mode().IsRegular() && st.Mode()&fs.ModeSymlink == 0 {
				return nil, invalid("apply_patch: Delete File %s is %s: patches change regular files only (use remove)", op.path, typeName(st.Mode()))
			}
			writes = append(writes, write{path: name, del: true})
			res.Deleted = append(res.Deleted, op.path)
		case "update":
			data, err := readAll(name, op.path)
			if err != nil {
				return nil, err
			}
			text, err := applyHunks(string(data), op.hunks, op.path)
			if err != nil {
				return nil, err
			}
			if op.moveTo != "" {
				// Checked now, with everything else, before any write.
				if _, _, err := checkReplaceable(Resolve(op.moveTo), op.moveTo); err != nil {
					return nil, err
				}
				writes = append(writes, write{path: Resolve(op.moveTo), data: []byte(text)}, write{path: name, del: true})
				if res.Moved == nil {
					res.Moved = map[string]string{}
				}
				res.Moved[op.path] = op.moveTo
			} else {
				writes = append(writes, write{path: name, data: []byte(text)})
			}
			res.Updated = append(res.Updated, op.path)
		}
	}
	for _, w := range writes {
		if w.del {
			if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fsError(err, w.path)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
			return nil, fsError(err, w.path)
		}
		if _, err := replace(w.path, w.path, w.data, false); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// applyHunks finds each hunk's old lines (after its anchor, after the
// previous hunk) and replaces them. Exact matches are tried first, then
// matches that ignore trailing white space.
func applyHunks(text string, hunks []hunk, shown string) (string, error) {
	trailingNL := strings.HasSuffix(text, "\n")
	lines := strings.Split(text, "\n")
	if trailingNL {
		lines = lines[:len(lines)-1]
	}
	cursor := 0
	for i, h := range hunks {
		if h.anchor != "" {
			at := find(lines, []string{h.anchor}, cursor, false)
			if at < 0 {
				return "", &Error{Code: CodeNotFound, Message: fmt.Sprintf("apply_patch: %s hunk %d: context line %q not found", shown, i+1, h.anchor)}
			}
			cursor = at + 1
		}
		at := -1
		switch {
		case len(h.old) == 0 && h.atEOF:
			at = len(lines)
		case len(h.old) == 0:
			at = cursor
		case h.atEOF:
			at = len(lines) - len(h.old)
			if at < cursor || find(lines, h.old, at, false) != at {
				at = -1
			}
		default:
			at = find(lines, h.old, cursor, false)
		}
		if at < 0 {
			return "", &Error{Code: CodeNotFound, Message: fmt.Sprintf("apply_patch: %s hunk %d: the lines to change were not found:\n%s", shown, i+1, strings.Join(h.old, "\n"))}
		}
		if n := countMatches(lines, h.old, cursor); len(h.old) > 0 && n > 1 && h.anchor == "" && !h.atEOF {
			return "", invalid("apply_patch: %s hunk %d matches %d places; add context or an @@ line", shown, i+1, n)
		}
		lines = append(lines[:at], append(append([]string{}, h.new...), lines[at+len(h.old):]...)...)
		cursor = at + len(h.new)
	}
	return joinLines(lines, trailingNL || text == ""), nil
}

func joinLines(lines []string, trailingNL bool) string {
	s := strings.Join(lines, "\n")
	if trailingNL && len(lines) > 0 {
		s += "\n"
	}
	return s
}

// find returns the first index >= from where want occurs in lines.
func find(lines, want []string, from int, _ bool) int {
	for _, loose := range []bool{false, true} {
		for i := from; i+len(want) <= len(lines); i++ {
			if match(lines[i:i+len(want)], want, loose) {
				return i
			}
		}
	}
	return -1
}

func countMatches(lines, want []string, from int) int {
	n := 0
	for i := from; i+len(want) <= len(lines); i++ {
		if match(lines[i:i+len(want)], want, false) {
			n++
		}
	}
	return n
}

func match(got, want []string, loose bool) bool {
	for i := range want {
		a, b := got[i], want[i]
		if loose {
			a, b = strings.TrimRight(a, " \t"), strings.TrimRight(b, " \t")
		}
		if a != b {
			return false
		}
	}
	return true
}
