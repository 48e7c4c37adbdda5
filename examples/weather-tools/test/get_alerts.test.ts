import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import tool from "../src/tools/get_alerts";
import { testContext } from "./context";

// A loopback stand-in for WeatherAPI.com's alerts endpoint that checks the key it is sent.
const seen: string[] = [];
const server = createServer((req, res) => {
  seen.push(req.url ?? "");
  const key = new URL(req.url ?? "/", "http://x").searchParams.get("key");
  res.writeHead(key === "test-key" ? 200 : 401, { "content-type": "application/json" });
  res.end(JSON.stringify(key === "test-key" ? { alerts: { alert: [{ headline: "Gale warning", severity: "Moderate" }] } } : {}));
});

describe("get_alerts", () => {
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    process.env.WEATHER_ALERTS_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it("sends the key from ctx.secrets and maps the alerts", async () => {
    const out = await tool.run({ latitude: 52.5, longitude: 13.4 }, testContext(undefined, { WEATHER_API_KEY: "test-key" }));
    assert.deepEqual(out.alerts[0], { headline: "Gale warning", severity: "Moderate", event: "", effective: null, expires: null });
    assert.match(seen.at(-1) ?? "", /key=test-key&q=52.5%2C13.4/);
  });

  it("without the key fails with missing_secret and the command that sets it, calling nothing", async () => {
    const before = seen.length;
    await assert.rejects(Promise.resolve().then(() => tool.run({ latitude: 0, longitude: 0 }, testContext())), (err: any) => {
      assert.equal(err.code, "missing_secret");
      assert.match(err.message, /edge-connector secret put WEATHER_API_KEY/);
      return true;
    });
    assert.equal(seen.length, before);
  });
});
