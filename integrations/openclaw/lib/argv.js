// The openclaw-run command lines of one call (docs/openclaw.md, "The CLI
// contract"): an exec in a fresh jail, or one file tool in a fresh jail,
// run directly or through a running openclaw-run gateway.

/** OpenClaw's own pty size for host exec (its process supervisor's default). */
export const TTY_SIZE = "120x30";

/**
 * @typedef {import("./options.js").Options} Options
 *
 * @typedef {object} ExecCall
 * @property {string} binary       the resolved openclaw-run binary
 * @property {string} workspaceDir host directory mounted at /workspace
 * @property {string} workdir      working directory in the jail
 * @property {string[]} envArgs    --env K=V flags (env.js)
 * @property {boolean} tty         give the jail its own pty
 * @property {string} resultFile   where openclaw-run writes the call's result JSON
 * @property {string} session      OpenClaw's session key, for our audit log
 * @property {string[]} shell      the jailed command: /bin/sh -c COMMAND [$0 ARGS...]
 */

/**
 * execArgv is the command line of one jailed command.
 * @param {Options} o
 * @param {ExecCall} c
 * @returns {string[]}
 */
export function execArgv(o, c) {
  if (o.gateway) {
    // The gateway builds the jail under its own config; the command is
    // one string for its exec tool. ARGS after the script cannot be
    // passed this way (see runShellCommand).
    if (c.shell.length !== 3) throw new Error("a script with arguments cannot run through an openclaw-run gateway");
    return [
      c.binary, "call", "exec", "--gateway", o.gateway.url, "--token-file", o.gateway.tokenFile,
      "--session", c.session, "--workdir", c.workdir, ...c.envArgs, ...(c.tty ? ["-t", "--tty-size", TTY_SIZE] : []),
      "--raw", "--result-file", c.resultFile, "--command", c.shell[2],
    ];
  }
  return [
    c.binary, ...common(o), "--workspace", c.workspaceDir, "--workdir", c.workdir, ...ids(o), ...c.envArgs,
    ...(c.tty ? ["-t", "--tty-size", TTY_SIZE] : []), "--result-file", c.resultFile, "--session", c.session,
    ...o.extraArgs, "--", ...c.shell,
  ];
}

/**
 * toolArgv is the command line of one file tool call; its parameters go on
 * stdin as one JSON object and its reply comes on stdout.
 * @param {Options} o
 * @param {{binary: string, tool: string, workspaceDir: string, session: string}} c
 * @returns {string[]}
 */
export function toolArgv(o, c) {
  if (o.gateway) {
    return [c.binary, "call", c.tool, "--gateway", o.gateway.url, "--token-file", o.gateway.tokenFile, "--session", c.session, "--params-stdin", "--reply"];
  }
  return [c.binary, "tools", "call", c.tool, ...common(o), "--workspace", c.workspaceDir, ...ids(o), "--session", c.session];
}

/** @param {Options} o */
function common(o) {
  return [...(o.config ? ["--config", o.config] : []), ...(o.profile ? ["--profile", o.profile] : [])];
}

/** @param {Options} o */
function ids(o) {
  return o.uid !== undefined ? ["--uid", String(o.uid), "--gid", String(o.gid ?? o.uid)] : [];
}
