package mcpserver

import (
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openclaw-run/openclaw-run/runner/tools"
)

// toolDefs lists the MCP tools from the registry (runner/tools), which
// owns every tool's description and parameter schema (OpenClaw's names,
// docs/events.md); the runner checks the values again. sessions_spawn is
// not offered: each MCP session already is a gateway session. process is
// offered only when background exec is (Options.Process).
func toolDefs(process bool) []*mcp.Tool {
	var defs []*mcp.Tool
	for _, t := range tools.All() {
		if t.Name == "sessions_spawn" || (t.Name == "process" && !process) {
			continue
		}
		a := &mcp.ToolAnnotations{Title: t.Title, ReadOnlyHint: t.ReadOnly}
		if t.Destructive {
			a.DestructiveHint = &t.Destructive
		}
		if t.ClosedWorld {
			a.OpenWorldHint = new(bool)
		}
		defs = append(defs, &mcp.Tool{Name: t.Name, Description: t.Description, InputSchema: t.Schema, Annotations: a})
	}
	return defs
}
