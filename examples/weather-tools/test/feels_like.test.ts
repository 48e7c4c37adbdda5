import assert from "node:assert/strict";
import { describe, it } from "node:test";
import tool from "../src/tools/feels_like";
import { testContext } from "./context";

const run = (input: any) => tool.run(input, testContext()) as Promise<any>;

describe("feels_like", () => {
  it("uses wind chill when cold and windy", async () => {
    // Environment Canada table: -10 °C with 30 km/h wind feels like about -20 °C.
    assert.deepEqual(await run({ temperature: -10, unit: "C", windSpeedKmh: 30 }), {
      feelsLike: -19.5,
      unit: "C",
      method: "wind_chill",
    });
  });

  it("uses the heat index when hot and humid, in the unit asked", async () => {
    // NWS table: 90 °F at 70 % humidity reads 106 °F.
    const out = await run({ temperature: 90, unit: "F", relativeHumidity: 70 });
    assert.equal(out.method, "heat_index");
    assert.ok(Math.abs(out.feelsLike - 106) <= 1, `heat index ${out.feelsLike}`);
  });

  it("derives humidity from a dew point", async () => {
    const out = await run({ temperature: 32, unit: "C", dewPoint: 26 });
    assert.equal(out.method, "heat_index");
    assert.ok(out.feelsLike > 40, `feels like ${out.feelsLike}`);
  });

  it("answers the air temperature when neither applies", async () => {
    assert.deepEqual(await run({ temperature: 18, unit: "C" }), { feelsLike: 18, unit: "C", method: "air_temperature" });
  });

  it("refuses a dew point above the temperature", async () => {
    await assert.rejects(run({ temperature: 20, unit: "C", dewPoint: 25 }), {
      name: "ToolError",
      code: "dew_point_above_temperature",
    });
  });

  it("refuses a temperature no weather reaches, naming the unit", async () => {
    await assert.rejects(run({ temperature: 95, unit: "C" }), (err: any) => {
      assert.equal(err.code, "implausible_temperature");
      assert.match(err.message, /check the unit/);
      return true;
    });
  });
});
