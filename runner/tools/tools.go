// Package tools holds the file tools (read, write, edit, apply_patch, ls):
// their parameters, with OpenClaw's names and aliases, and their
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
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Workspace is where the workspace is mounted in every jail.
const Workspace = "/workspace"

// Names lists the file tools.
var Names = []string{"read", "write", "edit", "apply_patch", "ls"}

// IsFileTool reports whether name is one of Names.
func IsFileTool(name string) bool {
	for _, n := range Names {
		if n == name {
			return true
		}
	}
	return false
}

// Params are every file tool's parameters (OpenClaw's names, with the
// aliases other agents use).
type Params struct {
	Path     string        `json:"path,omitempty"`
	FilePath string        `json:"file_path,omitempty"` // alias of path
	Offset   int           `json:"offset,omitempty"`    // read: first line, 1-based
	Limit    int           `json:"limit,omitempty"`     // read: number of lines
	Content  string        `json:"content,omitempty"`   // write
	OldText  string        `json:"oldText,omitempty"`   // edit
	NewText  string        `json:"newText,omitempty"`
	OldStr   string        `json:"old_string,omitempty"` // aliases
	NewStr   string        `json:"new_string,omitempty"`
	Edits    []Replacement `json:"edits,omitempty"`
	Input    string        `json:"input,omitempty"` // apply_patch
}

// Replacement is one exact replacement of an edit.
type Replacement struct {
	OldText string `json:"oldText"`
	NewText string `json:"newText"`
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
	CodeLimit    = "limit_exceeded"
	CodeInternal = "internal"
	CodeDenied   = "policy_denied"
	CodeSetup    = "jail_setup_failed"
)

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

// Decode parses and checks the parameters of tool: unknown fields and
// missing required ones are errors that say which.
func Decode(tool string, raw json.RawMessage) (*Params, error) {
	var p Params
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, invalid("%s: %v", tool, err)
	}
	if p.Path == "" {
		p.Path = p.FilePath
	}
	if p.OldText == "" {
		p.OldText = p.OldStr
	}
	if p.NewText == "" {
		p.NewText = p.NewStr
	}
	switch tool {
	case "read", "write", "edit", "ls":
		if p.Path == "" && tool != "ls" {
			return nil, invalid("%s: path is required", tool)
		}
		if strings.IndexByte(p.Path, 0) >= 0 {
			return nil, invalid("%s: path contains a NUL byte", tool)
		}
	case "apply_patch":
		if p.Input == "" {
			return nil, invalid("apply_patch: input is required (a *** Begin Patch document)")
		}
	default:
		return nil, invalid("unknown file tool %q", tool)
	}
	if tool == "edit" && p.OldText == "" && len(p.Edits) == 0 {
		return nil, invalid("edit: give oldText and newText, or edits: [{oldText, newText}]")
	}
	if p.Offset < 0 || p.Limit < 0 {
		return nil, invalid("read: offset and limit must not be negative")
	}
	return &p, nil
}

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
