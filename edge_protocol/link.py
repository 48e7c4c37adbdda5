"""Both ends of a connector ↔ platform link as sans-I/O state machines (SPEC.md §7, §11, §13, §14, §16).

`ConnectorLink` is the runtime's side, `PlatformLink` the platform's. Each takes what happened — a
received text frame (`receive`), a moment in time (`tick(now)`, platform side) or a local decision
(`hello`, `call`, `answer`, `reauth`, …) — and returns what to do: frames to send (`Send`, or the frame
itself for local decisions that always make exactly one), a `Close`, and events for the shell to act
on (`RunCall`, `CallAnswered`, `HelloReceived`, …). No sockets, no clock, no asyncio: the runtime's
session and the platform's hub are shells that move bytes, and the tests drive these with strings.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any

from . import jsonrpc
from .errors import ToolCallError, ToolErrorKind
from .limits import MAX_FRAME_BYTES
from .messages import (
    BundleRef,
    CallParams,
    CallResult,
    ConnectorDraining,
    ConnectorPing,
    HelloParams,
    HelloResult,
    InvalidMessage,
    LogsSubscribe,
    ReauthParams,
    ReauthResult,
    RpcError,
    ToolsLog,
    ToolsUpdated,
    error_frame,
    notification_frame,
    request_frame,
    result_frame,
)
from .tokens import TOKEN_EXPIRED

#: The JSON-RPC id of `connector.hello` (one per link).
HELLO_ID = "hello"
#: How long a platform waits for `connector.hello` after the upgrade.
HELLO_TIMEOUT_SECONDS = 10.0

BINARY_FRAME = "binary frames are not part of the protocol; send JSON text"


# ------------------------------------------------------------------------------------ actions
@dataclass(frozen=True, slots=True)
class Send:
    """Send this text frame."""

    frame: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the link with this WebSocket close code (SPEC.md §7) and reason."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A frame that changes nothing (late answer, unknown notification, bad notification); for the log."""

    reason: str


# Connector-side events
@dataclass(frozen=True, slots=True)
class Registered:
    result: HelloResult


@dataclass(frozen=True, slots=True)
class HelloRefused:
    message: str


@dataclass(frozen=True, slots=True)
class RunCall:
    """Run this call, then answer it with `ConnectorLink.answer` / `fail`."""

    request_id: Any
    params: CallParams


@dataclass(frozen=True, slots=True)
class AssignBundle:
    bundle: BundleRef


@dataclass(frozen=True, slots=True)
class SecretsChanged:
    pass


@dataclass(frozen=True, slots=True)
class TailChanged:
    on: bool


@dataclass(frozen=True, slots=True)
class Reauthenticated:
    expires_at: int


@dataclass(frozen=True, slots=True)
class ReauthRefused:
    message: str


# Platform-side events
@dataclass(frozen=True, slots=True)
class HelloReceived:
    """Register the connector, then answer with `PlatformLink.accept_hello` or `refuse_hello`."""

    request_id: Any
    params: HelloParams


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The connector answered call `request_id`: `result`, or `error` (`refused`: it refused the request itself)."""

    request_id: str
    result: CallResult | None = None
    error: ToolCallError | None = None
    refused: bool = False


@dataclass(frozen=True, slots=True)
class ToolsChanged:
    update: ToolsUpdated


@dataclass(frozen=True, slots=True)
class Draining:
    pass


@dataclass(frozen=True, slots=True)
class ProbeAnswered:
    """The connector answered the `connector.ping` with this request id: the link is alive."""

    request_id: str


@dataclass(frozen=True, slots=True)
class LogsReceived:
    log: ToolsLog


@dataclass(frozen=True, slots=True)
class ReauthRequested:
    """Verify `token` for this link, then answer with `PlatformLink.accept_reauth` or `refuse_reauth`."""

    request_id: Any
    token: str

    def __repr__(self) -> str:
        return f"ReauthRequested(request_id={self.request_id!r}, token=<redacted>)"


@dataclass(frozen=True, slots=True)
class TokenExpired:
    pass


Action = (
    Send
    | Close
    | Ignored
    | Registered
    | HelloRefused
    | RunCall
    | AssignBundle
    | SecretsChanged
    | TailChanged
    | Reauthenticated
    | ReauthRefused
    | HelloReceived
    | CallAnswered
    | ToolsChanged
    | Draining
    | ProbeAnswered
    | LogsReceived
    | ReauthRequested
    | TokenExpired
)


class LinkState(str, Enum):
    HELLO = "hello"  # connector: hello sent, not answered; platform: waiting for or handling hello
    REGISTERED = "registered"
    CLOSED = "closed"


# ------------------------------------------------------------------------------------ shared intake
def _parse(frame: str | bytes) -> jsonrpc.Message | list[Action]:
    """One received frame as a message, or the actions that answer a frame that is not one."""
    if not isinstance(frame, str):
        return [Send(jsonrpc.error(None, {"code": jsonrpc.INVALID_REQUEST, "message": BINARY_FRAME}))]
    if len(frame) > MAX_FRAME_BYTES:
        return [Close(jsonrpc.CLOSE_PROTOCOL_ERROR, f"frame larger than {MAX_FRAME_BYTES} bytes")]
    try:
        return jsonrpc.parse_message(frame)
    except jsonrpc.ProtocolError as exc:
        return [Send(jsonrpc.error(exc.request_id, exc.error))]


def _error(request_id: Any, code: int, message: str) -> Send:
    return Send(jsonrpc.error(request_id, {"code": code, "message": message}))


def _method_not_found(request: jsonrpc.Request) -> Send:
    return _error(request.id, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {request.method}")


class SeenCalls:
    """Call ids received recently (bounded): the guard that makes a call run at most once, across links."""

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


# ------------------------------------------------------------------------------------ connector side
class ConnectorLink:
    """The runtime's end: hello, then calls in, answers and notifications out."""

    def __init__(self, seen: SeenCalls | None = None) -> None:
        self.state = LinkState.HELLO
        self.seen = seen if seen is not None else SeenCalls()
        self.accepting = True
        self._reauth_ids = 0
        self._reauth_pending: set[str] = set()
        self._probe_ids = 0
        self._probes: set[str] = set()

    # local decisions → one frame each
    def hello(self, params: HelloParams) -> str:
        self.state = LinkState.HELLO
        return request_frame(HELLO_ID, params)

    def answer(self, request_id: Any, result: CallResult) -> str:
        return result_frame(request_id, result)

    def fail(self, request_id: Any, error: ToolCallError) -> str:
        return error_frame(request_id, RpcError.from_tool_error(error))

    def tools_updated(self, update: ToolsUpdated) -> str:
        return notification_frame(update)

    def tools_log(self, log: ToolsLog) -> str:
        return notification_frame(log)

    def draining(self) -> str:
        """Tell the platform to route no new calls here (SPEC.md §14). Calls it routed before reading
        this are already on their way and still run: refusing them would fail them."""
        return notification_frame(ConnectorDraining())

    def probe(self) -> tuple[str, str]:
        """`(request id, frame)` of a `connector.ping` to the platform; its answer (`ProbeAnswered`) comes
        after every frame the platform sent before reading ours, so it is a barrier as well as a probe."""
        self._probe_ids += 1
        request_id = f"ping-{self._probe_ids}"
        self._probes.add(request_id)
        return request_id, request_frame(request_id, ConnectorPing())

    def reauth(self, token: str) -> str:
        """Ask the platform to extend this link with a fresh token (SPEC.md §16)."""
        self._reauth_ids += 1
        request_id = f"reauth-{self._reauth_ids}"
        self._reauth_pending.add(request_id)
        return request_frame(request_id, ReauthParams(token))

    # received frames
    def receive(self, frame: str | bytes) -> list[Action]:
        message = _parse(frame)
        if isinstance(message, list):
            return message
        if self.state is LinkState.HELLO:
            return self._hello_answer(message)
        if isinstance(message, jsonrpc.Request):
            if message.method == jsonrpc.TOOLS_CALL:
                return self._call(message)
            if message.method == jsonrpc.CONNECTOR_PING:
                return [Send(result_frame(message.id, ConnectorPing()))]
            return [_method_not_found(message)]
        if isinstance(message, jsonrpc.Notification):
            return self._notification(message)
        return self._response(message)

    def _hello_answer(self, message: jsonrpc.Message) -> list[Action]:
        if not isinstance(message, jsonrpc.Response) or message.id != HELLO_ID:
            # A connector must not run a call for a link it is not registered on.
            return [Ignored("a frame before the answer to connector.hello")]
        if message.error is not None:
            why = f"platform refused {jsonrpc.HELLO}: {message.error.get('message')}"
            return [HelloRefused(why), Close(jsonrpc.CLOSE_PROTOCOL_ERROR, "hello refused")]
        try:
            result = HelloResult.from_wire(message.result)
        except InvalidMessage as exc:
            why = f"invalid answer to {jsonrpc.HELLO}: {exc.message}"
            return [HelloRefused(why), Close(jsonrpc.CLOSE_PROTOCOL_ERROR, "invalid hello result")]
        self.state = LinkState.REGISTERED
        return [Registered(result)]

    def _call(self, request: jsonrpc.Request) -> list[Action]:
        try:
            params = CallParams.from_wire(request.params)
        except InvalidMessage as exc:
            return [Send(jsonrpc.error(request.id, exc.error))]
        if not self.seen.add(params.call_id):
            return [
                _error(
                    request.id,
                    jsonrpc.INVALID_REQUEST,
                    f"call {params.call_id} was already received; a call never runs twice",
                )
            ]
        if not self.accepting:
            refusal = ToolCallError(ToolErrorKind.OVERLOADED, "the connector is shutting down and takes no new calls")
            return [Send(self.fail(request.id, refusal))]
        return [RunCall(request.id, params)]

    def _notification(self, note: jsonrpc.Notification) -> list[Action]:
        try:
            if note.method == jsonrpc.BUNDLE_UPDATED:
                return [AssignBundle(BundleRef.from_wire(note.params, note.method))]
            if note.method == jsonrpc.SECRETS_UPDATED:
                return [SecretsChanged()]
            if note.method == jsonrpc.LOGS_SUBSCRIBE:
                return [TailChanged(LogsSubscribe.from_wire(note.params).on)]
        except InvalidMessage as exc:
            return [Ignored(exc.message)]
        return [Ignored(f"unknown notification {note.method}")]

    def _response(self, response: jsonrpc.Response) -> list[Action]:
        request_id = str(response.id)
        if request_id in self._probes:
            self._probes.discard(request_id)
            return [ProbeAnswered(request_id)]
        if request_id not in self._reauth_pending:
            return [Ignored(f"an answer to no request of ours ({request_id})")]
        self._reauth_pending.discard(request_id)
        if response.error is not None:
            return [ReauthRefused(str(response.error.get("message", "")))]
        try:
            return [Reauthenticated(ReauthResult.from_wire(response.result).expires_at)]
        except InvalidMessage as exc:
            return [ReauthRefused(exc.message)]


# ------------------------------------------------------------------------------------ platform side
class PlatformLink:
    """The platform's end: wait for hello, send calls, match answers, keep the token's deadline.

    Times are plain numbers of whatever clock the shell uses for `opened_at`, `token_expires_at` and
    `tick(now)` (the hub uses Unix seconds, as JWT `exp` does).
    """

    def __init__(
        self, *, opened_at: float, token_expires_at: float | None, hello_timeout: float = HELLO_TIMEOUT_SECONDS
    ) -> None:
        self.state = LinkState.HELLO
        self.hello_deadline: float | None = opened_at + hello_timeout
        self.token_expires_at = token_expires_at
        self.draining = False
        self._ids = 0
        self._probes: set[str] = set()

    # time
    def next_deadline(self) -> float | None:
        """When `tick` has something to do next (None: nothing is scheduled)."""
        if self.state is LinkState.CLOSED:
            return None
        # Deadlines only ever move later (hello answered, token extended), so a shell that sleeps until
        # this moment and asks again never misses one.
        deadlines = [d for d in (self.hello_deadline, self.token_expires_at) if d is not None]
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> list[Action]:
        if self.state is LinkState.CLOSED:
            return []
        if self.hello_deadline is not None and now >= self.hello_deadline:
            self.state = LinkState.CLOSED
            return [Close(jsonrpc.CLOSE_PROTOCOL_ERROR, f"no {jsonrpc.HELLO} within the hello timeout")]
        if self.token_expires_at is not None and now >= self.token_expires_at:
            # A link lives no longer than its token, unless `connector.reauth` extended it (SPEC.md §16).
            self.state = LinkState.CLOSED
            return [TokenExpired(), Close(jsonrpc.CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED)]
        return []

    # received frames
    def receive(self, frame: str | bytes) -> list[Action]:
        if self.state is LinkState.CLOSED:
            return []
        message = _parse(frame)
        if isinstance(message, list):
            if self.hello_deadline is not None:
                return [*message, *self._close_before_hello()]
            return message
        if self.hello_deadline is not None:
            return self._hello(message)
        if isinstance(message, jsonrpc.Response):
            if str(message.id) in self._probes:
                self._probes.discard(str(message.id))
                return [ProbeAnswered(str(message.id))]
            return [self._answer(message)]
        if isinstance(message, jsonrpc.Notification):
            return self._notification(message)
        if message.method == jsonrpc.CONNECTOR_PING:
            return [Send(result_frame(message.id, ConnectorPing()))]
        if message.method == jsonrpc.CONNECTOR_REAUTH:
            try:
                return [ReauthRequested(message.id, ReauthParams.from_wire(message.params).token)]
            except InvalidMessage as exc:
                return [Send(jsonrpc.error(message.id, exc.error))]
        return [_method_not_found(message)]

    def _close_before_hello(self) -> list[Action]:
        self.state = LinkState.CLOSED
        return [Close(jsonrpc.CLOSE_PROTOCOL_ERROR, f"expected {jsonrpc.HELLO} first")]

    def _hello(self, message: jsonrpc.Message) -> list[Action]:
        if not isinstance(message, jsonrpc.Request) or message.method != jsonrpc.HELLO:
            actions: list[Action] = []
            if isinstance(message, jsonrpc.Request):
                actions.append(_error(message.id, jsonrpc.INVALID_REQUEST, f"expected {jsonrpc.HELLO} first"))
            return [*actions, *self._close_before_hello()]
        try:
            params = HelloParams.from_wire(message.params)
        except InvalidMessage as exc:
            self.state = LinkState.CLOSED
            return [Send(jsonrpc.error(message.id, exc.error)), Close(jsonrpc.CLOSE_PROTOCOL_ERROR, "invalid hello")]
        self.hello_deadline = None  # the shell answers with accept_hello / refuse_hello
        return [HelloReceived(message.id, params)]

    def _answer(self, response: jsonrpc.Response) -> CallAnswered:
        request_id = str(response.id)
        if response.error is None:
            try:
                return CallAnswered(request_id, result=CallResult.from_wire(response.result))
            except InvalidMessage as exc:
                error = ToolCallError(
                    ToolErrorKind.TOOL_ERROR, f"the connector answered with a malformed result: {exc.message}"
                )
                return CallAnswered(request_id, error=error, refused=True)
        try:
            rpc_error = RpcError.from_wire(response.error)
        except InvalidMessage as exc:
            error = ToolCallError(
                ToolErrorKind.TOOL_ERROR, f"the connector answered with a malformed error: {exc.message}"
            )
            return CallAnswered(request_id, error=error, refused=True)
        if rpc_error.data is None and rpc_error.code in (jsonrpc.INVALID_REQUEST, jsonrpc.INVALID_PARAMS):
            # The connector refused the request itself (not the tool): the platform's fault.
            error = ToolCallError(ToolErrorKind.TOOL_ERROR, f"connector refused the call: {rpc_error.message}")
            return CallAnswered(request_id, error=error, refused=True)
        return CallAnswered(request_id, error=rpc_error.to_tool_error())

    def _notification(self, note: jsonrpc.Notification) -> list[Action]:
        try:
            if note.method == jsonrpc.TOOLS_UPDATED:
                return [ToolsChanged(ToolsUpdated.from_wire(note.params))]
            if note.method == jsonrpc.CONNECTOR_DRAINING:
                self.draining = True
                return [Draining()]
            if note.method == jsonrpc.TOOLS_LOG:
                return [LogsReceived(ToolsLog.from_wire(note.params))]
        except InvalidMessage as exc:
            return [Ignored(exc.message)]
        return [Ignored(f"unknown notification {note.method}")]

    # local decisions → frames
    def accept_hello(self, request_id: Any, result: HelloResult) -> str:
        self.state = LinkState.REGISTERED
        return result_frame(request_id, result)

    def refuse_hello(
        self, request_id: Any, message: str, close_code: int = jsonrpc.CLOSE_PROTOCOL_ERROR, reason: str = ""
    ) -> list[Action]:
        self.state = LinkState.CLOSED
        return [_error(request_id, jsonrpc.INVALID_PARAMS, message), Close(close_code, reason or message)]

    def call(self, params: CallParams) -> tuple[str, str]:
        """`(request id, frame)` of a `tools/call`; the answer comes back as `CallAnswered(request_id)`."""
        self._ids += 1
        request_id = str(self._ids)
        return request_id, request_frame(request_id, params)

    def probe(self) -> tuple[str, str]:
        """`(request id, frame)` of a `connector.ping`; any answer comes back as `ProbeAnswered`."""
        self._ids += 1
        request_id = f"probe-{self._ids}"
        self._probes.add(request_id)
        return request_id, request_frame(request_id, ConnectorPing())

    def push(self, message: Any) -> str:
        """A notification to the connector (`BundleUpdated`, `SecretsUpdated`, `LogsSubscribe`)."""
        return notification_frame(message)

    def accept_reauth(self, request_id: Any, expires_at: int) -> str:
        self.token_expires_at = expires_at
        return result_frame(request_id, ReauthResult(expires_at))

    def refuse_reauth(self, request_id: Any, message: str) -> str:
        """The link keeps its old deadline (and is closed 4001 at it unless another reauth succeeds)."""
        return jsonrpc.error(request_id, {"code": jsonrpc.INVALID_PARAMS, "message": message})

    def closed(self) -> None:
        self.state = LinkState.CLOSED
