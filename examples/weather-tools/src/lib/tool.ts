// The tool contract, scaffolded into every project (there is no npm SDK).
// Each built tool file inlines its own copy, so hosts recognise a ToolError by
// `err.name === "ToolError"` or a string `err.code`, never by instanceof.

export type JsonSchema = Record<string, unknown>;

export interface ToolContext {
  /** Unique id of this call, handy in log lines. */
  callId: string;
  /** Aborted when the call's deadline passes or the caller gives up. */
  signal: AbortSignal;
  /** Goes to the runtime log, tagged with the tool name. */
  log: (...args: unknown[]) => void;
}

export interface ToolDefinition<Input = any, Output = unknown> {
  name: string;
  description: string;
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
  timeoutMs?: number;
  run(input: Input, ctx: ToolContext): Promise<Output> | Output;
}

/** Identity function that gives a tool definition its types. */
export function defineTool<Input = any, Output = unknown>(
  def: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return def;
}

/** A failure the caller should see as a structured `tool_error` with this code. */
export class ToolError extends Error {
  override name = "ToolError";
  constructor(
    public code: string,
    message: string,
    public details?: unknown,
  ) {
    super(message);
  }
}
