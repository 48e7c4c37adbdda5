// `npm test`: bundle the TypeScript tests with the project's own esbuild, then run them with node's test runner.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const outdir = join(".edge", "test-build");
const tests = readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => join("test", f));
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: tests,
  outdir,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
});
const built = readdirSync(outdir).filter((f) => f.endsWith(".js")).map((f) => join(outdir, f));
const result = spawnSync(process.execPath, ["--test", ...built], { stdio: "inherit" });
process.exit(result.status ?? 1);
