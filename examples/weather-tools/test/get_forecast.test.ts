import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import tool from "../src/tools/get_forecast";
import { testContext } from "./context";

// A loopback stand-in for Open-Meteo; each test sets how it answers.
let answer: (req: IncomingMessage, res: ServerResponse) => void;
const server = createServer((req, res) => answer(req, res));
const GOOD = {
  current: { time: "2026-11-28T10:00", temperature_2m: 7.5, relative_humidity_2m: 81, wind_speed_10m: 14.2 },
  daily: {
    time: ["2026-11-28", "2026-11-29"],
    temperature_2m_min: [3.1, 2.4],
    temperature_2m_max: [9.0, 8.2],
    precipitation_sum: [1.2, 0],
  },
};

async function rejectsWith(action: () => unknown, code: string): Promise<Error & { code: string; details?: any }> {
  const err = await Promise.resolve().then(action).then(
    () => assert.fail(`expected ToolError ${code}`),
    (e) => e,
  );
  assert.equal(err.name, "ToolError");
  assert.equal(err.code, code);
  return err;
}

describe("get_forecast", () => {
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    process.env.WEATHER_API_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Long enough for a busy machine's loopback answer; the "never answers" case waits it out.
    process.env.WEATHER_API_TIMEOUT_MS = "3000";
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    answer = (_req, res) => res.end(JSON.stringify(GOOD));
  });

  it("asks for the place and number of days and reshapes the answer", async () => {
    let asked: URL | undefined;
    answer = (req, res) => {
      asked = new URL(req.url!, "http://x");
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(GOOD));
    };
    const out = await tool.run({ latitude: 52.52, longitude: 13.41, days: 2 }, testContext());
    assert.equal(asked?.pathname, "/v1/forecast");
    assert.equal(asked?.searchParams.get("latitude"), "52.52");
    assert.equal(asked?.searchParams.get("forecast_days"), "2");
    assert.deepEqual(out, {
      current: { time: "2026-11-28T10:00", temperatureC: 7.5, relativeHumidity: 81, windSpeedKmh: 14.2 },
      days: [
        { date: "2026-11-28", minC: 3.1, maxC: 9.0, precipitationMm: 1.2 },
        { date: "2026-11-29", minC: 2.4, maxC: 8.2, precipitationMm: 0 },
      ],
    });
  });

  it("maps a slow upstream to upstream_timeout", async () => {
    answer = () => {}; // never answers
    const err = await rejectsWith(() => tool.run({ latitude: 0, longitude: 0 }, testContext()), "upstream_timeout");
    assert.equal(err.details.timeoutMs, 3000);
  });

  it("maps a non-2xx answer to upstream_error with the status", async () => {
    answer = (_req, res) => {
      res.statusCode = 503;
      res.end("maintenance");
    };
    const err = await rejectsWith(() => tool.run({ latitude: 0, longitude: 0 }, testContext()), "upstream_error");
    assert.equal(err.details.status, 503);
    assert.match(err.message, /HTTP 503/);
  });

  it("maps a body that is not JSON to upstream_bad_response", async () => {
    answer = (_req, res) => res.end("<html>captive portal</html>");
    await rejectsWith(() => tool.run({ latitude: 0, longitude: 0 }, testContext()), "upstream_bad_response");
  });

  it("maps JSON of the wrong shape to upstream_bad_response", async () => {
    answer = (_req, res) => res.end(JSON.stringify({ reason: "nope" }));
    await rejectsWith(() => tool.run({ latitude: 0, longitude: 0 }, testContext()), "upstream_bad_response");
  });

  it("maps a refused connection to upstream_unreachable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const saved = process.env.WEATHER_API_URL;
    process.env.WEATHER_API_URL = `http://127.0.0.1:${port}`;
    try {
      const err = await rejectsWith(() => tool.run({ latitude: 0, longitude: 0 }, testContext()), "upstream_unreachable");
      assert.match(err.message, /ECONNREFUSED/);
    } finally {
      process.env.WEATHER_API_URL = saved;
    }
  });

  it("stops waiting when the call itself is aborted", async () => {
    answer = () => {};
    const controller = new AbortController();
    const pending = Promise.resolve(tool.run({ latitude: 0, longitude: 0 }, testContext(controller.signal)));
    controller.abort();
    await rejectsWith(() => pending, "cancelled");
  });
});
