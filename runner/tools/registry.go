package tools

import (
	"slices"
	"sync"
)

// The registry: one table of every tool the product knows, which the
// runner (kind, governing profile tool), the gateway (names, kinds) and
// the MCP server (description, schema, hints) all read. A tool's
// parameters are defined once, here, as the JSON schema the MCP server
// publishes, and Decode accepts exactly the parameters the schema names.

// Kind says where a tool runs.
type Kind string

const (
	// KindExec runs a command in a jail under the profile's exec tier.
	KindExec Kind = "exec"
	// KindFile runs in a fresh jail of its own under the file tier,
	// through this binary in helper mode (Serve).
	KindFile Kind = "file"
	// KindGateway is served by the gateway itself (sessions, background
	// processes); it starts no jail of its own.
	KindGateway Kind = "gateway"
)

// Tool is one entry of the registry. Its Schema is shared: read it, never
// modify it.
type Tool struct {
	Name string
	// Aliases are other names callers use for the tool (exec: bash).
	Aliases []string
	Kind    Kind
	// Profile is the tool name a profile's "tools" list must hold for the
	// tool to be allowed. The fs-bridge tools are governed by the names
	// profiles already use, by what they can do to the workspace: stat
	// reveals no more than read does (read of a directory says it is
	// one, ls lists sizes and types), so read governs it; mkdir, remove
	// and rename change the workspace no more than write can (write
	// replaces any file's content, creating directories on the way), so
	// write governs them.
	Profile string
	// Description is the one-line description agents read.
	Description string
	// Title, ReadOnly, Destructive and ClosedWorld are the MCP tool
	// annotations (title, readOnlyHint, destructiveHint, and
	// openWorldHint false: it reaches nothing outside the jail).
	Title       string
	ReadOnly    bool
	Destructive bool
	ClosedWorld bool
	// Schema is the JSON schema of the parameters (an object).
	Schema map[string]any
}

type props = map[string]any

func str(desc string) props     { return props{"type": "string", "description": desc} }
func integer(desc string) props { return props{"type": "integer", "minimum": 0, "description": desc} }
func boolean(desc string) props { return props{"type": "boolean", "description": desc} }

func object(required []string, p props) map[string]any {
	s := map[string]any{"type": "object", "properties": p, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// table is built once, when first read (Names reads it at package
// initialization: a few maps, microseconds).
var table = sync.OnceValue(func() []Tool {
	return []Tool{
		{Name: "exec", Aliases: []string{"bash"}, Kind: KindExec, Profile: "exec",
			Description: "Run a shell command (/bin/sh -c) in a fresh jail: the workspace at /workspace, no network, the profile's seccomp filter and limits. Returns stdout, stderr, the exit code and the resources used.",
			Title:       "Run a command in a jail", Destructive: true, ClosedWorld: true,
			Schema: object([]string{"command"}, props{
				"command":        str("the shell command"),
				"workdir":        str("working directory inside /workspace (relative to it); default /workspace"),
				"env":            props{"type": "object", "additionalProperties": props{"type": "string"}, "description": "extra environment variables {NAME: value}; nothing else of the server's environment enters the jail"},
				"secretEnv":      props{"type": "object", "additionalProperties": props{"type": "string"}, "description": "secrets from the server's secret store as variables {VAR: secretName}; no other secret enters"},
				"timeoutSeconds": props{"type": "number", "minimum": 0, "description": "kill the whole jail after this many seconds (at most the profile's timeout)"},
				"background":     props{"type": "boolean", "description": "return at once with a processId; follow it with the process tool"},
				"yieldMs":        integer("wait this long for the command, then return it as a background process if still running"),
			})},
		{Name: "read", Kind: KindFile, Profile: "read",
			Description: "Read a text file of the workspace (in a fresh jail). Binary files return their size, sha256 and first 64 KiB as base64.",
			Title:       "Read a file", ReadOnly: true,
			Schema: object(nil, props{
				"path":      str("file path, relative to /workspace"),
				"file_path": str("alias of path"),
				"offset":    integer("first line to return, 1-based"),
				"limit":     integer("number of lines (default 2000)"),
				"encoding":  props{"type": "string", "enum": []string{"base64"}, "description": "base64: the whole file as bytes ({path, size, base64}, at most 64 MiB), for binary files; without it, lines of text"},
			})},
		{Name: "write", Kind: KindFile, Profile: "write",
			Description: "Create or replace a file of the workspace atomically (parent directories are created; the mode is kept).",
			Title:       "Write a file", Destructive: true,
			Schema: object(nil, props{
				"path":      str("file path, relative to /workspace"),
				"file_path": str("alias of path"),
				"content":   str("the whole new content (give content or base64)"),
				"base64":    str("the whole new content as base64-encoded bytes, instead of content"),
				"mkdir":     boolean("create missing parent directories (default true)"),
				"exclusive": boolean("fail with the code exists if the file exists (default false)"),
			})},
		{Name: "edit", Kind: KindFile, Profile: "edit",
			Description: "Replace exact text in a file: each oldText must occur exactly once when its turn comes.",
			Title:       "Edit a file", Destructive: true,
			Schema: object(nil, props{
				"path":       str("file path, relative to /workspace"),
				"file_path":  str("alias of path"),
				"oldText":    str("text to replace (exactly once)"),
				"newText":    str("replacement"),
				"old_string": str("alias of oldText"),
				"new_string": str("alias of newText"),
				"edits": props{"type": "array", "description": "several replacements, applied in order",
					"items": object([]string{"oldText", "newText"}, props{"oldText": str("text to replace"), "newText": str("replacement")})},
			})},
		{Name: "apply_patch", Kind: KindFile, Profile: "apply_patch",
			Description: "Apply a '*** Begin Patch' document (Add File, Update File with @@ context, Delete File, Move to); every change is checked before any file is written.",
			Title:       "Apply a patch", Destructive: true,
			Schema: object([]string{"input"}, props{"input": str("the patch, from '*** Begin Patch' to '*** End Patch'")})},
		{Name: "ls", Kind: KindFile, Profile: "ls",
			Description: "List a directory of the workspace: name, type, size, mode, modification time, and the target of links.",
			Title:       "List a directory", ReadOnly: true,
			Schema: object(nil, props{"path": str("directory, relative to /workspace (default the workspace)")})},
		{Name: "stat", Kind: KindFile, Profile: "read",
			Description: "Describe one path of the workspace without following a final symlink: type (file, directory, symlink, other), size, mtimeMs, mode.",
			Title:       "Describe a path", ReadOnly: true,
			Schema: object([]string{"path"}, props{"path": str("path, relative to /workspace")})},
		{Name: "mkdir", Kind: KindFile, Profile: "write",
			Description: "Create a directory of the workspace; with recursive, its missing parents too, and an existing directory is no error.",
			Title:       "Create a directory",
			Schema: object([]string{"path"}, props{
				"path":      str("directory, relative to /workspace"),
				"recursive": boolean("create missing parents; an existing directory is fine (mkdir -p)"),
			})},
		{Name: "remove", Kind: KindFile, Profile: "write",
			Description: "Remove a file, link or directory of the workspace (a link is removed, not what it points to).",
			Title:       "Remove a path", Destructive: true,
			Schema: object([]string{"path"}, props{
				"path":      str("path, relative to /workspace"),
				"recursive": boolean("remove a directory and everything in it"),
				"force":     boolean("a path that does not exist is no error"),
			})},
		{Name: "rename", Kind: KindFile, Profile: "write",
			Description: "Rename or move a path within the workspace (one filesystem: across mounts is an error); an existing file at the destination is replaced.",
			Title:       "Rename a path", Destructive: true,
			Schema: object([]string{"from", "to"}, props{
				"from":  str("existing path, relative to /workspace"),
				"to":    str("new path, relative to /workspace"),
				"mkdir": boolean("create missing parent directories of to (default true)"),
			})},
		{Name: "process", Kind: KindGateway, Profile: "process",
			Description: "Manage this session's background processes (started by exec with background or yieldMs).",
			Title:       "Background processes",
			Schema: object([]string{"action"}, props{
				"action":    props{"type": "string", "enum": []string{"list", "poll", "log", "write", "kill", "remove"}, "description": "list: the session's processes; poll: output since the last poll; log: kept output lines; write: to stdin; kill: the jail; remove: forget an ended process"},
				"processId": str("the process (from exec)"),
				"sessionId": str("alias of processId (OpenClaw's name)"),
				"timeout":   integer("poll: wait up to this many ms for output (at most 30000)"),
				"offset":    integer("log: first line, 0-based"),
				"limit":     integer("log: number of lines (default the last 200)"),
				"data":      str("write: bytes for stdin"),
				"eof":       props{"type": "boolean", "description": "write: close stdin afterwards"},
			})},
		{Name: "sessions_spawn", Kind: KindGateway, Profile: "sessions_spawn",
			Description: "Start a new session with a workspace of its own; returns its sessionId.",
			Title:       "New session",
			Schema:      object(nil, props{})},
	}
})

// All returns every tool, in the registry's order.
func All() []Tool { return slices.Clone(table()) }

// Lookup finds a tool by its name or an alias.
func Lookup(name string) (Tool, bool) {
	for _, t := range table() {
		if t.Name == name || slices.Contains(t.Aliases, name) {
			return t, true
		}
	}
	return Tool{}, false
}

// NamesOf lists the names of the tools of one kind, in the registry's
// order.
func NamesOf(kind Kind) []string {
	var out []string
	for _, t := range table() {
		if t.Kind == kind {
			out = append(out, t.Name)
		}
	}
	return out
}

// Names lists the file tools (NamesOf(KindFile)); it is kept for the
// callers that read it as a list.
var Names = NamesOf(KindFile)

// IsFileTool reports whether name is a file tool.
func IsFileTool(name string) bool {
	t, ok := Lookup(name)
	return ok && t.Kind == KindFile
}

// Governing returns the tool name a profile must allow for name to run
// (Tool.Profile), and false for a tool the registry does not know.
func Governing(name string) (string, bool) {
	t, ok := Lookup(name)
	return t.Profile, ok
}

// parameters lists the parameter names of a tool's schema.
func (t Tool) parameters() []string {
	p, _ := t.Schema["properties"].(props)
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
