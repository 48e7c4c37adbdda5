import { z } from "zod";
import { defineTool, ToolError } from "../lib/tool";

type Unit = "C" | "F";

// The records on Earth, with a margin: anything outside is a typo or a unit mix-up.
const PLAUSIBLE_C = { min: -95, max: 60 };

export default defineTool({
  name: "feels_like",
  description:
    "Apparent temperature: wind chill when cold and windy, heat index when hot and humid. Give humidity or a dew point.",
  // The schema does the structural checks (the platform and the runtime enforce its JSON Schema before
  // `run`; the .refine() rule, which JSON Schema cannot carry, is checked in Node.js); `run` does the semantic ones.
  inputSchema: z
    .strictObject({
      temperature: z.number().describe("Air temperature in `unit`"),
      unit: z.enum(["C", "F"]).describe("Unit of temperature, dewPoint and the answer"),
      relativeHumidity: z.number().min(0).max(100).optional().describe("Percent"),
      dewPoint: z.number().optional().describe("Dew point in `unit`; instead of relativeHumidity"),
      windSpeedKmh: z.number().min(0).max(400).optional().describe("Wind speed; 0 when left out"),
    })
    .refine((input) => input.relativeHumidity === undefined || input.dewPoint === undefined, {
      message: "give relativeHumidity or dewPoint, not both",
      path: ["dewPoint"],
    }),
  outputSchema: z.object({
    feelsLike: z.number(),
    unit: z.enum(["C", "F"]),
    method: z.enum(["wind_chill", "heat_index", "air_temperature"]),
  }),
  timeoutMs: 1_000,
  async run(input) {
    const tempC = toCelsius(input.temperature, input.unit);
    if (tempC < PLAUSIBLE_C.min || tempC > PLAUSIBLE_C.max) {
      throw new ToolError(
        "implausible_temperature",
        `${input.temperature} °${input.unit} is outside what weather on Earth reaches; check the unit`,
        { temperature: input.temperature, unit: input.unit },
      );
    }
    let humidity = input.relativeHumidity;
    if (input.dewPoint !== undefined) {
      const dewC = toCelsius(input.dewPoint, input.unit);
      if (dewC > tempC) {
        throw new ToolError("dew_point_above_temperature", "the dew point cannot be above the air temperature", {
          temperature: input.temperature,
          dewPoint: input.dewPoint,
        });
      }
      humidity = humidityFromDewPoint(tempC, dewC);
    }
    const wind = input.windSpeedKmh ?? 0;
    let method: "wind_chill" | "heat_index" | "air_temperature" = "air_temperature";
    let feelsC = tempC;
    if (tempC <= 10 && wind > 4.8) {
      method = "wind_chill";
      feelsC = windChill(tempC, wind);
    } else if (tempC >= 27 && humidity !== undefined && humidity >= 40) {
      method = "heat_index";
      feelsC = heatIndex(tempC, humidity);
    }
    const feelsLike = input.unit === "C" ? feelsC : feelsC * 1.8 + 32;
    return { feelsLike: Math.round(feelsLike * 10) / 10, unit: input.unit, method };
  },
});

function toCelsius(value: number, unit: Unit): number {
  return unit === "C" ? value : (value - 32) / 1.8;
}

/** Environment Canada / NWS wind chill, °C and km/h. */
function windChill(tempC: number, windKmh: number): number {
  const v = windKmh ** 0.16;
  return 13.12 + 0.6215 * tempC - 11.37 * v + 0.3965 * tempC * v;
}

/** NWS Rothfusz regression, computed in °F. */
function heatIndex(tempC: number, rh: number): number {
  const t = tempC * 1.8 + 32;
  const hiF =
    -42.379 + 2.04901523 * t + 10.14333127 * rh - 0.22475541 * t * rh - 0.00683783 * t * t -
    0.05481717 * rh * rh + 0.00122874 * t * t * rh + 0.00085282 * t * rh * rh - 0.00000199 * t * t * rh * rh;
  return (hiF - 32) / 1.8;
}

/** Magnus formula. */
function humidityFromDewPoint(tempC: number, dewC: number): number {
  const gamma = (c: number) => (17.625 * c) / (243.04 + c);
  return 100 * Math.exp(gamma(dewC) - gamma(tempC));
}
