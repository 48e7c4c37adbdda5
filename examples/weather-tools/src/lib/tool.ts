// The tool definition contract (there is no npm SDK: this file is yours to read and keep).
// `defineTool` only adds types; the bundler reads the definition by loading the built file.

/** A JSON Schema (draft 2020-12) object. */
export type JsonSchema = { [key: string]: unknown };

/** What every call receives besides its input. */
export interface ToolContext {
  /** Unique id of this call, useful in logs. */
  callId: string;
  /** Aborted when the call times out or is cancelled: pass it to fetch() and friends. */
  signal: AbortSignal;
  /** Writes to the connector's log, tagged with the tool name. */
  log: (...args: unknown[]) => void;
}

export interface ToolDefinition<Input = any, Output = unknown> {
  /** ^[a-zA-Z][a-zA-Z0-9_-]{0,63}$, unique in a bundle. */
  name: string;
  description: string;
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
  /** Default 30 000; the connector may cap it. */
  timeoutMs?: number;
  run(input: Input, ctx: ToolContext): Promise<Output> | Output;
}

export function defineTool<Input = any, Output = unknown>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return definition;
}

/**
 * A failure the agent should see as a structured error with a stable `code`.
 * Hosts recognise it by `name === "ToolError"` (each bundle carries its own copy of this class).
 */
export class ToolError extends Error {
  override name = "ToolError";
  readonly code: string;
  readonly details?: unknown;

  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }
}
