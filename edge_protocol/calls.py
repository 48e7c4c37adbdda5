"""Rules of one tool call that the platform and the connector both apply (SPEC.md §5, §8, §15).

- `call_deadline_ms`: call `timeoutMs` ≤ tool `timeoutMs` ≤ the runtime's maximum.
- `invalid_arguments`: the one shape of an `invalid_arguments` failure, whoever finds it: details are
  `[{path, message}]` with RFC 6901 JSON-pointer paths, one entry per failing field.
- `capped_error`, `result_too_large`: what fits in one frame. A failure's message and details are cut
  to a bound with a marker; an answer too big for one frame fails that call only (`tool_error`, code
  `result_too_large`) instead of closing the link and every call on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from .errors import ToolCallError, ToolErrorKind
from .limits import DEFAULT_TOOL_TIMEOUT_MS, MAX_ERROR_DETAILS_BYTES, MAX_ERROR_MESSAGE_CHARS, MAX_FRAME_BYTES

#: At most this many failing fields are listed in `details`.
MAX_ARGUMENT_PROBLEMS = 10
#: What a cut message ends with; cut details become `{"truncated": true, "bytes": N, "preview": …}`.
TRUNCATED = "… (truncated)"
#: The `tool_error` code of an answer that does not fit in one frame (the host uses it too).
RESULT_TOO_LARGE = "result_too_large"
#: How much of cut details is kept as a preview (characters of their JSON).
_DETAILS_PREVIEW_CHARS = 4096
_MAX_CODE_CHARS = 100  # a tool's own code (`ToolError("bad_city", …)`) is a short identifier


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


def capped_error(error: ToolCallError) -> ToolCallError:
    """`error` with its message cut at `MAX_ERROR_MESSAGE_CHARS` and its details at
    `MAX_ERROR_DETAILS_BYTES` of JSON (or dropped when they are not JSON at all); the same object when
    both fit, so the common case costs one length check (details only when there are some)."""
    message, details, code = error.message, error.details, error.code
    cut = False
    if len(message) > MAX_ERROR_MESSAGE_CHARS:
        message, cut = message[:MAX_ERROR_MESSAGE_CHARS] + TRUNCATED, True
    if code is not None and len(code) > _MAX_CODE_CHARS:
        code, cut = code[:_MAX_CODE_CHARS] + TRUNCATED, True
    if details is not None:
        try:
            encoded = orjson.dumps(details)
        except TypeError:  # not JSON (too deep, an integer past 64 bits): nothing worth sending
            details, cut = {"truncated": True, "preview": "details are not JSON" + TRUNCATED}, True
        else:
            if len(encoded) > MAX_ERROR_DETAILS_BYTES:
                preview = encoded[:_DETAILS_PREVIEW_CHARS].decode("utf-8", "ignore") + TRUNCATED
                details, cut = {"truncated": True, "bytes": len(encoded), "preview": preview}, True
    if not cut:
        return error
    return ToolCallError(error.kind, message, code, details, dict(error.extra))


def result_too_large(size: int | None, limit: int = MAX_FRAME_BYTES) -> ToolCallError:
    """The failure of one call whose answer would not fit in one frame (`size`: its bytes, if known)."""
    what = f"{size:,} bytes" if size is not None else "too large"
    return ToolCallError(
        ToolErrorKind.TOOL_ERROR,
        f"The tool's result is {what} as a message to the platform; one message carries at most "
        f"{limit:,} bytes (return a reference to large data instead)",
        RESULT_TOO_LARGE,
        {"bytes": size, "limit": limit},
    )


def unsendable_result(problem: str) -> ToolCallError:
    """The failure of one call whose result cannot be encoded as JSON (nested too deep, say)."""
    return ToolCallError(ToolErrorKind.TOOL_ERROR, f"The tool's result cannot be sent as JSON: {problem}")
