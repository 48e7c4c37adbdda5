"""The connector hub: `WS /tool-rpc`, the registry of connected connectors and the call path to them.

One asyncio task per connected link (the ASGI handler), no threads, a few objects per link: a
thousand idle connectors cost little more than their sockets. Liveness is uvicorn's keepalive
(`ws_ping_interval`/`ws_ping_timeout` = the heartbeat, so a link silent for two intervals is closed),
which is also what frees a crashed runtime's deployment for its successor.

Handshake refusals happen before `accept()`, as HTTP statuses with the JSON error body (SPEC.md §7),
through the ASGI websocket denial-response extension that uvicorn implements.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from edge_protocol import jsonrpc, tokens
from edge_protocol.calls import argument_problems, call_deadline_ms, invalid_arguments
from edge_protocol.errors import ToolCallError
from edge_protocol.limits import MAX_FRAME_BYTES
from edge_protocol.messages import BundleUpdated, notification_frame

from .auth import AuthError, Principal, current_principal
from .errors import ApiError
from .events import AssignmentChanged, DeploymentDeleted
from .models import ConnectorList

log = logging.getLogger("mock_platform.hub")

router = APIRouter()

#: How long a connector has to send `connector.hello` after the upgrade.
HELLO_TIMEOUT_SECONDS = 10.0
#: Extra time the platform waits past a call's deadline for the connector's own `tool_timeout`.
DEADLINE_GRACE_SECONDS = 0.5
#: Recent calls kept per organization for `GET /api/calls`.
RECENT_CALLS_PER_ORG = 500

CONNECTOR_UNAVAILABLE = "connector unavailable"


class CallFailed(Exception):
    """A call the platform answers with an error: HTTP status and `{"error": {...}}` body."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def unavailable(message: str = CONNECTOR_UNAVAILABLE) -> CallFailed:
    return CallFailed(503, "connector_unavailable", message)


@dataclass(eq=False)
class Link:
    """One connected connector."""

    connector_id: str
    org_id: str
    deployment_id: str | None
    websocket: WebSocket
    since: str
    connector_version: str | None = None
    concurrency: int = 64
    bundle: dict[str, Any] | None = None
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    validators: dict[str, Draft202012Validator | None] = field(default_factory=dict)
    pending: dict[str, asyncio.Future] = field(default_factory=dict)  # JSON-RPC id → answer
    announced_checksum: str | None = None  # the bundle we last told it to run
    token_expires_at: float | None = None  # wall-clock `exp` of the token it connected with
    expiry_timer: asyncio.TimerHandle | None = None
    closed: bool = False
    calls_total: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "connectorId": self.connector_id,
            "deploymentId": self.deployment_id,
            "since": self.since,
            "connectorVersion": self.connector_version,
            "bundle": self.bundle,
            "tools": sorted(self.tools),
            "inFlight": len(self.pending),
            "concurrency": self.concurrency,
            "callsTotal": self.calls_total,
        }


@dataclass
class OrgSim:
    """Fault injection of one organization (dev mode)."""

    reject_next: int = 0
    latency_ms: float = 0.0
    pushes_enabled: bool = True


class ValidatorCache:
    """Argument validators compiled once per distinct schema, shared by every link that registers it."""

    def __init__(self) -> None:
        self._by_schema: dict[bytes, Draft202012Validator | None] = {}

    def get(self, schema: Any) -> Draft202012Validator | None:
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        if key not in self._by_schema:
            try:
                Draft202012Validator.check_schema(schema)
                self._by_schema[key] = Draft202012Validator(schema)
            except SchemaError as exc:
                # The connector validates too; an unusable schema just means no platform-side check.
                log.warning("tool inputSchema is not valid JSON Schema (%s); arguments go unchecked", exc.message)
                self._by_schema[key] = None
        return self._by_schema[key]


class Hub:
    def __init__(self, config, store, tokens, events) -> None:
        self.config = config
        self.store = store
        self.tokens = tokens
        self.events = events
        self.links: dict[str, Link] = {}
        self.by_org: dict[str, set[Link]] = {}
        self.by_deployment: dict[tuple[str, str], Link] = {}
        self.sims: dict[str, OrgSim] = {}
        self.recent: dict[str, deque] = {}
        self.validators = ValidatorCache()
        self._ids = itertools.count(1)
        self._turn = 0
        self._unsubscribe = None
        self._background: set[asyncio.Future] = set()

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        logging.getLogger("uvicorn.error").addFilter(_DenialNoiseFilter())
        attach = getattr(self.events, "attach_loop", None)
        if attach is not None:
            attach(asyncio.get_running_loop())
        self._unsubscribe = self.events.subscribe(self._on_event)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await asyncio.gather(*(self._close(link, jsonrpc.CLOSE_PLATFORM_RESTART, "platform restarting")
                               for link in list(self.links.values())), return_exceptions=True)

    def sim(self, org_id: str) -> OrgSim:
        sim = self.sims.get(org_id)
        if sim is None:
            sim = self.sims[org_id] = OrgSim()
        return sim

    # ------------------------------------------------------------------------------ handshake
    async def serve(self, websocket: WebSocket) -> None:
        """The whole life of one `/tool-rpc` connection."""
        try:
            org_id, deployment_id, expires_at = self._admit(websocket)
        except ApiError as refusal:
            await websocket.send_denial_response(JSONResponse(refusal.body(), status_code=refusal.status))
            return
        await websocket.accept()
        link = Link(f"conn_{uuid.uuid4().hex[:16]}", org_id, deployment_id, websocket, _now_iso(),
                    token_expires_at=expires_at)
        try:
            if not await self._hello(link):
                return
            await self._read(link)
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("connector %s failed", link.connector_id)
        finally:
            self._drop(link)

    def _admit(self, websocket: WebSocket) -> tuple[str, str | None, float]:
        """Decide before the upgrade: who is it, is its deployment free, does the sim refuse it."""
        header = websocket.headers.get("authorization")
        token = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthError(401, "token_invalid", tokens.TOKEN_INVALID_PREFIX + "the Authorization header must be 'Bearer <token>'")
            token = value.strip()
        claims = self.tokens.verify(token)
        org_id = claims.org_id
        deployment_id = claims.deployment_id or (websocket.headers.get("x-deployment-id") or None)
        if deployment_id is not None and self.store.get_deployment(org_id, deployment_id) is None:
            if claims.deployment_id:
                raise AuthError(401, "token_invalid", tokens.TOKEN_INVALID_PREFIX + "the deployment of this token no longer exists")
            raise ApiError(404, "deployment_not_found", f"Deployment {deployment_id!r} not found in this organization")
        sim = self.sims.get(org_id)
        if sim is not None and sim.reject_next > 0:
            sim.reject_next -= 1
            raise ApiError(503, jsonrpc.HANDSHAKE_UNAVAILABLE[1], jsonrpc.HANDSHAKE_UNAVAILABLE[2] + " (sim reject)")
        if deployment_id is not None:
            existing = self.by_deployment.get((org_id, deployment_id))
            if existing is not None and not existing.closed:
                status, code, message = jsonrpc.HANDSHAKE_DUPLICATE
                raise ApiError(status, code, message)
        return org_id, deployment_id, float(claims.exp)

    async def _hello(self, link: Link) -> bool:
        ws = link.websocket
        try:
            frame = await asyncio.wait_for(self._receive_frame(ws), HELLO_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            await ws.close(jsonrpc.CLOSE_PROTOCOL_ERROR, f"no {jsonrpc.HELLO} within {HELLO_TIMEOUT_SECONDS:g}s")
            return False
        if frame is None:
            return False
        try:
            message = jsonrpc.parse_message(frame)
        except jsonrpc.ProtocolError as exc:
            await ws.send_text(jsonrpc.error(exc.request_id, exc.error))
            await ws.close(jsonrpc.CLOSE_PROTOCOL_ERROR, f"expected {jsonrpc.HELLO} first")
            return False
        if not isinstance(message, jsonrpc.Request) or message.method != jsonrpc.HELLO:
            if isinstance(message, jsonrpc.Request):
                await ws.send_text(jsonrpc.error(message.id, {"code": jsonrpc.INVALID_REQUEST,
                                                              "message": f"expected {jsonrpc.HELLO} first"}))
            await ws.close(jsonrpc.CLOSE_PROTOCOL_ERROR, f"expected {jsonrpc.HELLO} first")
            return False
        params = message.params
        # A user token may name its deployment in hello instead of the header.
        named = params.get("deploymentId")
        if link.deployment_id is None and isinstance(named, str) and named:
            if self.store.get_deployment(link.org_id, named) is None:
                await ws.send_text(jsonrpc.error(message.id, {"code": jsonrpc.INVALID_PARAMS,
                                                              "message": f"Deployment {named!r} not found in this organization"}))
                await ws.close(jsonrpc.CLOSE_PROTOCOL_ERROR, "unknown deployment")
                return False
            existing = self.by_deployment.get((link.org_id, named))
            if existing is not None and not existing.closed:
                await ws.close(jsonrpc.CLOSE_REPLACED, jsonrpc.HANDSHAKE_DUPLICATE[2])
                return False
            link.deployment_id = named
        tools = params.get("tools") or []
        if not isinstance(tools, list):
            await ws.send_text(jsonrpc.error(message.id, {"code": jsonrpc.INVALID_PARAMS, "message": "tools must be a list"}))
            await ws.close(jsonrpc.CLOSE_PROTOCOL_ERROR, "invalid hello")
            return False
        link.connector_version = params.get("connectorVersion")
        concurrency = params.get("concurrency")
        if isinstance(concurrency, int) and concurrency > 0:
            link.concurrency = concurrency
        self._set_tools(link, params.get("bundle"), tools)
        self._register(link)
        self._expire_with_token(link)
        resolved = self.store.resolve_bundle(link.org_id, link.deployment_id)
        link.announced_checksum = resolved.checksum if resolved else None
        await self._send(link, jsonrpc.result(message.id, {
            "connectorId": link.connector_id,
            "deploymentId": link.deployment_id,
            "orgId": link.org_id,
            "heartbeatSeconds": self.config.heartbeat_seconds,
            "assignedBundle": resolved.to_wire() if resolved else None,
        }))
        log.info("connector %s registered (org %s, deployment %s, %d tools)",
                 link.connector_id, link.org_id, link.deployment_id, len(link.tools))
        return True

    def _set_tools(self, link: Link, bundle: Any, tools: list[Any]) -> None:
        registry: dict[str, dict[str, Any]] = {}
        validators: dict[str, Draft202012Validator | None] = {}
        for tool in tools:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                registry[tool["name"]] = tool
                schema = tool.get("inputSchema")
                validators[tool["name"]] = self.validators.get(schema) if isinstance(schema, dict) else None
        link.tools, link.validators = registry, validators
        link.bundle = bundle if isinstance(bundle, dict) else None

    def _register(self, link: Link) -> None:
        self.links[link.connector_id] = link
        self.by_org.setdefault(link.org_id, set()).add(link)
        if link.deployment_id is not None:
            self.by_deployment[(link.org_id, link.deployment_id)] = link

    def _drop(self, link: Link) -> None:
        """Forget a link and fail its calls in flight at once (never leave a caller waiting for a deadline)."""
        link.closed = True
        self.links.pop(link.connector_id, None)
        org = self.by_org.get(link.org_id)
        if org is not None:
            org.discard(link)
            if not org:
                del self.by_org[link.org_id]
        if link.deployment_id is not None and self.by_deployment.get((link.org_id, link.deployment_id)) is link:
            del self.by_deployment[(link.org_id, link.deployment_id)]
        if link.expiry_timer is not None:
            link.expiry_timer.cancel()
        pending, link.pending = link.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(unavailable())

    def _expire_with_token(self, link: Link) -> None:
        """A link lives no longer than its token: close 4001 at `exp`, the connector re-authenticates."""
        if link.token_expires_at is None:
            return
        delay = max(0.0, link.token_expires_at - time.time())
        link.expiry_timer = asyncio.get_running_loop().call_later(delay, self._spawn_close, link,
                                                                  jsonrpc.CLOSE_TOKEN_EXPIRED, tokens.TOKEN_EXPIRED)

    def _spawn_close(self, link: Link, code: int, reason: str) -> None:
        self._spawn(self._close(link, code, reason))

    # ------------------------------------------------------------------------------ reading
    @staticmethod
    async def _receive_frame(ws: WebSocket) -> str | bytes | None:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else (message.get("bytes") or b"")

    async def _read(self, link: Link) -> None:
        ws = link.websocket
        while True:
            frame = await self._receive_frame(ws)
            if frame is None:
                return
            sim = self.sims.get(link.org_id)
            if sim is not None and sim.latency_ms > 0:
                # Fault injection: each frame arrives late, without holding up the frames behind it.
                self._spawn(self._handle_late(link, frame, sim.latency_ms / 1000))
            elif not await self._handle(link, frame):
                return

    async def _handle_late(self, link: Link, frame: str | bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        if not link.closed:
            await self._handle(link, frame)

    async def _handle(self, link: Link, frame: str | bytes) -> bool:
        """Act on one frame from a connector; False when the link was closed for it."""
        if isinstance(frame, bytes):
            await self._send(link, jsonrpc.error(None, {"code": jsonrpc.INVALID_REQUEST,
                                                        "message": "binary frames are not part of the protocol; send JSON text"}))
            return True
        if len(frame) > MAX_FRAME_BYTES:
            await self._close(link, jsonrpc.CLOSE_PROTOCOL_ERROR, f"frame larger than {MAX_FRAME_BYTES} bytes")
            return False
        try:
            message = jsonrpc.parse_message(frame)
        except jsonrpc.ProtocolError as exc:
            await self._send(link, jsonrpc.error(exc.request_id, exc.error))
            return True
        if isinstance(message, jsonrpc.Response):
            future = link.pending.pop(str(message.id), None)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, jsonrpc.Notification):
            if message.method == jsonrpc.TOOLS_UPDATED:
                tools = message.params.get("tools")
                if isinstance(tools, list):
                    self._set_tools(link, message.params.get("bundle"), tools)
                    log.info("connector %s now runs %s with %d tools", link.connector_id,
                             (link.bundle or {}).get("checksum"), len(link.tools))
        else:
            await self._send(link, jsonrpc.error(message.id, {"code": jsonrpc.METHOD_NOT_FOUND,
                                                              "message": f"Method not found: {message.method}"}))
        return True

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)  # keep a reference until it is done
        task.add_done_callback(self._background.discard)

    async def _send(self, link: Link, frame: str) -> None:
        sim = self.sims.get(link.org_id)
        if sim is not None and sim.latency_ms > 0:
            await asyncio.sleep(sim.latency_ms / 1000)
        await link.websocket.send_text(frame)

    async def _close(self, link: Link, code: int, reason: str = "") -> None:
        self._drop(link)  # calls in flight fail now, not when the close handshake completes
        try:
            if link.websocket.application_state is WebSocketState.CONNECTED:
                await link.websocket.close(code, reason)
        except Exception:  # the socket is already gone
            pass

    # ------------------------------------------------------------------------------ calls
    async def call_tool(
        self, org_id: str, tool: str, arguments: Any, deployment_id: str | None = None, timeout_ms: int | None = None
    ) -> dict[str, Any]:
        """Route one call; returns `{output, durationMs, deploymentId, callId}` or raises `CallFailed`."""
        started = time.perf_counter()
        call_id = f"call_{uuid.uuid4().hex}"
        link: Link | None = None
        try:
            link = self._choose(org_id, tool, deployment_id)
            descriptor = link.tools[tool]
            validator = link.validators.get(tool)
            if validator is not None:
                problems = argument_problems(validator.iter_errors(arguments))
                if problems:
                    error = invalid_arguments(tool, problems)
                    raise CallFailed(error.kind.http_status, error.kind.value, error.message, details=error.details)
            tool_timeout = descriptor.get("timeoutMs")
            deadline_ms = call_deadline_ms(timeout_ms, tool_timeout if isinstance(tool_timeout, int) else None)
            result = await self._roundtrip(link, call_id, tool, arguments, deadline_ms)
        except CallFailed as failed:
            self._record(org_id, call_id, tool, link, started, failed.code)
            raise
        self._record(org_id, call_id, tool, link, started, "ok")
        return {**result, "deploymentId": link.deployment_id, "callId": call_id}

    def _choose(self, org_id: str, tool: str, deployment_id: str | None) -> Link:
        links = self.by_org.get(org_id, ())
        if deployment_id is not None:
            link = self.by_deployment.get((org_id, deployment_id))
            if link is None or link.closed:
                raise unavailable(f"{CONNECTOR_UNAVAILABLE}: deployment {deployment_id} is not connected")
            if tool not in link.tools:
                raise CallFailed(404, "tool_not_found", f"Tool {tool!r} not found on deployment {deployment_id}")
            return link
        candidates = [link for link in links if tool in link.tools and not link.closed]
        if not candidates:
            if not links:
                raise unavailable(f"{CONNECTOR_UNAVAILABLE}: no connector of this organization is connected")
            raise CallFailed(404, "tool_not_found", f"Tool {tool!r} not found on any connected connector")
        if len(candidates) == 1:
            return candidates[0]
        # Least busy relative to what each connector accepts at once; ties take turns, so idle
        # connectors share the load instead of one of them getting every call.
        loads = [len(link.pending) / link.concurrency for link in candidates]
        lowest = min(loads)
        idle = [link for link, load in zip(candidates, loads) if load == lowest]
        self._turn += 1
        return idle[self._turn % len(idle)]

    async def _roundtrip(self, link: Link, call_id: str, tool: str, arguments: Any, deadline_ms: int) -> dict[str, Any]:
        rpc_id = str(next(self._ids))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        link.pending[rpc_id] = future
        link.calls_total += 1
        try:
            try:
                await self._send(link, jsonrpc.request(rpc_id, jsonrpc.TOOLS_CALL, {
                    "callId": call_id, "name": tool, "arguments": arguments, "timeoutMs": deadline_ms,
                }))
            except Exception:
                raise unavailable() from None
            try:
                response: jsonrpc.Response = await asyncio.wait_for(future, deadline_ms / 1000 + DEADLINE_GRACE_SECONDS)
            except asyncio.TimeoutError:
                raise CallFailed(504, "tool_timeout", f"Tool {tool!r} did not answer within {deadline_ms} ms") from None
        finally:
            link.pending.pop(rpc_id, None)
        if response.error is not None:
            try:
                error = ToolCallError.from_rpc_error(response.error)
            except jsonrpc.ProtocolError as exc:
                raise CallFailed(502, "tool_error", f"the connector answered with a malformed error: {exc.message}") from None
            if response.error.get("code") in (jsonrpc.INVALID_REQUEST, jsonrpc.INVALID_PARAMS) and not isinstance(
                response.error.get("data"), dict
            ):
                # The connector refused the request itself (not the tool): the platform's fault.
                raise CallFailed(502, "tool_error", f"connector refused the call: {response.error.get('message')}")
            extra: dict[str, Any] = {"details": error.details}
            if error.code and error.code != error.kind.value:
                extra["toolCode"] = error.code
            raise CallFailed(error.kind.http_status, error.kind.value, error.message, **extra)
        result = response.result if isinstance(response.result, dict) else {}
        return {"output": result.get("output"), "durationMs": result.get("durationMs")}

    def _record(self, org_id: str, call_id: str, tool: str, link: Link | None, started: float, outcome: str) -> None:
        recent = self.recent.get(org_id)
        if recent is None:
            recent = self.recent[org_id] = deque(maxlen=RECENT_CALLS_PER_ORG)
        recent.append({
            "callId": call_id, "tool": tool, "deploymentId": link.deployment_id if link else None,
            "at": _now_iso(), "durationMs": round((time.perf_counter() - started) * 1000, 3),
            "outcome": "ok" if outcome == "ok" else "error", "errorCode": None if outcome == "ok" else outcome,
        })

    def recent_calls(self, org_id: str, limit: int) -> list[dict[str, Any]]:
        recent = self.recent.get(org_id) or ()
        return list(reversed(recent))[:limit]

    def connectors(self, org_id: str) -> list[dict[str, Any]]:
        return [link.describe() for link in sorted(self.by_org.get(org_id, ()), key=lambda l: l.since)]

    # ------------------------------------------------------------------------------ sim
    async def disconnect(self, org_id: str, deployment_id: str | None, code: int) -> int:
        links = [link for link in self.by_org.get(org_id, ()) if deployment_id is None or link.deployment_id == deployment_id]
        await asyncio.gather(*(self._close(link, code, "disconnected by sim") for link in links))
        return len(links)

    # ------------------------------------------------------------------------------ pushes
    async def _on_event(self, event: Any) -> None:
        if isinstance(event, DeploymentDeleted):
            link = self.by_deployment.get((event.org_id, event.deployment_id))
            if link is not None:
                await self._close(link, jsonrpc.CLOSE_POLICY_VIOLATION, "deployment deleted")
        elif isinstance(event, AssignmentChanged):
            await self.push_assignments(event.org_id)

    async def push_assignments(self, org_id: str) -> None:
        """Send `bundle.updated` to every connected link of `org_id` whose resolution changed."""
        sim = self.sims.get(org_id)
        if sim is not None and not sim.pushes_enabled:
            return
        for link in list(self.by_org.get(org_id, ())):
            resolved = self.store.resolve_bundle(org_id, link.deployment_id)
            if resolved is None or resolved.checksum == link.announced_checksum:
                continue
            link.announced_checksum = resolved.checksum
            try:
                await self._send(link, notification_frame(BundleUpdated(resolved.ref())))
            except Exception:
                pass  # the link is going away; its successor gets the bundle in its hello


class _DenialNoiseFilter(logging.Filter):
    """uvicorn (0.3x-0.5x, sansio websockets) logs a refused handshake that sent a denial response
    as an error although the client got the status and body; drop that one false alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing handshake" not in record.getMessage()


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hub_of(request_or_ws: Request | WebSocket) -> Hub:
    return request_or_ws.app.state.platform.hub


@router.websocket("/tool-rpc")
async def tool_rpc(websocket: WebSocket) -> None:
    await hub_of(websocket).serve(websocket)


@router.get("/api/connectors", response_model=ConnectorList, tags=["connectors"])
async def list_connectors(request: Request, principal: Principal = Depends(current_principal)) -> Response:
    return Response(orjson.dumps({"connectors": hub_of(request).connectors(principal.org_id)}),
                    media_type="application/json")
