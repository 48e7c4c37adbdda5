"""`edge-connector mcp` (no DIR): the organization's tools, through the platform, as a stdio MCP server.

For clients that only speak stdio (or cannot send a Bearer header): stdio in front, the platform's
`/mcp` behind, reached with the official SDK client and the CLI's saved token (the same platform URL
and token rules as every other command). Tool lists and calls are forwarded; a change of the org's
tool set upstream (a `subscriptions/listen` stream, or the session's notification on an older
platform) becomes `notifications/tools/list_changed` downstream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import orjson

from edge_protocol.backoff import Backoff
from edge_protocol.mcp import ToolFailure, UnknownTool, build_server

from .client import connect
from .errors import CliError
from .mcp_local import edge_connector_version
from .mcp_stdio import serve_stdio

log = logging.getLogger("edge_cli.mcp")


def relisten_backoff() -> Backoff:
    """Pauses before listening again to the platform's tool-change stream: 1 s doubling to 30 s while it
    keeps dropping at once; a stream that stayed up a minute starts the schedule over."""
    return Backoff(initial=1.0, maximum=30.0, stable_after=60.0)


class RemoteTools:
    """`ToolBackend` over the platform's `/mcp`: every list and call is one upstream request."""

    def __init__(self, upstream: Any) -> None:
        self.upstream = upstream

    async def tools(self, caller: Any) -> list[dict[str, Any]]:
        listed = await self.upstream.list_tools(cache_mode="bypass")
        return [tool.model_dump(by_alias=True, exclude_none=True) for tool in listed.tools]

    async def call(self, caller: Any, name: str, arguments: dict[str, Any]) -> Any:
        from mcp.shared.exceptions import MCPError

        try:
            result = await self.upstream.call_tool(name, arguments)
        except MCPError as exc:
            if exc.error.code == -32602 and "Unknown tool" in exc.error.message:
                raise UnknownTool(name) from None
            raise ToolFailure("platform_error", f"The platform refused the call: {exc.error.message}") from None
        text = next((block.text for block in result.content if getattr(block, "type", None) == "text"), "null")
        value = orjson.loads(text)
        if result.is_error:
            error = value.get("error") if isinstance(value, dict) else None
            error = error if isinstance(error, dict) else {"message": text}
            raise ToolFailure(
                str(error.get("kind") or "tool_error"),
                str(error.get("message", "")),
                error.get("code"),
                error.get("details"),
            )
        return value


class RemoteMcpServer:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._token = token
        self._stop = asyncio.Event()

    @classmethod
    def connect(cls, platform_flag: str | None, project_dir: Path) -> RemoteMcpServer:
        """Resolve the platform and the token like every command, and check the token works now."""
        with connect(platform_flag, project_dir, dev=True) as client:
            client.get("/api/me")  # a refused token fails here, in the troubleshooting page's words
            assert client.token is not None
            return cls(client.url, client.token)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        import httpx
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp_types import ToolListChangedNotification
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        backend = RemoteTools(None)
        server, changes = build_server(
            "edge-connector",
            edge_connector_version(),
            backend,
            lambda _ctx: None,
            instructions=f"Tools of your organization on {self.url}, run by its connected deployments.",
        )

        async def on_upstream_message(message: Any) -> None:
            if isinstance(message, ToolListChangedNotification):  # a handshake-era upstream session
                await changes.changed(None)

        from edge_runtime.tls import tls_context

        http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=httpx.Timeout(330, connect=10),
            verify=tls_context(),
        )
        backend.upstream = Client(
            streamable_http_client(f"{self.url}/mcp", http_client=http),  # type: ignore[arg-type]  # annotated as httpx2's client
            mode="auto",
            message_handler=on_upstream_message,
            read_timeout_seconds=330,
        )
        try:
            async with http, backend.upstream as upstream:
                log.info(
                    "Serving the tools of %s over stdio (upstream protocol %s)", self.url, upstream.protocol_version
                )
                companions = []
                if upstream.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    companions.append(lambda: self._follow_changes(upstream, changes))
                try:
                    await serve_stdio(server, self._stop, companions)
                finally:
                    changes.close()
        except httpx.HTTPError as exc:
            raise CliError(
                f"Lost the platform at {self.url} ({type(exc).__name__})",
                "Check that it is running and reachable, then start edge-connector mcp again",
            ) from None

    async def _follow_changes(self, upstream: Any, changes: Any) -> None:
        """Turn the platform's tool-list changes into ours, re-listening when the stream drops."""
        backoff = relisten_backoff()
        while not self._stop.is_set():
            listened_at = time.monotonic()
            try:
                async with upstream.listen(tools_list_changed=True) as subscription:
                    log.info("Following the platform's tool changes")  # acknowledged: no change is missed from here
                    async for _event in subscription:
                        await changes.changed(None)
            except Exception as exc:  # a dropped stream: clients missed nothing they cannot refetch
                log.warning("The platform's tool-change stream dropped (%s); listening again", exc)
                await changes.changed(None)  # something may have changed while we were not listening
            backoff.connection_lost(time.monotonic() - listened_at)
            await asyncio.sleep(backoff.next_delay())
