#!/usr/bin/env node
// mock-llm.mjs: a scripted, deterministic stand-in for an OpenAI-compatible
// chat-completions model, so that a test can drive real OpenClaw agent turns
// with no LLM and no network (loopback only).
//
//   MOCK_SCRIPTS=DIR [MOCK_PORT=0] [MOCK_LOG=FILE] node mock-llm.mjs
//
// DIR holds scripts, NAME.json each: a JSON array of tool calls
// [{"name": "exec", "arguments": {...}}, ...]. The turn's user message
// names its script as "script:NAME". Each model request answers the next
// call of the script (one tool call per model turn, counted by the tool
// results since that user message); when the script is done, the answer is a
// final text, "FINAL" and then every tool result of the turn, quoted in
// order, so that the test can read what happened inside the jail from the
// agent's reply.
//
// In arguments, "$SESSION_ID" is replaced with the latest process session
// id named in a tool result of the turn (exec with background: true answers
// "Command still running (session NAME, pid N)"), for `process` steps.
//
// It listens on 127.0.0.1 only; with MOCK_PORT=0 (the default) it takes a
// free port and prints {"port": N} as its first line on stdout.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const scriptsDir = process.env.MOCK_SCRIPTS;
if (!scriptsDir) {
  console.error("mock-llm: set MOCK_SCRIPTS to the directory of the scripts");
  process.exit(2);
}
const logFile = process.env.MOCK_LOG;

/** @param {unknown} c message content: a string or an array of parts */
function text(c) {
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map((p) => (typeof p === "string" ? p : (p?.text ?? ""))).join("");
  return c == null ? "" : JSON.stringify(c);
}

/**
 * The current turn: its script (named in the last user message that names
 * one; OpenClaw adds user messages of its own after it) and the messages
 * that followed it.
 * @param {any[]} messages
 */
function currentTurn(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role !== "user") continue;
    const name = /script:([A-Za-z0-9_-]+)/.exec(text(messages[i].content))?.[1];
    if (name) return { name, after: messages.slice(i + 1) };
  }
  return { name: undefined, after: [] };
}

/**
 * The next assistant message of the turn.
 * @param {any[]} messages
 * @returns {{message: any, script: string, step: string}}
 */
function answer(messages) {
  const { name, after } = currentTurn(messages);
  if (!name) return { message: { role: "assistant", content: "FINAL\nno script named in the user message" }, script: "", step: "none" };
  const script = JSON.parse(fs.readFileSync(path.join(scriptsDir, `${name}.json`), "utf8"));
  const results = after.filter((m) => m.role === "tool").map((m) => text(m.content));
  const step = script[results.length];
  if (!step) {
    const quoted = results.map((r, i) => `--- tool result ${i} ---\n${r}`).join("\n");
    return { message: { role: "assistant", content: `FINAL\n${quoted}` }, script: name, step: "final" };
  }
  let args = JSON.stringify(step.arguments ?? {});
  if (args.includes("$SESSION_ID")) {
    const ids = results.map((r) => (/"sessionId"\s*:\s*"([^"]+)"/.exec(r) ?? /\(session ([A-Za-z0-9_-]+)[,)]/.exec(r))?.[1]).filter(Boolean);
    args = args.replaceAll("$SESSION_ID", ids.at(-1) ?? "no-session-id-in-the-results");
  }
  const call = { index: 0, id: `call_${results.length}`, type: "function", function: { name: step.name, arguments: args } };
  return { message: { role: "assistant", content: null, tool_calls: [call] }, script: name, step: step.name };
}

const server = http.createServer((req, res) => {
  const chunks = /** @type {Buffer[]} */ ([]);
  req.on("data", (d) => chunks.push(d));
  req.on("end", () => {
    if (req.method === "GET" && req.url?.endsWith("/models")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: "scripted", object: "model" }] }));
      return;
    }
    /** @type {any} */
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch {
      res.writeHead(400).end("bad JSON");
      return;
    }
    let out;
    try {
      out = answer(body.messages ?? []);
    } catch (e) {
      res.writeHead(500).end(`mock-llm: ${/** @type {Error} */ (e).message}`);
      return;
    }
    if (logFile) fs.appendFileSync(logFile, JSON.stringify({ t: Date.now(), url: req.url, script: out.script, step: out.step, tools: (body.tools ?? []).map((/** @type {any} */ t) => t.function?.name) }) + "\n");
    const id = `chatcmpl-mock-${Date.now()}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = out.message.tool_calls ? "tool_calls" : "stop";
    const usage = { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 };
    if (body.stream) {
      // Server-sent events: the whole message as one delta, then the finish.
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const chunk = (/** @type {any} */ delta, /** @type {string | null} */ reason) =>
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, finish_reason: reason }], ...(reason ? { usage } : {}) })}\n\n`;
      res.write(chunk(out.message, null));
      res.write(chunk({}, finish));
      res.end("data: [DONE]\n\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id, object: "chat.completion", created, model: body.model, choices: [{ index: 0, message: out.message, finish_reason: finish }], usage }));
  });
});

server.listen(Number(process.env.MOCK_PORT ?? 0), "127.0.0.1", () => {
  const addr = server.address();
  console.log(JSON.stringify({ port: typeof addr === "object" && addr ? addr.port : 0 }));
});
for (const sig of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
  process.on(sig, () => {
    server.closeAllConnections(); // OpenClaw keeps its connections alive
    server.close(() => process.exit(0));
  });
}
