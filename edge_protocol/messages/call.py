"""`tools/call`: the platform asks the connector to run a tool once; the answer is a result or a
JSON-RPC error whose `data` says what kind of failure it was (SPEC.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import jsonrpc
from ..errors import ToolCallError, ToolErrorKind
from .fields import Fields, InvalidMessage


@dataclass(frozen=True, slots=True)
class CallParams:
    """`tools/call`: the platform asks the connector to run a tool once."""

    METHOD: ClassVar[str] = jsonrpc.TOOLS_CALL

    call_id: str
    name: str
    arguments: Any = None
    timeout_ms: int | None = None

    @classmethod
    def from_wire(cls, data: Any) -> CallParams:
        where = cls.METHOD
        if not isinstance(data, dict):
            raise InvalidMessage(where, "params must be an object")
        call_id, name, timeout_ms = data.get("callId"), data.get("name"), data.get("timeoutMs")
        # The hot path: the common, valid shape is checked inline, the field reader only names what is wrong.
        if not (isinstance(call_id, str) and call_id):
            call_id = Fields(data, where).string("callId")  # raises, naming the field
        if not (isinstance(name, str) and name):
            name = Fields(data, where).string("name")
        if timeout_ms is not None and (type(timeout_ms) is not int or timeout_ms < 1):
            Fields(data, where).integer("timeoutMs")
        return cls(call_id, name, data.get("arguments", {}), timeout_ms)

    def to_wire(self) -> dict[str, Any]:
        return {"callId": self.call_id, "name": self.name, "arguments": self.arguments, "timeoutMs": self.timeout_ms}


@dataclass(frozen=True, slots=True)
class CallResult:
    """The result of `tools/call`: the tool's output and how long it ran."""

    output: Any
    duration_ms: float | None = None

    @classmethod
    def from_wire(cls, data: Any) -> CallResult:
        where = f"{jsonrpc.TOOLS_CALL} result"
        if not isinstance(data, dict):
            raise InvalidMessage(where, "must be an object")
        if "output" not in data:
            raise InvalidMessage(f"{where}.output", "is missing")
        duration = data.get("durationMs")
        if duration is not None and (type(duration) not in (int, float) or duration < 0):
            Fields(data, where).optional_number("durationMs")  # raises, naming the field
        return cls(data["output"], duration)

    def to_wire(self) -> dict[str, Any]:
        return {"output": self.output, "durationMs": self.duration_ms}


#: The failure kinds `error.data.kind` may name, in the order an error message lists them.
_KINDS = tuple(sorted(kind.value for kind in ToolErrorKind))


@dataclass(frozen=True, slots=True)
class ErrorData:
    """`error.data` of a failed call: the kind (SPEC.md §7), the tool's own code and details."""

    kind: str
    code: str | None = None
    details: Any = None

    @classmethod
    def from_wire(cls, data: Any, where: str = "error.data") -> ErrorData:
        fields = Fields.of(data, where)
        kind = fields.choice("kind", _KINDS)
        return cls(kind, fields.optional_text("code") or kind, fields.get("details"))

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code or self.kind, "details": self.details}


@dataclass(frozen=True, slots=True)
class RpcError:
    """A JSON-RPC error object: `{code, message, data?}`; `data` is set for tool-call failures."""

    code: int
    message: str
    data: ErrorData | None = None

    @classmethod
    def from_wire(cls, data: Any, where: str = "error") -> RpcError:
        fields = Fields.of(data, where)
        code, message, extra = fields.integer("code", minimum=None), fields.text("message"), fields.get("data")
        return cls(code, message, ErrorData.from_wire(extra, fields.at("data")) if isinstance(extra, dict) else None)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            wire["data"] = self.data.to_wire()
        return wire

    @classmethod
    def from_tool_error(cls, error: ToolCallError) -> RpcError:
        kind = error.kind.value
        return cls(error.kind.rpc_code, error.message, ErrorData(kind, error.code or kind, error.details))

    @classmethod
    def of_protocol_error(cls, error: jsonrpc.ProtocolError) -> RpcError:
        return cls(error.code, error.message)

    def to_tool_error(self) -> ToolCallError:
        """The failure as the caller sees it; an error without `data.kind` is mapped from its code."""
        if self.data is not None:
            kind = ToolErrorKind(self.data.kind)
            return ToolCallError(kind, self.message, self.data.code, self.data.details)
        kind = ToolErrorKind.from_rpc_code(self.code) or ToolErrorKind.TOOL_ERROR
        return ToolCallError(kind, self.message)
