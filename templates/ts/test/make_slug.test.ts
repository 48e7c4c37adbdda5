// Run with `npm test`: esbuild bundles the tests like the real build, then node's test runner runs them.
// (tests/test_tools.py runs the same tool end to end: built, uploaded and called through a platform.)
import { test } from "node:test";
import assert from "node:assert/strict";
import type { z } from "zod";
import tool from "../src/tools/make_slug";

const ctx = { callId: "test-call", signal: new AbortController().signal, log: () => {}, secrets: {}, scratchDir: "." };
// Parse like the connector does before run(): defaults filled in, bad input refused.
const call = (input: z.input<typeof tool.inputSchema>) => tool.run(tool.inputSchema.parse(input), ctx);

test("make_slug turns a title into a slug", async () => {
  assert.deepEqual(await call({ text: "Hello, World!" }), { slug: "hello-world" });
});

test("make_slug uses the separator it is given", async () => {
  assert.deepEqual(await call({ text: "Edge Tools Rock", separator: "_" }), { slug: "edge_tools_rock" });
});

test("make_slug refuses text without letters or digits with a ToolError", async () => {
  await assert.rejects(async () => call({ text: "!!!" }), { name: "ToolError", code: "empty_slug" });
});
