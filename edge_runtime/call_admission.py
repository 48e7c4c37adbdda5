"""Whether a call may go to a worker at all (SPEC.md §8), decided before any byte reaches node: the tool
exists, the secrets its bundle requires are set, the arguments satisfy its `inputSchema`, and fewer
than `max_concurrency` calls are in flight. Each refusal is the `ToolCallError` the caller sees."""

from __future__ import annotations

from typing import Any

from edge_protocol.calls import argument_problems, invalid_arguments
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.manifest import ToolDescriptor
from edge_protocol.sandbox import missing_secret_hint, missing_secrets

from .worker_pool import WorkerPool


def admit_call(
    pool: WorkerPool | None, name: str, arguments: Any, *, pending: int, max_concurrency: int, closing: bool
) -> tuple[WorkerPool, ToolDescriptor]:
    """The pool and tool that will run the call; raises the refusal otherwise."""
    if closing:
        raise ToolCallError(ToolErrorKind.OVERLOADED, "the connector is shutting down; retry on another connector")
    tool = pool.manifest.tool(name) if pool else None
    if tool is None or pool is None:
        raise ToolCallError(
            ToolErrorKind.TOOL_NOT_FOUND,
            f"Tool {name!r} not found" + ("" if pool else " (no bundle is loaded yet)"),
        )
    missing = missing_secrets(pool.manifest.sandbox, pool.secrets.keys())
    if missing:
        raise ToolCallError(
            ToolErrorKind.TOOL_ERROR,
            f"Secret {missing[0]} is not set for this deployment (bundle {pool.manifest.bundle!r} requires it); "
            f"set it with {missing_secret_hint(missing[0])}",
            "missing_secret",
            {"missing": missing, "hint": missing_secret_hint(missing[0])},
        )
    validator = pool.validators[name]
    if not validator.is_valid(arguments):
        raise invalid_arguments(name, argument_problems(validator.iter_errors(arguments)))
    if pending >= max_concurrency:
        raise ToolCallError(
            ToolErrorKind.OVERLOADED,
            f"connector overloaded: {pending} calls in flight (maxConcurrency {max_concurrency})",
        )
    return pool, tool


def timeout_error(name: str, deadline_ms: int) -> ToolCallError:
    return ToolCallError(ToolErrorKind.TOOL_TIMEOUT, f"Tool {name!r} timed out after {deadline_ms} ms")
