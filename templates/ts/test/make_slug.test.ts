// Run with `npm test`: esbuild bundles the tests like the real build, then node's test runner runs them.
import { test } from "node:test";
import assert from "node:assert/strict";
import tool from "../src/tools/make_slug";

const ctx = { callId: "test-call", signal: new AbortController().signal, log: () => {} };

test("make_slug turns a title into a slug", async () => {
  assert.deepEqual(await tool.run({ text: "Hello, World!" }, ctx), { slug: "hello-world" });
});

test("make_slug uses the separator it is given", async () => {
  assert.deepEqual(await tool.run({ text: "Edge Tools Rock", separator: "_" }, ctx), { slug: "edge_tools_rock" });
});

test("make_slug refuses text without letters or digits with a ToolError", async () => {
  await assert.rejects(async () => tool.run({ text: "!!!" }, ctx), { name: "ToolError", code: "empty_slug" });
});
