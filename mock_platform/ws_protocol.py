"""The platform's WebSocket protocol: uvicorn's sans-I/O one, made lean for links held for hours.

A connector's link lives for hours and the platform holds thousands of them, so what each one keeps
is the platform's memory (budget: ≤ 100 MiB with 1,000 deployments and 1,000 connectors,
docs/performance.md). uvicorn's `WebSocketsSansIOProtocol` speaks the protocol (websockets' sans-I/O
`ServerProtocol` underneath); this subclass changes only what a held link costs (~9 KiB less each):

- keepalive: no ping and pong timers per link; the server's one `Heartbeat` visits every link once per
  interval (`beat`), with the same rule (a ping unanswered for an interval closes the link, 1011);
- the received-message queue: `ReceiveQueue` (one reader, a list and a future) instead of an
  `asyncio.Queue` (four deques, ~3 KiB), and a `WriteGate` instead of an `asyncio.Event` (one deque);
- the handshake's request and response (their headers, ~4 KiB) are let go once the handshake is done;
- the attributes set once per link live in slots, so the instance dict stays small (~1.2 KiB).

Everything else (framing, close handshake, flow control, the denial response) is uvicorn's.
"""

from __future__ import annotations

import asyncio
import random
import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .heartbeat import Heartbeat


class ReceiveQueue:
    """What uvicorn's protocol uses of `asyncio.Queue` (`put_nowait`, `get`, `empty`), for its one reader.

    Messages wait in a list (uvicorn pauses reading after each one, so there are rarely more than a
    couple) and the reader waits on a future made only while the list is empty.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class WriteGate:
    """What uvicorn's protocol uses of `asyncio.Event` for flow control (`set`, `clear`, `wait`):
    open unless the transport's buffer is full; waiters only exist while it is closed."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        while not self._open:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with a shared heartbeat and lighter per-link state.

    Made per server by `protocol_class` (its heartbeat belongs to that server's event loop).
    """

    heartbeat: Heartbeat | None = None

    # Slots for the attributes uvicorn sets once per link: with these out of the instance dict, the
    # rest (18) keep CPython's shared-key layout (~1.2 KiB less a link than one dict of 37 keys).
    __slots__ = (
        "config",
        "app",
        "loop",
        "logger",
        "root_path",
        "asgi_version",
        "app_state",
        "connections",
        "tasks",
        "default_headers",
        "server",
        "client",
        "scheme",
        "close_timeout",
        "ping_interval",
        "ping_timeout",
        "scope",
        "request",
        "response",
        "heartbeat_slot",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.heartbeat_slot = -1
        self.scope = self.request = self.response = None  # type: ignore[assignment]  # set by the upgrade
        super().__init__(*args, **kwargs)
        self.queue = ReceiveQueue()  # type: ignore[assignment]
        self.writable = WriteGate()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete and self.request is not None:
            # The upgrade's request and the 101 response are done with. websockets' parser generator
            # keeps the request object for the link's life, so its headers are emptied, not just dropped.
            self.request.headers.clear()
            self.request = self.response = None  # type: ignore[assignment]

    # ------------------------------------------------------------------------------ keepalive
    def start_keepalive(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.join(self)

    def stop_keepalive(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.leave(self)
        self.pending_ping_payload = None

    def beat(self) -> None:
        """The heartbeat's visit: close a link that left the last ping unanswered, else ping it."""
        if self.close_sent or self.transport.is_closing():
            return
        if self.pending_ping_payload is not None:
            self.keepalive_timeout()  # close 1011 "keepalive ping timeout", as uvicorn does
            return
        # A random payload tells this ping's pong from a stale or unsolicited one.
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))

    def handle_pong(self, event: Any) -> None:
        if self.pending_ping_payload is None or bytes(event.data) != self.pending_ping_payload:
            return
        self.last_ping_rtt = self.loop.time() - self.ping_sent_at
        self.pending_ping_payload = None


def protocol_class(heartbeat: Heartbeat | None) -> type[HubWebSocketProtocol]:
    """The protocol class of one server: its links share `heartbeat` (None: no pings)."""
    return type("HubWebSocketProtocol", (HubWebSocketProtocol,), {"heartbeat": heartbeat})
