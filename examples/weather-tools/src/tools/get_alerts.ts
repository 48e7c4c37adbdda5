import { z } from "zod";
import { fetchJson } from "../lib/http";
import { defineTool, ToolError, type ToolContext } from "../lib/tool";

// WeatherAPI.com's alerts need an API key: it comes from the deployment's secrets, never from the code.
//   edge-connector secret put WEATHER_API_KEY          (or a WEATHER_API_KEY=... line in .dev.vars for dev)
const DEFAULT_BASE_URL = "https://api.weatherapi.com";
const KEY = "WEATHER_API_KEY";

interface WeatherApiAlerts {
  alerts?: { alert?: { headline?: string; severity?: string; event?: string; effective?: string; expires?: string }[] };
}

/** The secret, or a `missing_secret` error that says how to set it (the other tools keep working without it). */
function requireSecret(ctx: ToolContext, name: string): string {
  const value = ctx.secrets[name];
  if (!value) {
    throw new ToolError("missing_secret", `${name} is not set for this deployment; run edge-connector secret put ${name}`, {
      secret: name,
      hint: `edge-connector secret put ${name}`,
    });
  }
  return value;
}

export default defineTool({
  name: "get_alerts",
  description: "Active weather alerts (warnings, watches) for a latitude/longitude, from WeatherAPI.com (needs an API key).",
  inputSchema: z.strictObject({
    latitude: z.number().min(-90).max(90).describe("Decimal degrees, north positive"),
    longitude: z.number().min(-180).max(180).describe("Decimal degrees, east positive"),
  }),
  outputSchema: z.object({
    alerts: z.array(
      z.object({
        headline: z.string(),
        severity: z.string(),
        event: z.string(),
        effective: z.string().nullable(),
        expires: z.string().nullable(),
      }),
    ),
  }),
  timeoutMs: 10_000,
  async run(input, ctx) {
    const key = requireSecret(ctx, KEY);
    const baseUrl = (process.env.WEATHER_ALERTS_URL || DEFAULT_BASE_URL).replace(/\/+$/, "");
    const query = new URLSearchParams({ key, q: `${input.latitude},${input.longitude}` });
    const body = (await fetchJson(`${baseUrl}/v1/alerts.json?${query}`, ctx.signal, 5_000)) as WeatherApiAlerts;
    const alerts = body?.alerts?.alert;
    if (!Array.isArray(alerts)) {
      throw new ToolError("upstream_bad_response", "the alerts service answer has no alerts list");
    }
    return {
      alerts: alerts.map((a) => ({
        headline: a.headline ?? "",
        severity: a.severity ?? "",
        event: a.event ?? "",
        effective: a.effective ?? null,
        expires: a.expires ?? null,
      })),
    };
  },
});
