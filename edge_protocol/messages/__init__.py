"""Every message of the connector protocol (SPEC.md §7 and Part II) as a frozen, typed model.

Each model has one `from_wire` (validates the JSON value it is handed and names the bad field by
raising `InvalidMessage`, the protocol's `ProtocolError` with code -32602) and one `to_wire` (the JSON
value to send). Python names are snake_case; the wire's camelCase appears only inside those two.
Plain dataclasses with slots and hand-written checks rather than pydantic: `tools/call` and its
result are parsed and built for every call, and these cost a few hundred nanoseconds each.

One module a concept: `fields` (reading a JSON object, naming the bad field), `bundle` (a bundle, its
tools, `bundle.updated`, `tools.updated`), `hello`, `call` (`tools/call`, its result and error),
`rest` (the HTTP error body), `logs` (live tail), `control` (ping, draining, secrets, reauth) and
`frames` (a model as a text frame). Import them from here: `from edge_protocol.messages import CallParams`.
"""

from .bundle import BundleRef, BundleUpdated, ToolInfo, ToolsUpdated
from .call import CallParams, CallResult, ErrorData, RpcError
from .control import ConnectorDraining, ConnectorPing, ReauthParams, ReauthResult, SecretsUpdated
from .fields import InvalidMessage
from .frames import error_frame, notification_frame, request_frame, result_frame
from .hello import HelloParams, HelloResult
from .logs import LOG_LEVELS, LogEntry, LogsSubscribe, ToolsLog
from .rest import RestError

__all__ = [
    "InvalidMessage",
    "BundleRef",
    "ToolInfo",
    "HelloParams",
    "HelloResult",
    "CallParams",
    "CallResult",
    "ErrorData",
    "RpcError",
    "RestError",
    "BundleUpdated",
    "ToolsUpdated",
    "SecretsUpdated",
    "LogEntry",
    "ToolsLog",
    "LogsSubscribe",
    "ConnectorDraining",
    "ConnectorPing",
    "ReauthParams",
    "ReauthResult",
    "LOG_LEVELS",
    "request_frame",
    "notification_frame",
    "result_frame",
    "error_frame",
]
