"""Serve an MCP server (built by `edge_protocol.mcp.build_server`) on this process's stdin/stdout.

Shared by `edge-connector mcp DIR` and `edge-connector mcp`: the SDK's stdio transport (which points
fd 1 at stderr while it serves, so nothing but MCP frames reaches stdout), stopped when the client
closes stdin, when `stop` is set (SIGINT/SIGTERM), or when a companion task ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any


async def serve_stdio(
    server: Any, stop: asyncio.Event, companions: Sequence[Callable[[], Coroutine[Any, Any, None]]]
) -> None:
    """Run `server` over stdio with `companions` (watchers, upstream listeners) beside it."""
    import anyio
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream), anyio.create_task_group() as group:

        async def serve_then_stop() -> None:
            await server.run(read_stream, write_stream, server.create_initialization_options())
            group.cancel_scope.cancel()  # stdin closed: the client is gone

        async def stop_on_request() -> None:
            await stop.wait()
            group.cancel_scope.cancel()

        group.start_soon(serve_then_stop)
        group.start_soon(stop_on_request)
        for companion in companions:
            group.start_soon(companion)
