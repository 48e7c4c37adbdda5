import { z } from "zod";
import { fetchJson } from "../lib/http";
import { defineTool, ToolError } from "../lib/tool";

// Open-Meteo needs no API key. Point WEATHER_API_URL elsewhere (a proxy, a test server) without rebuilding.
const DEFAULT_BASE_URL = "https://api.open-meteo.com";
const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000;

interface OpenMeteoForecast {
  current?: { time: string; temperature_2m: number; relative_humidity_2m: number; wind_speed_10m: number };
  daily?: {
    time: string[];
    temperature_2m_min: number[];
    temperature_2m_max: number[];
    precipitation_sum: number[];
  };
}

export default defineTool({
  name: "get_forecast",
  description:
    "Current conditions and a daily forecast (min/max °C, precipitation) for a latitude/longitude, from Open-Meteo.",
  inputSchema: z.strictObject({
    latitude: z.number().min(-90).max(90).describe("Decimal degrees, north positive"),
    longitude: z.number().min(-180).max(180).describe("Decimal degrees, east positive"),
    days: z.number().int().min(1).max(7).optional().describe("How many days of forecast (default 3)"),
  }),
  outputSchema: z.object({
    current: z.object({}).passthrough(),
    days: z.array(z.object({}).passthrough()),
  }),
  // The whole call may take this long; the upstream request gets less so we can still explain a timeout.
  timeoutMs: 10_000,
  async run(input, ctx) {
    const baseUrl = (process.env.WEATHER_API_URL || DEFAULT_BASE_URL).replace(/\/+$/, "");
    const timeoutMs = Number(process.env.WEATHER_API_TIMEOUT_MS) || DEFAULT_UPSTREAM_TIMEOUT_MS;
    const query = new URLSearchParams({
      latitude: String(input.latitude),
      longitude: String(input.longitude),
      current: "temperature_2m,relative_humidity_2m,wind_speed_10m",
      daily: "temperature_2m_min,temperature_2m_max,precipitation_sum",
      forecast_days: String(input.days ?? 3),
      timezone: "auto",
    });
    ctx.log(`forecast for ${input.latitude},${input.longitude}`);
    const body = (await fetchJson(`${baseUrl}/v1/forecast?${query}`, ctx.signal, timeoutMs)) as OpenMeteoForecast;
    return toForecast(body);
  },
});

function toForecast(body: OpenMeteoForecast) {
  const { current, daily } = body ?? {};
  if (!current || !daily || !Array.isArray(daily.time)) {
    throw new ToolError("upstream_bad_response", "the weather service answer has no current or daily section");
  }
  return {
    current: {
      time: current.time,
      temperatureC: current.temperature_2m,
      relativeHumidity: current.relative_humidity_2m,
      windSpeedKmh: current.wind_speed_10m,
    },
    days: daily.time.map((date, i) => ({
      date,
      minC: daily.temperature_2m_min[i],
      maxC: daily.temperature_2m_max[i],
      precipitationMm: daily.precipitation_sum[i],
    })),
  };
}
