package mcpserver

import "github.com/modelcontextprotocol/go-sdk/mcp"

// The tools' input schemas use OpenClaw's parameter names (docs/events.md)
// and document every field; the runner checks the values again.

type props = map[string]any

func str(desc string) props     { return props{"type": "string", "description": desc} }
func integer(desc string) props { return props{"type": "integer", "minimum": 0, "description": desc} }

func object(required []string, p props) map[string]any {
	s := map[string]any{"type": "object", "properties": p, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func toolDefs(process bool) []*mcp.Tool {
	readOnly, destructive := true, true
	defs := []*mcp.Tool{
		{Name: "exec", Description: "Run a shell command (/bin/sh -c) in a fresh jail: the workspace at /workspace, no network, the profile's seccomp filter and limits. Returns stdout, stderr, the exit code and the resources used.",
			InputSchema: object([]string{"command"}, props{
				"command":        str("the shell command"),
				"workdir":        str("working directory inside /workspace (relative to it); default /workspace"),
				"env":            props{"type": "object", "additionalProperties": props{"type": "string"}, "description": "extra environment variables {NAME: value}; nothing else of the server's environment enters the jail"},
				"secretEnv":      props{"type": "object", "additionalProperties": props{"type": "string"}, "description": "secrets from the server's secret store as variables {VAR: secretName}; no other secret enters"},
				"timeoutSeconds": props{"type": "number", "minimum": 0, "description": "kill the whole jail after this many seconds (at most the profile's timeout)"},
				"background":     props{"type": "boolean", "description": "return at once with a processId; follow it with the process tool"},
				"yieldMs":        integer("wait this long for the command, then return it as a background process if still running"),
			}),
			Annotations: &mcp.ToolAnnotations{Title: "Run a command in a jail", DestructiveHint: &destructive, OpenWorldHint: new(bool)}},
		{Name: "read", Description: "Read a text file of the workspace (in a fresh jail). Binary files return their size, sha256 and first 64 KiB as base64.",
			InputSchema: object(nil, props{
				"path":      str("file path, relative to /workspace"),
				"file_path": str("alias of path"),
				"offset":    integer("first line to return, 1-based"),
				"limit":     integer("number of lines (default 2000)"),
			}),
			Annotations: &mcp.ToolAnnotations{Title: "Read a file", ReadOnlyHint: readOnly}},
		{Name: "write", Description: "Create or replace a file of the workspace atomically (parent directories are created; the mode is kept).",
			InputSchema: object([]string{"content"}, props{
				"path":      str("file path, relative to /workspace"),
				"file_path": str("alias of path"),
				"content":   str("the whole new content"),
			}),
			Annotations: &mcp.ToolAnnotations{Title: "Write a file", DestructiveHint: &destructive}},
		{Name: "edit", Description: "Replace exact text in a file: each oldText must occur exactly once when its turn comes.",
			InputSchema: object(nil, props{
				"path":       str("file path, relative to /workspace"),
				"file_path":  str("alias of path"),
				"oldText":    str("text to replace (exactly once)"),
				"newText":    str("replacement"),
				"old_string": str("alias of oldText"),
				"new_string": str("alias of newText"),
				"edits": props{"type": "array", "description": "several replacements, applied in order",
					"items": object([]string{"oldText", "newText"}, props{"oldText": str("text to replace"), "newText": str("replacement")})},
			}),
			Annotations: &mcp.ToolAnnotations{Title: "Edit a file", DestructiveHint: &destructive}},
		{Name: "apply_patch", Description: "Apply a '*** Begin Patch' document (Add File, Update File with @@ context, Delete File, Move to); every change is checked before any file is written.",
			InputSchema: object([]string{"input"}, props{"input": str("the patch, from '*** Begin Patch' to '*** End Patch'")}),
			Annotations: &mcp.ToolAnnotations{Title: "Apply a patch", DestructiveHint: &destructive}},
		{Name: "ls", Description: "List a directory of the workspace: name, type, size, mode, and the target of links.",
			InputSchema: object(nil, props{"path": str("directory, relative to /workspace (default the workspace)")}),
			Annotations: &mcp.ToolAnnotations{Title: "List a directory", ReadOnlyHint: readOnly}},
	}
	if process {
		defs = append(defs, &mcp.Tool{Name: "process", Description: "Manage this session's background processes (started by exec with background or yieldMs).",
			InputSchema: object([]string{"action"}, props{
				"action":    props{"type": "string", "enum": []string{"list", "poll", "log", "write", "kill", "remove"}, "description": "list: the session's processes; poll: output since the last poll; log: kept output lines; write: to stdin; kill: the jail; remove: forget an ended process"},
				"processId": str("the process (from exec)"),
				"sessionId": str("alias of processId (OpenClaw's name)"),
				"timeout":   integer("poll: wait up to this many ms for output (at most 30000)"),
				"offset":    integer("log: first line, 0-based"),
				"limit":     integer("log: number of lines (default the last 200)"),
				"data":      str("write: bytes for stdin"),
				"eof":       props{"type": "boolean", "description": "write: close stdin afterwards"},
			}),
			Annotations: &mcp.ToolAnnotations{Title: "Background processes"}})
	}
	return defs
}
