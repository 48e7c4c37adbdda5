// Tool worker host: one Node.js process that loads every tool of a bundle and runs calls concurrently.
//
// Why this shape:
// - Calls and results travel on a dedicated socket (fd in EC_CHANNEL_FD), newline-delimited JSON, so
//   nothing a tool prints can corrupt the call channel. stdout/stderr are only ever logs.
// - console.* and ctx.log lines are prefixed with a marker, the calling tool's name and the call id (found
//   through AsyncLocalStorage, so they are right even with many calls interleaved), letting the runtime tag
//   them and forward them to a live tail with the call they belong to.
// - The runtime owns deadlines; this host only turns an `abort` message into `ctx.signal` aborting.
//
// Channel messages, runtime -> host:
//   {"t":"load","tools":[{"name","path"}],"scratchDir":"…","secrets":{…},"cwd":"…"?}
//                                                enter the bundle's directory, load every tool; answer
//                                                ready or loadError
//   {"t":"prepare","tools":[{"name","path"}]}     a new version's tools, loaded beside the serving ones
//                                                (reload in place, node host.mjs --reuse-chunks); answer
//                                                ready or loadError
//   {"t":"commit","cwd":"…"} | {"t":"abort"}      serve the prepared tools from now on | forget them
//   {"t":"call","id":N,"tool":"x","input":{…},"callId":"c","flush":true?}
//     with flush, the host writes "\x1d<N>" on stdout after the call's last log line and before its
//     answer, so the runtime can forward the call's lines before its result (a live tail shows them
//     in order)
//   {"t":"abort","id":N}
// host -> runtime:
//   {"t":"ready","seq":N} | {"t":"loadError","seq":N,"tool":"x","message":"…"}
//     (N: the seq of the load or prepare answered, so a late answer to an abandoned one is not taken
//     for the answer to the next)
//   {"t":"ok","id":N,"v":<output>} | {"t":"err","id":N,"code":"…","message":"…","details":…}
//   {"t":"invalid","id":N,"details":[{"path":"/json/pointer","message":"…"}]}
//     (a zod inputSchema refused the arguments: its refinements are checked only here, in Node.js)

import { AsyncLocalStorage } from "node:async_hooks";
import net from "node:net";
import util from "node:util";
import { pathToFileURL } from "node:url";

// One answer must fit in one WebSocket frame (edge_protocol.limits.MAX_FRAME_BYTES), counted in UTF-8
// bytes; the runtime sizes the whole frame again, wrapper included. Error text and details are capped
// as edge_protocol.limits says (MAX_ERROR_MESSAGE_CHARS, MAX_ERROR_DETAILS_BYTES) so no answer line can
// outgrow the channel's reader.
const MAX_RESULT_BYTES = 16 * 1024 * 1024;
const MAX_ERROR_MESSAGE_CHARS = 4096;
const MAX_ERROR_DETAILS_BYTES = 64 * 1024;
const MAX_ERROR_CODE_CHARS = 100;
const TRUNCATED = "… (truncated)";
const MAX_LOG_LINE_CHARS = 8192;
const LOG_MARK = "\x1e"; // record separator: starts a tagged log line "\x1e<tool>\x1f<level>\x1f<callId>\x1f<text>"
const FIELD = "\x1f";
const FLUSHED_MARK = "\x1d"; // group separator: "\x1d<id>" on stdout = every line of call <id> is written

const channelFd = Number(process.env.EC_CHANNEL_FD);
if (!Number.isInteger(channelFd)) {
  process.stderr.write("host.mjs: EC_CHANNEL_FD is not set; this file is started by the edge-connector runtime\n");
  process.exit(2);
}

const currentCall = new AsyncLocalStorage(); // { tool, callId } of the code running now
let tools = new Map(); // name -> definition, of the version serving now
let prepared = null; // a new version's definitions until commit or abort (reload in place)
let preparing = 0; // bumped by every prepare and abort: a superseded prepare neither answers nor stays
const running = new Map(); // id -> AbortController
const flushing = new Set(); // ids of calls whose end must be marked on stdout
let scratchDir = null; // ctx.scratchDir: the only folder a tool may write (unless edge.json grants more)
let secrets = Object.freeze({}); // ctx.secrets: this deployment's secrets, in memory only

// Node's permission names (ERR_ACCESS_DENIED's `permission`) -> the edge.json key that grants it.
// Same table as edge_protocol/sandbox.py GRANT_KEYS.
const GRANT_KEYS = {
  FileSystemRead: "permissions.fsRead",
  FileSystemWrite: "permissions.fsWrite",
  ChildProcess: "permissions.childProcess",
  WorkerThreads: "permissions.workerThreads",
  Addon: "permissions.addons",
  WASI: "permissions.wasi",
};

// ------------------------------------------------------------------------------------------ logs
const original = {
  log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug,
};

function writeTagged(level, args, where = currentCall.getStore()) {
  const tool = where?.tool ?? "-";
  const callId = where?.callId ?? "";
  let text = util.format(...args);
  if (text.length > MAX_LOG_LINE_CHARS) text = text.slice(0, MAX_LOG_LINE_CHARS) + "… (truncated)";
  // One marker per line so a multi-line message stays tagged line by line. Every level goes to stdout
  // (the tag carries the level), so lines keep the order the tool wrote them in; stderr is left to
  // node itself.
  const lines = text.split("\n").map((line) => LOG_MARK + tool + FIELD + level + FIELD + callId + FIELD + line);
  process.stdout.write(lines.join("\n") + "\n");
}

for (const level of Object.keys(original)) {
  console[level] = (...args) => writeTagged(level, args);
}

// --------------------------------------------------------------------------------------- channel
const channel = new net.Socket({ fd: channelFd, readable: true, writable: true });
channel.setNoDelay?.(true);

function send(text) {
  channel.write(text + "\n");
}

let buffered = "";
channel.setEncoding("utf8");
channel.on("data", (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf("\n")) !== -1) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    if (line) handle(JSON.parse(line));
  }
});
// The runtime went away (closed the channel or died): nothing can reach us any more.
channel.on("end", () => process.exit(0));
channel.on("close", () => process.exit(0));
channel.on("error", () => process.exit(0));

function handle(message) {
  switch (message.t) {
    case "call":
      return runCall(message);
    case "abort":
      return running.get(message.id)?.abort(new Error("deadline exceeded"));
    case "prepare":
      return prepare(message.tools, message.seq);
    case "commit":
      return commit(message.cwd);
    case "abort":
      preparing += 1;
      prepared = null;
      return;
    case "load":
      scratchDir = message.scratchDir ?? null;
      secrets = Object.freeze({ ...(message.secrets ?? {}) });
      // A worker started while its bundle was still arriving runs elsewhere until then.
      if (message.cwd) {
        try {
          process.chdir(message.cwd);
        } catch (err) {
          return send(JSON.stringify({ t: "loadError", seq: message.seq, tool: null, message: `cannot enter ${message.cwd}: ${describe(err)}` }));
        }
      }
      return load(message.tools, message.seq);
  }
}

// ------------------------------------------------------------------------------------------ load
// import(), not require(): a bundle's tools are ES modules sharing chunks (zod, common code), parsed once
// per worker; a bundle built as CommonJS (before code splitting) loads through import() as well.
async function load(list, seq) {
  const loaded = await importTools(list, seq);
  if (loaded) {
    tools = loaded;
    send(JSON.stringify({ t: "ready", seq }));
  }
}

// Reload in place: the new version's modules load while the old ones keep serving; the runtime commits
// once every worker has them, so all its workers switch together (or none does).
async function prepare(list, seq) {
  const mine = ++preparing;
  prepared = null;
  const loaded = await importTools(list, seq, () => mine === preparing);
  if (loaded && mine === preparing) {
    prepared = loaded;
    send(JSON.stringify({ t: "ready", seq }));
  }
}

function commit(cwd) {
  if (!prepared) return;
  tools = prepared;
  prepared = null;
  try {
    if (cwd) process.chdir(cwd);
  } catch {
    // It was there when prepared; calls keep the previous directory.
  }
}

// Every tool of `list` loaded, or null after sending the loadError of the first that failed (if the
// load is still `wanted`).
async function importTools(list, seq, wanted = () => true) {
  const loaded = new Map();
  for (const { name, path } of list) {
    try {
      const namespace = await currentCall.run({ tool: name, callId: "" }, () => import(pathToFileURL(path).href));
      const definition = definitionOf(namespace);
      if (!definition || typeof definition.run !== "function") {
        throw new Error("its module does not export a tool definition with a run() function");
      }
      loaded.set(name, definition);
    } catch (err) {
      if (wanted()) send(JSON.stringify({ t: "loadError", seq, tool: name, message: describe(err) }));
      return null;
    }
  }
  return loaded;
}

// esbuild names a shared chunk after a hash of its content (`chunk-<HASH>.js`); each version of a bundle
// sits in its own folder. With reload in place, a chunk whose bytes this worker has loaded before resolves
// to the URL it was first loaded from, so a new version loads only what changed (zod & co. stay loaded).
// The same rule as bundler/indexer.cjs (sharedChunks). Node.js before 22.15 lacks registerHooks: then a
// reload loads everything again. Imported here: node:crypto alone adds ~4 MB to every idle worker.
async function reuseSharedChunks() {
  const [crypto, fs, module] = await Promise.all([import("node:crypto"), import("node:fs"), import("node:module")]);
  if (typeof module.registerHooks !== "function") return;
  const CHUNK = /\/chunk-[A-Za-z0-9]+\.js$/;
  const firstUrl = new Map(); // sha256 of a chunk's bytes -> the URL it was loaded from
  module.registerHooks({
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
if (process.argv.includes("--reuse-chunks")) await reuseSharedChunks();

// The default export. For a CommonJS module that is module.exports, unwrapped once more when it holds a
// `default` (what esbuild makes of `export default` in bundles built as CommonJS, before code splitting):
// the rule `require()` followed here before (bundler/indexer.cjs follows it too).
function definitionOf(namespace) {
  const exported = namespace && "default" in namespace ? namespace.default : undefined;
  return exported && typeof exported === "object" && "default" in exported ? exported.default : exported;
}

function describe(err) {
  if (err instanceof Error) return err.message || err.name;
  try {
    return String(err);
  } catch {
    return "unknown error";
  }
}

// ------------------------------------------------------------------------------------------ call
function runCall({ id, tool, input, callId, flush }) {
  if (flush) flushing.add(id);
  const definition = tools.get(tool);
  if (!definition) {
    markFlushed(id);
    return fail(id, "tool_not_found", `tool ${JSON.stringify(tool)} is not loaded in this worker`);
  }
  const controller = new AbortController();
  running.set(id, controller);
  const ctx = {
    callId,
    signal: controller.signal,
    log: (...args) => writeTagged("info", args, { tool, callId }),
    secrets,
    scratchDir,
  };
  const standard = standardSchemaOf(definition.inputSchema);
  currentCall.run({ tool, callId }, () => {
    if (!standard) return start(id, definition, input, ctx);
    // A zod schema (any Standard Schema) parses the input first: run() gets what its type says,
    // defaults filled in and transforms applied, and the refinements that JSON Schema cannot carry
    // are checked here. (A JSON Schema object was already checked by the runtime.)
    let parsing;
    try {
      parsing = Promise.resolve(standard.validate(input));
    } catch (err) {
      parsing = Promise.reject(err);
    }
    parsing.then(
      (parsed) => (parsed.issues ? refuse(id, parsed.issues) : start(id, definition, parsed.value, ctx)),
      (err) => settleThrown(id, err),
    );
  });
}

// Mark the end of a call's lines on stdout before its answer goes out on the channel.
function markFlushed(id) {
  if (flushing.delete(id)) process.stdout.write(FLUSHED_MARK + id + "\n");
}

function start(id, definition, input, ctx) {
  let pending;
  try {
    pending = Promise.resolve(definition.run(input, ctx));
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    (value) => settle(id, value),
    (err) => settleThrown(id, err),
  );
}

function standardSchemaOf(schema) {
  const standard = schema && (typeof schema === "object" || typeof schema === "function") ? schema["~standard"] : undefined;
  return standard && typeof standard.validate === "function" ? standard : undefined;
}

// The executor words the error (edge_protocol.calls.invalid_arguments), as for its own JSON Schema check.
function refuse(id, issues) {
  running.delete(id);
  markFlushed(id);
  const details = issues.map((issue) => ({ path: pointer(issue.path), message: String(issue.message) }));
  send(JSON.stringify({ t: "invalid", id, details }));
}

// Standard Schema path segments (keys or {key}) -> a JSON pointer (RFC 6901): ["a", 0] -> "/a/0".
function pointer(path) {
  return (path || [])
    .map((segment) => (segment && typeof segment === "object" ? segment.key : segment))
    .map((key) => "/" + String(key).replace(/~/g, "~0").replace(/\//g, "~1"))
    .join("");
}

function settle(id, value) {
  running.delete(id);
  markFlushed(id);
  if (isErrorResult(value)) {
    const { code, message, details } = value.error;
    return fail(id, code, message, details);
  }
  let json;
  try {
    json = JSON.stringify(value, strictJson);
  } catch (err) {
    return fail(id, "tool_error", `tool result is not JSON: ${describe(err)}`);
  }
  if (json === undefined) {
    return fail(id, "tool_error", `tool result is not JSON: run() returned ${value === undefined ? "undefined" : typeof value}`);
  }
  if (json.length > MAX_RESULT_BYTES / 4) {
    const bytes = Buffer.byteLength(json, "utf8"); // only a long result pays for counting its bytes
    if (bytes > MAX_RESULT_BYTES) {
      return fail(
        id,
        "result_too_large",
        `The tool's result is ${bytes.toLocaleString("en-US")} bytes of JSON; one message carries at most ` +
          `${MAX_RESULT_BYTES.toLocaleString("en-US")} bytes (return a reference to large data instead)`,
        { bytes, limit: MAX_RESULT_BYTES },
      );
    }
  }
  send('{"t":"ok","id":' + id + ',"v":' + json + "}");
}

// Functions and symbols are silently dropped by JSON.stringify; a tool returning one is a bug worth naming.
function strictJson(key, value) {
  const kind = typeof value;
  if (kind === "function" || kind === "symbol") {
    throw new Error(`${key ? `field ${JSON.stringify(key)} is` : "it is"} a ${kind}`);
  }
  return value;
}

function isErrorResult(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== "error") return false;
  const error = value.error;
  return !!error && typeof error === "object" && typeof error.code === "string" && typeof error.message === "string";
}

function settleThrown(id, err) {
  running.delete(id);
  markFlushed(id);
  if (err && typeof err === "object" && err.code === "ERR_ACCESS_DENIED") return fail(id, "permission_denied", deniedMessage(err));
  const isToolError = err && typeof err === "object" && (err.name === "ToolError" || typeof err.code === "string");
  if (isToolError) return fail(id, err.code ?? "tool_error", describe(err), err.details);
  return fail(id, "tool_error", describe(err));
}

// "Permission denied: FileSystemRead of /etc/passwd; grant it in edge.json permissions.fsRead" (SPEC.md §10).
function deniedMessage(err) {
  const permission = err.permission || "unknown";
  const key = GRANT_KEYS[permission] ?? "permissions";
  const what = err.resource ? ` of ${err.resource}` : "";
  return `Permission denied: ${permission}${what} is not allowed in the tool sandbox; grant it in edge.json ${key} (see docs/sandbox.md)`;
}

function fail(id, code, message, details) {
  let detailsJson = "null";
  if (details !== undefined) {
    try {
      detailsJson = JSON.stringify(details) ?? "null";
    } catch {
      detailsJson = "null";
    }
  }
  if (detailsJson.length > MAX_ERROR_DETAILS_BYTES / 4 && Buffer.byteLength(detailsJson, "utf8") > MAX_ERROR_DETAILS_BYTES) {
    const bytes = Buffer.byteLength(detailsJson, "utf8");
    detailsJson = JSON.stringify({ truncated: true, bytes, preview: detailsJson.slice(0, 4096) + TRUNCATED });
  }
  send(
    '{"t":"err","id":' + id + ',"code":' + JSON.stringify(capText(String(code), MAX_ERROR_CODE_CHARS)) + ',"message":' +
      JSON.stringify(capText(String(message), MAX_ERROR_MESSAGE_CHARS)) + ',"details":' + detailsJson + "}",
  );
}

function capText(text, limit) {
  return text.length > limit ? text.slice(0, limit) + TRUNCATED : text;
}

// A tool's stray async throw (a timer callback, an unawaited promise) must not take down the calls
// of the other tools in this worker: log it, tagged, and keep serving.
process.on("uncaughtException", (err) => writeTagged("error", ["uncaught exception:", err]));
process.on("unhandledRejection", (err) => writeTagged("error", ["unhandled promise rejection:", err]));
