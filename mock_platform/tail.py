"""`WS /api/tail` (SPEC.md §13): the live stream of calls and tool logs, one socket per viewer.

Refusals happen before the upgrade, as HTTP statuses with the usual error body: a missing or bad
token (401/403), a deployment token (403 `user_token_required`), a bad filter (400) and the
eleventh stream of an organization (429 `too_many_tails`). A browser cannot set an Authorization
header, so the dashboard offers its token as the subprotocol `bearer.<token>` next to `edge-tail`
(never in the URL, which ends up in logs).

Each stream is two tasks in a TaskGroup: one moves frames from the viewer's queue to the socket
(waiting on the socket when the reader is slow, while the fan-out counts what it drops), the other
watches for the close. What is queued and dropped is decided in `tail_fanout.py`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketState

from edge_protocol.close_codes import CLOSE_PLATFORM_RESTART
from edge_protocol.tail import (
    BEARER_SUBPROTOCOL_PREFIX,
    BROWSER_SUBPROTOCOL,
    MAX_VIEWERS_PER_ORG,
    TAIL_PATH,
    TailFilter,
)

from .auth import bearer_token, principal_from_token
from .errors import ApiError
from .tail_fanout import TailFanout, TailViewer, TooManyViewers

log = logging.getLogger("mock_platform.tail")

router = APIRouter()


class TailStream:
    """One accepted viewer socket."""

    def __init__(self, websocket: WebSocket, viewer: TailViewer) -> None:
        self.websocket = websocket
        self.viewer = viewer
        self.ready = asyncio.Event()
        viewer.wake = self.ready.set

    async def pump(self) -> None:
        """Send what the viewer is owed, in order; a slow reader makes this wait, never the calls."""
        viewer, send = self.viewer, self.websocket.send_text
        while True:
            await self.ready.wait()
            self.ready.clear()
            while (frame := viewer.take()) is not None:
                await send(frame)

    async def wait_closed(self) -> None:
        """Read until the viewer leaves (viewers send nothing the platform acts on)."""
        while (await self.websocket.receive())["type"] != "websocket.disconnect":
            pass

    async def close(self, code: int, reason: str) -> None:
        try:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.close(code, reason)
        except Exception:  # the socket is already gone
            pass


class TailService:
    """The fan-out plus the open sockets (so fault injection and shutdown can close them)."""

    def __init__(
        self,
        fanout: TailFanout | None = None,
        viewers_changed: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.fanout = fanout or TailFanout()
        #: Awaited with the org id when a viewer arrives or leaves (the hub re-decides `logs.subscribe`).
        self.viewers_changed = viewers_changed
        self.streams: set[TailStream] = set()

    async def serve(self, websocket: WebSocket) -> None:
        try:
            org_id, tail_filter, subprotocol = _admit(websocket)
            viewer = self.fanout.open(org_id, tail_filter)
        except TooManyViewers:
            refusal = ApiError(
                429,
                "too_many_tails",
                f"At most {MAX_VIEWERS_PER_ORG} live tails may be open per "
                "organization; close one (an edge-connector tail or a dashboard tab) and retry",
            )
            await websocket.send_denial_response(JSONResponse(refusal.body(), status_code=429))
            return
        except ApiError as refusal:
            await websocket.send_denial_response(
                JSONResponse(refusal.body(), status_code=refusal.status, headers=refusal.headers or None)
            )
            return
        stream = TailStream(websocket, viewer)
        self.streams.add(stream)
        try:
            await websocket.accept(subprotocol=subprotocol)
            await self._viewers_changed(org_id)
            _cap_kernel_buffer(websocket)
            async with asyncio.TaskGroup() as group:
                pump = group.create_task(stream.pump())
                await stream.wait_closed()
                pump.cancel()
        except Exception as exc:  # a send to a socket that went away: this viewer is done
            log.debug("tail stream ended: %r", exc)
        finally:
            self.streams.discard(stream)
            self.fanout.close(viewer)
            await self._viewers_changed(org_id)

    async def _viewers_changed(self, org_id: str) -> None:
        if self.viewers_changed is not None:
            try:
                await self.viewers_changed(org_id)
            except Exception:  # telling connectors is best effort: a tail must not fail for it
                log.exception("could not update the connectors' log subscriptions of %s", org_id)

    async def disconnect(self, org_id: str, code: int, reason: str = "disconnected by sim") -> int:
        """Close the organization's streams now (fault injection); returns how many."""
        streams = [s for s in self.streams if s.viewer.org_id == org_id]
        await asyncio.gather(*(s.close(code, reason) for s in streams))
        return len(streams)

    async def stop(self, code: int = CLOSE_PLATFORM_RESTART) -> None:
        await asyncio.gather(*(s.close(code, "platform stopping") for s in list(self.streams)))


#: Bytes the kernel may hold for a viewer that does not read; beyond, its queue fills and events drop.
VIEWER_SEND_BUFFER_BYTES = 64 * 1024


def _cap_kernel_buffer(websocket: WebSocket) -> None:
    """Keep the kernel from buffering megabytes for a viewer that does not read.

    Linux sizes a socket's send buffer from the path's segment size, up to 4 MB (on loopback that is
    over a megabyte at once), so a stuck viewer would hold thousands of events in the kernel before
    the bounded queue ever noticed. ASGI does not hand the socket to the app; uvicorn's protocol is
    reachable from the receive callable, and when it is not (another server) this does nothing and
    the kernel's own limit applies.
    """
    protocol = getattr(getattr(websocket, "_receive", None), "__self__", None)
    transport = getattr(protocol, "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, VIEWER_SEND_BUFFER_BYTES)
        except OSError:
            pass


def _admit(websocket: WebSocket) -> tuple[str, TailFilter, str | None]:
    """Who is asking and for what, decided before the upgrade; raises ApiError to refuse."""
    token, subprotocol = bearer_token(websocket), None  # type: ignore[arg-type]
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if token is None:
        token = next(
            (p[len(BEARER_SUBPROTOCOL_PREFIX) :] for p in offered if p.startswith(BEARER_SUBPROTOCOL_PREFIX)), None
        )
    if BROWSER_SUBPROTOCOL in offered:
        subprotocol = BROWSER_SUBPROTOCOL
    principal = principal_from_token(websocket, token)  # type: ignore[arg-type]
    if principal.is_deployment:
        raise ApiError(
            403,
            "user_token_required",
            "The live tail needs a user token; deployment tokens may only fetch assignments and archives",
        )
    try:
        tail_filter = TailFilter.from_query(websocket.query_params)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", f"Invalid tail filter: {exc}") from None
    return principal.org_id, tail_filter, subprotocol


def tail_of(websocket: WebSocket) -> TailService:
    return websocket.app.state.platform.tail


@router.websocket(TAIL_PATH)
async def tail(websocket: WebSocket) -> None:
    await tail_of(websocket).serve(websocket)
