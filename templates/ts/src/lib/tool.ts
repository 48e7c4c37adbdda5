// The tool definition contract (there is no npm SDK: this file is yours to read and keep).
// `defineTool` only adds types; the bundler reads the definition by loading the built file.
//
// A schema is either a zod 4 schema (recommended: one declaration gives the input type, the JSON
// Schema the build writes into manifest.json, and validation) or a plain JSON Schema object.

/** A JSON Schema (draft 2020-12) object. */
export type JsonSchema = { [key: string]: unknown };

/**
 * What a zod 4 schema is, structurally (the Standard Schema interface zod implements), so this file
 * needs no import of zod: any `z.object(...)` fits.
 */
export interface StandardSchema<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => unknown;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** The value a schema gives `run()` (zod: after defaults and transforms, i.e. `z.output<S>`). */
export type Parsed<S> = S extends StandardSchema<any, infer Output> ? Output : any;
/** The value a schema accepts (zod: `z.input<S>`); what `run()` must return for an `outputSchema`. */
export type Accepted<S> = S extends StandardSchema<infer Input, any> ? Input : unknown;

/** What every call receives besides its input. */
export interface ToolContext {
  /** Unique id of this call, useful in logs. */
  callId: string;
  /** Aborted when the call times out or is cancelled: pass it to fetch() and friends. */
  signal: AbortSignal;
  /** Writes to the connector's log, tagged with the tool name. */
  log: (...args: unknown[]) => void;
  /**
   * This deployment's secrets (`edge-connector secret put NAME`; `.dev.vars` in `edge-connector dev`),
   * read-only and in memory only. List the ones a tool cannot work without in edge.json
   * `"secrets": {"required": [...]}` so a call fails with `missing_secret` instead. See docs/secrets.md.
   */
  secrets: Readonly<Record<string, string>>;
  /** The only folder a tool may write to (also HOME and TMPDIR), kept per bundle. See docs/sandbox.md. */
  scratchDir: string;
}

/** A tool whose schemas are zod schemas: `run`'s input and result types come from them. */
export interface TypedToolDefinition<In extends StandardSchema, Out extends StandardSchema | undefined = undefined> {
  /** ^[a-zA-Z][a-zA-Z0-9_-]{0,63}$, unique in a bundle. */
  name: string;
  description: string;
  inputSchema: In;
  outputSchema?: Out;
  /** Default 30 000; the connector may cap it. */
  timeoutMs?: number;
  run(input: Parsed<In>, ctx: ToolContext): Promise<Accepted<Out>> | Accepted<Out>;
}

/** A tool with JSON Schema objects: name the input and output types yourself (`defineTool<Input, Output>`). */
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

export function defineTool<In extends StandardSchema, Out extends StandardSchema | undefined = undefined>(
  definition: TypedToolDefinition<In, Out>,
): TypedToolDefinition<In, Out>;
export function defineTool<Input = any, Output = unknown>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output>;
export function defineTool(definition: unknown): unknown {
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
