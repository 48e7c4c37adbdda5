"""The runtime's two network doors, each built in exactly one place: the WebSocket and the HTTP client.

Proxy and TLS settings belong here (and only here), so every connection the runtime makes follows them.
"""

from __future__ import annotations

import httpx
from websockets.asyncio.client import ClientConnection, connect

from edge_protocol import __version__
from edge_protocol.limits import MAX_FRAME_BYTES

USER_AGENT = f"edge-connector/{__version__}"

# Frames up to twice the protocol limit are read and refused by the session with a 4000 close (a
# protocol error the peer can see); only beyond that does the library itself cut the link (1009).
WS_READ_LIMIT = 2 * MAX_FRAME_BYTES


async def open_websocket(
    url: str,
    token: str,
    *,
    heartbeat_seconds: float,
    deployment_id: str | None = None,
    open_timeout: float = 15.0,
) -> ClientConnection:
    """Open the tool-rpc WebSocket; raises websockets' `InvalidStatus` for a refused handshake.

    Pings every `heartbeat_seconds`; a peer that has not answered one within another interval is
    dead (two silent intervals, SPEC.md §7), which also catches half-open links after a network change.
    """
    headers = {"Authorization": f"Bearer {token}"}
    if deployment_id:
        # Lets the platform refuse a duplicate before the upgrade even for a user token.
        headers["X-Deployment-Id"] = deployment_id
    return await connect(
        url,
        additional_headers=headers,
        user_agent_header=USER_AGENT,
        open_timeout=open_timeout,
        ping_interval=heartbeat_seconds,
        ping_timeout=heartbeat_seconds,
        close_timeout=5.0,
        max_size=WS_READ_LIMIT,
        max_queue=64,
        compression=None,  # small JSON frames: deflate costs more CPU than it saves on the call path
    )


def http_client(base_url: str | None = None, timeout: float = 30.0) -> httpx.AsyncClient:
    """The runtime's HTTP client (token exchange, bundle downloads)."""
    return httpx.AsyncClient(
        base_url=base_url or "",
        timeout=httpx.Timeout(timeout, connect=10.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
