"""One live link to the platform: the I/O shell around `edge_protocol.link.ConnectorLink`.

The shell reads a frame, hands it to the state machine and does what it says: send a frame, close,
run a call, pass a bundle assignment on. The reader never waits for a tool: every call runs in its own
task and answers when it is done, so a slow tool never delays the next frame, a ping or a
`bundle.updated`. Call ids already seen are refused by the machine (`SeenCalls`, kept by the runtime
across links), so a call is never run twice, even across reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from edge_protocol import close_codes, jsonrpc
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.failures import failure_kind_of_close
from edge_protocol.link import (
    HELLO_ID,
    AssignBundle,
    Close,
    ConnectorLink,
    Ignored,
    ProbeAnswered,
    Reauthenticated,
    ReauthRefused,
    Registered,
    RunCall,
    SecretsChanged,
    SeenCalls,
    Send,
    TailChanged,
)
from edge_protocol.link import (
    HelloRefused as HelloRefusedEvent,
)
from edge_protocol.messages import (
    BundleRef,
    CallParams,
    CallResult,
    HelloParams,
    HelloResult,
    LogEntry,
    ToolsLog,
    ToolsUpdated,
)

from .connection import Failure, FailureKind
from .metrics import RuntimeMetrics

log = logging.getLogger("edge_runtime.session")

__all__ = [
    "HELLO_ID",
    "CallRunner",
    "HelloRefused",
    "HelloResult",
    "ReauthFailed",
    "SeenCalls",
    "Session",
    "failure_from_close",
]


class CallRunner(Protocol):
    async def call(self, name: str, arguments: Any, *, call_id: str, timeout_ms: int | None = None) -> Any: ...


class HelloRefused(Exception):
    """The platform answered `connector.hello` with an error or closed before answering."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class ReauthFailed(Exception):
    """The platform refused `connector.reauth` (or the link ended before it answered)."""


def failure_from_close(code: int | None, reason: str | None) -> Failure:
    """Why a link ended, from its close code (SPEC.md §7): the kind by `edge_protocol.failures`, the words
    the log shows from here."""
    return Failure(failure_kind_of_close(code), _close_words(code, reason or ""))


def _close_words(code: int | None, reason: str) -> str:
    if code == close_codes.CLOSE_TOKEN_EXPIRED:
        from .auth import token_expired_message

        return token_expired_message()
    if code == close_codes.CLOSE_REPLACED:
        return "Deployment already connected (the platform replaced this link, close 4009)"
    if code == close_codes.CLOSE_PLATFORM_RESTART:
        return "platform restarting (close 1012)"
    if code == close_codes.CLOSE_PROTOCOL_ERROR:
        return f"protocol error (close 4000{': ' + reason if reason else ''})"
    if code == close_codes.CLOSE_INTERNAL_ERROR and "keepalive" in reason:
        return "no heartbeat from the platform for 2 intervals (dead peer)"
    if code is None or code == close_codes.CLOSE_ABNORMAL:
        return "connection dropped without a close frame"
    return f"closed by the platform (code {code}{', ' + reason if reason else ''})"


class Session:
    def __init__(
        self,
        ws: ClientConnection,
        runner: CallRunner,
        *,
        seen: SeenCalls,
        metrics: RuntimeMetrics,
        on_bundle_updated: Callable[[BundleRef], None],
        is_accepting: Callable[[], bool],
        on_secrets_updated: Callable[[], None] | None = None,
        on_tail_changed: Callable[[bool], None] | None = None,
        before_answer: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.ws = ws
        self.runner = runner
        self.link = ConnectorLink(seen)
        self.metrics = metrics
        self.on_bundle_updated = on_bundle_updated
        self.on_secrets_updated = on_secrets_updated
        self.on_tail_changed = on_tail_changed
        # Runs before each call's answer is sent: the tool log forwarder sends the call's lines first.
        self.before_answer = before_answer
        self.is_accepting = is_accepting
        self.calls: set[asyncio.Task[None]] = set()
        self._reauth: asyncio.Future[int] | None = None
        self._pings: dict[str, asyncio.Future[None]] = {}

    @property
    def in_flight(self) -> int:
        return len(self.calls)

    # ---------------------------------------------------------------------------------- hello
    async def hello(self, params: HelloParams, timeout: float = 15.0) -> HelloResult:
        await self.ws.send(self.link.hello(params))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HelloRefused(Failure(FailureKind.PROTOCOL, f"no answer to {jsonrpc.HELLO} within {timeout:g}s"))
            try:
                frame = await asyncio.wait_for(self.ws.recv(), remaining)
            except TimeoutError:
                continue
            except ConnectionClosed:
                raise HelloRefused(failure_from_close(*self._close_info())) from None
            for action in self.link.receive(frame):
                if isinstance(action, Registered):
                    return action.result
                if isinstance(action, HelloRefusedEvent):
                    raise HelloRefused(Failure(FailureKind.PROTOCOL, action.message))
                if isinstance(action, Send):
                    await self._send(action.frame)
                elif isinstance(action, Ignored):
                    log.debug("ignoring a frame: %s", action.reason)

    # ---------------------------------------------------------------------------------- serving
    async def serve(self) -> Failure:
        """Read frames until the link ends; returns why it ended."""
        ws = self.ws
        try:
            while True:
                try:
                    frame = await ws.recv()
                except ConnectionClosed:
                    return failure_from_close(*self._close_info())
                if isinstance(frame, (bytearray, memoryview)):
                    frame = bytes(frame)
                for action in self.link.receive(frame):
                    if isinstance(action, RunCall):
                        self._start_call(action)
                    elif isinstance(action, Send):
                        await self._send(action.frame)
                    elif isinstance(action, Close):
                        await self.close(action.code, action.reason)
                        return Failure(FailureKind.PROTOCOL, f"the platform broke the protocol: {action.reason}")
                    else:
                        self._on_event(action)
        finally:
            if self._reauth is not None and not self._reauth.done():
                self._reauth.set_exception(ReauthFailed("the link ended before the platform answered"))

    def _on_event(self, action: Any) -> None:
        if isinstance(action, AssignBundle):
            self.on_bundle_updated(action.bundle)
        elif isinstance(action, SecretsChanged):
            if self.on_secrets_updated is not None:
                self.on_secrets_updated()
        elif isinstance(action, TailChanged):
            if self.on_tail_changed is not None:
                self.on_tail_changed(action.on)
        elif isinstance(action, Reauthenticated):
            if self._reauth is not None and not self._reauth.done():
                self._reauth.set_result(action.expires_at)
        elif isinstance(action, ReauthRefused):
            if self._reauth is not None and not self._reauth.done():
                self._reauth.set_exception(ReauthFailed(action.message))
        elif isinstance(action, ProbeAnswered):
            waiter = self._pings.pop(action.request_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        elif isinstance(action, Ignored):
            log.debug("ignoring a frame: %s", action.reason)

    def _start_call(self, run: RunCall) -> None:
        task = asyncio.create_task(self._run_call(run.request_id, run.params))
        self.calls.add(task)
        task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self.calls.discard(task)
        # `_run_call` answers every failure itself; anything left here is a bug worth a log line.
        if not task.cancelled() and task.exception() is not None:
            log.error("tool call task failed: %r", task.exception())

    async def _run_call(self, request_id: Any, params: CallParams) -> None:
        name = params.name
        started = time.perf_counter()
        if not self.is_accepting():
            error = ToolCallError(ToolErrorKind.OVERLOADED, "the connector is shutting down and takes no new calls")
            await self._send(self.link.fail(request_id, error))
            self.metrics.call_finished(name, error.kind.value, time.perf_counter() - started)
            return
        try:
            output = await self.runner.call(
                name, params.arguments, call_id=params.call_id, timeout_ms=params.timeout_ms
            )
            if self.before_answer is not None:
                await self.before_answer()
        except ToolCallError as exc:
            self.metrics.call_finished(name, exc.kind.value, time.perf_counter() - started)
            if self.before_answer is not None:
                await self.before_answer()
            await self._send(self.link.fail(request_id, exc))
        except Exception as exc:  # a bug in the runtime must fail this call only, never the link
            elapsed = time.perf_counter() - started
            log.exception("tool call %s (%s) failed inside the runtime", params.call_id, name)
            self.metrics.call_finished(name, ToolErrorKind.TOOL_CRASHED.value, elapsed)
            error = ToolCallError(
                ToolErrorKind.TOOL_CRASHED, f"the runtime failed to run the call: {type(exc).__name__}"
            )
            await self._send(self.link.fail(request_id, error))
        else:
            elapsed = time.perf_counter() - started
            frame, refused = self.link.answer(request_id, CallResult(output, round(elapsed * 1000, 3)))
            if refused is not None:  # too big for one frame: this call fails, the link and its other calls do not
                log.warning("tool call %s (%s): %s", params.call_id, name, refused.message)
            self.metrics.call_finished(name, "ok" if refused is None else refused.kind.value, elapsed)
            await self._send(frame)

    # ---------------------------------------------------------------------------------- local decisions
    async def tools_updated(self, update: ToolsUpdated) -> None:
        await self._send(self.link.tools_updated(update))

    async def tools_log(self, entries: list[LogEntry]) -> None:
        """One batch of tool console lines (only ever while the platform has subscribed us)."""
        await self._send(self.link.tools_log(ToolsLog(tuple(entries))))

    async def reauth(self, token: str, timeout: float = 15.0) -> int:
        """Extend this link with a fresh token (SPEC.md §16); returns the new expiry (Unix seconds).

        Raises `ReauthFailed` when the platform refuses, does not answer in time or the link ends.
        """
        self._reauth = asyncio.get_running_loop().create_future()
        await self._send(self.link.reauth(token))
        try:
            return await asyncio.wait_for(asyncio.shield(self._reauth), timeout)
        except TimeoutError:
            raise ReauthFailed(f"no answer to {jsonrpc.CONNECTOR_REAUTH} within {timeout:g}s") from None
        finally:
            if not self._reauth.done():
                self._reauth.cancel()

    # ---------------------------------------------------------------------------------- sending / closing
    async def _send(self, frame: str) -> None:
        try:
            await self.ws.send(frame)
        except ConnectionClosed:
            # The platform has already failed this call as connector_unavailable; nothing to do.
            pass

    async def announce_draining(self, timeout: float = 2.0) -> bool:
        """Tell the platform to route no new calls here, then wait for the answer to a `connector.ping`:
        it arrives after every call the platform routed before it read `connector.draining`, so once it
        is in, the calls in flight are all the calls there will be. False when no answer came in time."""
        await self._send(self.link.draining())
        request_id, frame = self.link.probe()
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[request_id] = answered
        try:
            await self._send(frame)
            await asyncio.wait_for(answered, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._pings.pop(request_id, None)

    async def drain(self, timeout: float) -> bool:
        """Wait for calls in flight, up to `timeout` seconds; True if all finished."""
        if not self.calls:
            return True
        _, pending = await asyncio.wait(set(self.calls), timeout=timeout)
        return not pending

    async def cancel_calls(self) -> None:
        """Stop the calls still running and wait until they have stopped."""
        tasks = list(self.calls)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self, code: int = close_codes.CLOSE_NORMAL, reason: str = "") -> None:
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
