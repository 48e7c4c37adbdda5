// The dev loop's esbuild, kept between saves (bundler/incremental.py): one esbuild context whose
// rebuild() re-reads only what changed, instead of a new esbuild process parsing every file again.
//
// Usage: ESBUILD_BINARY_PATH=<the build's esbuild> node incremental.mjs <esbuild's lib/main.js>
// Reads one JSON request per stdin line:
//   {id, key, root, options, outdir, metafile}
// `options` are esbuild's build options (JS API names) without outdir/write/metafile; a request with
// another `key` than the last one starts a new context. The output files are written under `outdir`,
// the metafile (output paths as the command-line esbuild names them, relative to `root`) to `metafile`.
// Answers one JSON line per request: {id, ok: true} | {id, ok: false, errors: "<esbuild's text log>"}
// | {id, ok: false, crash: "..."}. No tool code runs here, so stdout carries only answers.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";

const esbuild = createRequire(import.meta.url)(process.argv[2]);

let context = null;
let contextKey = null;
let virtualOutdir = null; // the context's outdir: never written (write: false), only a prefix to cut

async function build(request) {
  if (request.key !== contextKey) {
    await context?.dispose();
    context = null;
    virtualOutdir = path.join(request.root, ".edge", ".incremental-out");
    context = await esbuild.context({
      ...request.options,
      absWorkingDir: request.root,
      outdir: virtualOutdir,
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    contextKey = request.key;
  }
  let result;
  try {
    result = await context.rebuild();
  } catch (err) {
    if (!Array.isArray(err?.errors)) throw err;
    const text = await esbuild.formatMessages(err.errors, { kind: "error", color: false });
    return { id: request.id, ok: false, errors: text.join("") };
  }
  for (const file of result.outputFiles) {
    const target = path.join(request.outdir, path.relative(virtualOutdir, file.path));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.contents);
  }
  // Output paths as if esbuild had written to `outdir` (the names the command line gives).
  const relocate = (name) => {
    const inside = path.relative(virtualOutdir, path.resolve(request.root, name));
    return inside.startsWith("..") ? name : path.relative(request.root, path.join(request.outdir, inside));
  };
  const outputs = {};
  for (const [name, info] of Object.entries(result.metafile.outputs)) {
    const imports = info.imports.map((item) => ({ ...item, path: relocate(item.path) }));
    outputs[relocate(name)] = { ...info, imports };
  }
  fs.writeFileSync(request.metafile, JSON.stringify({ ...result.metafile, outputs }));
  return { id: request.id, ok: true };
}

let queue = Promise.resolve();
readline
  .createInterface({ input: process.stdin })
  .on("line", (line) => {
    const request = JSON.parse(line);
    queue = queue
      .then(() => build(request))
      .catch((err) => {
        contextKey = null; // start afresh next time
        return { id: request.id, ok: false, crash: String(err?.stack || err) };
      })
      .then((answer) => process.stdout.write(JSON.stringify(answer) + "\n"));
  })
  .on("close", async () => {
    await context?.dispose();
    process.exit(0);
  });
