// The sandbox backend OpenClaw calls (its SandboxBackendHandle and
// manager, from openclaw/plugin-sdk/sandbox; the seam is untyped, so the
// shapes here are the ones verified against the pinned OpenClaw, see
// docs/openclaw.md). Every exec, every script and every file operation is
// one fresh openclaw-run jail; nothing runs on the host, and anything that
// keeps a call from reaching a jail is an error OpenClaw shows the agent.
import path from "node:path";
import { execArgv } from "./argv.js";
import { createBridge } from "./bridge.js";
import { jailEnvArgs, runnerEnv } from "./env.js";
import { findBinary } from "./options.js";
import { JAIL_WORKSPACE, toJailPath } from "./paths.js";
import { describeResult, newResultFile, runBuffered, takeResult } from "./spawn.js";
import { trace } from "./trace.js";

export const BACKEND_ID = "openclaw-run";

/**
 * @typedef {import("./options.js").Options} Options
 * @typedef {{info: (m: string) => void, warn: (m: string) => void}} Logger
 * @typedef {{options?: Options, configError?: string, logger: Logger, env?: NodeJS.ProcessEnv}} Deps
 */

/**
 * fail is the error of a call that could not reach a jail.
 * @param {string} why
 */
function fail(why) {
  return new Error(`openclaw-run sandbox: ${why}. The call did not run (it is never run on the host instead).`);
}

/** @param {Options | undefined} o */
export function configLabel(o) {
  if (!o) return "openclaw-run (invalid plugin config)";
  if (o.gateway) return `openclaw-run gateway ${o.gateway.url}`;
  return `openclaw-run profile ${o.profile ?? "(configured)"}`;
}

/**
 * createHandle is the backend's factory: the handle of one sandbox scope.
 * @param {any} params OpenClaw's factory input: {sessionKey, scopeKey, runtimeId?, workspaceDir, cfg, ...}
 * @param {Deps} deps
 */
export function createHandle(params, deps) {
  const workspaceDir = path.resolve(String(params.workspaceDir));
  const session = String(params.sessionKey ?? params.scopeKey ?? "openclaw");
  const runtimeId = String(params.runtimeId ?? `openclaw-run-${String(params.scopeKey ?? "default").replace(/[^A-Za-z0-9_.-]+/g, "_")}`);
  const unsupported = unsupportedSandboxConfig(params.cfg);
  const env = deps.env ?? process.env;

  /** The context of one call; throws what keeps it from a jail. */
  const context = () => {
    if (deps.configError || !deps.options) throw fail(`invalid plugin config (plugins.entries.${BACKEND_ID}.config): ${deps.configError}`);
    if (unsupported) throw fail(unsupported);
    let binary;
    try {
      binary = findBinary(deps.options.binary, env.PATH);
    } catch (e) {
      throw fail(/** @type {Error} */ (e).message);
    }
    return { options: deps.options, binary, env: runnerEnv(env, deps.options), workspaceDir, session };
  };
  /** @param {string | undefined} wd */
  const jailWorkdir = (wd) => {
    try {
      return toJailPath(wd && wd.trim() !== "" ? wd : JAIL_WORKSPACE, { workspaceDir });
    } catch (e) {
      throw fail(`workdir: ${/** @type {Error} */ (e).message}`);
    }
  };

  return {
    id: BACKEND_ID,
    runtimeId,
    runtimeLabel: runtimeId,
    workdir: JAIL_WORKSPACE,
    env: {},
    configLabel: configLabel(deps.options),
    configLabelKind: "Profile",
    capabilities: { browser: false },

    /**
     * OpenClaw spawns the returned argv itself (streaming its output and
     * killing it on timeout): openclaw-run, which builds the jail.
     * @param {{command: string, workdir?: string, env: Record<string, string>, usePty: boolean}} p
     */
    async buildExecSpec(p) {
      const ctx = context();
      const workdir = jailWorkdir(p.workdir);
      let envArgs;
      try {
        envArgs = jailEnvArgs(p.env);
      } catch (e) {
        throw fail(/** @type {Error} */ (e).message);
      }
      const resultFile = newResultFile();
      const argv = execArgv(ctx.options, {
        binary: ctx.binary, workspaceDir, workdir, envArgs, tty: p.usePty === true, resultFile, session,
        shell: ["/bin/sh", "-c", String(p.command)],
      });
      trace("exec", { session, workdir, tty: p.usePty === true });
      return {
        argv,
        env: ctx.env,
        // A pty's input is the process tool's send-keys; without one the
        // command gets no stdin, as under OpenClaw's Docker backend.
        stdinMode: p.usePty ? "pipe-open" : "pipe-closed",
        finalizeToken: { resultFile, command: String(p.command) },
      };
    },

    /**
     * Reads the call's result file: the outcome goes to OpenClaw's log,
     * and a refusal or a jail that could not be built becomes the tool
     * call's error (OpenClaw appends it to what the agent sees).
     * @param {{status: "completed" | "failed", exitCode: number | null, timedOut: boolean, token?: any}} p
     */
    async finalizeExec(p) {
      const file = p.token?.resultFile;
      if (typeof file !== "string") return;
      const r = takeResult(file);
      if (!r) {
        if (p.status === "completed" && !p.timedOut) {
          throw fail(`openclaw-run exited ${p.exitCode} without writing its result file (an openclaw-run older than this plugin, or a failure before the call began), so the call's outcome is unknown`);
        }
        deps.logger.warn(`${BACKEND_ID}: exec ended (${p.timedOut ? "timed out" : p.status}) before openclaw-run wrote a result`);
        return;
      }
      const line = `${BACKEND_ID}: exec ${describeResult(r)}`;
      if (r.error) {
        deps.logger.warn(line);
        throw fail(`openclaw-run refused the command or could not build its jail: ${r.error.message} (${r.error.code})`);
      }
      if (r.blockedSyscalls?.length || r.oomKilled || r.timedOut) deps.logger.warn(line);
      else deps.logger.info(line);
    },

    /**
     * OpenClaw's own scripts: `sh -c SCRIPT sh ARGS...` in one jail, stdin
     * passed. Through a gateway, whose exec takes one command string, the
     * arguments are set with a quoted `set --` line before the script.
     * @param {{script: string, args?: string[], stdin?: Buffer | string, allowFailure?: boolean, signal?: AbortSignal}} p
     */
    async runShellCommand(p) {
      const ctx = context();
      const args = (p.args ?? []).map(String);
      const shell = ctx.options.gateway
        ? ["/bin/sh", "-c", args.length ? `set -- ${args.map(shQuote).join(" ")}\n${p.script}` : p.script]
        : ["/bin/sh", "-c", p.script, "sh", ...args];
      const resultFile = newResultFile();
      const argv = execArgv(ctx.options, { binary: ctx.binary, workspaceDir, workdir: JAIL_WORKSPACE, envArgs: [], tty: false, resultFile, session, shell });
      trace("script", { session });
      let res;
      try {
        res = await runBuffered(argv, { env: ctx.env, stdin: p.stdin, signal: p.signal });
      } finally {
        if (!res) takeResult(resultFile);
      }
      const r = takeResult(resultFile);
      const stderr = res.stderr.toString("utf8").trim();
      if (!r) throw fail(`openclaw-run exited ${res.code} without a result: ${stderr || "no message"}`);
      if (r.error) throw fail(`openclaw-run refused the script or could not build its jail: ${r.error.message} (${r.error.code})`);
      if (res.code !== 0 && !p.allowFailure) {
        throw Object.assign(new Error(`sandbox script failed with exit ${res.code}: ${stderr}`), res);
      }
      return res;
    },

    /** @param {{sandbox: {workspaceDir?: string}}} _p */
    createFsBridge(_p) {
      // The bridge works on the directory this handle mounts, whatever
      // OpenClaw's bridge context says, so that exec and files agree.
      return createBridge({ workspaceDir, context });
    },
  };
}

/**
 * unsupportedSandboxConfig names a sandbox setting of OpenClaw's that this
 * backend cannot honour; such a setting refuses every call instead of
 * being silently ignored.
 * @param {any} cfg OpenClaw's resolved agents.*.sandbox
 * @returns {string | undefined}
 */
export function unsupportedSandboxConfig(cfg) {
  if (!cfg || typeof cfg !== "object") return undefined;
  if (cfg.workspaceAccess === "ro") {
    return `agents.defaults.sandbox.workspaceAccess "ro" is not supported: openclaw-run mounts the workspace read-write; use "rw" or "none"`;
  }
  if (Array.isArray(cfg.docker?.binds) && cfg.docker.binds.length > 0) {
    return "agents.defaults.sandbox.docker.binds are not supported: only the workspace is mounted; give more host paths with openclaw-run's tools.fs.allowedPaths";
  }
  return undefined;
}

/**
 * The manager of `openclaw sandbox list|recreate|prune`. A jail lives for
 * one call, so between calls no runtime exists to inspect or remove: the
 * scope is "running" when its calls can reach a jail, and removing it
 * leaves nothing behind (the workspace is OpenClaw's).
 * @param {Deps} deps
 */
export function createManager(deps) {
  const label = configLabel(deps.options);
  return {
    /** @param {{entry?: {image?: string}}} p */
    async describeRuntime(p) {
      let running = false;
      try {
        running = Boolean(deps.options && !deps.configError && findBinary(deps.options.binary, (deps.env ?? process.env).PATH));
      } catch {
        running = false;
      }
      return { running, actualConfigLabel: label, configLabelMatch: p?.entry?.image === undefined || p.entry.image === label };
    },
    async removeRuntime() {},
  };
}

/** @param {string} s */
function shQuote(s) {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
