// openclaw-run as OpenClaw's sandbox backend: OpenClaw's own exec, process,
// read, write, edit and apply_patch tools run in fresh openclaw-run jails,
// one per call. Install and configure: docs/openclaw.md.
import { registerSandboxBackend } from "openclaw/plugin-sdk/sandbox";
import { BACKEND_ID, createHandle, createManager } from "./lib/backend.js";
import { resolveOptions } from "./lib/options.js";

export default {
  id: "openclaw-run",
  name: "openclaw-run sandbox backend",
  description: "Runs OpenClaw's sandboxed exec and file tools in openclaw-run kernel jails, one fresh jail per call.",
  /** @param {any} api OpenClaw's plugin API */
  register(api) {
    // Only a full load runs tools; setup and inspection loads register nothing.
    if (api.registrationMode !== undefined && api.registrationMode !== "full") return;
    const resolved = resolveOptions(api.pluginConfig);
    const logger = {
      info: (/** @type {string} */ m) => api.logger?.info?.(m),
      warn: (/** @type {string} */ m) => (api.logger?.warn ?? console.warn)(m),
    };
    /** @type {import("./lib/backend.js").Deps} */
    const deps = resolved.ok ? { options: resolved.options, logger } : { configError: resolved.error, logger };
    if (!resolved.ok) logger.warn(`${BACKEND_ID}: invalid plugin config, every sandboxed tool call will fail: ${resolved.error}`);
    const unregister = registerSandboxBackend(BACKEND_ID, {
      factory: async (/** @type {any} */ params) => createHandle(params, deps),
      manager: createManager(deps),
    });
    api.lifecycle?.registerRuntimeLifecycle?.({
      id: "openclaw-run-sandbox-cleanup",
      cleanup: (/** @type {{reason: string, sessionKey?: string, runId?: string}} */ c) => {
        if (c.sessionKey !== undefined || c.runId !== undefined) return;
        if (c.reason === "disable" || c.reason === "restart") unregister();
      },
    });
  },
};
