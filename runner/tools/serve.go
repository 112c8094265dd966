package tools

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/openclaw-run/openclaw-run/seccomp"
)

// Reply is the helper's answer on stdout.
type Reply struct {
	OK     bool   `json:"ok"`
	Result any    `json:"result,omitempty"`
	Error  *Error `json:"error,omitempty"`
}

// MaxParams bounds what the helper reads from stdin.
const MaxParams = 64 << 20

// Serve is the helper mode of the binary, run as the command of a fresh
// jail: it narrows itself to the file tier, runs one tool and prints the
// reply. The exit code is 0 when the tool succeeded, 1 when it failed (the
// reply says why), 2 when the helper itself could not run.
func Serve(tier, tool string, stdin io.Reader, stdout io.Writer) int {
	reply := func(r Reply) int {
		json.NewEncoder(stdout).Encode(r)
		if r.OK {
			return 0
		}
		return 1
	}
	prog, err := seccomp.Compile(tier)
	if err == nil {
		err = seccomp.LoadSelf(prog)
	}
	if err != nil {
		// Never touch a file with less isolation than asked.
		fmt.Fprintf(os.Stderr, "openclaw-run tool helper: %v\n", err)
		reply(Reply{Error: &Error{Code: CodeSetup, Message: err.Error()}})
		return 2
	}
	raw, err := io.ReadAll(io.LimitReader(stdin, MaxParams+1))
	if err != nil || len(raw) > MaxParams {
		return reply(Reply{Error: &Error{Code: CodeLimit, Message: "parameters too large or unreadable"}})
	}
	p, err := Decode(tool, raw)
	if err != nil {
		return reply(Reply{Error: errorOf(err)})
	}
	var res any
	switch tool {
	case "read":
		res, err = Read(p)
	case "write":
		res, err = Write(p)
	case "edit":
		res, err = Edit(p)
	case "apply_patch":
		res, err = ApplyPatch(p)
	case "ls":
		res, err = Ls(p)
	}
	if err != nil {
		return reply(Reply{Error: errorOf(err)})
	}
	return reply(Reply{OK: true, Result: res})
}
