import type { ToolContext } from "../src/lib/tool";

/** The `ctx` the runtime passes to `run`, for calling tools directly in tests. */
export function testContext(
  signal: AbortSignal = new AbortController().signal,
  secrets: Record<string, string> = {},
): ToolContext {
  return { callId: "test-call", signal, log: () => {}, secrets, scratchDir: process.cwd() };
}
