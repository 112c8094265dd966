// The plugin's configuration (plugins.entries.openclaw-run.config in
// openclaw.json), checked once when OpenClaw loads the plugin.
//
// A bad config does not stop OpenClaw from loading the plugin: the backend
// is still registered, and every tool call then fails with the reason
// (resolveOptions returns it as an error). Failing the calls, not the
// plugin, keeps OpenClaw from ever running the agent's commands on the host
// because our backend was missing.
import fs from "node:fs";
import path from "node:path";

/**
 * @typedef {object} GatewayOptions
 * @property {string} url        an openclaw-run gateway, e.g. http://127.0.0.1:18790
 * @property {string} tokenFile  a file holding its bearer token
 *
 * @typedef {object} Options
 * @property {string} binary        the openclaw-run binary: a path, or a name looked up on PATH per call
 * @property {string} [profile]     --profile (default: openclaw-run's configured tools.profile)
 * @property {string} [config]      --config (default: openclaw-run's own lookup, see docs/config.md)
 * @property {string} [stateDir]    OPENCLAW_RUN_STATE_DIR for openclaw-run (audit log, profiles, secrets)
 * @property {number} [uid]         --uid: the host uid jail root maps to
 * @property {number} [gid]         --gid
 * @property {string[]} extraArgs   more openclaw-run flags, only ones that cannot widen policy
 * @property {GatewayOptions} [gateway] run through a running openclaw-run gateway instead
 */

const KEYS = new Set(["binary", "profile", "config", "stateDir", "uid", "gid", "extraArgs", "gateway"]);

// Flags extraArgs may carry, each with the shape of its value. They tune
// resources, logging or the engine; none of them can widen what the
// profile and openclaw-run's config allow. Everything else is refused:
// --profile, --config, --uid and --gid have keys of their own (so they are
// validated), and --workspace, --workdir, --env, --secret-env, --audit-file,
// --result-file, --session and --tty are the plugin's to set (a second
// --audit-file would move the audit log; --secret-env would put secrets in
// the jail).
const EXTRA_FLAGS = {
  "--timeout": /^\d+(\.\d+)?(ms|s|m|h)$/,
  "--memory": /^\d+(\.\d+)?[KMGT]?i?B?$/i,
  "--cpus": /^\d+(\.\d+)?$/,
  "--pids": /^\d+$/,
  "--max-output": /^\d+(\.\d+)?[KMGT]?i?B?$/i,
  "--tmp-size": /^\d+(\.\d+)?[KMGT]?i?B?$/i,
  "--log-level": /^(error|warn|info|debug)$/,
  "--engine": /^(native|runc)$/,
};

/**
 * resolveOptions validates the plugin config.
 * @param {unknown} raw api.pluginConfig
 * @returns {{ok: true, options: Options} | {ok: false, error: string}}
 */
export function resolveOptions(raw) {
  try {
    return { ok: true, options: parse(raw ?? {}) };
  } catch (err) {
    return { ok: false, error: /** @type {Error} */ (err).message };
  }
}

/** @param {any} raw */
function parse(raw) {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("the plugin config must be an object");
  for (const k of Object.keys(raw)) {
    if (!KEYS.has(k)) throw new Error(`unknown plugin config key "${k}" (known: ${[...KEYS].join(", ")})`);
  }
  /** @type {Options} */
  const o = { binary: "openclaw-run", extraArgs: [] };
  if (raw.binary !== undefined) o.binary = nonEmptyString(raw.binary, "binary");
  if (o.binary.includes("/") && !path.isAbsolute(o.binary)) {
    throw new Error(`binary "${o.binary}" must be an absolute path or a bare name looked up on PATH`);
  }
  if (raw.profile !== undefined) {
    o.profile = nonEmptyString(raw.profile, "profile");
    if (!/^[A-Za-z0-9_.-]+$/.test(o.profile)) throw new Error(`profile "${o.profile}" is not a profile name`);
  }
  for (const k of /** @type {const} */ (["config", "stateDir"])) {
    if (raw[k] === undefined) continue;
    const v = nonEmptyString(raw[k], k);
    if (!path.isAbsolute(v)) throw new Error(`${k} "${v}" must be an absolute path`);
    o[k] = v;
  }
  for (const k of /** @type {const} */ (["uid", "gid"])) {
    if (raw[k] === undefined) continue;
    if (!Number.isInteger(raw[k]) || raw[k] <= 0 || raw[k] > 0xfffffffe) {
      throw new Error(`${k} must be a host id above 0 (jail root never maps to host root), got ${JSON.stringify(raw[k])}`);
    }
    o[k] = raw[k];
  }
  if (o.gid !== undefined && o.uid === undefined) throw new Error("gid needs uid (openclaw-run takes --gid with --uid)");
  if (raw.extraArgs !== undefined) o.extraArgs = checkExtraArgs(raw.extraArgs);
  if (raw.gateway !== undefined) {
    o.gateway = checkGateway(raw.gateway);
    // Through a gateway, the gateway's own config decides the profile, the
    // ids and the limits, and it keeps its own audit log: refuse settings
    // that would silently not apply.
    for (const k of ["profile", "config", "stateDir", "uid", "gid"]) {
      if (raw[k] !== undefined) throw new Error(`${k} does not apply with gateway (set it in the openclaw-run gateway's config)`);
    }
    if (o.extraArgs.length > 0) throw new Error("extraArgs do not apply with gateway (set limits in the openclaw-run gateway's config)");
  }
  return o;
}

/** @param {unknown} v @param {string} name */
function nonEmptyString(v, name) {
  if (typeof v !== "string" || v.trim() === "") throw new Error(`${name} must be a non-empty string, got ${JSON.stringify(v)}`);
  if (v.includes("\0")) throw new Error(`${name} contains a NUL byte`);
  return v;
}

/**
 * checkExtraArgs accepts only the flags in EXTRA_FLAGS, as "--flag value"
 * or "--flag=value", with values of the expected shape.
 * @param {unknown} args
 * @returns {string[]}
 */
export function checkExtraArgs(args) {
  if (!Array.isArray(args)) throw new Error("extraArgs must be an array of strings");
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a !== "string") throw new Error(`extraArgs[${i}] must be a string`);
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const shape = Object.hasOwn(EXTRA_FLAGS, flag) ? EXTRA_FLAGS[/** @type {keyof typeof EXTRA_FLAGS} */ (flag)] : undefined;
    if (!shape) {
      throw new Error(`extraArgs[${i}] "${a}" is not allowed: only ${Object.keys(EXTRA_FLAGS).join(", ")} (flags that cannot widen the jail's policy)`);
    }
    const value = inline ?? args[++i];
    if (typeof value !== "string" || !shape.test(value)) {
      throw new Error(`extraArgs: ${flag} wants a value like ${shape.source}, got ${JSON.stringify(value)}`);
    }
    out.push(flag, value);
  }
  return out;
}

/** @param {any} g @returns {GatewayOptions} */
function checkGateway(g) {
  if (typeof g !== "object" || g === null || Array.isArray(g)) throw new Error("gateway must be an object {url, tokenFile}");
  for (const k of Object.keys(g)) {
    if (k !== "url" && k !== "tokenFile") throw new Error(`unknown gateway key "${k}" (known: url, tokenFile)`);
  }
  const url = nonEmptyString(g.url, "gateway.url");
  let u;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`gateway.url "${url}" is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`gateway.url "${url}" must be http:// or https://`);
  const tokenFile = nonEmptyString(g.tokenFile, "gateway.tokenFile");
  if (!path.isAbsolute(tokenFile)) throw new Error(`gateway.tokenFile "${tokenFile}" must be an absolute path`);
  return { url, tokenFile };
}

/**
 * findBinary resolves the configured binary to an executable file, on
 * every call (so that a binary removed or replaced later is noticed).
 * @param {string} binary a bare name or an absolute path
 * @param {string | undefined} searchPath PATH of OpenClaw's process
 * @returns {string} the absolute path
 */
export function findBinary(binary, searchPath) {
  const candidates = path.isAbsolute(binary)
    ? [binary]
    : (searchPath ?? "").split(path.delimiter).filter((d) => path.isAbsolute(d)).map((d) => path.join(d, binary));
  for (const c of candidates) {
    try {
      const st = fs.statSync(c);
      if (st.isFile()) {
        fs.accessSync(c, fs.constants.X_OK);
        return c;
      }
    } catch {
      // not here, or not executable: try the next
    }
  }
  throw new Error(
    path.isAbsolute(binary)
      ? `the openclaw-run binary ${binary} does not exist or is not executable`
      : `no executable "${binary}" on PATH (${searchPath ?? "unset"}); install openclaw-run or set plugins.entries.openclaw-run.config.binary`,
  );
}
