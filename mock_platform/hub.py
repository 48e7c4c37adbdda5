"""The connector hub: `WS /tool-rpc`, the I/O shell around `edge_protocol.link.PlatformLink`.

One connection = one `Connection`: a reader, and an entry in the hub's one deadline timer
(`link_deadlines.py`, not a task asleep for an hour per link) whose work runs in the link's
`TaskGroup`. The reader hands each frame to the link's state machine and does what it says (send,
close, register the hello, hand a call's answer to its caller); the timer ticks the machine at its
next deadline (hello timeout, token expiry).
Everything else lives beside it: who is connected and where a call goes in `registry.py`, the call
round trip in `call_roundtrip.py`, the recent-call log in `recent_calls.py`. Liveness is the
WebSocket protocol's heartbeat (`heartbeat.py`: a link silent for two intervals is closed), which is
also what frees a crashed runtime's deployment.

Handshake refusals happen before `accept()`, as HTTP statuses with the JSON error body (SPEC.md §7),
through the ASGI websocket denial-response extension that uvicorn implements.

Over 400 lines on purpose: it is the one shell of every link event (read, tick, act on each action of
the link machine) plus the handshake's two gates, herd shaping and replica seats (SPEC.md §14), whose
decisions live in `admission.py`, `replicas.py` and `seats.py`; splitting the shell further would
scatter one connection's life over several files.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect, WebSocketState

from edge_protocol import close_codes, jsonrpc, tokens
from edge_protocol.link import (
    CallAnswered,
    Close,
    Draining,
    HelloReceived,
    Ignored,
    LogsReceived,
    PlatformLink,
    ProbeAnswered,
    ReauthRequested,
    Send,
    TokenExpired,
    ToolsChanged,
)
from edge_protocol.messages import (
    BundleRef,
    BundleUpdated,
    CallParams,
    HelloResult,
    LogEntry,
    LogsSubscribe,
    SecretsUpdated,
    ToolInfo,
    ToolsLog,
)
from edge_protocol.tail import MAX_LOG_ENTRIES_PER_BATCH, LogEvent, truncate_utf8

from .admission import HandshakeAdmission
from .auth import AuthError, Principal, current_principal
from .call_roundtrip import ToolCaller, ToolSets, ValidatorCache
from .errors import ApiError
from .events import AssignmentChanged, DeploymentDeleted, SecretsChanged, ToolSetChanged
from .link_deadlines import DeadlineTimer
from .models import ConnectorList
from .recent_calls import RecentCalls, now_iso
from .registry import ConnectorRecord, Registry
from .replicas import PROBE_TIMEOUT_SECONDS
from .seats import Seats
from .tail_fanout import TailFanout

log = logging.getLogger("mock_platform.hub")

router = APIRouter()
#: Where connectors open their WebSocket (SPEC.md §7).
TOOL_RPC_PATH = "/tool-rpc"


@dataclass
class OrgSim:
    """Fault injection of one organization (dev mode)."""

    reject_next: int = 0
    latency_ms: float = 0.0
    pushes_enabled: bool = True


class Connection:
    """One accepted `/tool-rpc` WebSocket: its socket, its link state machine and its registry record."""

    __slots__ = ("hub", "websocket", "link", "record", "probes", "seat_reserved", "deadline", "tasks")

    def __init__(self, hub: Hub, websocket: WebSocket, link: PlatformLink, record: ConnectorRecord) -> None:
        self.hub = hub
        self.websocket = websocket
        self.link = link
        self.record = record
        self.probes: dict[str, asyncio.Future[bool]] = {}  # connector.ping id → its waiter
        self.seat_reserved = False  # a seat of its deployment is reserved for it until it registers
        self.deadline: list[Any] | None = None  # its entry in the hub's deadline timer
        self.tasks: asyncio.TaskGroup | None = None  # where a deadline's work runs while the link is served
        record.shell = self

    def call_frame(self, params: CallParams) -> tuple[str, str]:
        return self.link.call(params)

    async def send(self, frame: str) -> None:
        sim = self.hub.sims.get(self.record.org_id)
        if sim is not None and sim.latency_ms > 0:
            await asyncio.sleep(sim.latency_ms / 1000)
        await self.websocket.send_text(frame)


class Hub:
    def __init__(self, config: Any, store: Any, tokens: Any, events: Any) -> None:
        self.config = config
        self.store = store
        self.tokens = tokens
        self.events = events
        self.registry = Registry()
        self.recent = RecentCalls()
        self.tail = TailFanout()  # live-tail viewers: calls and forwarded tool logs go to them
        self.caller = ToolCaller(self.registry, self.recent, self.tail)
        self.validators = ValidatorCache()
        self.tool_sets = ToolSets(self.validators)  # links announcing the same tools share one copy
        self.deadlines = DeadlineTimer(self._deadline_reached)  # every link's next deadline, one timer
        self.sims: dict[str, OrgSim] = {}
        self.admission = HandshakeAdmission(capacity=getattr(config, "handshake_rate", 2000.0))
        self.seats = Seats(self.registry, self._probe, self._replace)
        self._unsubscribe: Any = None

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        logging.getLogger("uvicorn.error").addFilter(_UvicornNoiseFilter())
        attach = getattr(self.events, "attach_loop", None)
        if attach is not None:
            attach(asyncio.get_running_loop())
        self._unsubscribe = self.events.subscribe(self._on_event)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.deadlines.close()
        await asyncio.gather(
            *(
                self._close(record.shell, close_codes.CLOSE_PLATFORM_RESTART, "platform restarting")
                for record in self.registry.all()
            ),
            return_exceptions=True,
        )

    def sim(self, org_id: str) -> OrgSim:
        sim = self.sims.get(org_id)
        if sim is None:
            sim = self.sims[org_id] = OrgSim()
        return sim

    # ------------------------------------------------------------------------------ one connection
    async def serve(self, websocket: WebSocket) -> None:
        """The whole life of one `/tool-rpc` connection."""
        try:
            org_id, deployment_id, expires_at = await self._admit(websocket)
        except ApiError as refusal:
            await websocket.send_denial_response(refusal.response())
            return
        # The handshake's headers (~1 KiB) are read; a link held for hours need not keep them.
        websocket.scope["headers"] = ()
        record = ConnectorRecord(f"conn_{uuid.uuid4().hex[:16]}", org_id, deployment_id, now_iso())
        link = PlatformLink(opened_at=time.time(), token_expires_at=expires_at)
        connection = Connection(self, websocket, link, record)
        connection.seat_reserved = deployment_id is not None
        try:
            await websocket.accept()
            async with asyncio.TaskGroup() as tasks:
                connection.tasks = tasks
                self._arm_deadline(connection)
                try:
                    while await self._read_one(connection, tasks):
                        pass
                finally:
                    connection.tasks = None  # before the group ends: no deadline may add a task to it now
                    self._disarm(connection)
        except* (WebSocketDisconnect, ConnectionError):
            pass  # the connector went away mid-send; the drop below is all there is to do
        except* Exception:
            log.exception("connector %s failed", record.connector_id)
        finally:
            self._drop(connection)
            self._release_seat(connection)

    async def _admit(self, websocket: WebSocket) -> tuple[str, str | None, float]:
        """Decide before the upgrade: not too many at once, who is it, does the sim refuse it, is there
        a seat for its deployment (a reserved one when admitted, SPEC.md §14)."""
        shaped = self.admission.offer(time.monotonic())
        if not shaped.admitted:
            # A herd: spread it over the backlog instead of admitting it all at once (SPEC.md §14).
            status, code, message = jsonrpc.HANDSHAKE_UNAVAILABLE
            refusal = ApiError(
                status,
                code,
                f"{message}: too many connectors arriving at once; retry in {shaped.retry_after} s (Retry-After)",
            )
            refusal.headers["Retry-After"] = str(shaped.retry_after)
            raise refusal
        header = _header(websocket, b"authorization")
        token = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthError(
                    401,
                    tokens.CODE_TOKEN_INVALID,
                    tokens.token_invalid_message("the Authorization header must be 'Bearer <token>'"),
                )
            token = value.strip()
        claims = self.tokens.verify(token)
        org_id = claims.org_id
        deployment_id = claims.deployment_id or (_header(websocket, b"x-deployment-id") or None)
        deployment = self.store.get_deployment(org_id, deployment_id) if deployment_id is not None else None
        if deployment_id is not None and deployment is None:
            if claims.deployment_id:
                raise AuthError(
                    401,
                    tokens.CODE_TOKEN_INVALID,
                    tokens.token_invalid_message("the deployment of this token no longer exists"),
                )
            raise ApiError(404, "deployment_not_found", f"Deployment {deployment_id!r} not found in this organization")
        sim = self.sims.get(org_id)
        if sim is not None and sim.reject_next > 0:
            sim.reject_next -= 1
            raise ApiError(503, jsonrpc.HANDSHAKE_UNAVAILABLE[1], jsonrpc.HANDSHAKE_UNAVAILABLE[2] + " (sim reject)")
        if deployment is not None:
            await self.seats.reserve(org_id, deployment.id, deployment.replicas)
        return org_id, deployment_id, float(claims.exp)

    def _release_seat(self, connection: Connection) -> None:
        if connection.seat_reserved and connection.record.deployment_id is not None:
            connection.seat_reserved = False
            self.seats.release(connection.record.org_id, connection.record.deployment_id)

    async def _probe(self, record: ConnectorRecord) -> bool:
        """Does this holder's link still carry frames? A `connector.ping` answered within ~2 s."""
        connection: Connection = record.shell
        request_id, frame = connection.link.probe()
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        connection.probes[request_id] = answered
        try:
            await connection.send(frame)
            return await asyncio.wait_for(answered, PROBE_TIMEOUT_SECONDS)
        except (TimeoutError, OSError, RuntimeError, WebSocketDisconnect):
            return False
        finally:
            connection.probes.pop(request_id, None)

    async def _replace(self, record: ConnectorRecord) -> None:
        """A holder that did not answer its probe: its seat goes to the newcomer (SPEC.md §14)."""
        await self._close(record.shell, close_codes.CLOSE_REPLACED, "replaced: the link did not answer a probe")

    async def _read_one(self, connection: Connection, tasks: asyncio.TaskGroup) -> bool:
        """Receive and act on one frame; False once the link is closed. A frame of its own, so nothing
        keeps the last frame (a hello with its tools: KiB) while an idle link waits for the next."""
        message = await connection.websocket.receive()
        if message["type"] == "websocket.disconnect":
            # Free the deployment now, not after the timer task has wound down: a successor that
            # dials in right after the close must find it free.
            self._drop(connection)
            return False
        text = message.get("text")
        frame = text if text is not None else (message.get("bytes") or b"")
        sim = self.sims.get(connection.record.org_id)
        if sim is not None and sim.latency_ms > 0:
            # Fault injection: each frame arrives late, without holding up the frames behind it.
            tasks.create_task(self._handle_late(connection, frame, sim.latency_ms / 1000))
            return True
        return await self._act(connection, connection.link.receive(frame))

    async def _handle_late(self, connection: Connection, frame: str | bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        if not connection.record.closed:
            await self._act(connection, connection.link.receive(frame))

    def _arm_deadline(self, connection: Connection) -> None:
        """Wake the link's machine at its next deadline (hello timeout, token expiry) until it closes.

        An entry of the hub's one timer rather than a task asleep per link (~1 KiB each): a task exists
        only while a deadline's actions run. Deadlines only move later, so waking early just re-arms."""
        self._disarm(connection)
        deadline = connection.link.next_deadline()
        if deadline is not None and connection.tasks is not None:
            connection.deadline = self.deadlines.schedule(deadline, connection)

    def _disarm(self, connection: Connection) -> None:
        if connection.deadline is not None:
            self.deadlines.cancel(connection.deadline)
            connection.deadline = None

    def _deadline_reached(self, connection: Connection) -> None:
        connection.deadline = None
        if connection.tasks is None:
            return
        tick = self._tick(connection)
        try:
            connection.tasks.create_task(tick)
        except RuntimeError:  # its group is winding down after a failure: the link is going away anyway
            tick.close()
            log.debug("connector %s: deadline reached while its link shuts down", connection.record.connector_id)

    async def _tick(self, connection: Connection) -> None:
        if await self._act(connection, connection.link.tick(time.time())):
            self._arm_deadline(connection)

    async def _act(self, connection: Connection, actions: list[Any]) -> bool:
        """Do what the link's machine asked; False once the link is closed."""
        record = connection.record
        for action in actions:
            if isinstance(action, CallAnswered):
                self.caller.answered(record, action)
            elif isinstance(action, Send):
                try:
                    await connection.send(action.frame)
                except Exception:  # the socket is gone; the reader sees the disconnect
                    return False
            elif isinstance(action, Close):
                await self._close(connection, action.code, action.reason)
                return False
            elif isinstance(action, HelloReceived):
                if not await self._hello(connection, action):
                    return False
            elif isinstance(action, ToolsChanged):
                self._set_tools(record, action.update.bundle, action.update.tools)
                self.events.publish(ToolSetChanged(record.org_id))  # `/mcp` clients hear list_changed
                log.info(
                    "connector %s now runs %s with %d tools",
                    record.connector_id,
                    record.bundle.checksum if record.bundle else None,
                    len(record.tools),
                )
            elif isinstance(action, ProbeAnswered):
                waiter = connection.probes.pop(action.request_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(True)
            elif isinstance(action, Draining):
                record.draining = True
                log.info("connector %s is draining: no new calls go to it", record.connector_id)
            elif isinstance(action, ReauthRequested):
                await self._reauth(connection, action)
            elif isinstance(action, TokenExpired):
                log.info("connector %s: its token expired; closing 4001", record.connector_id)
            elif isinstance(action, LogsReceived):
                self._tools_log(record, action.log)
            elif isinstance(action, Ignored):
                log.debug("connector %s: %s", record.connector_id, action.reason)
        return True

    # ------------------------------------------------------------------------------ hello, reauth
    async def _hello(self, connection: Connection, hello: HelloReceived) -> bool:
        record, link, params = connection.record, connection.link, hello.params
        # A user token may name its deployment in hello instead of the header.
        named = params.deployment_id
        if record.deployment_id is None and named:
            if self.store.get_deployment(record.org_id, named) is None:
                return await self._act(
                    connection,
                    link.refuse_hello(
                        hello.request_id,
                        f"Deployment {named!r} not found in this organization",
                        reason="unknown deployment",
                    ),
                )
            deployment = self.store.get_deployment(record.org_id, named)
            try:
                await self.seats.reserve(record.org_id, named, deployment.replicas if deployment else 1)
            except ApiError:
                link.closed()
                await self._close(connection, close_codes.CLOSE_REPLACED, jsonrpc.HANDSHAKE_DUPLICATE[2])
                return False
            record.deployment_id = named
            connection.seat_reserved = True
        record.connector_version = params.connector_version
        if params.concurrency:
            record.concurrency = params.concurrency
        self._set_tools(record, params.bundle, params.tools)
        self.registry.add(record)
        self._release_seat(connection)  # the registry holds the seat from now on
        self.events.publish(ToolSetChanged(record.org_id))
        resolved = self.store.resolve_bundle(record.org_id, record.deployment_id)
        record.announced_checksum = resolved.checksum if resolved else None
        result = HelloResult(
            record.connector_id,
            record.deployment_id,
            record.org_id,
            self.config.heartbeat_seconds,
            resolved.ref() if resolved else None,
        )
        await connection.send(link.accept_hello(hello.request_id, result))
        await self._update_log_subscription(connection)  # someone may be tailing already
        log.info(
            "connector %s registered (org %s, deployment %s, %d tools)",
            record.connector_id,
            record.org_id,
            record.deployment_id,
            len(record.tools),
        )
        return True

    async def _reauth(self, connection: Connection, request: ReauthRequested) -> None:
        """SPEC.md §16: a fresh token of the same deployment and organization extends the link."""
        record, link = connection.record, connection.link
        try:
            claims = self.tokens.verify(request.token)
        except ApiError as refusal:
            frame = link.refuse_reauth(request.request_id, refusal.message)
        else:
            if (
                claims.org_id != record.org_id
                or claims.deployment_id != record.deployment_id
                or claims.deployment_id is None
            ):
                frame = link.refuse_reauth(
                    request.request_id,
                    tokens.token_invalid_message(
                        "connector.reauth needs a token of this link's deployment and organization"
                    ),
                )
            else:
                frame = link.accept_reauth(request.request_id, int(claims.exp))
                log.debug("connector %s re-authenticated until %s", record.connector_id, claims.expiry_iso())
        await connection.send(frame)

    def _set_tools(self, record: ConnectorRecord, bundle: BundleRef | None, tools: tuple[ToolInfo, ...]) -> None:
        record.tool_set = self.tool_sets.get(tools)  # shared with every link of the same tool list
        record.tools, record.validators = record.tool_set.tools, record.tool_set.validators
        record.bundle = bundle

    # ------------------------------------------------------------------------------ closing
    def _drop(self, connection: Connection) -> None:
        """Forget a link and fail its calls in flight at once (never leave a caller waiting for a deadline)."""
        record = connection.record
        registered = self.registry.by_id.get(record.connector_id) is record
        connection.link.closed()
        self.registry.remove(record)
        self.caller.fail_pending(record)
        if registered:
            self.events.publish(ToolSetChanged(record.org_id))

    async def _close(self, connection: Connection, code: int, reason: str = "") -> None:
        self._drop(connection)  # calls in flight fail now, not when the close handshake completes
        try:
            if connection.websocket.application_state is WebSocketState.CONNECTED:
                await connection.websocket.close(code, reason)
        except Exception:  # the socket is already gone
            pass

    # ------------------------------------------------------------------------------ calls and views
    async def call_tool(
        self, org_id: str, tool: str, arguments: Any, deployment_id: str | None = None, timeout_ms: int | None = None
    ) -> dict[str, Any]:
        """Route one call (see `ToolCaller.call_tool`); raises `ApiError`."""
        return await self.caller.call_tool(org_id, tool, arguments, deployment_id, timeout_ms)

    def recent_calls(self, org_id: str, limit: int) -> list[dict[str, Any]]:
        return self.recent.latest(org_id, limit)

    def connectors(self, org_id: str) -> list[dict[str, Any]]:
        return [record.describe() for record in self.registry.of_org(org_id)]

    # ------------------------------------------------------------------------------ sim
    async def disconnect(self, org_id: str, deployment_id: str | None, code: int) -> int:
        records = [r for r in self.registry.of_org(org_id) if deployment_id is None or r.deployment_id == deployment_id]
        await asyncio.gather(*(self._close(record.shell, code, "disconnected by sim") for record in records))
        return len(records)

    # ------------------------------------------------------------------------------ live tail
    async def tail_viewers_changed(self, org_id: str) -> None:
        """A tail viewer of `org_id` arrived or left: tell each connector whose answer changed."""
        for record in self.registry.of_org(org_id):
            if record.logs_subscribed != self.tail.wants_logs(org_id, record.deployment_id):
                await self._update_log_subscription(record.shell)

    async def _update_log_subscription(self, connection: Connection) -> None:
        """`logs.subscribe {on}` when whether someone can see this connector's logs has changed."""
        record = connection.record
        wanted = self.tail.wants_logs(record.org_id, record.deployment_id)
        if wanted == record.logs_subscribed or record.closed:
            return
        record.logs_subscribed = wanted
        try:
            await connection.send(connection.link.push(LogsSubscribe(wanted)))
        except Exception:
            pass  # the link is going away; its successor is told after its hello

    def _tools_log(self, record: ConnectorRecord, batch: ToolsLog) -> None:
        """Forwarded console lines to the viewers; sizes are checked again (a connector is not trusted)."""
        record.log_lines_received += len(batch.entries)
        org_id = record.org_id
        if not self.tail.watching(org_id):
            return
        for entry in batch.entries[:MAX_LOG_ENTRIES_PER_BATCH]:
            line = LogEntry(entry.at, entry.tool, entry.call_id, entry.level, truncate_utf8(entry.message))
            self.tail.publish_log(org_id, LogEvent(record.deployment_id, line, record.connector_id))

    # ------------------------------------------------------------------------------ pushes
    async def _on_event(self, event: Any) -> None:
        if isinstance(event, DeploymentDeleted):
            for record in self.registry.holders(event.org_id, event.deployment_id):
                await self._close(record.shell, close_codes.CLOSE_POLICY_VIOLATION, "deployment deleted")
        elif isinstance(event, AssignmentChanged):
            await self.push_assignments(event.org_id)
        elif isinstance(event, SecretsChanged):
            await self.push_secrets(event.org_id, event.deployment_ids)

    async def push_assignments(self, org_id: str) -> None:
        """Send `bundle.updated` to every connected link of `org_id` whose resolution changed."""
        sim = self.sims.get(org_id)
        if sim is not None and not sim.pushes_enabled:
            return
        for record in self.registry.of_org(org_id):
            resolved = self.store.resolve_bundle(org_id, record.deployment_id)
            if resolved is None or resolved.checksum == record.announced_checksum:
                continue
            record.announced_checksum = resolved.checksum
            connection: Connection = record.shell
            try:
                await connection.send(connection.link.push(BundleUpdated(resolved.ref())))
            except Exception:
                pass  # the link is going away; its successor gets the bundle in its hello

    async def push_secrets(self, org_id: str, deployment_ids: tuple[str, ...]) -> None:
        """Send `secrets.updated` (never a value) to every connector of these deployments: they refetch."""
        for record in self.registry.of_org(org_id):
            if record.deployment_id not in deployment_ids:
                continue
            connection: Connection = record.shell
            try:
                await connection.send(connection.link.push(SecretsUpdated()))
            except Exception:
                pass  # the link is going away; its successor fetches the secrets after it connects


def _header(ws: WebSocket, name: bytes) -> str | None:
    """One handshake header, read from the scope without building Starlette's `Headers` copy of them all."""
    for key, value in ws.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class _UvicornNoiseFilter(logging.Filter):
    """uvicorn (0.3x-0.5x, sansio websockets) logs a refused handshake that sent a denial response
    as an error although the client got the status and body: drop that false alarm. A text frame
    that is not UTF-8 (closed 1007, as RFC 6455 says) is a peer's bad input, not our bug: one line,
    no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "returned without completing handshake" in message:
            return False
        if message.startswith("Invalid UTF-8 sequence received from client"):
            record.msg, record.args = "a WebSocket client sent a text frame that is not UTF-8; closed it with 1007", ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def hub_of(request_or_ws: Request | WebSocket) -> Hub:
    hub: Hub = request_or_ws.app.state.platform.hub
    return hub


@router.websocket(TOOL_RPC_PATH)
async def tool_rpc(websocket: WebSocket) -> None:
    await hub_of(websocket).serve(websocket)


class ToolRpcFastPath:
    """ASGI wrapper: `WS /tool-rpc` straight to the hub; everything else to `inner`.

    A connector's WebSocket lives for hours, and every layer it passes holds a suspended frame and its
    context objects for that long: FastAPI's middleware stack and router cost ~KiB per connection, which
    a platform holding thousands of connectors pays in memory (docs/performance.md). `serve.py` puts
    it in front of the app; an app used without `serve.py` still serves `/tool-rpc` through the route.
    """

    def __init__(self, inner: Any, app: Any) -> None:
        self.inner = inner
        self.app = app  # the FastAPI app: its state holds the platform

    def __call__(self, scope, receive, send) -> Awaitable[None]:
        # Hands over the awaitable instead of awaiting it, so this layer keeps no frame for the link's life.
        if scope["type"] == "websocket" and scope["path"] == TOOL_RPC_PATH:
            scope.setdefault("app", self.app)  # what `hub_of` reads
            websocket = WebSocket(scope, receive, send)
            return hub_of(websocket).serve(websocket)
        return self.inner(scope, receive, send)


@router.get("/api/connectors", response_model=ConnectorList, tags=["connectors"])
async def list_connectors(request: Request, principal: Principal = Depends(current_principal)) -> Response:
    return Response(
        orjson.dumps({"connectors": hub_of(request).connectors(principal.org_id)}), media_type="application/json"
    )
