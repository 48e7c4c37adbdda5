"""The runtime's session against a scripted platform on a real loopback WebSocket.

The "platform" here is a websockets server in the test that sends exactly the frames a test needs,
including the bad ones a real platform never sends (SPEC.md §7 bad input, runtime side).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from edge_protocol import close_codes, jsonrpc
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.limits import MAX_FRAME_BYTES
from edge_protocol.messages import BundleRef, HelloParams
from edge_runtime.connection import FailureKind
from edge_runtime.metrics import RuntimeMetrics
from edge_runtime.net import WS_READ_LIMIT
from edge_runtime.session import HelloRefused, SeenCalls, Session


class Runner:
    """Stands in for the executor: records calls; `slow` tools wait for a release."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()

    async def call(self, name: str, arguments: Any, *, call_id: str, timeout_ms: int | None = None) -> Any:
        self.calls.append(call_id)
        if name == "slow":
            await self.release.wait()
        if name == "fails":
            raise ToolCallError(ToolErrorKind.TOOL_ERROR, "city is empty", "bad_city", {"field": "city"})
        if name == "bug":
            raise RuntimeError("boom")
        return {"echo": arguments}


class ScriptedPlatform:
    """Accepts one connector, answers hello, then lets the test send frames and read replies."""

    def __init__(self) -> None:
        self.connection = None
        self.ready = asyncio.Event()
        self.received: asyncio.Queue = asyncio.Queue()

    async def handler(self, connection) -> None:
        hello = json.loads(await connection.recv())
        await connection.send(
            jsonrpc.result(
                hello["id"],
                {
                    "connectorId": "conn_1",
                    "deploymentId": "dep-1",
                    "orgId": "org-1",
                    "heartbeatSeconds": 30,
                    "assignedBundle": None,
                },
            )
        )
        self.connection = connection
        self.ready.set()
        try:
            async for frame in connection:
                await self.received.put(json.loads(frame))
        except Exception:
            pass

    async def reply(self, timeout: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.received.get(), timeout)


@pytest.fixture
async def link():
    platform = ScriptedPlatform()
    async with serve(platform.handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", max_size=WS_READ_LIMIT)
        runner = Runner()
        updates: list[dict] = []
        session = Session(
            ws,
            runner,
            seen=SeenCalls(),
            metrics=RuntimeMetrics(),
            on_bundle_updated=updates.append,
            is_accepting=lambda: True,
        )
        result = await session.hello(HelloParams("t", None, None))
        assert result.connector_id == "conn_1" and result.org_id == "org-1"
        await platform.ready.wait()
        serving = asyncio.create_task(session.serve())
        yield platform, session, runner, updates, serving
        serving.cancel()
        await ws.close()


def call(rpc_id: int, call_id: str, name: str = "echo", arguments: Any = None, **extra) -> str:
    return jsonrpc.request(
        rpc_id, jsonrpc.TOOLS_CALL, {"callId": call_id, "name": name, "arguments": arguments or {}, **extra}
    )


async def test_a_call_is_answered_with_output_and_duration(link):
    platform, session, runner, _, _ = link
    await platform.connection.send(call(1, "c1", arguments={"a": 1}))
    reply = await platform.reply()
    assert reply["id"] == 1
    assert reply["result"]["output"] == {"echo": {"a": 1}}
    assert reply["result"]["durationMs"] >= 0
    assert session.metrics.per_tool["echo"].calls == 1


async def test_a_slow_call_never_blocks_the_reader(link):
    platform, _, runner, _, _ = link
    await platform.connection.send(call(1, "slow-1", name="slow"))
    await platform.connection.send(call(2, "fast-1"))
    first = await platform.reply()
    assert first["id"] == 2  # the fast call overtook the slow one
    runner.release.set()
    assert (await platform.reply())["id"] == 1


async def test_a_call_id_is_never_run_twice(link):
    platform, _, runner, _, _ = link
    await platform.connection.send(call(1, "same"))
    await platform.reply()
    await platform.connection.send(call(2, "same"))
    reply = await platform.reply()
    assert reply["error"]["code"] == jsonrpc.INVALID_REQUEST
    assert "never runs twice" in reply["error"]["message"]
    assert runner.calls == ["same"]


async def test_tool_errors_carry_kind_code_and_details(link):
    platform, _, _, _, _ = link
    await platform.connection.send(call(1, "c1", name="fails"))
    error = (await platform.reply())["error"]
    assert error["code"] == -32001
    assert error["message"] == "city is empty"
    assert error["data"] == {"kind": "tool_error", "code": "bad_city", "details": {"field": "city"}}


async def test_a_runtime_bug_fails_only_that_call(link):
    platform, _, _, _, _ = link
    await platform.connection.send(call(1, "c1", name="bug"))
    assert (await platform.reply())["error"]["data"]["kind"] == "tool_crashed"
    await platform.connection.send(call(2, "c2"))
    assert "result" in await platform.reply()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", jsonrpc.PARSE_ERROR),
        ('{"jsonrpc": "1.0", "id": 1, "method": "x"}', jsonrpc.INVALID_REQUEST),
        ("[1, 2]", jsonrpc.INVALID_REQUEST),
        (jsonrpc.request(7, "tools/explode", {}), jsonrpc.METHOD_NOT_FOUND),
        (jsonrpc.request(8, jsonrpc.TOOLS_CALL, {"name": "echo"}), jsonrpc.INVALID_PARAMS),
        (
            jsonrpc.request(9, jsonrpc.TOOLS_CALL, {"callId": "x", "name": "echo", "timeoutMs": -5}),
            jsonrpc.INVALID_PARAMS,
        ),
    ],
)
async def test_bad_frames_get_a_json_rpc_error_and_the_link_stays_up(link, frame, code):
    platform, _, _, _, serving = link
    await platform.connection.send(frame)
    assert (await platform.reply())["error"]["code"] == code
    await platform.connection.send(call(1, "after"))
    assert "result" in await platform.reply()
    assert not serving.done()


async def test_binary_frames_are_refused_with_an_error(link):
    platform, _, _, _, _ = link
    await platform.connection.send(b"\x00\x01binary")
    reply = await platform.reply()
    assert reply["error"]["code"] == jsonrpc.INVALID_REQUEST and "binary" in reply["error"]["message"]


async def test_an_oversized_frame_closes_with_4000(link):
    platform, _, _, _, serving = link
    await platform.connection.send("x" * (MAX_FRAME_BYTES + 1))
    failure = await asyncio.wait_for(serving, 10)
    assert failure.kind is FailureKind.PROTOCOL
    await asyncio.wait_for(platform.connection.wait_closed(), 5)
    assert platform.connection.close_code == close_codes.CLOSE_PROTOCOL_ERROR


async def test_bundle_updated_reaches_the_sync(link):
    platform, _, _, updates, _ = link
    params = {"name": "tools", "version": 2, "checksum": "sha256:" + "a" * 64}
    await platform.connection.send(jsonrpc.notification(jsonrpc.BUNDLE_UPDATED, params))
    await platform.connection.send(call(1, "sync-point"))  # frames are handled in order
    await platform.reply()
    assert updates == [BundleRef("tools", 2, "sha256:" + "a" * 64)]


@pytest.mark.parametrize(
    ("code", "kind", "fragment"),
    [
        (4001, FailureKind.UNAUTHORIZED, "Token has expired"),
        (4009, FailureKind.DUPLICATE, "Deployment already connected"),
        (1012, FailureKind.LOST, "platform restarting"),
        (4000, FailureKind.PROTOCOL, "protocol error"),
    ],
)
async def test_close_codes_become_failures(link, code, kind, fragment):
    platform, _, _, _, serving = link
    await platform.connection.close(code, "bye")
    failure = await asyncio.wait_for(serving, 5)
    assert failure.kind is kind and fragment in failure.message


async def test_a_hello_error_is_refused():
    async def handler(connection):
        hello = json.loads(await connection.recv())
        await connection.send(jsonrpc.error(hello["id"], {"code": -32602, "message": "unknown deployment"}))
        await connection.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            session = Session(
                ws,
                Runner(),
                seen=SeenCalls(),
                metrics=RuntimeMetrics(),
                on_bundle_updated=lambda _: None,
                is_accepting=lambda: True,
            )
            with pytest.raises(HelloRefused, match="unknown deployment"):
                await session.hello(HelloParams(None, None, None))


async def test_calls_are_refused_as_overloaded_while_stopping():
    accepting = {"value": True}
    platform = ScriptedPlatform()
    async with serve(platform.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            runner = Runner()
            session = Session(
                ws,
                runner,
                seen=SeenCalls(),
                metrics=RuntimeMetrics(),
                on_bundle_updated=lambda _: None,
                is_accepting=lambda: accepting["value"],
            )
            await session.hello(HelloParams(None, None, None))
            await platform.ready.wait()
            serving = asyncio.create_task(session.serve())
            accepting["value"] = False
            await platform.connection.send(call(1, "late"))
            reply = await platform.reply()
            assert reply["error"]["data"]["kind"] == "overloaded"
            assert runner.calls == []
            serving.cancel()


def test_seen_calls_is_bounded():
    seen = SeenCalls(capacity=3)
    assert all(seen.add(c) for c in "abcd")
    assert not seen.add("d")
    assert seen.add("a")  # forgotten: the oldest falls out
