"""Serve an MCP server (built by `edge_protocol.mcp.build_server`) on this process's stdin/stdout.

Shared by `edge-connector mcp DIR` and `edge-connector mcp`: stopped when the client closes stdin,
when `stop` is set (SIGINT/SIGTERM), or when a companion task ends.

The transport reads and writes the pipes on the event loop (`pipe_streams`). The SDK's own stdio
transport hands every line read and every frame written to a worker thread (three thread hops per
call), which was the largest share of a local call's CPU; a stdin or stdout that is not a pipe or a
socket (a file, a terminal), and Windows, fall back to it. Either way, while serving, fd 0 reads the null device
and fd 1 points at stderr, so a handler or a child process (a Node.js worker) can neither consume
the client's requests nor write a stray byte between MCP frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

#: The longest request line read in one piece; a longer one is answered as a parse error, not buffered.
MAX_LINE_BYTES = 64 * 1024 * 1024


async def serve_stdio(
    server: Any, stop: asyncio.Event, companions: Sequence[Callable[[], Coroutine[Any, Any, None]]]
) -> None:
    """Run `server` over stdio with `companions` (watchers, upstream listeners) beside it."""
    import anyio

    async with stdio_streams() as (read_stream, write_stream), anyio.create_task_group() as group:

        async def serve_then_stop() -> None:
            await server.run(read_stream, write_stream, server.create_initialization_options())
            group.cancel_scope.cancel()  # stdin closed: the client is gone

        async def stop_on_request() -> None:
            await stop.wait()
            group.cancel_scope.cancel()

        group.start_soon(serve_then_stop)
        group.start_soon(stop_on_request)
        for companion in companions:
            group.start_soon(companion)


def _is_pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextlib.asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """(read stream, write stream) of MCP messages on fds 0 and 1, for the SDK's `Server.run`."""
    if sys.platform == "win32" or not (_is_pipe_or_socket(0) and _is_pipe_or_socket(1)):
        from mcp.server.stdio import stdio_server

        async with stdio_server() as streams:
            yield streams
        return
    with _claimed(0, os.O_RDONLY) as wire_in, _claimed(1, os.O_WRONLY) as wire_out:
        async with pipe_streams(wire_in, wire_out) as streams:
            yield streams


@contextlib.contextmanager
def _claimed(fd: int, mode: int) -> Any:
    """A private duplicate of `fd` (the wire) while `fd` itself points elsewhere; restored on exit."""
    import fcntl  # POSIX only: Windows serves through the SDK's transport

    wire = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    blocking = os.get_blocking(wire)
    elsewhere = os.open(os.devnull, os.O_RDONLY) if mode == os.O_RDONLY else os.dup(2)
    try:
        os.dup2(elsewhere, fd)
    finally:
        os.close(elsewhere)
    try:
        yield wire
    finally:
        os.dup2(wire, fd)
        with contextlib.suppress(OSError):
            os.set_blocking(fd, blocking)  # the loop made the shared file description non-blocking


@contextlib.asynccontextmanager
async def pipe_streams(
    read_fd: int, write_fd: int, max_line_bytes: int = MAX_LINE_BYTES
) -> AsyncIterator[tuple[PipeReadStream, PipeWriteStream]]:
    """MCP message streams over a readable and a writable pipe (or socket), on the running loop.

    The descriptors are duplicated, so the caller keeps (and closes) its own.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=max_line_bytes)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(os.dup(read_fd), "rb", buffering=0)
    )
    write_transport, write_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(os.dup(write_fd), "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
    try:
        yield PipeReadStream(reader), PipeWriteStream(writer)
    finally:
        read_transport.close()
        write_transport.close()


class PipeReadStream:
    """The SDK's `ReadStream` over newline-delimited JSON-RPC: one message (or parse error) per line."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._closed = False

    async def receive(self) -> Any:
        import anyio
        import mcp_types
        from mcp.shared.message import SessionMessage

        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                line = await self._reader.readline()
            except ValueError as exc:  # longer than the limit: dropped, reported like bad JSON
                return exc
            if not line:
                raise anyio.EndOfStream
            if not line.strip():
                continue
            try:
                message = mcp_types.jsonrpc_message_adapter.validate_json(
                    line.decode("utf-8", errors="replace"), by_name=False
                )
            except Exception as exc:  # the session reports it; the stream goes on
                return exc
            return SessionMessage(message)

    def __aiter__(self) -> PipeReadStream:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> PipeReadStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class PipeWriteStream:
    """The SDK's `WriteStream`: each message one line on the pipe, written without a thread hop."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._closed = False

    async def send(self, item: Any) -> None:
        import anyio

        if self._closed:
            raise anyio.ClosedResourceError
        if self._writer.transport.is_closing():
            raise anyio.BrokenResourceError  # the client closed its end
        self._writer.write(item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n")
        try:
            await self._writer.drain()  # returns at once unless the client is not reading
        except ConnectionError:
            raise anyio.BrokenResourceError from None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    async def __aenter__(self) -> PipeWriteStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
