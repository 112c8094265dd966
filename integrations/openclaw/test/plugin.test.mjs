// Unit tests of the plugin's pure parts (no OpenClaw, no jail):
//   node --test integrations/openclaw/test/
// The end-to-end behaviour, against the real OpenClaw and the real
// openclaw-run, is integration/openclaw_test.go (make openclaw-check).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { execArgv, toolArgv } from "../lib/argv.js";
import { createHandle, createManager, unsupportedSandboxConfig } from "../lib/backend.js";
import { jailEnvArgs, runnerEnv } from "../lib/env.js";
import { checkExtraArgs, findBinary, resolveOptions } from "../lib/options.js";
import { toJailPath } from "../lib/paths.js";
import { newResultFile, takeResult } from "../lib/spawn.js";

const quiet = { info() {}, warn() {} };

// Result files go to os.tmpdir(): a directory of this run's own.
process.env.TMPDIR = fs.mkdtempSync(path.join(os.tmpdir(), "ocr-plugin-test-"));
process.once("exit", () => fs.rmSync(/** @type {string} */ (process.env.TMPDIR), { recursive: true, force: true }));

test("plugin config: defaults, validation and the flags extraArgs may carry", () => {
  const d = resolveOptions(undefined);
  assert.ok(d.ok);
  assert.deepEqual(d.options, { binary: "openclaw-run", extraArgs: [] });
  const bad = [
    [{ bogus: 1 }, /unknown plugin config key "bogus"/],
    [{ binary: "bin/openclaw-run" }, /absolute path or a bare name/],
    [{ profile: "../x" }, /not a profile name/],
    [{ config: "rel.json" }, /absolute path/],
    [{ uid: 0 }, /above 0/],
    [{ uid: 1.5 }, /above 0/],
    [{ gid: 1000 }, /gid needs uid/],
    [{ extraArgs: ["--profile", "full"] }, /not allowed/],
    [{ extraArgs: ["--audit-file=/dev/null"] }, /not allowed/],
    [{ extraArgs: ["--secret-env", "K=S"] }, /not allowed/],
    [{ extraArgs: ["--workspace", "/"] }, /not allowed/],
    [{ extraArgs: ["--", "sh"] }, /not allowed/],
    [{ extraArgs: ["--memory", "lots"] }, /--memory wants a value/],
    [{ extraArgs: ["--timeout"] }, /--timeout wants a value/],
    [{ gateway: { url: "ftp://x", tokenFile: "/t" } }, /http:\/\/ or https:\/\//],
    [{ gateway: { url: "http://127.0.0.1:1", tokenFile: "t" } }, /absolute path/],
    [{ gateway: { url: "http://127.0.0.1:1", tokenFile: "/t" }, profile: "coding" }, /profile does not apply with gateway/],
  ];
  for (const [cfg, want] of bad) {
    const r = resolveOptions(cfg);
    assert.equal(r.ok, false, JSON.stringify(cfg));
    assert.match(/** @type {any} */ (r).error, want, JSON.stringify(cfg));
  }
  assert.deepEqual(checkExtraArgs(["--timeout=90s", "--memory", "512M", "--engine", "runc"]), ["--timeout", "90s", "--memory", "512M", "--engine", "runc"]);
});

test("findBinary: on PATH, absolute, or a clear error", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ocr-bin-"));
  const bin = path.join(dir, "openclaw-run");
  fs.writeFileSync(bin, "#!/bin/sh\n", { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "noexec"), "", { mode: 0o644 });
  try {
    assert.equal(findBinary("openclaw-run", `/nonexistent:${dir}`), bin);
    assert.equal(findBinary(bin, ""), bin);
    assert.throws(() => findBinary("openclaw-run", "/nonexistent"), /no executable "openclaw-run" on PATH/);
    assert.throws(() => findBinary(path.join(dir, "noexec"), ""), /does not exist or is not executable/);
    assert.throws(() => findBinary("openclaw-run", "relative/dir"), /no executable/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test("environments: no credentials for openclaw-run, no host places in the jail", () => {
  const env = runnerEnv({ PATH: "/usr/bin", OPENCLAW_GATEWAY_TOKEN: "t", OPENCLAW_GATEWAY_PASSWORD: "p", OPENAI_API_KEY: "k", OPENCLAW_SECRETS_KEY: "s", OPENCLAW_CONFIG_PATH: "/c", LANG: "C" }, { stateDir: "/state" });
  assert.deepEqual(env, { PATH: "/usr/bin", OPENCLAW_CONFIG_PATH: "/c", LANG: "C", OPENCLAW_RUN_STATE_DIR: "/state" });
  assert.deepEqual(jailEnvArgs({ PATH: "/host/bin", HOME: "/root", OPENCLAW_STATE_DIR: "/x", OPENCLAW_SHELL: "exec", FOO: "a=b c" }), ["--env", "OPENCLAW_SHELL=exec", "--env", "FOO=a=b c"]);
  assert.throws(() => jailEnvArgs({ "A-B": "1" }), /not valid in a shell/);
  assert.throws(() => jailEnvArgs({ A: "x\0y" }), /NUL/);
});

test("paths: OpenClaw's container, relative and host forms map into /workspace; escapes are refused", () => {
  const w = { workspaceDir: "/srv/ws" };
  assert.equal(toJailPath("/workspace", w), "/workspace");
  assert.equal(toJailPath("/workspace/a/../b/", w), "/workspace/b");
  assert.equal(toJailPath("a/b.txt", w), "/workspace/a/b.txt");
  assert.equal(toJailPath("b.txt", { ...w, cwd: "/workspace/sub" }), "/workspace/sub/b.txt");
  assert.equal(toJailPath("b.txt", { ...w, cwd: "/srv/ws/sub" }), "/workspace/sub/b.txt");
  assert.equal(toJailPath("/srv/ws/x/y", w), "/workspace/x/y");
  for (const bad of ["../../etc/passwd", "/etc/shadow", "/workspace/../etc", "/srv/ws/../other", "/workspacex/a", ""]) {
    assert.throws(() => toJailPath(bad, w), /outside the workspace|empty path/, bad);
  }
  assert.throws(() => toJailPath("a", { ...w, cwd: "/tmp" }), /outside the workspace/);
});

test("argv: the CLI contract, directly and through a gateway", () => {
  const call = { binary: "/bin/ocr", workspaceDir: "/srv/ws", workdir: "/workspace/sub", envArgs: ["--env", "A=1"], tty: true, resultFile: "/r.json", session: "agent:main:main", shell: ["/bin/sh", "-c", "echo hi"] };
  const direct = /** @type {any} */ (resolveOptions({ profile: "coding", config: "/c.json", uid: 1000, extraArgs: ["--timeout", "30s"] })).options;
  assert.deepEqual(execArgv(direct, call), ["/bin/ocr", "--config", "/c.json", "--profile", "coding", "--workspace", "/srv/ws", "--workdir", "/workspace/sub", "--uid", "1000", "--gid", "1000", "--env", "A=1", "-t", "--tty-size", "120x30", "--result-file", "/r.json", "--session", "agent:main:main", "--timeout", "30s", "--", "/bin/sh", "-c", "echo hi"]);
  assert.deepEqual(toolArgv(direct, { binary: "/bin/ocr", tool: "stat", workspaceDir: "/srv/ws", session: "s" }), ["/bin/ocr", "tools", "call", "stat", "--config", "/c.json", "--profile", "coding", "--workspace", "/srv/ws", "--uid", "1000", "--gid", "1000", "--session", "s"]);
  const gw = /** @type {any} */ (resolveOptions({ gateway: { url: "http://127.0.0.1:18790", tokenFile: "/tok" } })).options;
  assert.deepEqual(execArgv(gw, { ...call, tty: false }), ["/bin/ocr", "call", "exec", "--gateway", "http://127.0.0.1:18790", "--token-file", "/tok", "--session", "agent:main:main", "--workdir", "/workspace/sub", "--env", "A=1", "--raw", "--result-file", "/r.json", "--command", "echo hi"]);
  assert.deepEqual(toolArgv(gw, { binary: "/bin/ocr", tool: "read", workspaceDir: "/srv/ws", session: "s" }), ["/bin/ocr", "call", "read", "--gateway", "http://127.0.0.1:18790", "--token-file", "/tok", "--session", "s", "--params-stdin", "--reply"]);
});

test("result files: read once, removed, and a broken one is an error", () => {
  const f = newResultFile();
  assert.equal(takeResult(f), undefined);
  fs.writeFileSync(f, JSON.stringify({ exitCode: 3, blockedSyscalls: [{ syscall: "ptrace", count: 1 }] }));
  assert.equal(takeResult(f)?.exitCode, 3);
  assert.equal(fs.existsSync(f), false);
  fs.writeFileSync(f, "{");
  assert.throws(() => takeResult(f), /not JSON/);
  assert.equal((fs.statSync(path.dirname(f)).mode & 0o777), 0o700);
});

test("every call fails closed, naming the cause, when it cannot reach a jail", async () => {
  const params = { workspaceDir: "/srv/ws", sessionKey: "agent:main:main", cfg: { workspaceAccess: "rw" } };
  const invalid = createHandle(params, { configError: "extraArgs[0] \"--profile\" is not allowed", logger: quiet });
  await assert.rejects(invalid.buildExecSpec({ command: "true", env: {}, usePty: false }), /invalid plugin config .*--profile.*never run on the host/);
  await assert.rejects(invalid.runShellCommand({ script: "true" }), /invalid plugin config/);
  await assert.rejects(invalid.createFsBridge({ sandbox: {} }).readFile({ filePath: "a" }), /invalid plugin config/);
  const missing = createHandle(params, { options: { binary: "openclaw-run", extraArgs: [] }, logger: quiet, env: { PATH: "/nonexistent" } });
  await assert.rejects(missing.buildExecSpec({ command: "true", env: {}, usePty: false }), /no executable "openclaw-run" on PATH/);
  await assert.rejects(missing.createFsBridge({ sandbox: {} }).stat({ filePath: "a" }), /no executable/);
  const ro = createHandle({ ...params, cfg: { workspaceAccess: "ro" } }, { options: { binary: "/bin/true", extraArgs: [] }, logger: quiet });
  await assert.rejects(ro.buildExecSpec({ command: "true", env: {}, usePty: false }), /"ro" is not supported/);
  assert.match(String(unsupportedSandboxConfig({ docker: { binds: ["/a:/a"] } })), /binds are not supported/);
  const ok = createHandle(params, { options: { binary: "/bin/true", extraArgs: [] }, logger: quiet });
  await assert.rejects(ok.buildExecSpec({ command: "true", workdir: "/etc", env: {}, usePty: false }), /workdir: path "\/etc" is outside the workspace/);
  assert.throws(() => ok.createFsBridge({ sandbox: {} }).resolvePath({ filePath: "../../etc/passwd" }), /outside the workspace/);
  assert.deepEqual(ok.createFsBridge({ sandbox: {} }).resolvePath({ filePath: "/srv/ws/a.txt" }), { relativePath: "a.txt", containerPath: "/workspace/a.txt" });
  assert.equal((await createManager({ configError: "x", logger: quiet }).describeRuntime({})).running, false);
});

test("finalizeExec: a refusal is the call's error; no result after a completed run is too", async () => {
  const h = createHandle({ workspaceDir: "/srv/ws", sessionKey: "s" }, { options: { binary: "/bin/true", extraArgs: [] }, logger: quiet });
  const spec = await h.buildExecSpec({ command: "echo hi", workdir: "/workspace", env: { PATH: "/host" }, usePty: false });
  assert.equal(spec.stdinMode, "pipe-closed");
  assert.ok(!spec.argv.includes("PATH=/host"));
  const file = spec.finalizeToken.resultFile;
  fs.writeFileSync(file, JSON.stringify({ exitCode: 125, error: { code: "policy_denied", message: "rm is denied" } }));
  await assert.rejects(h.finalizeExec({ status: "completed", exitCode: 125, timedOut: false, token: spec.finalizeToken }), /refused the command .*rm is denied/);
  assert.equal(fs.existsSync(file), false);
  await assert.rejects(h.finalizeExec({ status: "completed", exitCode: 125, timedOut: false, token: spec.finalizeToken }), /without writing its result file/);
  await h.finalizeExec({ status: "failed", exitCode: null, timedOut: true, token: spec.finalizeToken });
});
