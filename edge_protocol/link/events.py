"""What a link machine tells its shell: frames to send, a close, and the events to act on.

`Send`, `Close` and `Ignored` belong to both sides; the connector's machine also says `Registered`,
`RunCall`, `AssignBundle`, … and the platform's `HelloReceived`, `CallAnswered`, `ToolsChanged`, ….
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..errors import ToolCallError
from ..messages import BundleRef, CallParams, CallResult, HelloParams, HelloResult, ToolsLog, ToolsUpdated


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
