"""Both ends of a connector ↔ platform link as sans-I/O state machines (SPEC.md §7, §11, §13, §14, §16).

`ConnectorLink` is the runtime's side, `PlatformLink` the platform's. Each takes what happened — a
received text frame (`receive`), a moment in time (`tick(now)`, platform side) or a local decision
(`hello`, `call`, `answer`, `reauth`, …) — and returns what to do: frames to send (`Send`, or the frame
itself for local decisions that always make exactly one), a `Close`, and events for the shell to act
on (`RunCall`, `CallAnswered`, `HelloReceived`, …). No sockets, no clock, no asyncio: the runtime's
session and the platform's hub are shells that move bytes, and the tests drive these with strings.

One module a concept: `events` (what a machine tells its shell), `intake` (parsing a frame and the
table-driven dispatch of requests and notifications both sides share), `connector_side` and
`platform_side` (the two machines). Import them from here: `from edge_protocol.link import ConnectorLink`.
"""

from .connector_side import HELLO_ID, ConnectorLink, SeenCalls
from .events import (
    Action,
    AssignBundle,
    CallAnswered,
    Close,
    Draining,
    HelloReceived,
    HelloRefused,
    Ignored,
    LinkState,
    LogsReceived,
    ProbeAnswered,
    Reauthenticated,
    ReauthRefused,
    ReauthRequested,
    Registered,
    RunCall,
    SecretsChanged,
    Send,
    TailChanged,
    TokenExpired,
    ToolsChanged,
)
from .intake import BINARY_FRAME
from .platform_side import HELLO_TIMEOUT_SECONDS, PlatformLink

__all__ = [
    "HELLO_ID",
    "HELLO_TIMEOUT_SECONDS",
    "BINARY_FRAME",
    "ConnectorLink",
    "PlatformLink",
    "SeenCalls",
    "LinkState",
    "Action",
    "Send",
    "Close",
    "Ignored",
    "Registered",
    "HelloRefused",
    "RunCall",
    "AssignBundle",
    "SecretsChanged",
    "TailChanged",
    "Reauthenticated",
    "ReauthRefused",
    "HelloReceived",
    "CallAnswered",
    "ToolsChanged",
    "Draining",
    "ProbeAnswered",
    "LogsReceived",
    "ReauthRequested",
    "TokenExpired",
]
