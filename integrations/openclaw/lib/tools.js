// One openclaw-run file tool call: one fresh jail under the profile's
// `file` seccomp tier, parameters as JSON on stdin, the reply as JSON on
// stdout ({"ok":true,"result":{...}} or {"ok":false,"error":{code,message}}).
import { toolArgv } from "./argv.js";
import { runBuffered, EXIT } from "./spawn.js";
import { trace } from "./trace.js";

// Our tool error codes -> the errno names OpenClaw's file tools test for
// (error.code === "ENOENT" and the like).
const ERRNO = {
  not_found: "ENOENT",
  exists: "EEXIST",
  already_exists: "EEXIST",
  is_directory: "EISDIR",
  not_directory: "ENOTDIR",
  not_empty: "ENOTEMPTY",
  policy_denied: "EACCES",
  permission_denied: "EACCES",
};

/** A file tool that ran and failed (the path does not exist, the parameters are wrong, ...). */
export class ToolError extends Error {
  /**
   * @param {string} tool
   * @param {string} code our error code
   * @param {string} message
   */
  constructor(tool, code, message) {
    super(`openclaw-run ${tool}: ${message} (${code})`);
    this.name = "ToolError";
    this.toolCode = code;
    /** @type {string | undefined} the errno name, for OpenClaw's checks */
    this.code = ERRNO[/** @type {keyof typeof ERRNO} */ (code)];
  }
}

/**
 * @typedef {object} CallContext
 * @property {import("./options.js").Options} options
 * @property {string} binary       resolved for this call
 * @property {Record<string, string>} env openclaw-run's environment
 * @property {string} workspaceDir
 * @property {string} session
 */

/**
 * callTool runs one file tool in one jail and returns its result object.
 * A refusal or a jail that could not be built (exit 125), and a reply that
 * is not the contract's JSON, are errors that name the cause; they never
 * read as an empty success.
 * @param {CallContext} ctx
 * @param {string} tool
 * @param {Record<string, unknown>} params
 * @param {AbortSignal} [signal]
 * @returns {Promise<any>}
 */
export async function callTool(ctx, tool, params, signal) {
  const argv = toolArgv(ctx.options, { binary: ctx.binary, tool, workspaceDir: ctx.workspaceDir, session: ctx.session });
  trace("tool", { session: ctx.session, tool });
  const res = await runBuffered(argv, { env: ctx.env, stdin: JSON.stringify(params), signal });
  const stderr = res.stderr.toString("utf8").trim();
  let reply;
  try {
    reply = JSON.parse(res.stdout.toString("utf8"));
  } catch {
    reply = undefined;
  }
  if (res.code === EXIT.refused || !reply || typeof reply !== "object" || typeof reply.ok !== "boolean") {
    const why = reply?.error?.message ?? (stderr || `exit ${res.code}, no reply`);
    throw new Error(`openclaw-run could not run the file tool ${tool} in a jail: ${why}`);
  }
  if (!reply.ok) {
    throw new ToolError(tool, String(reply.error?.code ?? "failed"), String(reply.error?.message ?? (stderr || "failed")));
  }
  return reply.result ?? {};
}
