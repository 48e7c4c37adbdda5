"""`/mcp`: the organization's tools for any MCP client, over Streamable HTTP (SPEC.md §12).

The official SDK serves the protocol (its session manager answers 2025-11-25 clients with
`initialize` and sessions, and 2026-07-28 clients without); `edge_protocol.mcp` shapes tools and
results. In front of the SDK this module does what the platform owns:

- `Origin`: absent, or the platform's own origin; anything else is 403 (DNS-rebinding guard).
- Auth: a user token as `Authorization: Bearer …`; without one (or with an expired or invalid one)
  401 with `WWW-Authenticate: Bearer resource_metadata="<base>/.well-known/oauth-protected-resource"`,
  and that RFC 9728 document is served. Each SDK session is bound to the identity that opened it.
- `tools/list`: every tool of the org's connected deployments, once per name, sorted by name;
  `tools/call` goes through the hub's routing, exactly as `POST /api/tools/{tool}/call`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edge_protocol.mcp import ToolFailure, UnknownTool, build_server

from .auth import current_user
from .errors import ApiError
from .events import ToolSetChanged
from .hub import Hub
from .mcp_fast_call import FastToolsCall, replaying

log = logging.getLogger("mock_platform.mcp")

MCP_PATH = "/mcp"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
_ORG_KEY = "edge_org_id"


def org_tools(tool_sets: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One descriptor per tool name, sorted by name, from `(deployment key, its tools)` pairs.

    When deployments disagree about a tool (two bundle versions mid-rollout), the one of the first
    deployment key wins, so the listing does not flicker between requests.
    """
    chosen: dict[str, dict[str, Any]] = {}
    for _key, tools in sorted(tool_sets, key=lambda pair: pair[0]):
        for tool in tools:
            name = tool.get("name")
            if isinstance(name, str) and name not in chosen:
                chosen[name] = tool
    return [chosen[name] for name in sorted(chosen)]


def origin_allowed(origin: str | None, own_origin: str) -> bool:
    """No `Origin` (not a browser) or the platform's own: a page elsewhere must not drive `/mcp`."""
    return origin is None or origin.rstrip("/").lower() == own_origin.rstrip("/").lower()


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
    return request.scope["state"][_ORG_KEY]


class McpEndpoint:
    """The ASGI app at `/mcp`: origin and token checks, then the SDK's session manager."""

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
        """`list_changed` to the org's subscribed clients when what `tools/list` answers changed."""
        if not isinstance(event, ToolSetChanged):
            return
        listed = orjson.dumps(await self.tools.tools(event.org_id), option=orjson.OPT_SORT_KEYS)
        if self._listed.get(event.org_id) == listed:
            return  # e.g. a second replica with the same tools joined
        self._listed[event.org_id] = listed
        await self.changes.changed(event.org_id)

    async def __call__(self, scope, receive, send) -> None:
        request = Request(scope, receive)
        base = str(request.base_url).rstrip("/")
        if not origin_allowed(request.headers.get("origin"), base):
            await _refuse(
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
            await _refuse(refusal.status, refusal.code, refusal.message, scope, receive, send, headers)
            return
        scope.setdefault("state", {})[_ORG_KEY] = principal.org_id
        # The SDK binds each session to the identity that opened it (never the token itself).
        scope["user"] = AuthenticatedUser(
            AccessToken(token="-", client_id=f"{principal.org_id}/{principal.sub}", scopes=[], subject=principal.sub)
        )
        answered, body = await self.fast_call(request, principal.org_id, send)
        if not answered:
            await self.manager.handle_request(scope, receive if body is None else replaying(body, receive), send)


class McpFastPath:
    """ASGI wrapper: `/mcp` straight to its endpoint, everything else to `inner`.

    `serve.py` puts it in front of the whole app, so an MCP request skips FastAPI's middleware stack
    and routing (~12 % of the platform's CPU per `/mcp` call, py-spy); an app used without `serve.py`
    still serves `/mcp` through its route.
    """

    def __init__(self, inner: Any, app: Any) -> None:
        self.inner = inner
        self.app = app  # the FastAPI app: its state holds the platform and the endpoint

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == MCP_PATH:
            scope.setdefault("app", self.app)  # what `request.app.state.platform` reads (auth)
            await self.app.state.mcp(scope, receive, send)
            return
        await self.inner(scope, receive, send)


async def _refuse(
    status: int, code: str, message: str, scope, receive, send, headers: dict[str, str] | None = None
) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await Response(body, status_code=status, media_type="application/json", headers=headers)(scope, receive, send)


async def protected_resource_metadata(request: Request) -> Response:
    """RFC 9728 protected-resource metadata for `/mcp` (open)."""
    base = str(request.base_url).rstrip("/")
    document = {
        "resource": f"{base}{MCP_PATH}",
        "bearer_methods_supported": ["header"],
        "resource_name": "edge-connector platform MCP endpoint",
    }
    return Response(orjson.dumps(document), media_type="application/json")


def routes(endpoint: McpEndpoint) -> list[Route]:
    """`/mcp` and its metadata document (also at the path-suffixed well-known URL, RFC 9728 §3.1)."""
    return [
        Route(MCP_PATH, endpoint=endpoint),
        Route(RESOURCE_METADATA_PATH, endpoint=protected_resource_metadata, methods=["GET"]),
        Route(RESOURCE_METADATA_PATH + MCP_PATH, endpoint=protected_resource_metadata, methods=["GET"]),
    ]
