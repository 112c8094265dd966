// An optional trace of the plugin's openclaw-run invocations, one JSON line
// each, for debugging and for the end-to-end test, which checks that every
// invocation left exactly one record in openclaw-run's audit log
// (OPENCLAW_RUN_PLUGIN_TRACE=FILE in OpenClaw's environment; off when unset).
import fs from "node:fs";

/**
 * trace records one invocation.
 * @param {string} kind exec | script | tool
 * @param {Record<string, unknown>} detail
 */
export function trace(kind, detail) {
  const file = process.env.OPENCLAW_RUN_PLUGIN_TRACE;
  if (!file) return;
  fs.appendFileSync(file, JSON.stringify({ t: Date.now(), kind, ...detail }) + "\n");
}
