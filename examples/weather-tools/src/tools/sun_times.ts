import SunCalc from "suncalc";
import { z } from "zod";
import { defineTool, ToolError } from "../lib/tool";

// suncalc (an npm dependency) is inlined into dist/sun_times.js by esbuild: the runtime needs no node_modules.
export default defineTool({
  name: "sun_times",
  description: "Sunrise, sunset, solar noon and day length (UTC) for a place and a day, computed offline.",
  inputSchema: z.strictObject({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    date: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .optional()
      .describe("Day as YYYY-MM-DD (UTC); today when left out"),
  }),
  timeoutMs: 2_000,
  async run(input) {
    const day = input.date ? parseDay(input.date) : new Date();
    // Noon UTC keeps the computed day stable whatever the longitude.
    const noon = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 12));
    const times = SunCalc.getTimes(noon, input.latitude, input.longitude);
    const sunrise = isoOrNull(times.sunrise);
    const sunset = isoOrNull(times.sunset);
    let polar: "midnight_sun" | "polar_night" | null = null;
    let dayLengthMinutes: number;
    if (sunrise && sunset) {
      dayLengthMinutes = Math.round((times.sunset.getTime() - times.sunrise.getTime()) / 60_000);
    } else {
      // No sunrise at all: the sun stays up or down all day; its altitude at noon tells which.
      const altitude = SunCalc.getPosition(times.solarNoon, input.latitude, input.longitude).altitude;
      polar = altitude > 0 ? "midnight_sun" : "polar_night";
      dayLengthMinutes = polar === "midnight_sun" ? 24 * 60 : 0;
    }
    return {
      date: noon.toISOString().slice(0, 10),
      sunrise,
      sunset,
      solarNoon: isoOrNull(times.solarNoon),
      dayLengthMinutes,
      polar,
    };
  },
});

function parseDay(text: string): Date {
  const parsed = new Date(`${text}T00:00:00Z`);
  // The schema checks the shape; only a calendar knows 2026-02-30 does not exist.
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== text) {
    throw new ToolError("invalid_date", `${text} is not a calendar day; use YYYY-MM-DD`, { date: text });
  }
  return parsed;
}

function isoOrNull(value: Date): string | null {
  return Number.isNaN(value.getTime()) ? null : value.toISOString();
}
