"""Error kinds of a tool call, shared by the wire (JSON-RPC codes) and the HTTP API (statuses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ToolErrorKind(str, Enum):
    """Why a tool call did not produce an output (SPEC.md §7)."""

    TOOL_NOT_FOUND = "tool_not_found"
    INVALID_ARGUMENTS = "invalid_arguments"
    TOOL_ERROR = "tool_error"
    TOOL_TIMEOUT = "tool_timeout"
    OVERLOADED = "overloaded"
    TOOL_CRASHED = "tool_crashed"

    @property
    def rpc_code(self) -> int:
        return _RPC_CODES[self]

    @property
    def http_status(self) -> int:
        return _HTTP_STATUSES[self]

    @classmethod
    def from_rpc_code(cls, code: int) -> ToolErrorKind | None:
        for kind, value in _RPC_CODES.items():
            if value == code:
                return kind
        return None


_RPC_CODES = {
    ToolErrorKind.TOOL_NOT_FOUND: -32601,
    ToolErrorKind.INVALID_ARGUMENTS: -32602,
    ToolErrorKind.TOOL_ERROR: -32001,
    ToolErrorKind.TOOL_TIMEOUT: -32002,
    ToolErrorKind.OVERLOADED: -32003,
    ToolErrorKind.TOOL_CRASHED: -32004,
}

# What the platform answers an agent for each kind (SPEC.md §5); overloaded and crashed are the
# connector's trouble, not the caller's, so they surface as 503/502.
_HTTP_STATUSES = {
    ToolErrorKind.TOOL_NOT_FOUND: 404,
    ToolErrorKind.INVALID_ARGUMENTS: 422,
    ToolErrorKind.TOOL_ERROR: 502,
    ToolErrorKind.TOOL_TIMEOUT: 504,
    ToolErrorKind.OVERLOADED: 503,
    ToolErrorKind.TOOL_CRASHED: 502,
}


@dataclass
class ToolCallError(Exception):
    """A tool call failed in a way the caller should be told about, with a stable kind."""

    kind: ToolErrorKind
    message: str
    code: str | None = None  # the tool's own code (ToolError("bad_city", …)); defaults to kind
    details: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_rpc_error(self) -> dict[str, Any]:
        """The JSON-RPC `error` object of SPEC.md §7 (`messages.RpcError` is the model)."""
        from .messages import RpcError  # messages imports this module

        return RpcError.from_tool_error(self).to_wire()

    @classmethod
    def from_rpc_error(cls, error: dict[str, Any]) -> ToolCallError:
        from .messages import RpcError

        return RpcError.from_wire(error).to_tool_error()
