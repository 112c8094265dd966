#!/usr/bin/env node
// gen-config-keys.mjs: extract the key tree of OpenClaw's config schema, so
// that openclaw-run can recognise OpenClaw's keys in a shared openclaw.json
// (config/openclaw-keys.json, embedded by package config).
//
//   node gen-config-keys.mjs [--schema FILE] [--openclaw BIN] --out FILE
//
// The schema comes from `openclaw config schema` (JSON Schema draft-07, as
// OpenClaw derives it from its own zod schema) or from a saved copy of it.
// Only the shape of the keys is kept, never types or values:
//
//   1                 a value below which nothing is checked (a scalar, or
//                     an object OpenClaw validates itself)
//   {"k": NODE, ...}  an object with exactly these keys
//   "*": NODE         any further key (additionalProperties,
//                     patternProperties, a record), each value a NODE
//   "[]": NODE        the elements of an array
//
// anyOf/oneOf/allOf branches are merged (the union of their keys), and
// local $ref pointers ("#/$defs/x" of the nearest enclosing schema) are
// followed once per path, so recursive definitions end in 1.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

const args = parseArgs(process.argv.slice(2));
const schemaText = args.schema
  ? fs.readFileSync(args.schema, "utf8")
  : execFileSync(args.openclaw ?? "openclaw", ["config", "schema"], { encoding: "utf8", maxBuffer: 256 << 20 });
const schema = JSON.parse(schemaText);
const version = args.version ?? detectVersion(args.openclaw ?? "openclaw", Boolean(args.schema));
const tree = shape(schema, [schema], new Set());
const out = { openclawVersion: version, source: "openclaw config schema", keys: tree };
const text = JSON.stringify(out) + "\n";
if (args.out) fs.writeFileSync(args.out, text);
else process.stdout.write(text);

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(schema|openclaw|out|version)$/.exec(argv[i]);
    if (!m || i + 1 >= argv.length) {
      console.error("usage: gen-config-keys.mjs [--schema FILE | --openclaw BIN] [--version V] [--out FILE]");
      process.exit(2);
    }
    out[m[1]] = argv[++i];
  }
  return out;
}

/** The pinned version ("OpenClaw 2026.9.6 (eb377ac)" -> "2026.9.6"). */
function detectVersion(bin, fromFile) {
  if (fromFile) return "unknown";
  const v = execFileSync(bin, ["--version"], { encoding: "utf8" });
  return /(\d+\.\d+\.\d+\S*)/.exec(v)?.[1] ?? v.trim();
}

/**
 * shape returns the key tree of one schema node.
 * @param {any} node the schema node
 * @param {any[]} roots enclosing schemas that may hold $defs, innermost last
 * @param {Set<string>} seen $ref targets already followed on this path
 * @returns {1 | Record<string, any>}
 */
function shape(node, roots, seen) {
  if (node === true || node === undefined) return 1;
  if (!node || typeof node !== "object") return 1;
  if (node.$defs || node.definitions) roots = [...roots, node];
  if (typeof node.$ref === "string") {
    if (seen.has(node.$ref)) return 1; // recursion: accept below here
    const target = resolveRef(node.$ref, roots);
    if (!target) throw new Error(`unresolved $ref ${node.$ref}`);
    return shape(target, roots, new Set([...seen, node.$ref]));
  }
  /** @type {Record<string, any> | 1} */
  let out = 1;
  const props = node.properties ?? {};
  const isObject = node.type === "object" || (Array.isArray(node.type) && node.type.includes("object")) || node.properties;
  if (isObject) {
    out = {};
    for (const [k, v] of Object.entries(props)) out[k] = shape(v, roots, seen);
    const extra = node.additionalProperties;
    if (node.patternProperties) {
      for (const v of Object.values(node.patternProperties)) out["*"] = merge(out["*"], shape(v, roots, seen));
    }
    if (extra !== false) {
      // A record, or an object open to any key (JSON Schema: a missing
      // additionalProperties allows any).
      out["*"] = merge(out["*"], shape(extra === undefined ? true : extra, roots, seen));
    }
  }
  const isArray = node.type === "array" || (Array.isArray(node.type) && node.type.includes("array"));
  if (isArray && node.items && !Array.isArray(node.items)) {
    const items = shape(node.items, roots, seen);
    if (items !== 1) out = merge(out, { "[]": items });
  }
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    for (const branch of node[k] ?? []) out = merge(out, shape(branch, roots, seen));
  }
  return out;
}

/** resolveRef follows "#/$defs/name" (or "#/definitions/name") in the innermost root that has it. */
function resolveRef(ref, roots) {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!m) return undefined;
  for (let i = roots.length - 1; i >= 0; i--) {
    const t = roots[i][m[1]]?.[m[2]];
    if (t) return t;
  }
  return undefined;
}

/** merge returns the union of two key trees. */
function merge(a, b) {
  if (a === undefined || a === 1) return b === undefined ? a : b === 1 && a === 1 ? 1 : b;
  if (b === undefined || b === 1) return a;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}
