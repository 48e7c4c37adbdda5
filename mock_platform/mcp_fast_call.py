"""The hot request of `/mcp`, answered without the SDK's per-request machinery.

A 2026-07-28 `tools/call` is one POST and one JSON answer. Through the SDK's Streamable HTTP entry
it costs ~350 µs of the platform's CPU beyond the call itself (a `Connection`, a dispatch context
and a runner per request, the request re-validated as models, the result validated and dumped
again, the `serverInfo` stamp deep-copied): as much as the whole plain call API. This module answers
the plainest form of that request itself, with the same checks and the same JSON:

- it takes a request only when every field is one it understands (`plain_tools_call`), and runs the
  SDK's own envelope ladder and duplicate-header check on it; anything else, or anything the SDK
  would refuse, goes to the SDK unchanged (the body replayed), so the SDK stays the one authority on
  what is valid and on every error it answers;
- results are `edge_protocol.mcp`'s shapes with the SDK's `serverInfo` stamp; an unknown tool and an
  unexpected failure become the SDK's JSON-RPC errors with the SDK's HTTP statuses.

`tests/unit/mock_platform/test_mcp_fast_call.py` sends the same requests both ways and compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from mcp.server.runner import modern_error_data
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundModernRoute,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types import SERVER_INFO_META_KEY, JSONRPCError, JSONRPCResponse
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from edge_protocol.mcp import ToolBackend, ToolFailure, UnknownTool, failure_result, success_result, unknown_tool_error

_ENVELOPE_KEYS = frozenset(
    {
        "io.modelcontextprotocol/protocolVersion",
        "io.modelcontextprotocol/clientCapabilities",
        "io.modelcontextprotocol/clientInfo",
    }
)
_JSON_HEADERS = [(b"content-type", b"application/json")]


def takes_headers(headers: Mapping[str, str], max_body: int) -> bool:
    """Whether a request's headers are those of a plain modern `tools/call` worth reading the body of."""
    if headers.get("mcp-protocol-version") not in MODERN_PROTOCOL_VERSIONS or headers.get("mcp-method") != "tools/call":
        return False
    if not headers.get("content-type", "").lower().startswith("application/json"):
        return False
    accepted = {part.split(";")[0].strip().lower() for part in headers.get("accept", "").split(",")}
    if not accepted & {"application/json", "application/*", "*/*"}:
        return False
    length = headers.get("content-length", "")
    return length.isdigit() and int(length) <= max_body


def plain_tools_call(decoded: Any) -> tuple[int | str, str, dict[str, Any]] | None:
    """(id, tool name, arguments) of a body that is a plain `tools/call` and nothing more, else None.

    Plain: the four JSON-RPC members, `params` holding only `name`, `arguments` (an object) and a
    `_meta` holding only the three envelope keys (no progress token, no extension fields), the
    envelope's client info and capabilities objects. The envelope's values are the SDK ladder's
    to judge.
    """
    if not isinstance(decoded, dict) or decoded.keys() != {"jsonrpc", "id", "method", "params"}:
        return None
    request_id, params = decoded["id"], decoded["params"]
    if decoded["jsonrpc"] != "2.0" or decoded["method"] != "tools/call":
        return None
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    if not isinstance(params, dict) or not params.keys() <= {"name", "arguments", "_meta"}:
        return None
    name, arguments, meta = params.get("name"), params.get("arguments", {}), params.get("_meta")
    if not isinstance(name, str) or not isinstance(arguments, dict) or not isinstance(meta, dict):
        return None
    if not meta.keys() <= _ENVELOPE_KEYS:
        return None
    if not isinstance(meta.get("io.modelcontextprotocol/clientCapabilities"), dict):
        return None
    if not isinstance(meta.get("io.modelcontextprotocol/clientInfo", {}), dict):
        return None
    return request_id, name, arguments


class FastToolsCall:
    """Answers plain modern `tools/call` requests for `server` (built by `build_server` over `backend`)."""

    def __init__(self, server: Any, backend: ToolBackend, max_body: int) -> None:
        self.server = server
        self.backend = backend
        self.max_body = max_body

    async def __call__(self, request: Any, caller: Any, send: Any) -> tuple[bool, bytes | None]:
        """(answered, body read): answered means the response is sent; otherwise the caller hands the
        request to the SDK, replaying the body when one was read."""
        if not takes_headers(request.headers, self.max_body):
            return False, None
        body = await request.body()
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False, body
        call = plain_tools_call(decoded)
        if call is None:
            return False, body
        raw = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in request.scope["headers"]]
        if find_duplicated_routing_header(raw) is not None:
            return False, body
        if not isinstance(classify_inbound_request(decoded, headers=dict(raw)), InboundModernRoute):
            return False, body
        request_id, name, arguments = call
        try:
            result = success_result(await self.backend.call(caller, name, arguments))
        except ToolFailure as failure:
            result = failure_result(failure)
        except UnknownTool:
            await self._error(request_id, unknown_tool_error(name), send)
            return True, body
        except Exception as exc:  # answered (and logged) as the SDK's entry does for a handler that raised
            await self._error(request_id, exc, send)
            return True, body
        result["_meta"] = {SERVER_INFO_META_KEY: self.server.server_info_stamp}
        await _send_json(200, JSONRPCResponse(jsonrpc="2.0", id=request_id, result=result), send)
        return True, body

    async def _error(self, request_id: int | str, exc: Exception, send: Any) -> None:
        error = modern_error_data(exc)
        status = ERROR_CODE_HTTP_STATUS.get(error.code, 200)
        await _send_json(status, JSONRPCError(jsonrpc="2.0", id=request_id, error=error), send)


async def _send_json(status: int, message: JSONRPCResponse | JSONRPCError, send: Any) -> None:
    """The SDK's JSON-RPC model as the SDK's entry writes it (`exclude_none` keeps nulls inside results)."""
    body = message.model_dump_json(by_alias=True, exclude_none=True).encode()
    headers = [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def replaying(body: bytes, receive: Any) -> Any:
    """A `receive` that gives `body` once (already read from the client), then the client's own events."""
    sent = False

    async def receive_again() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again
