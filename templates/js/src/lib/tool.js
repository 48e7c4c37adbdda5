// The tool definition contract (there is no npm SDK: this file is yours to read and keep).
// `defineTool` returns the definition unchanged; the bundler reads it by loading the built file.
// A schema is a zod 4 schema (the build writes its JSON Schema into manifest.json and the connector
// parses each call's input with it before run()) or a plain JSON Schema object.

/**
 * @typedef {object} ToolContext
 * @property {string} callId       unique id of this call, useful in logs
 * @property {AbortSignal} signal  aborted when the call times out or is cancelled
 * @property {(...args: unknown[]) => void} log  writes to the connector's log, tagged with the tool name
 * @property {Readonly<Record<string, string>>} secrets  this deployment's secrets (`edge-connector secret put
 *           NAME`, `.dev.vars` in dev), read-only, in memory only; see docs/secrets.md
 * @property {string} scratchDir   the only folder a tool may write to (also HOME and TMPDIR); see docs/sandbox.md
 */

/**
 * @template Input, Output
 * @param {{name: string, description: string, inputSchema: object, outputSchema?: object,
 *          timeoutMs?: number, run: (input: Input, ctx: ToolContext) => Promise<Output> | Output}} definition
 */
export function defineTool(definition) {
  return definition;
}

/**
 * A failure the agent should see as a structured error with a stable `code`.
 * Hosts recognise it by `name === "ToolError"` (each bundle carries its own copy of this class).
 */
export class ToolError extends Error {
  name = "ToolError";

  /** @param {string} code @param {string} message @param {unknown} [details] */
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details;
  }
}
