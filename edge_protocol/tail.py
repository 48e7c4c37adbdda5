"""The live tail (SPEC.md §13): its events, its filter and its numbers, without I/O.

Three JSON text frames travel from the platform to a viewer of `WS /api/tail`:
`call` (one per routed call, refusals included), `log` (a tool's console line, forwarded by its
connector) and `dropped` (how many events a slow viewer missed). A `log` event carries the
`messages.LogEntry` of the link message `tools.log`, so a line keeps one shape from the tool to the viewer.
Python names are snake_case; the camelCase wire names appear only in `to_wire`/`from_wire`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .jsonrpc import ProtocolError
from .messages import LogEntry

#: The route of the stream; the CLI and the dashboard build their URLs from it.
TAIL_PATH = "/api/tail"
#: Open tail streams per organization; the next one is refused with 429.
MAX_VIEWERS_PER_ORG = 10
#: Console lines a connector forwards per second, all its tools together.
MAX_LOG_LINES_PER_SECOND = 200
#: Longest forwarded line, in bytes of UTF-8; longer ones are cut and marked.
MAX_LOG_LINE_BYTES = 4096
#: Most entries one `tools.log` message may carry (a connector sends less; a platform refuses more).
MAX_LOG_ENTRIES_PER_BATCH = 200
#: Subprotocol a browser offers with `bearer.<token>` (a browser cannot set an Authorization header).
BROWSER_SUBPROTOCOL = "edge-tail"
BEARER_SUBPROTOCOL_PREFIX = "bearer."

TRUNCATED_MARK = "… (truncated)"

Status = Literal["ok", "error"]
STATUSES: tuple[str, ...] = ("ok", "error")


class TailEventError(ValueError):
    """A frame that is not a tail event; the message names the bad field."""


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise TailEventError(f"'{key}' is missing or has the wrong type")
    return value


def truncate_utf8(text: str, limit: int = MAX_LOG_LINE_BYTES) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 (mark included), never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(TRUNCATED_MARK.encode("utf-8"))
    return data[:room].decode("utf-8", "ignore") + TRUNCATED_MARK


@dataclass(frozen=True, slots=True)
class CallEvent:
    """A routed call and how it ended: `outcome` is "ok" or the error kind (`tool_error`, `tool_not_found`…)."""

    at: str
    call_id: str
    tool: str
    deployment_id: str | None
    duration_ms: float
    outcome: str
    error_code: str | None = None
    error_message: str | None = None
    connector_id: str | None = None

    type = "call"

    @property
    def status(self) -> Status:
        return "ok" if self.outcome == "ok" else "error"

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": "call",
            "at": self.at,
            "callId": self.call_id,
            "tool": self.tool,
            "deploymentId": self.deployment_id,
            "durationMs": self.duration_ms,
            "outcome": self.outcome,
        }
        if self.outcome != "ok":
            wire["error"] = {"code": self.error_code or self.outcome, "message": self.error_message or ""}
        if self.connector_id is not None:
            wire["connectorId"] = self.connector_id
        return wire

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CallEvent:
        error = data.get("error")
        if error is not None and not isinstance(error, dict):
            raise TailEventError("'error' must be an object {code, message}")
        outcome = _field(data, "outcome", str)
        return cls(
            at=_field(data, "at", str),
            call_id=_field(data, "callId", str),
            tool=_field(data, "tool", str),
            deployment_id=_field(data, "deploymentId", str, optional=True),
            duration_ms=float(_field(data, "durationMs", (int, float))),
            outcome=outcome,
            error_code=str(error.get("code")) if error else None,
            error_message=str(error.get("message")) if error else None,
            connector_id=_field(data, "connectorId", str, optional=True),
        )


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A tool's console line as a viewer sees it: the line plus the deployment that ran it."""

    deployment_id: str | None
    line: LogEntry
    connector_id: str | None = None

    type = "log"

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": "log",
            "at": self.line.at,
            "deploymentId": self.deployment_id,
            "tool": self.line.tool,
            "level": self.line.level,
            "message": self.line.message,
        }
        if self.line.call_id is not None:
            wire["callId"] = self.line.call_id
        if self.connector_id is not None:
            wire["connectorId"] = self.connector_id
        return wire

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> LogEvent:
        try:
            line = LogEntry.from_wire(dict(data), "log")
        except ProtocolError as exc:
            raise TailEventError(exc.message) from None
        return cls(
            _field(data, "deploymentId", str, optional=True),
            line,
            _field(data, "connectorId", str, optional=True),
        )


@dataclass(frozen=True, slots=True)
class DroppedEvent:
    """`count` events were not delivered to this viewer because it read too slowly."""

    count: int

    type = "dropped"

    def to_wire(self) -> dict[str, Any]:
        return {"type": "dropped", "count": self.count}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> DroppedEvent:
        count = _field(data, "count", int)
        if count < 1:
            raise TailEventError("'count' must be a positive integer")
        return cls(count)


TailEvent = CallEvent | LogEvent | DroppedEvent
_BY_TYPE: dict[str, type[CallEvent] | type[LogEvent] | type[DroppedEvent]] = {
    "call": CallEvent,
    "log": LogEvent,
    "dropped": DroppedEvent,
}


def event_from_wire(data: Any) -> TailEvent:
    """One decoded frame of the stream as its event; `TailEventError` names what is wrong."""
    if not isinstance(data, dict):
        raise TailEventError("a tail event must be a JSON object")
    kind = _BY_TYPE.get(data.get("type"))  # type: ignore[arg-type]
    if kind is None:
        raise TailEventError(f"unknown event type {data.get('type')!r}")
    return kind.from_wire(data)


@dataclass(frozen=True, slots=True)
class TailFilter:
    """What a viewer asked for; None means any. A `status` filter selects calls by outcome."""

    deployment_id: str | None = None
    tool: str | None = None
    status: Status | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str | None]) -> TailFilter:
        """From `?deploymentId=&tool=&status=`; empty values mean any. Raises ValueError naming the bad one."""
        status = query.get("status") or None
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be ok or error, not {status!r}")
        return cls(query.get("deploymentId") or None, query.get("tool") or None, status)  # type: ignore[arg-type]

    def to_query(self) -> dict[str, str]:
        query = {"deploymentId": self.deployment_id, "tool": self.tool, "status": self.status}
        return {key: value for key, value in query.items() if value}

    def covers_deployment(self, deployment_id: str | None) -> bool:
        """Whether events of this deployment can reach the viewer at all (so its logs are wanted)."""
        return self.deployment_id is None or self.deployment_id == deployment_id

    def matches(self, event: CallEvent | LogEvent) -> bool:
        """Deployment and tool for every event; status only for calls (a log line has no outcome)."""
        if not self.covers_deployment(event.deployment_id):
            return False
        tool = event.tool if isinstance(event, CallEvent) else event.line.tool
        if self.tool is not None and tool != self.tool:
            return False
        if self.status is not None and isinstance(event, CallEvent):
            return event.status == self.status
        return True
