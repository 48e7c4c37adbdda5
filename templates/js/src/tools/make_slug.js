import slugify from "slugify";
import { z } from "zod";
import { defineTool, ToolError } from "../lib/tool.js";

export default defineTool({
  name: "make_slug",
  description: "Turn a title into a URL-safe slug, e.g. 'Hello, World!' -> 'hello-world'",
  // One declaration: the build writes it as JSON Schema, and the connector parses each call's input with it.
  inputSchema: z.object({
    text: z.string().describe("The text to turn into a slug"),
    separator: z.string().max(1).default("-").describe("Character between words (default '-')"),
  }),
  outputSchema: z.object({ slug: z.string() }),
  timeoutMs: 5_000,
  async run(input, ctx) {
    const slug = slugify(input.text, { lower: true, strict: true, replacement: input.separator });
    if (!slug) throw new ToolError("empty_slug", "the text has no letters or digits to make a slug from");
    ctx.log(`slug for call ${ctx.callId}: ${slug}`);
    return { slug };
  },
});
