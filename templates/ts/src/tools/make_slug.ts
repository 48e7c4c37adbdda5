import slugify from "slugify";
import { defineTool, ToolError } from "../lib/tool";

interface Input {
  text: string;
  separator?: string;
}

export default defineTool<Input, { slug: string }>({
  name: "make_slug",
  description: "Turn a title into a URL-safe slug, e.g. 'Hello, World!' -> 'hello-world'",
  inputSchema: {
    type: "object",
    properties: {
      text: { type: "string", description: "The text to turn into a slug" },
      separator: { type: "string", maxLength: 1, description: "Character between words (default '-')" },
    },
    required: ["text"],
    additionalProperties: false,
  },
  outputSchema: {
    type: "object",
    properties: { slug: { type: "string" } },
    required: ["slug"],
  },
  timeoutMs: 5_000,
  async run(input, ctx) {
    const slug = slugify(input.text, { lower: true, strict: true, replacement: input.separator ?? "-" });
    if (!slug) throw new ToolError("empty_slug", "the text has no letters or digits to make a slug from");
    ctx.log(`slug for call ${ctx.callId}: ${slug}`);
    return { slug };
  },
});
