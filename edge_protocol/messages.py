"""Every message of the connector protocol (SPEC.md §7 and Part II) as a frozen, typed model.

Each model has one `from_wire` (validates the JSON value it is handed and names the bad field by
raising `InvalidMessage`, the protocol's `ProtocolError` with code -32602) and one `to_wire` (the JSON
value to send). Python names are snake_case; the wire's camelCase appears only inside those two.
Plain dataclasses with slots and hand-written checks rather than pydantic: `tools/call` and its
result are parsed and built for every call, and these cost a few hundred nanoseconds each.

Frames are made with `request_frame`, `notification_frame`, `result_frame` and `error_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import jsonrpc
from .errors import ToolCallError, ToolErrorKind
from .limits import DEFAULT_TOOL_TIMEOUT_MS
from .routes import archive_path

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
    "ReauthParams",
    "ReauthResult",
    "LOG_LEVELS",
    "request_frame",
    "notification_frame",
    "result_frame",
    "error_frame",
]

#: Levels a forwarded tool log line may carry (`tools.log`, SPEC.md §13).
LOG_LEVELS = ("debug", "info", "warn", "error")


class InvalidMessage(jsonrpc.ProtocolError):
    """A message whose params or result break the contract; `field` names the culprit (`tools/call.timeoutMs`)."""

    def __init__(self, field: str, problem: str, request_id: Any = None) -> None:
        super().__init__(jsonrpc.INVALID_PARAMS, f"Invalid params: {field} {problem}", request_id)
        self.field = field


# ------------------------------------------------------------------------------------ checks
def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidMessage(where, "must be an object")
    return value


def _str(data: dict[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidMessage(f"{where}.{key}", "must be a non-empty string")
    return value


def _int(data: dict[str, Any], key: str, where: str, *, optional: bool = False, minimum: int = 1) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidMessage(f"{where}.{key}", f"must be an integer ≥ {minimum}")
    return value


def _number(data: dict[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidMessage(f"{where}.{key}", "must be a non-negative number")
    return value


def _schema(data: dict[str, Any], key: str, where: str, *, optional: bool) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise InvalidMessage(f"{where}.{key}", "must be a JSON Schema object")
    return value


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidMessage(f"{where}.{key}", "must be a list")
    return value


# ------------------------------------------------------------------------------------ shared parts
@dataclass(frozen=True, slots=True)
class BundleRef:
    """A bundle named on the wire: `{name, version, checksum}`, plus `size` and `archiveUrl` when the
    platform assigns it (`assignedBundle`, `bundle.updated`)."""

    name: str
    version: int | None
    checksum: str
    size: int | None = None
    archive_url: str | None = None

    @classmethod
    def from_wire(cls, data: Any, where: str = "bundle") -> BundleRef:
        data = _object(data, where)
        return cls(
            name=_str(data, "name", where),
            version=_int(data, "version", where, optional=True),
            checksum=_str(data, "checksum", where),
            size=_int(data, "size", where, optional=True, minimum=0),
            archive_url=_str(data, "archiveUrl", where, optional=True),
        )

    @classmethod
    def optional_from_wire(cls, data: Any, where: str = "bundle") -> BundleRef | None:
        return None if data is None else cls.from_wire(data, where)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"name": self.name, "version": self.version, "checksum": self.checksum}
        if self.size is not None:
            wire["size"] = self.size
        if self.archive_url is not None:
            wire["archiveUrl"] = self.archive_url
        return wire

    @property
    def url(self) -> str:
        """Where its archive is fetched: the `archiveUrl` given, else the route of SPEC.md §5."""
        if self.archive_url:
            return self.archive_url
        if self.version is None:
            raise ValueError(f"bundle {self.name} has no version, so no archive route")
        return archive_path(self.name, self.version)

    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version is not None else self.name


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A tool as the platform learns it (hello, `tools.updated`): the manifest's descriptor minus its entry."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    timeout_ms: int = DEFAULT_TOOL_TIMEOUT_MS

    @classmethod
    def from_wire(cls, data: Any, where: str = "tool") -> ToolInfo:
        data = _object(data, where)
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            raise InvalidMessage(f"{where}.description", "must be a string")
        return cls(
            name=_str(data, "name", where),
            description=description or "",
            input_schema=_schema(data, "inputSchema", where, optional=True) or {},
            output_schema=_schema(data, "outputSchema", where, optional=True),
            timeout_ms=_int(data, "timeoutMs", where, optional=True) or DEFAULT_TOOL_TIMEOUT_MS,
        )

    @classmethod
    def from_manifest(cls, tool: Any) -> ToolInfo:
        """From `edge_protocol.manifest.ToolDescriptor` (the file's camelCase attributes)."""
        return cls(tool.name, tool.description, tool.inputSchema, tool.outputSchema, tool.timeoutMs)

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "timeoutMs": self.timeout_ms,
        }


def _tools(data: dict[str, Any], where: str) -> tuple[ToolInfo, ...]:
    return tuple(ToolInfo.from_wire(tool, f"{where}.tools[{i}]") for i, tool in enumerate(_list(data, "tools", where)))


# ------------------------------------------------------------------------------------ connector.hello
@dataclass(frozen=True, slots=True)
class HelloParams:
    """`connector.hello`: the connector's first message (SPEC.md §7)."""

    METHOD: ClassVar[str] = jsonrpc.HELLO

    connector_version: str | None
    deployment_id: str | None
    bundle: BundleRef | None
    tools: tuple[ToolInfo, ...] = ()
    concurrency: int | None = None

    @classmethod
    def from_wire(cls, data: Any) -> HelloParams:
        where = cls.METHOD
        data = _object(data, where)
        return cls(
            connector_version=_str(data, "connectorVersion", where, optional=True),
            deployment_id=_str(data, "deploymentId", where, optional=True),
            bundle=BundleRef.optional_from_wire(data.get("bundle"), f"{where}.bundle"),
            tools=_tools(data, where),
            concurrency=_int(data, "concurrency", where, optional=True),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "connectorVersion": self.connector_version,
            "deploymentId": self.deployment_id,
            "bundle": self.bundle.to_wire() if self.bundle else None,
            "tools": [tool.to_wire() for tool in self.tools],
            "concurrency": self.concurrency,
        }


@dataclass(frozen=True, slots=True)
class HelloResult:
    """The platform's answer to `connector.hello`."""

    connector_id: str
    deployment_id: str | None
    org_id: str
    heartbeat_seconds: float | None = None
    assigned_bundle: BundleRef | None = None

    @classmethod
    def from_wire(cls, data: Any) -> HelloResult:
        where = f"{jsonrpc.HELLO} result"
        data = _object(data, where)
        heartbeat = _number(data, "heartbeatSeconds", where, optional=True)
        return cls(
            connector_id=_str(data, "connectorId", where),
            deployment_id=_str(data, "deploymentId", where, optional=True),
            org_id=_str(data, "orgId", where),
            heartbeat_seconds=float(heartbeat) if heartbeat is not None else None,
            assigned_bundle=BundleRef.optional_from_wire(data.get("assignedBundle"), f"{where}.assignedBundle"),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "connectorId": self.connector_id,
            "deploymentId": self.deployment_id,
            "orgId": self.org_id,
            "heartbeatSeconds": self.heartbeat_seconds,
            "assignedBundle": self.assigned_bundle.to_wire() if self.assigned_bundle else None,
        }


# ------------------------------------------------------------------------------------ tools/call
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
        # The hot path: the common, valid shape is checked inline, the helpers only name what is wrong.
        if not (isinstance(call_id, str) and call_id):
            call_id = _str(data, "callId", where)  # raises, naming the field
        if not (isinstance(name, str) and name):
            name = _str(data, "name", where)
        if timeout_ms is not None and (type(timeout_ms) is not int or timeout_ms < 1):
            _int(data, "timeoutMs", where)
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
            _number(data, "durationMs", where)
        return cls(data["output"], duration)

    def to_wire(self) -> dict[str, Any]:
        return {"output": self.output, "durationMs": self.duration_ms}


@dataclass(frozen=True, slots=True)
class ErrorData:
    """`error.data` of a failed call: the kind (SPEC.md §7), the tool's own code and details."""

    kind: str
    code: str | None = None
    details: Any = None

    @classmethod
    def from_wire(cls, data: Any, where: str = "error.data") -> ErrorData:
        data = _object(data, where)
        kind = _str(data, "kind", where)
        if kind not in _KINDS:
            raise InvalidMessage(f"{where}.kind", f"must be one of {', '.join(sorted(_KINDS))}")
        code = data.get("code")
        if code is not None and not isinstance(code, str):
            raise InvalidMessage(f"{where}.code", "must be a string")
        return cls(kind, code or kind, data.get("details"))

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code or self.kind, "details": self.details}


_KINDS = frozenset(kind.value for kind in ToolErrorKind)


@dataclass(frozen=True, slots=True)
class RpcError:
    """A JSON-RPC error object: `{code, message, data?}`; `data` is set for tool-call failures."""

    code: int
    message: str
    data: ErrorData | None = None

    @classmethod
    def from_wire(cls, data: Any, where: str = "error") -> RpcError:
        data = _object(data, where)
        code = data.get("code")
        if isinstance(code, bool) or not isinstance(code, int):
            raise InvalidMessage(f"{where}.code", "must be an integer")
        message = data.get("message")
        if not isinstance(message, str):
            raise InvalidMessage(f"{where}.message", "must be a string")
        extra = data.get("data")
        return cls(code, message, ErrorData.from_wire(extra, f"{where}.data") if isinstance(extra, dict) else None)

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


# ------------------------------------------------------------------------------------ REST error body
@dataclass(frozen=True, slots=True)
class RestError:
    """The body of every refusal of the HTTP API and of the handshake: `{"error": {code, message, ...}}`."""

    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> RestError:
        error = _object(_object(data, "body").get("error"), "body.error")
        code = _str(error, "code", "body.error")
        message = error.get("message")
        if not isinstance(message, str):
            raise InvalidMessage("body.error.message", "must be a string")
        return cls(code, message, {k: v for k, v in error.items() if k not in ("code", "message")})

    def to_wire(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


# ------------------------------------------------------------------------------------ notifications
@dataclass(frozen=True, slots=True)
class BundleUpdated:
    """Platform → connector: the assigned bundle changed; sync now."""

    METHOD: ClassVar[str] = jsonrpc.BUNDLE_UPDATED

    bundle: BundleRef

    @classmethod
    def from_wire(cls, data: Any) -> BundleUpdated:
        return cls(BundleRef.from_wire(data, cls.METHOD))

    def to_wire(self) -> dict[str, Any]:
        return self.bundle.to_wire()


@dataclass(frozen=True, slots=True)
class ToolsUpdated:
    """Connector → platform after every swap: the bundle it now runs and its tools."""

    METHOD: ClassVar[str] = jsonrpc.TOOLS_UPDATED

    bundle: BundleRef | None
    tools: tuple[ToolInfo, ...] = ()

    @classmethod
    def from_wire(cls, data: Any) -> ToolsUpdated:
        where = cls.METHOD
        data = _object(data, where)
        return cls(BundleRef.optional_from_wire(data.get("bundle"), f"{where}.bundle"), _tools(data, where))

    def to_wire(self) -> dict[str, Any]:
        return {"bundle": self.bundle.to_wire() if self.bundle else None, "tools": [t.to_wire() for t in self.tools]}


@dataclass(frozen=True, slots=True)
class _Empty:
    """A notification without content (`{}`); extra keys are ignored, so it may grow later."""

    METHOD: ClassVar[str] = ""

    @classmethod
    def from_wire(cls, data: Any) -> Any:
        _object(data, cls.METHOD)
        return cls()

    def to_wire(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class SecretsUpdated(_Empty):
    """Platform → connector (SPEC.md §11): this deployment's effective secrets changed; fetch them."""

    METHOD: ClassVar[str] = jsonrpc.SECRETS_UPDATED


@dataclass(frozen=True, slots=True)
class ConnectorDraining(_Empty):
    """Connector → platform (SPEC.md §14): send me no new calls; the ones in flight finish."""

    METHOD: ClassVar[str] = jsonrpc.CONNECTOR_DRAINING


@dataclass(frozen=True, slots=True)
class ConnectorPing(_Empty):
    """Platform → connector request (SPEC.md §14): are you there? The result is `{}`; any answer,
    even an error from a connector that does not know it, proves the link is alive."""

    METHOD: ClassVar[str] = jsonrpc.CONNECTOR_PING


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
        data = _object(data, where)
        level = _str(data, "level", where)
        if level not in LOG_LEVELS:
            raise InvalidMessage(f"{where}.level", f"must be one of {', '.join(LOG_LEVELS)}")
        message = data.get("message")
        if not isinstance(message, str):
            raise InvalidMessage(f"{where}.message", "must be a string")
        return cls(
            _str(data, "at", where),
            _str(data, "tool", where),
            _str(data, "callId", where, optional=True),
            level,
            message,
        )

    def to_wire(self) -> dict[str, Any]:
        return {"at": self.at, "tool": self.tool, "callId": self.call_id, "level": self.level, "message": self.message}


@dataclass(frozen=True, slots=True)
class ToolsLog:
    """Connector → platform: a batch of tool console lines (`tools.log {entries}`)."""

    METHOD: ClassVar[str] = jsonrpc.TOOLS_LOG

    entries: tuple[LogEntry, ...]

    @classmethod
    def from_wire(cls, data: Any) -> ToolsLog:
        where = cls.METHOD
        data = _object(data, where)
        if not isinstance(data.get("entries"), list):
            raise InvalidMessage(f"{where}.entries", "must be a list")
        return cls(tuple(LogEntry.from_wire(e, f"{where}.entries[{i}]") for i, e in enumerate(data["entries"])))

    def to_wire(self) -> dict[str, Any]:
        return {"entries": [entry.to_wire() for entry in self.entries]}


@dataclass(frozen=True, slots=True)
class LogsSubscribe:
    """Platform → connector: someone is tailing you (`on: true`) or nobody is any more."""

    METHOD: ClassVar[str] = jsonrpc.LOGS_SUBSCRIBE

    on: bool

    @classmethod
    def from_wire(cls, data: Any) -> LogsSubscribe:
        data = _object(data, cls.METHOD)
        if not isinstance(data.get("on"), bool):
            raise InvalidMessage(f"{cls.METHOD}.on", "must be true or false")
        return cls(data["on"])

    def to_wire(self) -> dict[str, Any]:
        return {"on": self.on}


# ------------------------------------------------------------------------------------ connector.reauth
@dataclass(frozen=True, slots=True)
class ReauthParams:
    """Connector → platform request (SPEC.md §16): a fresh token for the open link."""

    METHOD: ClassVar[str] = jsonrpc.CONNECTOR_REAUTH

    token: str

    def __repr__(self) -> str:  # a token never reaches a log line through a repr
        return "ReauthParams(token=<redacted>)"

    @classmethod
    def from_wire(cls, data: Any) -> ReauthParams:
        return cls(_str(_object(data, cls.METHOD), "token", cls.METHOD))

    def to_wire(self) -> dict[str, Any]:
        return {"token": self.token}


@dataclass(frozen=True, slots=True)
class ReauthResult:
    """The answer to `connector.reauth`: the link now lives until `expires_at` (Unix seconds)."""

    expires_at: int

    @classmethod
    def from_wire(cls, data: Any) -> ReauthResult:
        where = f"{jsonrpc.CONNECTOR_REAUTH} result"
        return cls(_int(_object(data, where), "expiresAt", where))

    def to_wire(self) -> dict[str, Any]:
        return {"expiresAt": self.expires_at}


# ------------------------------------------------------------------------------------ frames
def request_frame(request_id: Any, message: Any) -> str:
    """A request frame for a model with a `METHOD` (hello, tools/call, reauth)."""
    return jsonrpc.request(request_id, message.METHOD, message.to_wire())


def notification_frame(message: Any) -> str:
    return jsonrpc.notification(message.METHOD, message.to_wire())


def result_frame(request_id: Any, message: Any) -> str:
    return jsonrpc.result(request_id, message.to_wire())


def error_frame(request_id: Any, error: RpcError) -> str:
    return jsonrpc.error(request_id, error.to_wire())
