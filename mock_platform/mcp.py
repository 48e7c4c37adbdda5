"""`/mcp`: the organization's tools for any MCP client, over Streamable HTTP (SPEC.md §12).

The official SDK serves the protocol (its session manager answers 2025-11-25 clients with
`initialize` and sessions, and 2026-07-28 clients without); `edge_protocol.mcp` shapes tools and
results. In front of the SDK the platform does what it owns (`mcp_sessions.McpSessions`):

- `Origin`: absent, or the platform's own origin; anything else is 403 (DNS-rebinding guard).
- Auth: a user token as `Authorization: Bearer …`; without one (or with an expired or invalid one)
  401 with `WWW-Authenticate: Bearer resource_metadata="<base>/.well-known/oauth-protected-resource"`,
  and that RFC 9728 document is served. Each SDK session is bound to the identity that opened it.
- `tools/list`: every tool of the org's connected deployments, once per name, sorted by name;
  `tools/call` goes through the hub's routing, exactly as `POST /api/tools/{tool}/call`.

This module stays free of the SDK: `McpEndpoint` imports it and starts its session manager on the
first `/mcp` request (the SDK is ~25 MiB of a fresh platform's ~88 MiB RSS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .hub import Hub

if TYPE_CHECKING:
    from .mcp_sessions import McpSessions


log = logging.getLogger("mock_platform.mcp")

MCP_PATH = "/mcp"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
ORG_SCOPE_KEY = "edge_org_id"


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


class McpEndpoint:
    """The ASGI app at `/mcp`: loads the SDK and starts its session manager on the first request.

    `running()` is entered by the app's lifespan; the session manager then runs in a task of that
    lifespan's task group until shutdown, as it did when it was started with the app.
    """

    def __init__(self, hub: Hub, version: str) -> None:
        self._hub, self._version = hub, version
        self._sessions: McpSessions | None = None
        self._failure: BaseException | None = None
        self._group: asyncio.TaskGroup | None = None
        self._starting: asyncio.Lock | None = None
        self._stop: asyncio.Event | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._starting, self._stop = asyncio.Lock(), asyncio.Event()
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                self._stop.set()
        # A lifespan that runs again (an app served, stopped and served again, as test clients do)
        # starts a new session manager on its first request: the SDK's runs only once.
        self._sessions, self._failure = None, None

    async def _started(self) -> McpSessions:
        if self._sessions is not None:
            return self._sessions
        if self._group is None or self._starting is None:
            raise RuntimeError("an /mcp request outside the platform's lifespan")
        async with self._starting:
            if self._sessions is None:
                from .mcp_sessions import McpSessions

                sessions = McpSessions(self._hub, self._version)
                up = asyncio.Event()
                self._group.create_task(self._serve(sessions, up))
                await up.wait()
                if self._failure is not None:
                    raise RuntimeError("the MCP session manager did not start") from self._failure
                self._sessions = sessions
        return self._sessions

    async def _serve(self, sessions: McpSessions, up: asyncio.Event) -> None:
        assert self._stop is not None
        try:
            async with sessions.running():
                up.set()
                await self._stop.wait()
        except Exception as exc:  # reported to the request that started it, and logged; the platform stays up
            log.exception("the MCP session manager stopped")
            self._failure = exc
            up.set()

    async def __call__(self, scope, receive, send) -> None:
        await (await self._started())(scope, receive, send)


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


async def refuse(
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
