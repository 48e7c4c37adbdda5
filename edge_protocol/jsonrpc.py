"""JSON-RPC 2.0 messages of the connector protocol (SPEC.md §7), without I/O.

One JSON text frame is one message. `parse_message` turns a frame into a typed message or raises
`ProtocolError` carrying the JSON-RPC error to answer with; `encode` is the inverse. orjson keeps
both cheap on the call path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .limits import MAX_FRAME_BYTES
from .tokens import (
    CODE_NO_ORGANIZATION,
    CODE_TOKEN_EXPIRED,
    CODE_UNAUTHENTICATED,
    NO_ORGANIZATION,
    NO_TOKEN,
    TOKEN_EXPIRED,
)
from .tokens import (
    TOKEN_INVALID_PREFIX as TOKEN_INVALID_PREFIX,  # re-exported: older callers read it from here
)

JSONRPC = "2.0"

# Methods and notifications
HELLO = "connector.hello"
TOOLS_CALL = "tools/call"
BUNDLE_UPDATED = "bundle.updated"
TOOLS_UPDATED = "tools.updated"
SECRETS_UPDATED = "secrets.updated"
TOOLS_LOG = "tools.log"
LOGS_SUBSCRIBE = "logs.subscribe"
CONNECTOR_DRAINING = "connector.draining"
CONNECTOR_PING = "connector.ping"
CONNECTOR_REAUTH = "connector.reauth"

# Standard JSON-RPC error codes
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


# Handshake refusals: HTTP status and error code before the upgrade
HANDSHAKE_TOKEN_EXPIRED = (401, CODE_TOKEN_EXPIRED, TOKEN_EXPIRED)
HANDSHAKE_UNAUTHENTICATED = (401, CODE_UNAUTHENTICATED, NO_TOKEN)
HANDSHAKE_NO_ORGANIZATION = (403, CODE_NO_ORGANIZATION, NO_ORGANIZATION)
HANDSHAKE_DUPLICATE = (409, "deployment_already_connected", "Deployment already connected")
HANDSHAKE_UNAVAILABLE = (503, "unavailable", "Platform is not accepting connections right now")


class ProtocolError(Exception):
    """A frame that is not a valid message; `error` is the JSON-RPC error object to send back."""

    def __init__(self, code: int, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def error(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(slots=True)
class Request:
    id: Any
    method: str
    params: dict[str, Any]


@dataclass(slots=True)
class Notification:
    method: str
    params: dict[str, Any]


@dataclass(slots=True)
class Response:
    id: Any
    result: Any = None
    error: dict[str, Any] | None = None


Message = Request | Notification | Response


def oversized(frame: str | bytes, limit: int = MAX_FRAME_BYTES) -> bool:
    """Whether a frame is over `limit` bytes as UTF-8 (a text frame's length counts characters, and
    one character is up to 4 bytes); only long frames pay for the encoding."""
    if len(frame) > limit:
        return True
    if isinstance(frame, str) and len(frame) * 4 > limit:
        return len(frame.encode("utf-8", "surrogatepass")) > limit
    return False


def parse_message(frame: str | bytes) -> Message:
    """Parse one frame; raises `ProtocolError` for anything that is not one JSON-RPC 2.0 message."""
    if oversized(frame):
        raise ProtocolError(INVALID_REQUEST, f"message larger than {MAX_FRAME_BYTES} bytes")
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(PARSE_ERROR, f"Parse error: {exc}") from None
    if not isinstance(data, dict) or data.get("jsonrpc") != JSONRPC:
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: expected a JSON-RPC 2.0 object")
    request_id = data.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (str, int))):
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
    if "method" in data:
        method = data["method"]
        params = data.get("params", {})
        if not isinstance(method, str) or not isinstance(params, dict):
            raise ProtocolError(
                INVALID_REQUEST, "Invalid Request: method must be a string, params an object", request_id
            )
        if "id" in data and request_id is not None:
            return Request(request_id, method, params)
        return Notification(method, params)
    if "result" in data or "error" in data:
        error = data.get("error")
        if error is not None and not (isinstance(error, dict) and isinstance(error.get("code"), int)):
            raise ProtocolError(INVALID_REQUEST, "Invalid Response: error must be an object with an integer code")
        if request_id is None:
            raise ProtocolError(INVALID_REQUEST, "Invalid Response: missing id")
        return Response(request_id, data.get("result"), error)
    raise ProtocolError(INVALID_REQUEST, "Invalid Request: neither a request nor a response", request_id)


def encode(message: Message) -> str:
    if isinstance(message, Request):
        body: dict[str, Any] = {
            "jsonrpc": JSONRPC,
            "id": message.id,
            "method": message.method,
            "params": message.params,
        }
    elif isinstance(message, Notification):
        body = {"jsonrpc": JSONRPC, "method": message.method, "params": message.params}
    elif message.error is not None:
        body = {"jsonrpc": JSONRPC, "id": message.id, "error": message.error}
    else:
        body = {"jsonrpc": JSONRPC, "id": message.id, "result": message.result}
    return orjson.dumps(body).decode("utf-8")


def request(id: Any, method: str, params: dict[str, Any]) -> str:
    return encode(Request(id, method, params))


def notification(method: str, params: dict[str, Any]) -> str:
    return encode(Notification(method, params))


def result(id: Any, value: Any) -> str:
    return encode(Response(id, result=value))


def error(id: Any, error: dict[str, Any]) -> str:
    return encode(Response(id, error=error))
