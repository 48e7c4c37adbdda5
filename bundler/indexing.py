"""Read each built tool's definition by loading it in Node.js, then check it against SPEC.md §2."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_protocol.limits import TOOL_NAME_PATTERN, TOOL_NAME_RE

from .errors import BuildError
from .node import NodeNotFound, node_binary
from .schema_check import schema_problem

INDEXER_SCRIPT = Path(__file__).with_name("indexer.cjs")
#: Loading tools should take well under a second; this only stops a tool that blocks forever at load.
INDEX_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class ToolDefinition:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    timeout_ms: int | None


def indexer_node() -> str:
    try:
        return node_binary()
    except NodeNotFound as exc:
        raise BuildError(str(exc)) from None


def labels_by_file(built_files: list[Path], labels: list[str] | None) -> dict[str, str]:
    return dict(zip(map(str, built_files), labels or map(str, built_files), strict=True))


def culprit(result_path: Path, names: dict[str, str]) -> str:
    """The tool that was loading when the indexer stopped (it writes the file's path beside the result)."""
    progress_path = result_path.with_name(result_path.name + ".loading")
    loading = progress_path.read_text(encoding="utf-8") if progress_path.is_file() else ""
    return names.get(loading, "a tool")


def blocked_error(tool: str) -> BuildError:
    return BuildError(
        f"{tool}: loading it in Node.js took more than {INDEX_TIMEOUT_SECONDS} s",
        "a tool blocks while being loaded; move slow work from the module's top level into run()",
    )


def ended_error(tool: str, detail: str) -> BuildError:
    return BuildError(
        f"{tool}: ends the Node.js process while being loaded ({detail})",
        "remove process.exit() and other process-ending code from the module's top level",
    )


def check_definition(source: str, raw: dict[str, Any]) -> tuple[ToolDefinition | None, list[str]]:
    """Validate one indexer result; returns the definition or the problems, each naming `source`."""
    if not raw.get("ok"):
        return None, [f"{source}: {raw.get('problem', 'could not be loaded')}"]
    d = raw["definition"]
    problems: list[str] = []
    name = d.get("name")
    if not isinstance(name, str):
        problems.append(f'{source}: tool definition needs a "name" string (got {_shown(name)})')
    elif not TOOL_NAME_RE.match(name):
        problems.append(f"{source}: tool name {name!r} is not allowed; it must match {TOOL_NAME_PATTERN}")
    description = d.get("description")
    if not isinstance(description, str):
        problems.append(f'{source}: tool definition needs a "description" string (got {_shown(description)})')
    if d.get("runType") != "function":
        problems.append(
            f'{source}: "run" must be a function (got {d.get("runType")}); write `async run(input, ctx) {{ ... }}`'
        )
    problems += _schema_problems(source, "inputSchema", d.get("inputSchema"), required=True)
    problems += _schema_problems(source, "outputSchema", d.get("outputSchema"), required=False)
    timeout = d.get("timeoutMs")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0):
        problems.append(
            f'{source}: "timeoutMs" must be a positive whole number of milliseconds (got {_shown(timeout)})'
        )
    if problems:
        return None, problems
    return ToolDefinition(name, description, d["inputSchema"], d.get("outputSchema"), timeout), []


def _schema_problems(source: str, key: str, schema: Any, *, required: bool) -> list[str]:
    if schema is None:
        return [f'{source}: tool definition needs an "{key}" (a JSON Schema object)'] if required else []
    if not isinstance(schema, dict):
        return [f'{source}: "{key}" must be a JSON Schema object (got {_shown(schema)})']
    problem = schema_problem(schema)
    return [f'{source}: "{key}" is not a valid JSON Schema (draft 2020-12) at {problem}'] if problem else []


def _shown(value: Any) -> str:
    text = json.dumps(value) if value is not None else "nothing"
    return text if len(text) <= 60 else text[:57] + "..."


def duplicate_name_problems(named_sources: list[tuple[str, str]]) -> list[str]:
    """`(name, source)` pairs → one problem per name used by more than one tool file."""
    by_name: dict[str, list[str]] = {}
    for name, source in named_sources:
        by_name.setdefault(name, []).append(source)
    return [
        f"tool name {name!r} is defined by more than one file: {', '.join(sources)}"
        for name, sources in by_name.items()
        if len(sources) > 1
    ]
