"""Rules of one tool call that the platform and the connector both apply (SPEC.md §5, §8, §15).

- `call_deadline_ms`: call `timeoutMs` ≤ tool `timeoutMs` ≤ the runtime's maximum.
- `invalid_arguments`: the one shape of an `invalid_arguments` failure, whoever finds it: details are
  `[{path, message}]` with RFC 6901 JSON-pointer paths, one entry per failing field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import ToolCallError, ToolErrorKind
from .limits import DEFAULT_TOOL_TIMEOUT_MS

#: At most this many failing fields are listed in `details`.
MAX_ARGUMENT_PROBLEMS = 10


def call_deadline_ms(
    call_timeout_ms: int | None, tool_timeout_ms: int | None, runtime_max_ms: int | None = None
) -> int:
    """The deadline of one call in milliseconds: the smallest of what the caller, the tool and the runtime allow.

    A missing tool timeout is the default of SPEC.md §2 (30 s); a missing call timeout or runtime
    maximum does not shorten anything.
    """
    deadline = tool_timeout_ms if tool_timeout_ms else DEFAULT_TOOL_TIMEOUT_MS
    if runtime_max_ms is not None and runtime_max_ms < deadline:
        deadline = runtime_max_ms
    if call_timeout_ms is not None and call_timeout_ms < deadline:
        deadline = call_timeout_ms
    return deadline


def json_pointer(path: Iterable[Any]) -> str:
    """RFC 6901: `["a", 0, "b/c"]` → `/a/0/b~1c`; the whole document is `""`."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def argument_problems(errors: Iterable[Any]) -> list[dict[str, str]]:
    """`[{path, message}]` from JSON Schema validation errors (anything with `absolute_path` and
    `message`, as jsonschema's are), sorted by path, at most `MAX_ARGUMENT_PROBLEMS`.

    A missing required property is reported at its own path (`/city`), not at the object that lacks
    it (where jsonschema puts it), so every entry names the field to fix.
    """
    located = sorted(
        ((_field_path(error), error.message) for error in errors), key=lambda item: [str(p) for p in item[0]]
    )
    return [{"path": json_pointer(path), "message": message} for path, message in located[:MAX_ARGUMENT_PROBLEMS]]


def _field_path(error: Any) -> list[Any]:
    path = list(error.absolute_path)
    instance = getattr(error, "instance", None)
    if getattr(error, "validator", None) == "required" and isinstance(instance, dict):
        for name in getattr(error, "validator_value", None) or ():
            if name not in instance and error.message == f"{name!r} is a required property":
                return [*path, name]
    return path


def invalid_arguments(tool: str, problems: list[dict[str, str]]) -> ToolCallError:
    """The failure for arguments that do not satisfy a tool's `inputSchema`."""
    if problems:
        first = problems[0]
        where = f" at {first['path']}" if first["path"] else ""
        message = f"Invalid arguments for {tool!r}{where}: {first['message']}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more)"
    else:
        message = f"Invalid arguments for {tool!r}"
    return ToolCallError(ToolErrorKind.INVALID_ARGUMENTS, message, details=problems)
