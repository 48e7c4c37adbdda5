"""Edge tools as MCP tools (SPEC.md §12): one server composition for every place that serves them.

The platform's `/mcp` (Streamable HTTP), `edge-connector mcp DIR` (local tools over stdio) and
`edge-connector mcp` (the org's tools over stdio) differ only in where tools come from and where
calls go: a `ToolBackend`. Everything MCP-shaped is here, once, on the official SDK's low-level
server: the tool entries of `tools/list`, results as `structuredContent` plus a JSON text block,
failures as `isError: true` results, an unknown tool as the protocol error -32602, and
`notifications/tools/list_changed` delivered in both protocol eras (see `ToolListChanges`).

The SDK does the transport I/O; this module decides shapes. Importing it imports the SDK, so only
the `mcp` command and the platform's `/mcp` route import it (CLI start-up stays light).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from mcp.server.caching import CacheHint
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, PaginatedRequestParams, SubscriptionsListenRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

log = logging.getLogger("edge_protocol.mcp")

#: The spec's wording and code for a tool name the server does not have (a protocol error, not a result).
UNKNOWN_TOOL_CODE = INVALID_PARAMS


class UnknownTool(Exception):
    """`tools/call` named a tool the caller cannot reach; answered as JSON-RPC error -32602."""


@dataclass(frozen=True)
class ToolFailure(Exception):
    """A call that reached a tool (or its router) and failed: answered as an `isError` result.

    `kind` is the edge error kind (`tool_error`, `invalid_arguments`, `tool_timeout`,
    `connector_unavailable`, …); `code` the tool's own code when it gave one.
    """

    kind: str
    message: str
    code: str | None = None
    details: Any = None


class ToolBackend(Protocol):
    """Where tools come from and where calls go. `caller` is what `caller_of` made of the request."""

    async def tools(self, caller: Any) -> list[dict[str, Any]]:
        """Tool descriptors (manifest shape: name, description, inputSchema, outputSchema), in list order."""
        ...

    async def call(self, caller: Any, name: str, arguments: dict[str, Any]) -> Any:
        """The tool's JSON output; raises `UnknownTool` or `ToolFailure`."""
        ...


# ------------------------------------------------------------------------------------ shapes
def tool_entry(descriptor: dict[str, Any]) -> dict[str, Any]:
    """One `tools/list` entry (wire shape) from a manifest tool descriptor.

    `outputSchema` is listed only when declared as an object schema: the handshake-era revisions
    require `type: "object"` at its root, and a client validates `structuredContent` against it.
    """
    entry: dict[str, Any] = {
        "name": descriptor["name"],
        "inputSchema": descriptor.get("inputSchema") or {"type": "object"},
    }
    if descriptor.get("description"):
        entry["description"] = descriptor["description"]
    output_schema = descriptor.get("outputSchema")
    if isinstance(output_schema, dict) and output_schema.get("type") == "object":
        entry["outputSchema"] = output_schema
    return entry


def success_result(output: Any) -> dict[str, Any]:
    """A tool's output as `structuredContent` plus the same JSON as a text block.

    `structuredContent` must be an object up to 2025-11-25, so any other value is wrapped as
    `{"result": value}`; the text block always carries the output itself.
    """
    text = orjson.dumps(output).decode()
    structured = output if isinstance(output, dict) else {"result": output}
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": False,
        "resultType": "complete",
    }


def failure_result(failure: ToolFailure) -> dict[str, Any]:
    """A failed call as an `isError` result whose text block holds the code and the message as JSON."""
    error: dict[str, Any] = {"code": failure.code or failure.kind, "kind": failure.kind, "message": failure.message}
    if failure.details not in (None, {}, []):
        error["details"] = failure.details
    return {
        "content": [{"type": "text", "text": orjson.dumps({"error": error}).decode()}],
        "isError": True,
        "resultType": "complete",
    }


def unknown_tool_error(name: str) -> MCPError:
    return MCPError(code=UNKNOWN_TOOL_CODE, message=f"Unknown tool: {name}")


# ------------------------------------------------------------------------- list_changed fan-out
class ToolListChanges:
    """Delivers `notifications/tools/list_changed` to every subscribed client, in both eras.

    2026-07-28 clients subscribe with `subscriptions/listen`; the SDK's `ListenHandler` serves the
    stream from a bus, one bus per scope (an organization on the platform, so one org's change never
    wakes another's clients). 2025-11-25 clients get the notification on their connection's own
    channel: the server remembers each handshake-era connection (per scope) from its first request
    and forgets it when the connection closes.
    """

    def __init__(self, scope_of: Callable[[ServerRequestContext[Any, Any]], Any]) -> None:
        self._scope_of = scope_of
        self._listeners: dict[Any, ListenHandler] = {}
        self._buses: dict[Any, InMemorySubscriptionBus] = {}
        self._legacy: dict[Any, dict[int, ServerSession]] = {}

    def _listener(self, scope: Any) -> ListenHandler:
        handler = self._listeners.get(scope)
        if handler is None:
            bus = self._buses[scope] = InMemorySubscriptionBus()
            handler = self._listeners[scope] = ListenHandler(bus)
        return handler

    async def listen(self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams) -> Any:
        """The `subscriptions/listen` handler: the caller's scope's stream."""
        return await self._listener(self._scope_of(ctx))(ctx, params)

    async def remember_legacy_connection(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Server middleware: note a handshake-era connection the first time it sends anything."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._remember(ctx)
        return await call_next(ctx)

    def _remember(self, ctx: ServerRequestContext[Any, Any]) -> None:
        # The low-level context exposes the connection only through its session (SDK 2.3 has no
        # public accessor); its `state` and `exit_stack` are the SDK's per-connection hooks.
        connection = getattr(ctx.session, "_connection", None)
        if connection is None or connection.state.get("edge.list_changed"):
            return
        try:
            scope = self._scope_of(ctx)
        except Exception:  # an unauthenticated request is refused elsewhere; nothing to remember
            return
        connection.state["edge.list_changed"] = True
        sessions = self._legacy.setdefault(scope, {})
        sessions[id(connection)] = ctx.session

        def forget() -> None:
            sessions.pop(id(connection), None)
            if not sessions and self._legacy.get(scope) is sessions:
                del self._legacy[scope]

        connection.exit_stack.callback(forget)

    def subscribers(self, scope: Any) -> int:
        """Handshake-era connections remembered for `scope` (listen streams are the SDK's to count)."""
        return len(self._legacy.get(scope, {}))

    async def changed(self, scope: Any) -> None:
        """The tool set of `scope` changed: tell its listen streams and its handshake-era connections."""
        bus = self._buses.get(scope)
        if bus is not None:
            await bus.publish(ToolsListChanged())
        for session in list(self._legacy.get(scope, {}).values()):
            try:
                await session.send_tool_list_changed()
            except Exception as exc:  # a connection going away must not stop the others' notification
                log.debug("list_changed not delivered: %s", exc)

    def close(self) -> None:
        """End every listen stream gracefully (server shutdown); a server started again begins afresh."""
        for handler in self._listeners.values():
            handler.close()
        self._listeners.clear()
        self._buses.clear()
        self._legacy.clear()


# ------------------------------------------------------------------------------------ server
class _EdgeServer(Server[Any]):
    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        # Every transport (including the HTTP session manager, which builds these itself) advertises
        # `tools.listChanged`: the tool set follows bundle swaps.
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True), experimental_capabilities, extensions
        )


def build_server(
    name: str,
    version: str,
    backend: ToolBackend,
    caller_of: Callable[[ServerRequestContext[Any, Any]], Any],
    *,
    instructions: str | None = None,
) -> tuple[Server[Any], ToolListChanges]:
    """The SDK low-level server answering `tools/list` and `tools/call` from `backend`.

    `caller_of(ctx)` turns a request into the caller (an organization on the platform, `None` on a
    local stdio server); it is also the scope of list_changed notifications.
    """
    changes = ToolListChanges(caller_of)

    async def list_tools(ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None) -> dict[str, Any]:
        return {"tools": [tool_entry(t) for t in await backend.tools(caller_of(ctx))], "resultType": "complete"}

    async def call_tool(ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> dict[str, Any]:
        try:
            output = await backend.call(caller_of(ctx), params.name, params.arguments or {})
        except UnknownTool:
            raise unknown_tool_error(params.name) from None
        except ToolFailure as failure:
            return failure_result(failure)
        return success_result(output)

    server = _EdgeServer(
        name,
        version=version,
        instructions=instructions,
        # 2026-07-28 clients may cache `tools/list`: never, since a bundle swap changes it at any time
        # (and `list_changed` says so); private, since each organization sees its own tools.
        cache_hints={"tools/list": CacheHint(ttl_ms=0, scope="private")},
        on_list_tools=list_tools,  # type: ignore[arg-type]  # wire dicts are accepted and validated by the SDK
        on_call_tool=call_tool,  # type: ignore[arg-type]
        on_subscriptions_listen=changes.listen,
        # `Mcp-Param-*` header checks on 2026-07-28 HTTP would otherwise run `tools/list` before every
        # call; edge tools map no argument to a header, so there is nothing for them to check.
        get_tool_input_schema=lambda _name: None,
    )
    # The SDK ships an OpenTelemetry middleware that opens a span per message even with no exporter
    # installed (~130 µs of CPU per call here); nothing here exports spans, so the call path skips it.
    server.middleware = [m for m in server.middleware if type(m).__name__ != "OpenTelemetryMiddleware"]
    server.middleware.append(changes.remember_legacy_connection)
    return server, changes
