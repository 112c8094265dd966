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
	prog, err := seccomp.Compile(tier)
	if err == nil {
		err = seccomp.LoadSelf(prog)
	}
	if err != nil {
		// Never touch a file with less isolation than asked.
		fmt.Fprintf(os.Stderr, "openclaw-run tool helper: %v\n", err)
		json.NewEncoder(stdout).Encode(Reply{Error: &Error{Code: CodeSetup, Message: err.Error()}})
		return 2
	}
	return serve(tool, stdin, stdout)
}

// serve runs one tool for Serve, once the filter is in place: it reads
// the parameters from stdin and writes the reply to stdout. The exit code
// is Serve's.
func serve(tool string, stdin io.Reader, stdout io.Writer) int {
	reply := func(r Reply) int {
		json.NewEncoder(stdout).Encode(r)
		if r.OK {
			return 0
		}
		return 1
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
		if p.Encoding == "base64" {
			// The reply is streamed; an error before it starts is an
			// ordinary reply, one after it a cut answer (see ReadBase64).
			var cw countingWriter
			cw.w = stdout
			if err := ReadBase64(p, &cw); err != nil {
				if cw.n > 0 {
					fmt.Fprintf(os.Stderr, "openclaw-run tool helper: %v\n", err)
					return 2
				}
				return reply(Reply{Error: errorOf(err)})
			}
			return 0
		}
		res, err = Read(p)
	case "write":
		res, err = Write(p)
	case "edit":
		res, err = Edit(p)
	case "apply_patch":
		res, err = ApplyPatch(p)
	case "ls":
		res, err = Ls(p)
	case "stat":
		res, err = Stat(p)
	case "mkdir":
		res, err = Mkdir(p)
	case "remove":
		res, err = Remove(p)
	case "rename":
		res, err = Rename(p)
	default:
		err = &Error{Code: CodeInternal, Message: fmt.Sprintf("the helper has no implementation of %s", tool)}
	}
	if err != nil {
		return reply(Reply{Error: errorOf(err)})
	}
	return reply(Reply{OK: true, Result: res})
}

// countingWriter counts what was written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
