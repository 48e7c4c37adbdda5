"""One live link to the platform: `connector.hello`, then serving `tools/call` until the link ends.

The reader never waits for a tool: every call runs in its own task and answers when it is done, so
a slow tool never delays the next frame, a ping or a `bundle.updated`. Call ids already seen are
refused (`SeenCalls`), so a call is never run twice, even across reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from edge_protocol import jsonrpc
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.limits import MAX_FRAME_BYTES

from .connection import Failure, FailureKind
from .metrics import RuntimeMetrics

log = logging.getLogger("edge_runtime.session")

HELLO_ID = "hello"


class CallRunner(Protocol):
    async def call(self, name: str, arguments: Any, *, call_id: str, timeout_ms: int | None = None) -> Any: ...


class HelloRefused(Exception):
    """The platform answered `connector.hello` with an error or closed before answering."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class HelloResult:
    connector_id: str
    deployment_id: str | None
    org_id: str | None
    heartbeat_seconds: float | None
    assigned_bundle: dict[str, Any] | None


class SeenCalls:
    """Call ids received recently (bounded): the guard that makes a call run at most once."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def add(self, call_id: str) -> bool:
        """True if `call_id` is new (and now remembered), False if it was seen before."""
        if call_id in self._ids:
            return False
        self._ids[call_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True


def failure_from_close(code: int | None, reason: str | None) -> Failure:
    """Why a link ended, from its close code (SPEC.md §7), in the words the log shows."""
    reason = reason or ""
    if code == jsonrpc.CLOSE_TOKEN_EXPIRED:
        from .auth import token_expired_message

        return Failure(FailureKind.UNAUTHORIZED, token_expired_message())
    if code == jsonrpc.CLOSE_REPLACED:
        return Failure(FailureKind.DUPLICATE, "Deployment already connected (the platform replaced this link, close 4009)")
    if code == jsonrpc.CLOSE_PLATFORM_RESTART:
        return Failure(FailureKind.LOST, "platform restarting (close 1012)")
    if code == jsonrpc.CLOSE_PROTOCOL_ERROR:
        return Failure(FailureKind.PROTOCOL, f"protocol error (close 4000{': ' + reason if reason else ''})")
    if code == 1011 and "keepalive" in reason:
        return Failure(FailureKind.LOST, "no heartbeat from the platform for 2 intervals (dead peer)")
    if code is None or code == 1006:
        return Failure(FailureKind.LOST, "connection dropped without a close frame")
    return Failure(FailureKind.LOST, f"closed by the platform (code {code}{', ' + reason if reason else ''})")


class Session:
    def __init__(
        self,
        ws: ClientConnection,
        runner: CallRunner,
        *,
        seen: SeenCalls,
        metrics: RuntimeMetrics,
        on_bundle_updated: Callable[[dict[str, Any]], None],
        is_accepting: Callable[[], bool],
    ) -> None:
        self.ws = ws
        self.runner = runner
        self.seen = seen
        self.metrics = metrics
        self.on_bundle_updated = on_bundle_updated
        self.is_accepting = is_accepting
        self.calls: set[asyncio.Task] = set()

    @property
    def in_flight(self) -> int:
        return len(self.calls)

    # ---------------------------------------------------------------------------------- hello
    async def hello(self, params: dict[str, Any], timeout: float = 15.0) -> HelloResult:
        await self.ws.send(jsonrpc.request(HELLO_ID, jsonrpc.HELLO, params))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HelloRefused(Failure(FailureKind.PROTOCOL, f"no answer to {jsonrpc.HELLO} within {timeout:g}s"))
            try:
                frame = await asyncio.wait_for(self.ws.recv(), remaining)
            except asyncio.TimeoutError:
                continue
            except ConnectionClosed:
                raise HelloRefused(failure_from_close(*self._close_info())) from None
            try:
                message = jsonrpc.parse_message(frame)
            except jsonrpc.ProtocolError as exc:
                raise HelloRefused(Failure(FailureKind.PROTOCOL, f"invalid answer to {jsonrpc.HELLO}: {exc.message}")) from None
            if isinstance(message, jsonrpc.Response) and message.id == HELLO_ID:
                if message.error is not None:
                    raise HelloRefused(Failure(FailureKind.PROTOCOL,
                                               f"platform refused {jsonrpc.HELLO}: {message.error.get('message')}"))
                return _hello_result(message.result)
            # Anything before the hello answer is a protocol error on the platform's side; a
            # connector must not run a call for a link it is not registered on.
            log.debug("ignoring a frame received before the hello answer")

    # ---------------------------------------------------------------------------------- serving
    async def serve(self) -> Failure:
        """Read frames until the link ends; returns why it ended."""
        ws = self.ws
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed:
                return failure_from_close(*self._close_info())
            if isinstance(frame, (bytes, bytearray, memoryview)):
                await self._send(jsonrpc.error(None, {"code": jsonrpc.INVALID_REQUEST,
                                                      "message": "binary frames are not part of the protocol; send JSON text"}))
                continue
            if len(frame) > MAX_FRAME_BYTES:
                await self.close(jsonrpc.CLOSE_PROTOCOL_ERROR, f"frame larger than {MAX_FRAME_BYTES} bytes")
                return Failure(FailureKind.PROTOCOL, f"the platform sent a frame larger than {MAX_FRAME_BYTES} bytes")
            try:
                message = jsonrpc.parse_message(frame)
            except jsonrpc.ProtocolError as exc:
                await self._send(jsonrpc.error(exc.request_id, exc.error))
                continue
            if isinstance(message, jsonrpc.Request):
                if message.method == jsonrpc.TOOLS_CALL:
                    task = asyncio.create_task(self._run_call(message))
                    self.calls.add(task)
                    task.add_done_callback(self.calls.discard)
                else:
                    await self._send(jsonrpc.error(message.id, {"code": jsonrpc.METHOD_NOT_FOUND,
                                                                "message": f"Method not found: {message.method}"}))
            elif isinstance(message, jsonrpc.Notification):
                if message.method == jsonrpc.BUNDLE_UPDATED:
                    self.on_bundle_updated(message.params)
                else:
                    log.debug("ignoring unknown notification %s", message.method)
            # Responses: the runtime sends no requests after hello, so there is nothing to match.

    async def _run_call(self, request: jsonrpc.Request) -> None:
        params = request.params
        call_id, name = params.get("callId"), params.get("name")
        arguments = params.get("arguments", {})
        timeout_ms = params.get("timeoutMs")
        if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or (
            timeout_ms is not None and (not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms <= 0)
        ):
            await self._send(jsonrpc.error(request.id, {
                "code": jsonrpc.INVALID_PARAMS,
                "message": "Invalid params: tools/call needs callId (string), name (string), arguments and an optional positive integer timeoutMs",
            }))
            return
        if not self.seen.add(call_id):
            await self._send(jsonrpc.error(request.id, {
                "code": jsonrpc.INVALID_REQUEST, "message": f"call {call_id} was already received; a call never runs twice",
            }))
            return
        started = time.perf_counter()
        if not self.is_accepting():
            error = ToolCallError(ToolErrorKind.OVERLOADED, "the connector is shutting down and takes no new calls")
            await self._send(jsonrpc.error(request.id, error.to_rpc_error()))
            self.metrics.call_finished(name, error.kind.value, time.perf_counter() - started)
            return
        try:
            output = await self.runner.call(name, arguments, call_id=call_id, timeout_ms=timeout_ms)
        except ToolCallError as exc:
            elapsed = time.perf_counter() - started
            self.metrics.call_finished(name, exc.kind.value, elapsed)
            await self._send(jsonrpc.error(request.id, exc.to_rpc_error()))
        except Exception as exc:  # a bug in the runtime must fail this call only, never the link
            elapsed = time.perf_counter() - started
            log.exception("tool call %s (%s) failed inside the runtime", call_id, name)
            self.metrics.call_finished(name, ToolErrorKind.TOOL_CRASHED.value, elapsed)
            error = ToolCallError(ToolErrorKind.TOOL_CRASHED, f"the runtime failed to run the call: {type(exc).__name__}")
            await self._send(jsonrpc.error(request.id, error.to_rpc_error()))
        else:
            elapsed = time.perf_counter() - started
            self.metrics.call_finished(name, "ok", elapsed)
            await self._send(jsonrpc.result(request.id, {"output": output, "durationMs": round(elapsed * 1000, 3)}))

    # ---------------------------------------------------------------------------------- sending / closing
    async def notify(self, method: str, params: dict[str, Any]) -> None:
        await self._send(jsonrpc.notification(method, params))

    async def _send(self, frame: str) -> None:
        try:
            await self.ws.send(frame)
        except ConnectionClosed:
            # The platform has already failed this call as connector_unavailable; nothing to do.
            pass

    async def drain(self, timeout: float) -> bool:
        """Wait for calls in flight, up to `timeout` seconds; True if all finished."""
        if not self.calls:
            return True
        done, pending = await asyncio.wait(set(self.calls), timeout=timeout)
        return not pending

    def cancel_calls(self) -> None:
        for task in list(self.calls):
            task.cancel()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        try:
            await self.ws.close(code, reason)
        except Exception:  # already closed or the transport is gone
            pass

    def _close_info(self) -> tuple[int | None, str | None]:
        protocol = self.ws.protocol  # the sans-I/O state machine knows which close frames went by
        rcvd = protocol.close_rcvd
        if rcvd is not None:
            return rcvd.code, rcvd.reason
        sent = protocol.close_sent
        if sent is not None:
            return sent.code, sent.reason
        return None, None


def _hello_result(result: Any) -> HelloResult:
    if not isinstance(result, dict) or not isinstance(result.get("connectorId"), str):
        raise HelloRefused(Failure(FailureKind.PROTOCOL, f"invalid {jsonrpc.HELLO} result: no connectorId"))
    heartbeat = result.get("heartbeatSeconds")
    assigned = result.get("assignedBundle")
    return HelloResult(
        connector_id=result["connectorId"],
        deployment_id=result.get("deploymentId"),
        org_id=result.get("orgId"),
        heartbeat_seconds=float(heartbeat) if isinstance(heartbeat, (int, float)) else None,
        assigned_bundle=assigned if isinstance(assigned, dict) else None,
    )
