// Package policy decides whether a tool call may run, from configuration
// alone: it parses, compares and explains, and does no I/O.
//
// The exec policy (tools.exec.denyCommands / allowCommands) is a
// convenience and an audit signal, not the security boundary: the jail
// is. A program can always reach a denied action another way (a script it
// wrote, a compiled binary, python -c with os.remove). So the policy
// promises exactly this, and docs/config.md ("The exec policy's rules")
// says it for operators:
//
// What it checks. A command string is parsed as bash (mvdan.cc/sh). Every
// simple command anywhere in it is checked: pipelines, lists, subshells,
// functions, loops, command and process substitution. Names are compared
// after quote removal and escapes, by their last path component, case
// folded, interpreter versions folded (python3.12 is python). Brace
// expansion is performed ({rm,x} is rm x). Shell code the command hands
// to something else is parsed and checked recursively, with the same
// rules: sh -c and the other shells' -c strings, eval, here-documents and
// here-strings and echo/printf/cat output fed to a shell, trap actions,
// alias values (also where the alias is used, with the words after it),
// hash -p paths, complete/compgen -C, bind -x, mapfile -C, history -s,
// prompt variables (PS0-PS4, PROMPT_COMMAND), command variables (PAGER,
// EDITOR, GIT_SSH_COMMAND...), env -S, su -c, script -c, flock -c, watch,
// parallel. Wrappers are looked through (env, sudo, nice, timeout, xargs,
// every find -exec, busybox, strace, chroot, unshare, python -m, ...).
//
// What it refuses. A denied command (deny mode), a command not allowed
// (allow mode), in any of the places above; a glob in a command name that
// may match a denied name (/usr/bin/r[m], @(rm|ls)); input it cannot
// parse; shell strings nested deeper than maxDepth. In deny mode it also
// refuses a denied command that appears when the expansions take values
// the command string itself gives them: empty ($X rm), a literal
// assigned anywhere (x=rm; $x), a default (${x:-rm}), the arguments of sh
// -c and of functions ("$@"), echo/printf output ($(echo rm)), or a
// wrapper that an unknown name may be ($SHELL -c 'rm x').
//
// What it only audits. Whatever the shell computes when it runs cannot be
// known before: a command name from an expansion ($cmd, "$@"), a glob
// name that matches no denied name, eval or sh -c of a variable, a shell
// reading a pipe from a program, a sourced file (. FILE), BASH_ENV or
// LD_PRELOAD set in the string, startup files of bash -l/-i, zsh, fish,
// fc, enable -f. These go into Decision.Unchecked for the audit record.
// Options.Dynamic decides: "audit" (the default in deny mode) runs them,
// "deny" (the default in allow mode) refuses them. With no list
// configured nothing is parsed, checked or flagged.
//
// Programs that run their own input (awk's system(), sed's e, perl -e,
// python -c, node -e, gdb, expect, make, git aliases) are judged by their
// name: their programs are not read. In allow mode such a program runs
// only if it is listed, and listing it admits everything it can do.
// CheckInput checks data written to a background process that a shell
// or xargs runs as commands; CheckEnv refuses environment variables that
// load code into a program (LD_PRELOAD, BASH_ENV, NODE_OPTIONS, ...).
package policy
