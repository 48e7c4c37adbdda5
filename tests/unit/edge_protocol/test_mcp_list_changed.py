"""`ToolListChanges` in process, with the SDK's own client: both eras hear a change, and a closed
handshake-era connection is forgotten."""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client
from mcp_types import ToolListChangedNotification

from edge_protocol.mcp import build_server


class _Tools:
    def __init__(self) -> None:
        self.names = ["echo"]

    async def tools(self, caller: Any) -> list[dict[str, Any]]:
        return [{"name": name, "inputSchema": {"type": "object"}} for name in self.names]

    async def call(self, caller: Any, name: str, arguments: dict[str, Any]) -> Any:
        return arguments


async def test_a_handshake_era_client_hears_its_scopes_change_and_is_forgotten_on_close() -> None:
    backend = _Tools()
    server, changes = build_server("t", "1", backend, lambda _ctx: "org-a")
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            heard.set()

    async with Client(server, mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.tools is not None and client.server_capabilities.tools.list_changed
        assert [t.name for t in (await client.list_tools()).tools] == ["echo"]
        assert changes.subscribers("org-a") == 1
        assert changes.subscribers("org-b") == 0
        backend.names.append("shout")
        await changes.changed("org-a")
        with anyio.fail_after(5):
            await heard.wait()
        assert [t.name for t in (await client.list_tools(cache_mode="bypass")).tools] == ["echo", "shout"]
    with anyio.fail_after(5):
        while changes.subscribers("org-a"):
            await anyio.sleep(0.01)  # the connection's teardown runs just after the client leaves


async def test_a_2026_client_hears_the_change_on_its_listen_stream() -> None:
    backend = _Tools()
    server, changes = build_server("t", "1", backend, lambda _ctx: "org-a")
    async with Client(server, mode="2026-07-28") as client:
        async with client.listen(tools_list_changed=True) as subscription:
            backend.names.append("shout")
            await changes.changed("org-a")
            with anyio.fail_after(5):
                async for _event in subscription:
                    break
        assert [t.name for t in (await client.list_tools(cache_mode="bypass")).tools] == ["echo", "shout"]
