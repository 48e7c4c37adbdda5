"""The SDK side of `/mcp` (SPEC.md §12): the official MCP SDK's session manager over the hub's tools.

Imported by `mcp.McpEndpoint` on the first `/mcp` request, not at start-up: the SDK is about a third of a
fresh platform's memory, and most platforms never see an MCP client. `mcp.py` has the rest (paths, the
origin and fast-path wrappers, the metadata document).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request

from edge_protocol.mcp import ToolFailure, UnknownTool, build_server

from .auth import current_user
from .errors import ApiError
from .events import ToolSetChanged
from .hub import Hub
from .mcp import ORG_SCOPE_KEY, RESOURCE_METADATA_PATH, org_tools, origin_allowed, refuse
from .mcp_fast_call import FastToolsCall, replaying

#: Tool-set changes of one organization within this window make one `tools/list` recompute.
LIST_CHANGED_SETTLE_SECONDS = 0.2


class PlatformTools:
    """`ToolBackend` over the hub: the org's connected tools, calls routed like the HTTP call API."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def tools(self, org_id: str) -> list[dict[str, Any]]:
        return org_tools(
            [
                (record.deployment_id or record.connector_id, [tool.to_wire() for tool in record.tools.values()])
                for record in self.hub.registry.of_org(org_id)
            ]
        )

    async def call(self, org_id: str, name: str, arguments: dict[str, Any]) -> Any:
        try:
            result = await self.hub.call_tool(org_id, name, arguments)
        except ApiError as failed:
            if failed.code == "tool_not_found":
                raise UnknownTool(name) from None
            raise ToolFailure(
                failed.code, failed.message, failed.extra.get("toolCode"), failed.extra.get("details")
            ) from None
        return result.get("output")


def _org_of(ctx: ServerRequestContext[Any, Any]) -> str:
    request = ctx.request
    if request is None:
        raise RuntimeError("an /mcp request without its HTTP request")
    return request.scope["state"][ORG_SCOPE_KEY]


class McpSessions:
    """The ASGI app behind `/mcp`: origin and token checks, then the SDK's session manager."""

    def __init__(self, hub: Hub, version: str) -> None:
        self.tools = PlatformTools(hub)
        self.server, self.changes = build_server(
            "edge-connector-platform",
            version,
            self.tools,
            _org_of,
            instructions="Tools of your organization's connected edge deployments.",
        )
        self._events = hub.events
        self._listed: dict[str, bytes] = {}  # the tool list each org's clients last heard of
        self._settling: set[str] = set()  # orgs whose tool list is about to be recomputed
        self.manager = self._new_manager()
        # The plainest 2026-07-28 tools/call skips the SDK's per-request objects (see mcp_fast_call).
        self.fast_call = FastToolsCall(self.server, self.tools, self.manager.max_request_body_size)

    def _new_manager(self) -> StreamableHTTPSessionManager:
        # JSON answers (no SSE) for requests: every tool call is one request and one response;
        # notifications go on the session's GET stream or a 2026-07-28 listen stream.
        return StreamableHTTPSessionManager(app=self.server, json_response=True, security_settings=None)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve for one run of the app's lifespan. The SDK's manager runs only once, so a lifespan that
        runs again (an app served, stopped and served again, as test clients do) gets a new one."""
        self.manager = self._new_manager()
        unsubscribe = self._events.subscribe(self._on_event)
        self._listed.clear()
        async with self.manager.run():
            try:
                yield
            finally:
                unsubscribe()
                self.changes.close()

    async def _on_event(self, event: Any) -> None:
        """`list_changed` to the org's subscribed clients when what `tools/list` answers changed.

        The list costs O(connectors of the org), and a reconnect storm of N connectors publishes 2N
        changes (each close, each hello): recomputed for each, a storm of 2,000 took ~17 s of platform
        CPU. So the changes of one org that arrive within `LIST_CHANGED_SETTLE_SECONDS` share one
        recompute, made after the window from the registry as it then is."""
        if not isinstance(event, ToolSetChanged):
            return
        if event.org_id in self._settling:
            return  # the recompute already on its way reads the registry after this change
        self._settling.add(event.org_id)
        try:
            await asyncio.sleep(LIST_CHANGED_SETTLE_SECONDS)  # a rate limit on recomputes, not a wait for state
        finally:
            self._settling.discard(event.org_id)
        listed = orjson.dumps(await self.tools.tools(event.org_id), option=orjson.OPT_SORT_KEYS)
        if self._listed.get(event.org_id) == listed:
            return  # e.g. a second replica with the same tools joined
        self._listed[event.org_id] = listed
        await self.changes.changed(event.org_id)

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        base = str(request.base_url).rstrip("/")
        if not origin_allowed(request.headers.get("origin"), base):
            await refuse(
                403,
                "origin_not_allowed",
                f"Origin {request.headers.get('origin')!r} may not use this MCP endpoint",
                scope,
                receive,
                send,
            )
            return
        try:
            principal = await current_user(request)
        except ApiError as refusal:
            headers = dict(refusal.headers)
            if refusal.status == 401:
                # RFC 9728 §5.1: tell the client where the resource's metadata is.
                headers["WWW-Authenticate"] = f'Bearer resource_metadata="{base}{RESOURCE_METADATA_PATH}"' + (
                    "" if refusal.code == "unauthenticated" else ', error="invalid_token"'
                )
            await refuse(refusal.status, refusal.code, refusal.message, scope, receive, send, headers)
            return
        scope.setdefault("state", {})[ORG_SCOPE_KEY] = principal.org_id
        # The SDK binds each session to the identity that opened it (never the token itself).
        scope["user"] = AuthenticatedUser(
            AccessToken(token="-", client_id=f"{principal.org_id}/{principal.sub}", scopes=[], subject=principal.sub)
        )
        answered, body = await self.fast_call(request, principal.org_id, send)
        if not answered:
            await self.manager.handle_request(scope, receive if body is None else replaying(body, receive), send)
