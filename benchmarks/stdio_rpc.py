"""A raw newline-delimited JSON-RPC client for stdio MCP servers: no client library in the figures.

Requests are the same pre-encoded bytes each time with only the id spliced in; many may be in
flight on the one pipe (matched by id), which is how an MCP client multiplexes a stdio session.
"""

from __future__ import annotations

import asyncio
import itertools
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

HANDSHAKE_VERSION = "2025-11-25"


class RpcError(RuntimeError):
    pass


@dataclass
class StdioRpcClient:
    argv: list[str]
    stderr_path: Path | None = None
    env: dict[str, str] | None = None
    process: asyncio.subprocess.Process | None = None
    _pending: dict[int, asyncio.Future] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _reader: asyncio.Task | None = None

    async def start(self, handshake_timeout: float = 120.0) -> dict[str, Any]:
        """Spawn the server and run the 2025-11-25 handshake; returns the `initialize` result."""
        # The child keeps its own copy of the log file's descriptor; ours closes once it is spawned.
        with open(self.stderr_path, "wb") if self.stderr_path else nullcontext(asyncio.subprocess.DEVNULL) as stderr:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=self.env,
                limit=1 << 24,
            )
        self._reader = asyncio.create_task(self._read())
        result = await asyncio.wait_for(
            self.request(
                "initialize",
                {
                    "protocolVersion": HANDSHAKE_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "1"},
                },
            ),
            handshake_timeout,
        )
        self.notify("notifications/initialized")
        return result

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def encoder(self, method: str, params: dict[str, Any]) -> bytes:
        """The request's bytes after its id: encoded once, reused for every call."""
        return b',"method":' + orjson.dumps(method) + b',"params":' + orjson.dumps(params) + b"}\n"

    async def send(self, tail: bytes) -> dict[str, Any]:
        """One request from pre-encoded `tail` (see `encoder`); its `result`, or RpcError."""
        assert self.process is not None and self.process.stdin is not None
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self.process.stdin.write(b'{"jsonrpc":"2.0","id":' + str(request_id).encode() + tail)
        message = await future
        if "error" in message:
            raise RpcError(str(message["error"]))
        return message["result"]

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.send(self.encoder(method, params or {}))

    def notify(self, method: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(orjson.dumps({"jsonrpc": "2.0", "method": method}) + b"\n")

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                break
            message = orjson.loads(line)
            call_id = message.get("id") if isinstance(message, dict) else None
            future = self._pending.pop(call_id, None) if isinstance(call_id, int) else None
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RpcError("the server closed its stdout"))

    async def close(self, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()  # an MCP stdio server ends when its client closes stdin
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
