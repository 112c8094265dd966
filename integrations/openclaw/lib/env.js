// Two environments: the one openclaw-run itself runs with (on the host, as
// OpenClaw's child), and the one the jailed command gets (--env K=V, and
// nothing else enters the jail).

// OpenClaw's own credentials and any other credential in OpenClaw's
// environment: openclaw-run never needs them, and an openclaw-run that
// reads OPENCLAW_<NAME> for its "env" secrets provider must not find
// OpenClaw's there (issue 20: secretEnv read the gateway's token).
const CREDENTIAL = /(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|COOKIE|SESSION_?KEY)/i;

/**
 * runnerEnv is the environment of the openclaw-run process: OpenClaw's,
 * minus credentials, plus the plugin's state dir. OPENCLAW_CONFIG_PATH and
 * OPENCLAW_STATE_DIR stay: openclaw-run reads the shared openclaw.json
 * through them unless OPENCLAW_RUN_CONFIG / OPENCLAW_RUN_STATE_DIR (ours)
 * say otherwise (docs/config.md).
 * @param {NodeJS.ProcessEnv} env OpenClaw's process.env
 * @param {{stateDir?: string}} options
 * @returns {Record<string, string>}
 */
export function runnerEnv(env, options) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || CREDENTIAL.test(k)) continue;
    out[k] = v;
  }
  if (options.stateDir) out.OPENCLAW_RUN_STATE_DIR = options.stateDir;
  return out;
}

// Variables OpenClaw hands a sandboxed command that describe the host, not
// the jail: the host's PATH (the jail has its own system directories) and
// host places. OpenClaw's own OPENCLAW_* variables are dropped too, except
// the two it documents as meant for the command (docs/tools/exec.md).
const HOST_ONLY = new Set(["PATH", "HOME", "PWD", "OLDPWD", "TMPDIR", "TMP", "TEMP", "SHELL", "USER", "LOGNAME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"]);
const FOR_THE_COMMAND = new Set(["OPENCLAW_SHELL", "OPENCLAW_CHANNEL_CONTEXT"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * jailEnvArgs turns the env OpenClaw gives a sandboxed command into
 * --env K=V flags. A name a shell cannot hold, or a value with a NUL byte,
 * is an error: it cannot be passed faithfully, and dropping it silently
 * would run the command in another environment than asked.
 * @param {Record<string, string> | undefined} env
 * @returns {string[]}
 */
export function jailEnvArgs(env) {
  /** @type {string[]} */
  const out = [];
  for (const [k, v] of Object.entries(env ?? {})) {
    if (v === undefined || v === null) continue;
    if (HOST_ONLY.has(k) || (k.startsWith("OPENCLAW_") && !FOR_THE_COMMAND.has(k))) continue;
    if (!NAME.test(k)) throw new Error(`environment variable name ${JSON.stringify(k)} is not valid in a shell`);
    const s = String(v);
    if (s.includes("\0")) throw new Error(`environment variable ${k} contains a NUL byte`);
    out.push("--env", `${k}=${s}`);
  }
  return out;
}
