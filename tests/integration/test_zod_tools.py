"""Tools declared with zod 4 (SPEC.md §15): JSON Schema 2020-12 in the manifest, checks at call time.

Real esbuild, the real zod package from npm, real Node.js workers: the build converts with zod's own
conversion; the runtime checks the JSON Schema, then the worker parses with zod (refinements, defaults).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.errors import BuildError
from bundler.node import node_binary
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_runtime.executor import Executor
from tests.fixtures.projects.support import installed_npm_deps, make_project

BOOK = """import { z } from "zod";
import { defineTool, ToolError } from "../lib/tool";

export default defineTool({
  name: "book_room",
  description: "Book a meeting room",
  inputSchema: z.object({
    room: z.string().min(1).describe("Room name"),
    people: z.number().int().min(1).max(12).default(2),
    slot: z.object({
      day: z.string().regex(/^\\d{4}-\\d{2}-\\d{2}$/),
      hours: z.array(z.number().int().min(0).max(23)).min(1),
    }).refine((slot) => slot.hours.length <= 4, { message: "at most 4 hours", path: ["hours"] }),
    kind: z.enum(["meeting", "interview"]).optional(),
  }),
  outputSchema: z.object({ booked: z.boolean(), people: z.number() }),
  async run(input) {
    if (input.room === "attic") throw new ToolError("no_such_room", "there is no attic");
    return { booked: true, people: input.people };
  },
});
"""

EXPECTED_INPUT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "room": {"type": "string", "minLength": 1, "description": "Room name"},
        "people": {"default": 2, "type": "integer", "minimum": 1, "maximum": 12},
        "slot": {
            "type": "object",
            "properties": {
                "day": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
                "hours": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 23}, "minItems": 1},
            },
            "required": ["day", "hours"],
        },
        "kind": {"type": "string", "enum": ["meeting", "interview"]},
    },
    "required": ["room", "slot"],
}

TOOL_LIB = (Path(__file__).resolve().parents[2] / "templates/ts/src/lib/tool.ts").read_text()


def zod_project(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_project(tmp_path / "p", node_modules=installed_npm_deps(), files={"src/lib/tool.ts": TOOL_LIB, **files})


def test_a_zod_tool_is_written_into_the_manifest_as_json_schema_2020_12(tmp_path):
    built = build_project(zod_project(tmp_path, {"src/tools/book_room.ts": BOOK}))
    tool = built.manifest.tools[0]
    assert tool.inputSchema == EXPECTED_INPUT_SCHEMA
    assert tool.outputSchema == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"booked": {"type": "boolean"}, "people": {"type": "number"}},
        "required": ["booked", "people"],
    }


def test_json_schema_objects_and_zod_schemas_live_in_one_bundle(tmp_path):
    plain = (
        'import { defineTool } from "../lib/tool";\n'
        'export default defineTool<{ n: number }>({ name: "plain", description: "d",\n'
        '  inputSchema: { type: "object", properties: { n: { type: "number" } } },\n'
        "  async run(input) { return input.n; } });\n"
    )
    built = build_project(zod_project(tmp_path, {"src/tools/book_room.ts": BOOK, "src/tools/plain.ts": plain}))
    schemas = {t.name: t.inputSchema for t in built.manifest.tools}
    assert schemas == {
        "book_room": EXPECTED_INPUT_SCHEMA,
        "plain": {"type": "object", "properties": {"n": {"type": "number"}}},
    }


def test_a_zod_type_json_schema_cannot_express_fails_the_build_naming_tool_and_fields(tmp_path):
    source = (
        'import { z } from "zod";\n'
        'export default { name: "remind", description: "d",\n'
        "  inputSchema: z.object({ text: z.string(), when: z.object({ at: z.date() }), n: z.bigint() }),\n"
        "  async run() { return 1; } };\n"
    )
    project = zod_project(tmp_path, {"src/tools/remind.ts": source})
    with pytest.raises(BuildError) as caught:
        build_project(project)
    message = caught.value.message
    assert 'src/tools/remind.ts: tool "remind": inputSchema cannot be expressed in JSON Schema at ' in message
    assert "when.at (date)" in message and "n (bigint)" in message
    assert not (project / ".edge/build/manifest.json").exists()  # nothing half-built is left


def test_a_transform_in_an_output_schema_fails_the_build_too(tmp_path):
    source = (
        'import { z } from "zod";\n'
        'export default { name: "count", description: "d", inputSchema: z.object({}),\n'
        "  outputSchema: z.object({ size: z.transform((v: unknown) => String(v)) }),\n"
        "  async run() { return { size: 1 }; } };\n"
    )
    with pytest.raises(BuildError) as caught:
        build_project(zod_project(tmp_path, {"src/tools/count.ts": source}))
    assert 'tool "count": outputSchema cannot be expressed in JSON Schema at size (transform)' in caught.value.message


def test_zod_mini_schemas_are_refused_with_the_fix(tmp_path):
    source = (
        'import * as z from "zod/mini";\n'
        'export default { name: "mini", description: "d", inputSchema: z.object({ a: z.string() }),\n'
        "  async run() { return 1; } };\n"
    )
    with pytest.raises(BuildError) as caught:
        build_project(zod_project(tmp_path, {"src/tools/mini.ts": source}))
    assert (
        'src/tools/mini.ts: tool "mini": inputSchema is a zod schema without a JSON Schema conversion (zod/mini, '
        'or zod before 4.2); use `import { z } from "zod"`'
    ) in caught.value.message


def test_the_size_report_names_zod_like_any_other_package(tmp_path):
    with pytest.raises(BuildError) as caught:
        build_project(zod_project(tmp_path, {"src/tools/book_room.ts": BOOK}), max_archive_bytes=10_000)
    groups = [line.split()[0] for line in caught.value.message.splitlines()[2:]]
    assert groups[0] == "zod", caught.value.message


@pytest.fixture
async def zod_executor(tmp_path):
    built = build_project(zod_project(tmp_path, {"src/tools/book_room.ts": BOOK}))
    executor = Executor(1, 8, 10.0, node_binary(), logging.getLogger("tests.zod"))
    await executor.load(built.out_dir, built.manifest)
    yield executor
    await executor.close(drain_timeout=2)


async def refused(executor: Executor, arguments: dict) -> ToolCallError:
    with pytest.raises(ToolCallError) as caught:
        await executor.call("book_room", arguments, call_id="c")
    assert caught.value.kind is ToolErrorKind.INVALID_ARGUMENTS, caught.value
    return caught.value


async def test_bad_arguments_are_invalid_arguments_naming_each_zod_field_path(zod_executor):
    # What the JSON Schema says is checked before Node: every failing field, by its JSON pointer.
    error = await refused(zod_executor, {"people": 20, "slot": {"day": "tomorrow", "hours": []}})
    assert [d["path"] for d in error.details] == ["/people", "/room", "/slot/day", "/slot/hours"]
    assert error.to_rpc_error()["data"]["kind"] == "invalid_arguments"
    # A zod refinement (not expressible in JSON Schema) is checked in Node, reported the same way.
    error = await refused(zod_executor, {"room": "a", "slot": {"day": "2026-12-01", "hours": [9, 10, 11, 12, 13]}})
    assert error.details == [{"path": "/slot/hours", "message": "at most 4 hours"}]
    assert error.message == "Invalid arguments for 'book_room' at /slot/hours: at most 4 hours"


async def test_run_gets_the_parsed_input_with_defaults_and_tool_errors_keep_their_code(zod_executor):
    slot = {"day": "2026-12-01", "hours": [9]}
    assert await zod_executor.call("book_room", {"room": "a", "slot": slot}, call_id="c") == {
        "booked": True,
        "people": 2,
    }
    with pytest.raises(ToolCallError) as caught:
        await zod_executor.call("book_room", {"room": "attic", "slot": slot}, call_id="c")
    assert (caught.value.kind, caught.value.code) == (ToolErrorKind.TOOL_ERROR, "no_such_room")
