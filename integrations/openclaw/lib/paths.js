// OpenClaw's paths -> paths in the jail.
//
// OpenClaw names files and working directories in its container view
// (/workspace/...), relative to a cwd, or as host paths below the
// workspace directory it gave the backend. In the jail the workspace is
// mounted at /workspace and nothing else of the host is visible, so the
// jail itself contains every path; mapping here only turns OpenClaw's
// forms into one, and refuses lexical escapes early with a clear error
// (a symlink planted in the workspace is followed inside the jail, where
// it can only reach the jail's own files).
import path from "node:path";

/** Where the workspace is mounted in every jail. */
export const JAIL_WORKSPACE = "/workspace";

/**
 * toJailPath maps one of OpenClaw's paths to an absolute path in the jail.
 * @param {string} input a path as OpenClaw gives it
 * @param {{workspaceDir: string, cwd?: string}} where the host workspace and
 *   the base of a relative input (a jail or host directory; default /workspace)
 * @returns {string} /workspace or a path below it, normalised
 */
export function toJailPath(input, where) {
  if (typeof input !== "string" || input.trim() === "") throw new Error("empty path");
  if (input.includes("\0")) throw new Error("path contains a NUL byte");
  const p = input.trim();
  let base = JAIL_WORKSPACE;
  if (where.cwd && where.cwd.trim() !== "") base = toJailPath(where.cwd, { workspaceDir: where.workspaceDir });
  const hostRoot = path.resolve(where.workspaceDir);
  let jail;
  if (path.posix.isAbsolute(p)) {
    const abs = path.posix.normalize(p);
    // A host path below the workspace directory (OpenClaw's host view).
    jail = within(abs, hostRoot) && !within(abs, JAIL_WORKSPACE) ? path.posix.join(JAIL_WORKSPACE, path.relative(hostRoot, abs)) : abs;
  } else {
    jail = path.posix.normalize(path.posix.join(base, p));
  }
  if (!within(jail, JAIL_WORKSPACE)) {
    throw new Error(`path ${JSON.stringify(input)} is outside the workspace: only ${JAIL_WORKSPACE} (${hostRoot} on the host) is visible in the jail`);
  }
  return jail.length > 1 && jail.endsWith("/") ? jail.slice(0, -1) : jail;
}

/** @param {string} p @param {string} dir */
function within(p, dir) {
  return p === dir || p.startsWith(dir.endsWith("/") ? dir : dir + "/");
}
