import type { ToolContext } from "../src/lib/tool";

/** The `ctx` the runtime passes to `run`, for calling tools directly in tests. */
export function testContext(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { callId: "test-call", signal, log: () => {} };
}
