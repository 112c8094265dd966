// Running openclaw-run as a child of OpenClaw, and reading what it leaves
// behind: buffered output for the fs bridge and OpenClaw's scripts, and
// the result file of every call.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Exit codes of openclaw-run (docs/cli.md). */
export const EXIT = { timeout: 124, refused: 125, notExecutable: 126, notFound: 127 };

/** Output kept from one buffered call: OpenClaw's own bound for sandbox commands is of this order. */
export const MAX_BUFFERED_BYTES = 16 << 20;

/**
 * @typedef {object} Buffered
 * @property {Buffer} stdout
 * @property {Buffer} stderr
 * @property {number} code   exit code, or 128+N when killed by signal N
 */

/**
 * runBuffered runs argv to the end, feeding stdin and keeping its output.
 * An abort signal ends openclaw-run with SIGTERM, which kills its jail.
 * @param {string[]} argv
 * @param {{env: Record<string, string>, stdin?: Buffer | string, signal?: AbortSignal, cwd?: string}} o
 * @returns {Promise<Buffered>}
 */
export function runBuffered(argv, o) {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(abortError(o.signal));
    const child = spawn(argv[0], argv.slice(1), { env: o.env, cwd: o.cwd, stdio: ["pipe", "pipe", "pipe"] });
    /** @type {Buffer[]} */
    const out = [];
    /** @type {Buffer[]} */
    const err = [];
    let bytes = 0;
    let overflow = false;
    const keep = (/** @type {Buffer[]} */ into) => (/** @type {Buffer} */ b) => {
      bytes += b.length;
      if (bytes > MAX_BUFFERED_BYTES) {
        if (!overflow) child.kill("SIGTERM");
        overflow = true;
        return;
      }
      into.push(b);
    };
    child.stdout.on("data", keep(out));
    child.stderr.on("data", keep(err));
    const onAbort = () => child.kill("SIGTERM");
    o.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e) => {
      o.signal?.removeEventListener("abort", onAbort);
      reject(new Error(`could not start ${argv[0]}: ${e.message}`, { cause: e }));
    });
    child.on("close", (code, sig) => {
      o.signal?.removeEventListener("abort", onAbort);
      if (o.signal?.aborted) return reject(abortError(o.signal));
      if (overflow) return reject(new Error(`openclaw-run wrote more than ${MAX_BUFFERED_BYTES} bytes of output; the call was ended`));
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), code: code ?? 128 + signalNumber(sig) });
    });
    // A child that exits before reading stdin closes the pipe: not an error here.
    child.stdin.on("error", () => {});
    child.stdin.end(o.stdin ?? "");
  });
}

/** @param {AbortSignal} s */
function abortError(s) {
  return Object.assign(new Error("the call was aborted", { cause: s.reason }), { name: "AbortError" });
}

/** @param {NodeJS.Signals | null} sig */
function signalNumber(sig) {
  return (sig && os.constants.signals[sig]) || 0;
}

/** @type {string | undefined} */
let resultDir;

/**
 * newResultFile names a fresh result file in a private directory of this
 * process (mode 0700), so that no other user can plant or read one.
 * @returns {string}
 */
export function newResultFile() {
  if (!resultDir || !fs.existsSync(resultDir)) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openclaw-run-results-"));
    if (!resultDir) process.once("exit", () => resultDir && fs.rmSync(resultDir, { recursive: true, force: true }));
    resultDir = dir;
  }
  return path.join(resultDir, `${randomUUID()}.json`);
}

/**
 * @typedef {object} CallResult openclaw-run's --result-file
 * @property {string} [callId]
 * @property {number} exitCode
 * @property {string} [signal]
 * @property {boolean} [timedOut]
 * @property {boolean} [oomKilled]
 * @property {boolean} [canceled]
 * @property {number} [durationMs]
 * @property {boolean} [outputTruncated]
 * @property {{syscall: string, count: number}[]} [blockedSyscalls]
 * @property {{code: string, message: string}} [error] a refusal or a jail that could not be built
 */

/**
 * takeResult reads and removes a result file. It returns undefined when
 * openclaw-run wrote none (it did not start, or was killed outright).
 * @param {string} file
 * @returns {CallResult | undefined}
 */
export function takeResult(file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if (/** @type {NodeJS.ErrnoException} */ (e).code === "ENOENT") return undefined;
    throw e;
  } finally {
    fs.rmSync(file, { force: true });
  }
  let r;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new Error(`openclaw-run's result file is not JSON: ${/** @type {Error} */ (e).message}`);
  }
  if (typeof r !== "object" || r === null || typeof r.exitCode !== "number") {
    throw new Error(`openclaw-run's result file has no exitCode: ${text.slice(0, 200)}`);
  }
  return r;
}

/**
 * describeResult is a one-line summary of a call's outcome for OpenClaw's log.
 * @param {CallResult} r
 */
export function describeResult(r) {
  const parts = [`exit ${r.exitCode}`];
  if (r.signal) parts.push(`signal ${r.signal}`);
  if (r.timedOut) parts.push("timed out");
  if (r.oomKilled) parts.push("killed by the memory limit");
  if (r.canceled) parts.push("canceled");
  if (r.outputTruncated) parts.push("output truncated");
  if (r.blockedSyscalls?.length) parts.push(`blocked system calls: ${r.blockedSyscalls.map((b) => `${b.syscall}x${b.count}`).join(", ")}`);
  if (r.error) parts.push(`error ${r.error.code}: ${r.error.message}`);
  return parts.join(", ");
}
