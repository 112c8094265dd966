// OpenClaw's sandbox filesystem bridge (SandboxFsBridge), natively: each
// operation is ONE openclaw-run file tool call, so one fresh jail under the
// profile's `file` seccomp tier (no execve, no sockets). Without a bridge of
// its own, OpenClaw would run shell and python3 scripts through
// runShellCommand instead: about 13 jails per file operation, and python3
// in every jail.
import path from "node:path";
import { JAIL_WORKSPACE, toJailPath } from "./paths.js";
import { callTool, ToolError } from "./tools.js";

/**
 * @typedef {import("./tools.js").CallContext} CallContext
 * @typedef {{filePath: string, cwd?: string, signal?: AbortSignal}} PathParams
 */

/**
 * createBridge returns the bridge of one sandbox.
 * @param {{workspaceDir: string, context: () => CallContext}} o
 *   context() resolves the binary and environment for each call, and
 *   throws the plugin's configuration error, if any
 */
export function createBridge(o) {
  const workspaceDir = path.resolve(o.workspaceDir);
  /** @param {PathParams} p */
  const jailPath = (p) => {
    try {
      return toJailPath(p.filePath, { workspaceDir, cwd: p.cwd });
    } catch (e) {
      throw new Error(`openclaw-run sandbox: ${/** @type {Error} */ (e).message}`);
    }
  };
  /**
   * @param {string} tool
   * @param {Record<string, unknown>} params
   * @param {AbortSignal} [signal]
   */
  const call = (tool, params, signal) => callTool(o.context(), tool, params, signal);

  return {
    // The workspace is the only mount; OpenClaw maps container paths back
    // to host paths with this (and otherwise treats the bridge as legacy).
    get pathMappings() {
      return [{ hostRoot: workspaceDir, containerRoot: JAIL_WORKSPACE }];
    },

    // No hostPath: OpenClaw would then read and write that host path
    // itself, outside any jail, following whatever symlink the agent
    // planted there. Every access goes through a jail.
    /** @param {{filePath: string, cwd?: string}} p */
    resolvePath(p) {
      const containerPath = jailPath(p);
      return { relativePath: path.posix.relative(JAIL_WORKSPACE, containerPath), containerPath };
    },

    /** @param {PathParams} p */
    async readFile(p) {
      const r = await call("read", { path: jailPath(p), encoding: "base64" }, p.signal);
      if (typeof r.base64 !== "string") throw new Error(`openclaw-run read ${jailPath(p)}: the reply has no base64 content`);
      return Buffer.from(r.base64, "base64");
    },

    /** @param {PathParams & {data: Buffer | string, encoding?: BufferEncoding, mkdir?: boolean}} p */
    async writeFile(p) {
      await call("write", { path: jailPath(p), base64: toBuffer(p).toString("base64"), mkdir: p.mkdir !== false }, p.signal);
    },

    /**
     * @param {PathParams & {data: Buffer | string, encoding?: BufferEncoding, mkdir?: boolean}} p
     * @returns {Promise<"created" | "exists">}
     */
    async createFileExclusive(p) {
      try {
        await call("write", { path: jailPath(p), base64: toBuffer(p).toString("base64"), mkdir: p.mkdir !== false, exclusive: true }, p.signal);
        return "created";
      } catch (e) {
        if (e instanceof ToolError && e.code === "EEXIST") return "exists";
        throw e;
      }
    },

    /** @param {PathParams} p */
    async mkdirp(p) {
      await call("mkdir", { path: jailPath(p), recursive: true }, p.signal);
    },

    /** @param {PathParams & {recursive?: boolean, force?: boolean}} p */
    async remove(p) {
      await call("remove", { path: jailPath(p), recursive: p.recursive === true, force: p.force !== false }, p.signal);
    },

    /** @param {{from: string, to: string, cwd?: string, signal?: AbortSignal}} p */
    async rename(p) {
      const from = jailPath({ filePath: p.from, cwd: p.cwd });
      const to = jailPath({ filePath: p.to, cwd: p.cwd });
      await call("rename", { from, to }, p.signal);
    },

    /**
     * @param {PathParams} p
     * @returns {Promise<{type: "file" | "directory" | "other", size: number, mtimeMs: number} | null>}
     */
    async stat(p) {
      try {
        const r = await call("stat", { path: jailPath(p) }, p.signal);
        // OpenClaw knows file, directory and other; a symlink (not
        // followed, as lstat) is "other", as in its own ssh bridge.
        const type = r.type === "file" || r.type === "directory" ? r.type : "other";
        return { type, size: Number(r.size ?? 0), mtimeMs: Number(r.mtimeMs ?? 0) };
      } catch (e) {
        if (e instanceof ToolError && e.code === "ENOENT") return null;
        throw e;
      }
    },

    /**
     * @param {PathParams} p
     * @returns {Promise<{name: string, isDirectory: boolean}[]>}
     */
    async readDirectory(p) {
      const r = await call("ls", { path: jailPath(p) }, p.signal);
      if (!Array.isArray(r.entries)) throw new Error(`openclaw-run ls ${jailPath(p)}: the reply has no entries`);
      return r.entries.map((/** @type {{name: string, type: string}} */ e) => ({ name: e.name, isDirectory: e.type === "dir" || e.type === "directory" }));
    },
  };
}

/** @param {{data: Buffer | string, encoding?: BufferEncoding}} p */
function toBuffer(p) {
  return Buffer.isBuffer(p.data) ? p.data : Buffer.from(String(p.data), p.encoding ?? "utf8");
}
