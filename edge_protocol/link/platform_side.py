"""The platform's end of a link as a sans-I/O machine: wait for hello, send calls, match answers, keep the
token's deadline."""

from __future__ import annotations

from typing import Any, ClassVar

from .. import close_codes, jsonrpc
from ..errors import ToolCallError, ToolErrorKind
from ..messages import (
    CallParams,
    CallResult,
    ConnectorPing,
    HelloParams,
    HelloResult,
    InvalidMessage,
    ReauthParams,
    ReauthResult,
    RpcError,
    ToolsLog,
    ToolsUpdated,
    notification_frame,
    request_frame,
    result_frame,
)
from ..tokens import TOKEN_EXPIRED
from .events import (
    Action,
    CallAnswered,
    Close,
    Draining,
    HelloReceived,
    LinkState,
    LogsReceived,
    ProbeAnswered,
    ReauthRequested,
    Send,
    TokenExpired,
    ToolsChanged,
)
from .intake import (
    NotificationTable,
    RequestTable,
    answer_ping,
    dispatch_notification,
    dispatch_request,
    error_reply,
    parse_frame,
)

#: How long a platform waits for `connector.hello` after the upgrade.
HELLO_TIMEOUT_SECONDS = 10.0


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
            return [Close(close_codes.CLOSE_PROTOCOL_ERROR, f"no {jsonrpc.HELLO} within the hello timeout")]
        if self.token_expires_at is not None and now >= self.token_expires_at:
            # A link lives no longer than its token, unless `connector.reauth` extended it (SPEC.md §16).
            self.state = LinkState.CLOSED
            return [TokenExpired(), Close(close_codes.CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED)]
        return []

    # received frames
    def receive(self, frame: str | bytes) -> list[Action]:
        if self.state is LinkState.CLOSED:
            return []
        message = parse_frame(frame)
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
            return dispatch_notification(self._NOTIFICATIONS, self, message)
        return dispatch_request(self._REQUESTS, self, message)

    def _close_before_hello(self) -> list[Action]:
        self.state = LinkState.CLOSED
        return [Close(close_codes.CLOSE_PROTOCOL_ERROR, f"expected {jsonrpc.HELLO} first")]

    def _hello(self, message: jsonrpc.Message) -> list[Action]:
        if not isinstance(message, jsonrpc.Request) or message.method != jsonrpc.HELLO:
            actions: list[Action] = []
            if isinstance(message, jsonrpc.Request):
                actions.append(error_reply(message.id, jsonrpc.INVALID_REQUEST, f"expected {jsonrpc.HELLO} first"))
            return [*actions, *self._close_before_hello()]
        try:
            params = HelloParams.from_wire(message.params)
        except InvalidMessage as exc:
            self.state = LinkState.CLOSED
            return [
                Send(jsonrpc.error(message.id, exc.error)),
                Close(close_codes.CLOSE_PROTOCOL_ERROR, "invalid hello"),
            ]
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

    def _reauth(self, request: jsonrpc.Request) -> list[Action]:
        return [ReauthRequested(request.id, ReauthParams.from_wire(request.params).token)]

    def _tools_updated(self, note: jsonrpc.Notification) -> list[Action]:
        return [ToolsChanged(ToolsUpdated.from_wire(note.params))]

    def _draining(self, note: jsonrpc.Notification) -> list[Action]:
        self.draining = True
        return [Draining()]

    def _tools_log(self, note: jsonrpc.Notification) -> list[Action]:
        return [LogsReceived(ToolsLog.from_wire(note.params))]

    _REQUESTS: ClassVar[RequestTable[PlatformLink]] = {
        jsonrpc.CONNECTOR_PING: answer_ping,
        jsonrpc.CONNECTOR_REAUTH: _reauth,
    }
    _NOTIFICATIONS: ClassVar[NotificationTable[PlatformLink]] = {
        jsonrpc.TOOLS_UPDATED: _tools_updated,
        jsonrpc.CONNECTOR_DRAINING: _draining,
        jsonrpc.TOOLS_LOG: _tools_log,
    }

    # local decisions → frames
    def accept_hello(self, request_id: Any, result: HelloResult) -> str:
        self.state = LinkState.REGISTERED
        return result_frame(request_id, result)

    def refuse_hello(
        self, request_id: Any, message: str, close_code: int = close_codes.CLOSE_PROTOCOL_ERROR, reason: str = ""
    ) -> list[Action]:
        self.state = LinkState.CLOSED
        return [error_reply(request_id, jsonrpc.INVALID_PARAMS, message), Close(close_code, reason or message)]

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
