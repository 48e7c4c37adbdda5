"""The stdio transport of `edge-connector mcp` on real pipes: one message per line in, one line per
message out, bad lines reported without ending the stream, EOF ends it, a gone client is the SDK's
"broken resource"."""

from __future__ import annotations

import os

import anyio
import anyio.lowlevel
import mcp_types
import orjson
import pytest
from mcp.shared.message import SessionMessage

from edge_cli.mcp_stdio import pipe_streams

REQUEST = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}}
NOTIFICATION = {"jsonrpc": "2.0", "method": "notifications/initialized"}


@pytest.fixture
def pipes():
    client_to_server = os.pipe()
    server_to_client = os.pipe()
    yield client_to_server, server_to_client
    for fd in (*client_to_server, *server_to_client):
        try:
            os.close(fd)
        except OSError:
            pass


async def test_each_line_is_one_message_bad_lines_are_reported_and_eof_ends_the_stream(pipes) -> None:
    (server_in, client_out), (client_in, server_out) = pipes
    os.write(client_out, orjson.dumps(REQUEST) + b"\n\n" + b"{not json\n" + orjson.dumps(NOTIFICATION) + b"\n")
    os.close(client_out)
    async with pipe_streams(server_in, server_out) as (read_stream, _write_stream):
        with anyio.fail_after(10):
            items = [item async for item in read_stream]
    assert len(items) == 3
    assert isinstance(items[0], SessionMessage) and isinstance(items[0].message, mcp_types.JSONRPCRequest)
    assert items[0].message.id == 7 and items[0].message.method == "tools/list"
    assert isinstance(items[1], Exception)
    assert isinstance(items[2], SessionMessage) and isinstance(items[2].message, mcp_types.JSONRPCNotification)
    assert items[2].message.method == "notifications/initialized"


async def test_a_line_over_the_limit_is_reported_and_the_next_request_still_arrives(pipes) -> None:
    (server_in, client_out), (client_in, server_out) = pipes
    huge = orjson.dumps({**REQUEST, "params": {"pad": "x" * 8000}})
    async with (
        pipe_streams(server_in, server_out, max_line_bytes=1024) as (read_stream, _write_stream),
        anyio.create_task_group() as group,
    ):
        # Written from a thread: the pipe's buffer may not hold it all at once.
        group.start_soon(anyio.to_thread.run_sync, os.write, client_out, huge + b"\n" + orjson.dumps(REQUEST) + b"\n")
        with anyio.fail_after(10):
            items: list[object] = []
            while not items or not isinstance(items[-1], SessionMessage):
                items.append(await read_stream.receive())
    assert all(isinstance(item, Exception) for item in items[:-1]) and len(items) >= 2
    last = items[-1]
    assert isinstance(last, SessionMessage) and isinstance(last.message, mcp_types.JSONRPCRequest)
    assert last.message.id == 7


async def test_each_message_is_written_as_one_line_and_a_gone_client_is_a_broken_resource(pipes) -> None:
    (server_in, client_out), (client_in, server_out) = pipes
    response = mcp_types.JSONRPCResponse(jsonrpc="2.0", id=7, result={"tools": []})
    async with pipe_streams(server_in, server_out) as (_read_stream, write_stream):
        await write_stream.send(SessionMessage(response))
        await write_stream.send(SessionMessage(response))
        lines = os.read(client_in, 65536).split(b"\n")
        assert [orjson.loads(line) for line in lines if line] == [
            {"jsonrpc": "2.0", "id": 7, "result": {"tools": []}}
        ] * 2
        assert lines[-1] == b""

        os.close(client_in)
        with pytest.raises(anyio.BrokenResourceError), anyio.fail_after(10):
            for _ in range(100):  # the loop notices the closed reader at a write, or the one after
                await write_stream.send(SessionMessage(response))
                await anyio.lowlevel.checkpoint()
        await write_stream.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await write_stream.send(SessionMessage(response))


# A whole stdio server in a child process: a tool that writes to fd 1 and to sys.stdout while it runs.
_SERVER = """
import asyncio, os, sys
from edge_protocol.mcp import build_server
from edge_cli.mcp_stdio import serve_stdio

class Tools:
    async def tools(self, caller):
        return [{"name": "noisy", "inputSchema": {"type": "object"}}]
    async def call(self, caller, name, arguments):
        os.write(1, b"stray bytes on fd 1\\n")
        print("a stray print", flush=True)
        return {"ok": True}

async def main():
    server, _ = build_server("t", "1", Tools(), lambda _ctx: None)
    await serve_stdio(server, asyncio.Event(), [])

asyncio.run(main())
"""

_REQUESTS = b"".join(
    orjson.dumps(message) + b"\n"
    for message in (
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "noisy", "arguments": {}}},
    )
)


def test_only_frames_reach_stdout_while_a_tool_writes_to_fd_1_and_prints() -> None:
    import subprocess
    import sys

    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(_REQUESTS)
        server.stdin.flush()
        frames: list[dict] = []
        while not any(frame.get("id") == 2 for frame in frames):  # stdin stays open until the answer is in
            line = server.stdout.readline()
            assert line, "the server closed stdout before answering"
            frames.append(orjson.loads(line))  # every line is JSON: nothing stray between frames
        rest, errors = server.communicate(timeout=60)  # closes stdin: the server ends
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0, errors.decode()
    assert rest == b""
    assert next(frame for frame in frames if frame.get("id") == 2)["result"]["structuredContent"] == {"ok": True}
    assert b"stray bytes on fd 1" in errors and b"a stray print" in errors
