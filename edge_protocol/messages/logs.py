"""Live tail on the link (SPEC.md §13): the platform says whether anyone is tailing (`logs.subscribe`),
the connector forwards its tools' console lines in batches (`tools.log`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import jsonrpc
from .fields import Fields

#: Levels a forwarded tool log line may carry (`tools.log`, SPEC.md §13).
LOG_LEVELS = ("debug", "info", "warn", "error")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One console line of a tool, forwarded while someone tails (SPEC.md §13)."""

    at: str
    tool: str
    call_id: str | None
    level: str
    message: str

    @classmethod
    def from_wire(cls, data: Any, where: str = "entry") -> LogEntry:
        fields = Fields.of(data, where)
        level, message = fields.choice("level", LOG_LEVELS), fields.text("message")
        return cls(fields.string("at"), fields.string("tool"), fields.optional_string("callId"), level, message)

    def to_wire(self) -> dict[str, Any]:
        return {"at": self.at, "tool": self.tool, "callId": self.call_id, "level": self.level, "message": self.message}


@dataclass(frozen=True, slots=True)
class ToolsLog:
    """Connector → platform: a batch of tool console lines (`tools.log {entries}`)."""

    METHOD: ClassVar[str] = jsonrpc.TOOLS_LOG

    entries: tuple[LogEntry, ...]

    @classmethod
    def from_wire(cls, data: Any) -> ToolsLog:
        fields = Fields.of(data, cls.METHOD)
        entries = fields.items("entries")
        return cls(tuple(LogEntry.from_wire(e, fields.at(f"entries[{i}]")) for i, e in enumerate(entries)))

    def to_wire(self) -> dict[str, Any]:
        return {"entries": [entry.to_wire() for entry in self.entries]}


@dataclass(frozen=True, slots=True)
class LogsSubscribe:
    """Platform → connector: someone is tailing you (`on: true`) or nobody is any more."""

    METHOD: ClassVar[str] = jsonrpc.LOGS_SUBSCRIBE

    on: bool

    @classmethod
    def from_wire(cls, data: Any) -> LogsSubscribe:
        return cls(Fields.of(data, cls.METHOD).flag("on"))

    def to_wire(self) -> dict[str, Any]:
        return {"on": self.on}
