// Reads the tool definitions out of built bundle files, all in one Node.js process.
//
// A schema may be a JSON Schema object (copied as plain JSON) or a zod 4 schema (converted by zod itself,
// see convertSchema), so tool authors declare their input once.
//
// Usage: node indexer.cjs --serve (started by bundler/index_server.py: at the start of a build, or once
// for a whole dev session). Reads one JSON request per stdin line, {id, result, files}, and writes to
// `result` a JSON array, one item per file, in order:
//   {file, ok: true, definition: {...}} or {file, ok: false, problem: "..."},
// then prints `{"done": id}` on a line of its own. The result goes to a file, not stdout, because a tool
// may print while it loads. Shared chunks are loaded once for the life of the process (sharedChunks), so
// a dev-loop save re-reads only the small tool entries. Exits when stdin closes.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

// Which file is loading right now: if a tool ends or hangs the process while loading, the build names it.
let progressPath = null;

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

// zod 4 (and any schema library implementing Standard JSON Schema) converts itself: the build
// never needs its own copy of zod, it asks the schema the tool's bundle carries.
// Both schemas convert their "input" side: arguments before zod's defaults apply (a field with a default
// is optional) and unknown keys accepted (zod strips them); the output as run() returns it, unparsed.
const TARGET = "draft-2020-12";
// zod types with no JSON Schema form; the override below finds where they sit to name the field.
const UNREPRESENTABLE = new Set([
  "bigint", "symbol", "undefined", "void", "date", "map", "set", "transform", "nan", "custom", "function", "promise",
]);

function isStandardSchema(value) {
  return !!value && (typeof value === "object" || typeof value === "function") && typeof value["~standard"] === "object";
}

// JSON Schema path ["properties","when","properties","d"] -> the field path "when.d" a user wrote.
function fieldPath(schemaPath) {
  const parts = [];
  for (let i = 0; i < schemaPath.length; i++) {
    const step = schemaPath[i];
    if (step === "properties" || step === "patternProperties") parts.push(String(schemaPath[++i]));
    else if (step === "items" || step === "additionalProperties") parts.push("[]");
    else if (step === "prefixItems") parts.push(`[${schemaPath[++i]}]`);
    else if (step === "anyOf" || step === "oneOf" || step === "allOf") i++;
  }
  return parts.join(".").replace(/\.\[/g, "[");
}

function convertSchema(schema, key) {
  const standard = schema["~standard"];
  const converter = standard.jsonSchema && standard.jsonSchema.input;
  if (typeof converter !== "function") {
    throw new Error(
      standard.vendor === "zod"
        ? `${key} is a zod schema without a JSON Schema conversion (zod/mini, or zod before 4.2); ` +
            'use `import { z } from "zod"` (zod 4.2 or later), or write a JSON Schema object'
        : `${key} is a ${standard.vendor || "schema library"} schema that cannot convert itself to JSON Schema; ` +
            "use zod 4 or write a JSON Schema object",
    );
  }
  try {
    return converter({ target: TARGET });
  } catch (err) {
    // Convert again, marking unrepresentable parts instead of throwing, to name the fields.
    const fields = [];
    try {
      converter({
        target: TARGET,
        libraryOptions: {
          unrepresentable: "any",
          override(ctx) {
            const type = ctx.zodSchema && ctx.zodSchema._zod && ctx.zodSchema._zod.def && ctx.zodSchema._zod.def.type;
            if (UNREPRESENTABLE.has(type)) fields.push(`${fieldPath(ctx.path) || "(the whole schema)"} (${type})`);
          },
        },
      });
    } catch {
      // Only the first message is known, then.
    }
    const where = fields.length ? ` at ${[...new Set(fields)].join(", ")}` : "";
    throw new Error(
      `${key} cannot be expressed in JSON Schema${where} (${standard.vendor}: ${err && err.message ? err.message : err}); ` +
        "the platform checks arguments against JSON Schema, so use types it can express " +
        "(a .refine() check is fine: it runs in Node.js before run())",
    );
  }
}

function schemaCopy(value, key) {
  if (isStandardSchema(value)) return convertSchema(value, key);
  return jsonCopy(value, key);
}

// `namespace` is what import() gave: an ES module's namespace (the build's output), or for a bundle built
// as CommonJS (before code splitting) one whose `default` is module.exports, itself `{default}` when
// esbuild compiled an `export default` (the same rule as edge_runtime/host.mjs).
function definitionOf(namespace) {
  if (!namespace || !("default" in namespace)) return undefined;
  const exported = namespace.default;
  return exported && typeof exported === "object" && "default" in exported ? exported.default : exported;
}

async function index(file) {
  let exported;
  fs.writeFileSync(progressPath, file);
  try {
    // import(), not require(): the tools are ES modules sharing chunks, loaded once for all of them.
    exported = await import(pathToFileURL(path.resolve(file)).href);
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
        inputSchema: schemaCopy(def.inputSchema, "inputSchema"),
        outputSchema: schemaCopy(def.outputSchema, "outputSchema"),
        timeoutMs: def.timeoutMs,
        runType: typeof def.run,
        keys: Object.keys(def),
      },
    };
  } catch (err) {
    const tool = typeof def.name === "string" ? `tool ${JSON.stringify(def.name)}: ` : "";
    return { file, ok: false, problem: tool + String(err.message || err) };
  }
}

async function indexAll(resultPath, files) {
  progressPath = `${resultPath}.loading`;
  const results = [];
  for (const file of files) results.push(await index(file)); // one at a time: the progress file names it
  fs.writeFileSync(resultPath, JSON.stringify(results));
}

// esbuild names a shared chunk after a hash of its content (`chunk-<HASH>.js`), and a tool entry names
// the chunks it imports. Each build sits in a new folder, so without this every save would load zod
// & co. again under a new URL; here a chunk whose bytes were seen before resolves to the URL it was
// first loaded from, which Node.js already holds. Only the entries (the tools' own code) load anew.
// edge_runtime/host.mjs applies the same rule (reloadInPlace); each file holds its own copy because a
// sandboxed worker may read nothing of the package but its host script.
function sharedChunks() {
  const { registerHooks } = require("node:module");
  if (typeof registerHooks !== "function") return; // Node.js before 22.15: every save loads everything
  const CHUNK = /\/chunk-[A-Za-z0-9]+\.js$/;
  const firstUrl = new Map(); // sha256 of a chunk's bytes -> the URL it was loaded from
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (!CHUNK.test(resolved.url) || !resolved.url.startsWith("file:")) return resolved;
      let digest;
      try {
        digest = crypto.createHash("sha256").update(fs.readFileSync(new URL(resolved.url))).digest("hex");
      } catch {
        return resolved; // unreadable: let the loader report it
      }
      if (!firstUrl.has(digest)) firstUrl.set(digest, resolved.url);
      return { ...resolved, url: firstUrl.get(digest) };
    },
  });
}

function serve() {
  sharedChunks();
  let queue = Promise.resolve();
  require("node:readline")
    .createInterface({ input: process.stdin })
    .on("line", (line) => {
      const request = JSON.parse(line);
      // One request at a time, in order; a tool printing on stdout cannot forge the id.
      queue = queue.then(async () => {
        await indexAll(request.result, request.files);
        process.stdout.write(`\n${JSON.stringify({ done: request.id })}\n`);
      }).catch((err) => {
        console.error(String((err && err.stack) || err));
        process.exit(1); // the build sees the exit and says so; the next one starts a new indexer
      });
    })
    .on("close", () => process.exit(0)); // the build is gone: so are we, whatever tools left running
}

serve();
