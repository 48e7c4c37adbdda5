"""The tools every MCP test serves, as a tool project (local mode) and as the JS of a bundle (platform).

`echo` declares an output schema, `fail` throws a ToolError with its own code, and `shout` is the
tool a test adds later to see `notifications/tools/list_changed` and call the new tool.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .bundles import JsTool

ECHO_INPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
ECHO_OUTPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

_TOOL_ERROR = (
    "class ToolError extends Error { constructor(code, message) { super(message); "
    'this.name = "ToolError"; this.code = code; } }\n'
)

PROJECT_TOOLS = {
    "echo.js": (
        "export default {\n"
        '  name: "echo", description: "Echo the text back",\n'
        f"  inputSchema: {json.dumps(ECHO_INPUT)},\n"
        f"  outputSchema: {json.dumps(ECHO_OUTPUT)},\n"
        '  async run(input) { console.log("echoing", input.text); return { text: input.text }; },\n'
        "};\n"
    ),
    "fail.js": (
        _TOOL_ERROR + "export default {\n"
        '  name: "fail", description: "Always fails", inputSchema: { type: "object" },\n'
        '  async run() { throw new ToolError("bad_city", "city is empty"); },\n'
        "};\n"
    ),
}

SHOUT_SOURCE = (
    "export default {\n"
    '  name: "shout", description: "Upper-case the text",\n'
    f"  inputSchema: {json.dumps(ECHO_INPUT)},\n"
    "  async run(input) { return { text: input.text.toUpperCase() }; },\n"
    "};\n"
)


def write_project(root: Path) -> Path:
    """A JavaScript tool project with `echo` and `fail` (no npm dependencies)."""
    tools = root / "src" / "tools"
    tools.mkdir(parents=True, exist_ok=True)
    (root / "edge.json").write_text(json.dumps({"name": "mcp-tools", "toolsDir": "src/tools"}))
    (root / "package.json").write_text(json.dumps({"name": "mcp-tools", "version": "1.0.0", "type": "module"}))
    for name, source in PROJECT_TOOLS.items():
        (tools / name).write_text(source)
    return root


def add_shout(root: Path) -> None:
    (root / "src" / "tools" / "shout.js").write_text(SHOUT_SOURCE)


def mcp_command(*args: str) -> list[str]:
    """`edge-connector mcp …` as this interpreter runs it."""
    return [sys.executable, "-m", "edge_cli", "mcp", *args]


# The same tools as hand-written bundle files, for the platform tests (no esbuild needed).
ECHO_JS = JsTool(
    "echo",
    "return { text: input.text };",
    input_schema=ECHO_INPUT,
    description="Echo the text back",
    output_schema=ECHO_OUTPUT,
)
FAIL_JS = JsTool("fail", 'throw new ToolError("bad_city", "city is empty");', description="Always fails")
SHOUT_JS = JsTool(
    "shout", "return { text: input.text.toUpperCase() };", input_schema=ECHO_INPUT, description="Upper-case the text"
)
