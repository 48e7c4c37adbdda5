import assert from "node:assert/strict";
import { describe, it } from "node:test";
import tool from "../src/tools/sun_times";
import { testContext } from "./context";

describe("sun_times", () => {
  it("computes sunrise and sunset for Berlin at the June solstice", async () => {
    const out: any = await tool.run({ latitude: 52.52, longitude: 13.405, date: "2026-06-21" }, testContext());
    assert.equal(out.date, "2026-06-21");
    assert.equal(out.polar, null);
    // Berlin: sunrise ~02:43 UTC, sunset ~19:33 UTC, about 16 h 50 min of day.
    assert.match(out.sunrise, /^2026-06-21T02:4\d/);
    assert.match(out.sunset, /^2026-06-21T19:3\d/);
    assert.ok(Math.abs(out.dayLengthMinutes - 1010) <= 5, `day length ${out.dayLengthMinutes}`);
  });

  it("reports midnight sun and polar night instead of times", async () => {
    const summer: any = await tool.run({ latitude: 78.22, longitude: 15.65, date: "2026-06-21" }, testContext());
    assert.deepEqual([summer.polar, summer.sunrise, summer.dayLengthMinutes], ["midnight_sun", null, 1440]);
    const winter: any = await tool.run({ latitude: 78.22, longitude: 15.65, date: "2026-12-21" }, testContext());
    assert.deepEqual([winter.polar, winter.sunset, winter.dayLengthMinutes], ["polar_night", null, 0]);
  });

  it("refuses a day that is not on the calendar", async () => {
    await assert.rejects(async () => tool.run({ latitude: 0, longitude: 0, date: "2026-02-30" }, testContext()), {
      name: "ToolError",
      code: "invalid_date",
    });
  });
});
