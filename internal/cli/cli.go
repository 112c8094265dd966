// Package cli is the flag handling shared by openclaw-run and
// openclaw-gateway: every subcommand's flag set reports a bad flag by name
// with what was wrong and the subcommand's usage line, and --help prints
// the usage and the flags and exits 0.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// FlagSet is one subcommand's flags with its usage line.
type FlagSet struct {
	*pflag.FlagSet
	// Cmd is how the user names the subcommand: "openclaw-run tools".
	Cmd string
	// Usage is the synopsis without "usage: ": "openclaw-run tools list | ...".
	Usage string
	// Code is the exit code of a usage error (125 for openclaw-run, whose
	// other codes are the jailed command's; 2 elsewhere).
	Code   int
	stderr io.Writer
}

// New returns the flag set of cmd. Errors and help go to stderr.
func New(cmd, usage string, code int, stderr io.Writer) *FlagSet {
	fs := &FlagSet{FlagSet: pflag.NewFlagSet(cmd, pflag.ContinueOnError), Cmd: cmd, Usage: usage, Code: code, stderr: stderr}
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.FlagSet.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n", fs.Usage)
		if fs.HasFlags() {
			fmt.Fprintf(stderr, "\nFlags:\n%s", fs.FlagUsages())
		}
	}
	if describing != nil {
		*describing = append(*describing, fs)
	}
	return fs
}

// Parse parses args. When ok is false the caller returns code: 0 after
// --help, Code after a bad flag (reported by name, with the usage line).
func (fs *FlagSet) Parse(args []string) (code int, ok bool) {
	if describing != nil {
		return 0, false
	}
	err := fs.FlagSet.Parse(args)
	if err == nil {
		return 0, true
	}
	if errors.Is(err, pflag.ErrHelp) {
		return 0, false
	}
	return fs.Fail("%v", err), false
}

// Fail reports a usage error (a bad flag, a missing or extra argument)
// with the usage line and returns Code.
func (fs *FlagSet) Fail(format string, args ...any) int {
	fmt.Fprintf(fs.stderr, "%s: %s\nusage: %s\n(%s --help lists the flags)\n", fs.Cmd, fmt.Sprintf(format, args...), fs.Usage, fs.Cmd)
	return fs.Code
}

// describing, when set, collects the flag sets made by New instead of
// parsing: Describe runs the real subcommands to learn their flags, so
// that the man pages and shell completion come from the same definitions
// the binaries parse with.
var describing *[]*FlagSet

// Describe calls run (which makes flag sets and calls Parse, as a
// subcommand does) and returns the flag sets it made; Parse returns
// (0, false) meanwhile, so nothing runs. Not safe for concurrent use.
func Describe(run func()) []*FlagSet {
	var got []*FlagSet
	describing = &got
	defer func() { describing = nil }()
	run()
	return got
}

// FlagDoc and CmdDoc describe a flag set for the man pages and the shell
// completion (internal/cli/gendocs), from the definitions the binary parses
// with.
type FlagDoc struct {
	Name      string `json:"name"`
	Shorthand string `json:"shorthand,omitempty"`
	Type      string `json:"type"`
	Default   string `json:"default,omitempty"`
	Usage     string `json:"usage"`
}

type CmdDoc struct {
	Cmd   string    `json:"cmd"`
	Usage string    `json:"usage"`
	Flags []FlagDoc `json:"flags"`
}

// Docs describes flag sets.
func Docs(sets []*FlagSet) []CmdDoc {
	var out []CmdDoc
	for _, fs := range sets {
		d := CmdDoc{Cmd: fs.Cmd, Usage: fs.Usage, Flags: []FlagDoc{}}
		fs.VisitAll(func(f *pflag.Flag) {
			d.Flags = append(d.Flags, FlagDoc{Name: f.Name, Shorthand: f.Shorthand, Type: f.Value.Type(), Default: f.DefValue, Usage: f.Usage})
		})
		out = append(out, d)
	}
	return out
}
