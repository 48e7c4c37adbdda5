"""The runtime's end of a link as a sans-I/O machine: hello, then calls in, answers and notifications out."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ClassVar

from .. import close_codes, jsonrpc
from ..calls import capped_error, result_too_large, unsendable_result
from ..errors import ToolCallError, ToolErrorKind
from ..messages import (
    BundleUpdated,
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
from .events import (
    Action,
    AssignBundle,
    Close,
    HelloRefused,
    Ignored,
    LinkState,
    ProbeAnswered,
    Reauthenticated,
    ReauthRefused,
    Registered,
    RunCall,
    SecretsChanged,
    Send,
    TailChanged,
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

#: The JSON-RPC id of `connector.hello` (one per link).
HELLO_ID = "hello"


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

    def answer(self, request_id: Any, result: CallResult) -> tuple[str, ToolCallError | None]:
        """The frame answering a call, sized as encoded bytes (the JSON-RPC wrapper included) before
        it is sent: a result that does not fit in one frame, or is not JSON, fails that call only.
        Returns the frame and, when it carries a failure instead of the result, that failure."""
        try:
            frame = result_frame(request_id, result)
        except TypeError as exc:  # orjson: nested too deep, an integer past 64 bits
            error = unsendable_result(str(exc))
            return self.fail(request_id, error), error
        if jsonrpc.oversized(frame):
            error = result_too_large(len(frame.encode("utf-8", "surrogatepass")))
            return self.fail(request_id, error), error
        return frame, None

    def fail(self, request_id: Any, error: ToolCallError) -> str:
        """The error frame of a call; its message and details are capped (`calls.capped_error`)."""
        return error_frame(request_id, RpcError.from_tool_error(capped_error(error)))

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
        message = parse_frame(frame)
        if isinstance(message, list):
            return message
        if self.state is LinkState.HELLO:
            return self._hello_answer(message)
        if isinstance(message, jsonrpc.Request):
            return dispatch_request(self._REQUESTS, self, message)
        if isinstance(message, jsonrpc.Notification):
            return dispatch_notification(self._NOTIFICATIONS, self, message)
        return self._response(message)

    def _hello_answer(self, message: jsonrpc.Message) -> list[Action]:
        if not isinstance(message, jsonrpc.Response) or message.id != HELLO_ID:
            # A connector must not run a call for a link it is not registered on.
            return [Ignored("a frame before the answer to connector.hello")]
        if message.error is not None:
            why = f"platform refused {jsonrpc.HELLO}: {message.error.get('message')}"
            return [HelloRefused(why), Close(close_codes.CLOSE_PROTOCOL_ERROR, "hello refused")]
        try:
            result = HelloResult.from_wire(message.result)
        except InvalidMessage as exc:
            why = f"invalid answer to {jsonrpc.HELLO}: {exc.message}"
            return [HelloRefused(why), Close(close_codes.CLOSE_PROTOCOL_ERROR, "invalid hello result")]
        self.state = LinkState.REGISTERED
        return [Registered(result)]

    def _call(self, request: jsonrpc.Request) -> list[Action]:
        params = CallParams.from_wire(request.params)
        if not self.seen.add(params.call_id):
            return [
                error_reply(
                    request.id,
                    jsonrpc.INVALID_REQUEST,
                    f"call {params.call_id} was already received; a call never runs twice",
                )
            ]
        if not self.accepting:
            refusal = ToolCallError(ToolErrorKind.OVERLOADED, "the connector is shutting down and takes no new calls")
            return [Send(self.fail(request.id, refusal))]
        return [RunCall(request.id, params)]

    def _bundle_updated(self, note: jsonrpc.Notification) -> list[Action]:
        return [AssignBundle(BundleUpdated.from_wire(note.params).bundle)]

    def _secrets_updated(self, note: jsonrpc.Notification) -> list[Action]:
        return [SecretsChanged()]

    def _logs_subscribe(self, note: jsonrpc.Notification) -> list[Action]:
        return [TailChanged(LogsSubscribe.from_wire(note.params).on)]

    _REQUESTS: ClassVar[RequestTable[ConnectorLink]] = {
        jsonrpc.TOOLS_CALL: _call,
        jsonrpc.CONNECTOR_PING: answer_ping,
    }
    _NOTIFICATIONS: ClassVar[NotificationTable[ConnectorLink]] = {
        jsonrpc.BUNDLE_UPDATED: _bundle_updated,
        jsonrpc.SECRETS_UPDATED: _secrets_updated,
        jsonrpc.LOGS_SUBSCRIBE: _logs_subscribe,
    }

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
