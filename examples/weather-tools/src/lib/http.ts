import { ToolError } from "./tool";

/**
 * GET a JSON document with a deadline of its own, on top of the call's signal.
 * Every way an upstream can fail becomes a ToolError with a code an agent can act on.
 */
export async function fetchJson(url: string, callSignal: AbortSignal, timeoutMs: number): Promise<unknown> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      signal: AbortSignal.any([callSignal, deadline]),
      headers: { accept: "application/json" },
    });
  } catch (err) {
    if (callSignal.aborted) {
      throw new ToolError("cancelled", "the call was cancelled before the weather service answered");
    }
    if (deadline.aborted) {
      throw new ToolError("upstream_timeout", `the weather service did not answer within ${timeoutMs} ms`, {
        timeoutMs,
      });
    }
    throw new ToolError("upstream_unreachable", `could not reach the weather service: ${describe(err)}`);
  }
  if (!response.ok) {
    const body = (await response.text().catch(() => "")).slice(0, 200);
    throw new ToolError("upstream_error", `the weather service answered HTTP ${response.status}`, {
      status: response.status,
      body,
    });
  }
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new ToolError("upstream_bad_response", "the weather service answered with something that is not JSON", {
      preview: text.slice(0, 200),
    });
  }
}

function describe(err: unknown): string {
  // undici hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
