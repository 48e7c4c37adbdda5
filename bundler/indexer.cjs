// Reads the tool definitions out of built bundle files, all in one Node.js process.
//
// Usage: node indexer.cjs RESULT_JSON_PATH FILE...
// Writes to RESULT_JSON_PATH a JSON array, one item per FILE, in order:
//   {file, ok: true, definition: {...}} or {file, ok: false, problem: "..."}.
// The result goes to a file, not stdout, because a tool may print while it loads.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const [resultPath, ...files] = process.argv.slice(2);
// Which file is loading right now: if a tool ends or hangs the process while loading, the build names it.
const progressPath = `${resultPath}.loading`;

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

// Plain JSON data only: a schema with functions, cycles or class instances cannot travel to the platform.
function jsonCopy(value, what) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new Error(`${what} cannot be turned into JSON (${err.message})`);
  }
  return text === undefined ? undefined : JSON.parse(text);
}

function definitionOf(exported) {
  if (exported && typeof exported === "object" && "default" in exported) return exported.default;
  // A CommonJS tool (`module.exports = defineTool({...})`) exports the definition itself.
  if (exported && typeof exported === "object" && ("run" in exported || "name" in exported)) return exported;
  return undefined;
}

function index(file) {
  let exported;
  fs.writeFileSync(progressPath, file);
  try {
    exported = require(path.resolve(file));
  } catch (err) {
    const message = err && err.stack ? String(err.stack).split("\n").slice(0, 2).join(" ") : String(err);
    return { file, ok: false, problem: `throws while being loaded: ${message}` };
  }
  const def = definitionOf(exported);
  if (def === undefined) {
    return { file, ok: false, problem: "has no default export; end it with `export default defineTool({...})`" };
  }
  if (def === null || typeof def !== "object" || Array.isArray(def)) {
    return { file, ok: false, problem: `default export is ${describe(def)}, not a tool definition object` };
  }
  try {
    return {
      file,
      ok: true,
      definition: {
        name: def.name,
        description: def.description,
        inputSchema: jsonCopy(def.inputSchema, "inputSchema"),
        outputSchema: jsonCopy(def.outputSchema, "outputSchema"),
        timeoutMs: def.timeoutMs,
        runType: typeof def.run,
        keys: Object.keys(def),
      },
    };
  } catch (err) {
    return { file, ok: false, problem: String(err.message || err) };
  }
}

const results = files.map(index);
fs.writeFileSync(resultPath, JSON.stringify(results));
// A tool may leave timers or sockets open at load time; the index is complete, so leave now.
process.exit(0);
