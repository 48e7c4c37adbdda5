"""`/mcp`'s answer to a plain 2026-07-28 `tools/call` without the SDK's per-request machinery: every
request it takes is answered exactly as the SDK's Streamable HTTP entry answers it (status, headers,
JSON), and every request it does not fully understand is left to the SDK."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request

from edge_protocol.mcp import ToolFailure, UnknownTool, build_server
from mock_platform.mcp_fast_call import FastToolsCall, plain_tools_call, replaying

MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "parity", "version": "1"},
}


class Tools:
    async def tools(self, caller: Any) -> list[dict[str, Any]]:
        return [{"name": "echo", "inputSchema": {"type": "object"}}]

    async def call(self, caller: Any, name: str, arguments: dict[str, Any]) -> Any:
        assert caller == "org-a"
        if name == "echo":
            return arguments
        if name == "scalar":
            return 42
        if name == "nulls":
            return {"key": None, "list": [None, 1], "text": "é ✓"}
        if name == "fail":
            raise ToolFailure("tool_error", "city is empty", "bad_city", {"city": ""})
        if name == "invalid":
            raise ToolFailure("invalid_arguments", "text: expected string", None, [{"path": "/text", "message": "x"}])
        if name == "boom":
            raise RuntimeError("a bug with a secret inside")
        raise UnknownTool(name)


def call_body(name: str = "echo", request_id: Any = 1, **params: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": {"text": "hi"}, "_meta": ENVELOPE, **params},
    }


def headers_for(body: bytes, name: str = "echo", **extra: str) -> list[tuple[bytes, bytes]]:
    headers = {
        "host": "127.0.0.1",
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": name,
        "content-length": str(len(body)),
        **extra,
    }
    return [(k.encode(), v.encode()) for k, v in headers.items() if v]


def scope_of(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "headers": headers,
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "root_path": "",
        "http_version": "1.1",
    }


class Exchange:
    """One request's ASGI events in and the response's events out."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.given = False
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        assert not self.given, "the app read past the request body"
        self.given = True
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def response(self) -> tuple[int, str, Any]:
        start, body = self.sent[0], b"".join(m.get("body", b"") for m in self.sent[1:])
        content_type = dict(start["headers"]).get(b"content-type", b"").decode()
        try:
            return start["status"], content_type, orjson.loads(body)
        except orjson.JSONDecodeError:
            return start["status"], content_type, body


async def both_ways(body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[bool, Any, Any]:
    """(taken by the fast path, its response, the SDK's response) for one request."""
    server, _changes = build_server("edge-connector-platform", "1.2.3", Tools(), lambda _ctx: "org-a")
    manager = StreamableHTTPSessionManager(app=server, json_response=True, security_settings=None)
    async with manager.run():
        return await _both_ways(server, manager, body, headers)


async def _both_ways(server, manager, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[bool, Any, Any]:
    fast = FastToolsCall(server, Tools(), manager.max_request_body_size)
    exchange = Exchange(body)
    request = Request(scope_of(headers), exchange.receive)
    answered, read = await fast(request, "org-a", exchange.send)
    through_sdk = Exchange(body)
    await manager.handle_request(scope_of(headers), through_sdk.receive, through_sdk.send)
    if not answered:
        # What the endpoint does next: the SDK, with the body it may already have read replayed.
        replayed = Exchange(body)
        receive = replayed.receive if read is None else replaying(read, replayed.receive)
        await manager.handle_request(scope_of(headers), receive, replayed.send)
        return False, replayed.response(), through_sdk.response()
    return True, exchange.response(), through_sdk.response()


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("success", call_body()),
        ("string id", call_body(request_id="req-7")),
        ("no arguments", {**call_body(), "params": {"name": "echo", "_meta": ENVELOPE}}),
        ("a scalar output", call_body("scalar")),
        ("nulls and non-ASCII in the output", call_body("nulls")),
        ("a tool error", call_body("fail")),
        ("invalid arguments", call_body("invalid")),
        ("an unknown tool", call_body("nope")),
        ("a handler bug", call_body("boom")),
        (
            "no client info",
            {
                **call_body(),
                "params": {
                    "name": "echo",
                    "arguments": {},
                    "_meta": {k: v for k, v in ENVELOPE.items() if not k.endswith("clientInfo")},
                },
            },
        ),
    ],
)
async def test_each_request_it_takes_is_answered_as_the_sdk_answers_it(case: str, body: dict) -> None:
    raw = orjson.dumps(body)
    name = body["params"]["name"]
    taken, fast, reference = await both_ways(raw, headers_for(raw, name))
    assert taken, case
    assert fast == reference, case
    if case == "a handler bug":
        assert "secret" not in orjson.dumps(fast).decode()


def _variant(change) -> dict:
    body = copy.deepcopy(call_body())
    change(body)
    return body


@pytest.mark.parametrize(
    ("case", "raw", "header_changes"),
    [
        ("a progress token", orjson.dumps(_variant(lambda b: b["params"]["_meta"].update(progressToken=1))), {}),
        ("an extra member", orjson.dumps({**call_body(), "extra": 1}), {}),
        ("a float id", orjson.dumps(call_body(request_id=1.5)), {}),
        ("arguments not an object", orjson.dumps(_variant(lambda b: b["params"].update(arguments=[1]))), {}),
        ("a mismatched Mcp-Name", orjson.dumps(call_body()), {"mcp-name": "other"}),
        (
            "an unsupported version",
            orjson.dumps(
                _variant(
                    lambda b: b["params"]["_meta"].update({"io.modelcontextprotocol/protocolVersion": "2099-01-01"})
                )
            ),
            {},
        ),
        ("no envelope", orjson.dumps(_variant(lambda b: b["params"].pop("_meta"))), {}),
        ("bad JSON", b'{"jsonrpc": "2.0", "id": 1,', {}),
        ("a form body", orjson.dumps(call_body()), {"content-type": "application/x-www-form-urlencoded"}),
        ("no length", orjson.dumps(call_body()), {"content-length": ""}),
        ("only SSE accepted", orjson.dumps(call_body()), {"accept": "text/event-stream"}),
    ],
)
async def test_what_it_does_not_fully_understand_is_the_sdks_to_answer(
    case: str, raw: bytes, header_changes: dict
) -> None:
    taken, replayed, reference = await both_ways(raw, headers_for(raw, **header_changes))
    assert not taken, case
    assert replayed == reference, case


async def test_a_duplicated_routing_header_is_the_sdks_to_refuse() -> None:
    raw = orjson.dumps(call_body())
    taken, replayed, reference = await both_ways(raw, [*headers_for(raw), (b"mcp-method", b"tools/call")])
    assert not taken and replayed == reference and reference[0] == 400


def test_plain_means_exactly_the_members_it_knows() -> None:
    assert plain_tools_call(call_body()) == (1, "echo", {"text": "hi"})
    assert plain_tools_call(call_body(request_id=True)) is None  # a bool is not an id
    assert plain_tools_call({**call_body(), "method": "tools/list"}) is None
    assert plain_tools_call(_variant(lambda b: b["params"]["_meta"].update(traceparent="00-x"))) is None
    assert (
        plain_tools_call(
            _variant(lambda b: b["params"]["_meta"].update({"io.modelcontextprotocol/clientCapabilities": None}))
        )
        is None
    )
    assert plain_tools_call([call_body()]) is None  # a batch
