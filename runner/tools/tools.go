// Package tools owns the registry of every tool the product knows
// (registry.go: names, kinds, governing profile tool, descriptions and
// parameter schemas, shared by the runner, the gateway and the MCP
// server) and the file tools themselves (read, write, edit, apply_patch,
// ls, and stat, mkdir, remove, rename for OpenClaw's fs bridge): their
// parameters, with OpenClaw's names and aliases, and their
// implementations, which run only inside a jail.
//
// The runner starts a fresh jail per call whose command is this binary in
// helper mode ("openclaw-run __tool NAME"): the parameters arrive on stdin as
// JSON and the answer leaves on stdout as JSON. Before it touches a file the
// helper applies the file seccomp tier to itself (no execve, no sockets),
// on top of the jail's own filter. Paths are resolved by the kernel inside
// the jail's mount namespace, so a symlink or a ".." can only lead to what
// the jail shows; the host's files are simply not there.
package tools

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/openclaw-run/openclaw-run/internal/strictjson"
)

// Workspace is where the workspace is mounted in every jail.
const Workspace = "/workspace"

// Params are every file tool's parameters (OpenClaw's names, with the
// aliases other agents use). Which of them a tool takes is its schema's
// business (registry.go); Decode refuses the others.
type Params struct {
	Path      string        `json:"path,omitempty"`
	FilePath  string        `json:"file_path,omitempty"` // alias of path
	Offset    int           `json:"offset,omitempty"`    // read: first line, 1-based
	Limit     int           `json:"limit,omitempty"`     // read: number of lines
	Encoding  string        `json:"encoding,omitempty"`  // read: "" (lines of text) or "base64" (the bytes)
	Content   string        `json:"content,omitempty"`   // write
	Base64    string        `json:"base64,omitempty"`    // write: the bytes, instead of content
	Mkdir     *bool         `json:"mkdir,omitempty"`     // write, rename: create parents (default true)
	Exclusive bool          `json:"exclusive,omitempty"` // write: fail if the file exists
	OldText   string        `json:"oldText,omitempty"`   // edit
	NewText   string        `json:"newText,omitempty"`
	OldStr    string        `json:"old_string,omitempty"` // aliases
	NewStr    string        `json:"new_string,omitempty"`
	Edits     []Replacement `json:"edits,omitempty"`
	Input     string        `json:"input,omitempty"`     // apply_patch
	Recursive bool          `json:"recursive,omitempty"` // mkdir, remove
	Force     bool          `json:"force,omitempty"`     // remove: a missing path is no error
	From      string        `json:"from,omitempty"`      // rename
	To        string        `json:"to,omitempty"`

	data []byte // write: the bytes to write (content, or base64 decoded)
}

// Replacement is one exact replacement of an edit.
type Replacement struct {
	OldText string `json:"oldText"`
	NewText string `json:"newText"`
}

// UnmarshalJSON requires both texts, as the schema does: an edit without
// newText is a mistake, not a deletion (give newText "" for that).
func (r *Replacement) UnmarshalJSON(b []byte) error {
	var v struct {
		OldText *string `json:"oldText"`
		NewText *string `json:"newText"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("edits: %w", err)
	}
	if v.OldText == nil || v.NewText == nil {
		return errors.New("every one of edits needs oldText and newText")
	}
	r.OldText, r.NewText = *v.OldText, *v.NewText
	return nil
}

// Error is a tool failure with a code from the fixed set the events use.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Error codes.
const (
	CodeInvalid  = "invalid_params"
	CodeNotFound = "not_found"
	CodeExists   = "exists" // write exclusive, mkdir: the path is already there
	CodeLimit    = "limit_exceeded"
	CodeInternal = "internal"
	CodeDenied   = "policy_denied"
	CodeSetup    = "jail_setup_failed"
)

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

// MaxLine bounds offset and limit of read: a line number or count beyond
// it is a mistake, and offset+limit must not overflow.
const MaxLine = 1<<31 - 1

// Decode parses and checks the parameters of a file tool: a parameter the
// tool's schema does not name, a value of the wrong type or out of range,
// and a missing required one are errors that say which.
func Decode(tool string, raw json.RawMessage) (*Params, error) {
	t, ok := Lookup(tool)
	if !ok || t.Kind != KindFile {
		return nil, invalid("unknown file tool %q (file tools: %s)", tool, strings.Join(Names, ", "))
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, invalid("%s: the parameters must be a JSON object", tool)
	}
	known := t.parameters()
	for k := range fields {
		if !slices.Contains(known, k) {
			return nil, invalid("%s: unknown parameter %q (%s takes: %s)", tool, k, tool, strings.Join(known, ", "))
		}
	}
	var p Params
	if err := strictjson.Decode(raw, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, invalid("%s: %s must be %s (got a JSON %s)", tool, te.Field, kindOf(te.Type), te.Value)
		}
		return nil, invalid("%s: %v", tool, err)
	}
	given := func(k string) bool { v, ok := fields[k]; return ok && string(bytes.TrimSpace(v)) != "null" }
	hasContent, hasBase64 := given("content"), given("base64")
	if err := p.normalize(tool, hasContent, hasBase64); err != nil {
		return nil, err
	}
	return &p, nil
}

// kindOf says what a Go type is in JSON terms, for errors.
func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return fmt.Sprintf("an integer from 0 to %d", MaxLine)
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Pointer:
		return kindOf(t.Elem())
	}
	return "a " + t.Kind().String()
}

// normalize resolves aliases and checks each tool's required parameters
// and ranges.
func (p *Params) normalize(tool string, hasContent, hasBase64 bool) error {
	if p.Path == "" {
		p.Path = p.FilePath
	}
	if p.OldText == "" {
		p.OldText = p.OldStr
	}
	if p.NewText == "" {
		p.NewText = p.NewStr
	}
	for name, v := range map[string]string{"path": p.Path, "from": p.From, "to": p.To} {
		if strings.IndexByte(v, 0) >= 0 {
			return invalid("%s: %s contains a NUL byte", tool, name)
		}
	}
	if p.Offset < 0 || p.Offset > MaxLine || p.Limit < 0 || p.Limit > MaxLine {
		return invalid("%s: offset and limit must be integers from 0 to %d (got %d and %d)", tool, MaxLine, p.Offset, p.Limit)
	}
	needPath := func() error {
		if p.Path == "" {
			return invalid("%s: path is required", tool)
		}
		return nil
	}
	switch tool {
	case "read":
		switch p.Encoding {
		case "":
		case "base64":
			if p.Offset != 0 || p.Limit != 0 {
				return invalid("read: offset and limit select lines of text; encoding base64 returns the whole file")
			}
		default:
			return invalid("read: encoding %q: give base64 for the bytes, or no encoding for text", p.Encoding)
		}
		return needPath()
	case "write":
		switch {
		case hasContent && hasBase64:
			return invalid("write: give content or base64, not both")
		case hasBase64:
			if _, err := p.content(); err != nil {
				return err
			}
		case hasContent:
		default:
			return invalid("write: content (text) or base64 (bytes) is required; give content \"\" for an empty file")
		}
		return needPath()
	case "edit":
		if p.OldText == "" && len(p.Edits) == 0 {
			return invalid("edit: give oldText and newText, or edits: [{oldText, newText}]")
		}
		return needPath()
	case "apply_patch":
		if p.Input == "" {
			return invalid("apply_patch: input is required (a *** Begin Patch document)")
		}
	case "stat", "mkdir", "remove":
		return needPath()
	case "rename":
		if p.From == "" || p.To == "" {
			return invalid("rename: from and to are required")
		}
	}
	return nil
}

// content is what write writes: the decoded base64 when given (Decode
// keeps it), else content.
func (p *Params) content() ([]byte, error) {
	if p.data != nil {
		return p.data, nil
	}
	if p.Base64 != "" {
		b, err := base64.StdEncoding.DecodeString(p.Base64)
		if err != nil {
			return nil, invalid("write: base64 is not standard base64 (RFC 4648, with padding): %v", err)
		}
		p.data = b
		return b, nil
	}
	return []byte(p.Content), nil
}

// mkdirParents is the mkdir parameter of write and rename: true unless
// given as false.
func (p *Params) mkdirParents() bool { return p.Mkdir == nil || *p.Mkdir }

// Resolve makes a tool path absolute in the jail: relative paths are
// relative to the workspace. ".." is left to the kernel, which resolves it
// inside the jail.
func Resolve(p string) string {
	if p == "" {
		return Workspace
	}
	if path.IsAbs(p) {
		return p
	}
	return path.Join(Workspace, p)
}

// errorOf maps an error to a tool Error.
func errorOf(err error) *Error {
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}
