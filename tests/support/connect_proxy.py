"""A small HTTP proxy on loopback for tests: CONNECT tunnels and plain forwarding, each counted.

Clients use CONNECT for WebSockets (ws:// and wss://) and for https:// URLs; httpx forwards plain
http:// requests as `GET http://host/path`. Both are recorded (`tunnels`, `forwarded`) so a test
can assert that traffic really went through the proxy, or really did not (NO_PROXY).

`cut()` makes it a network that went away under a NAT: open connections stay open at both ends but
their bytes are dropped (neither end is told), and new connections are closed at once (an unreachable
route), until `heal()` lets new connections through again; the cut ones stay dead, like flows the NAT
forgot. That is the half-open link of SPEC.md §14.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class _Flow:
    dead: bool = False  # bytes are read and dropped; neither end is told


_HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"te", b"upgrade"}


@dataclass
class ConnectProxy:
    host: str = "127.0.0.1"
    tunnels: list[str] = field(default_factory=list)  # "host:port" of every CONNECT tunnel opened
    forwarded: list[str] = field(default_factory=list)  # "METHOD absolute-url" of every forwarded request
    refuse_with: int | None = None  # answer every request with this status instead (e.g. 407)
    port: int = 0
    _flows: list[_Flow] = field(default_factory=list)
    _cutting: bool = False
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ConnectProxy:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._handle, self.host, 0, limit=1 << 16))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="connect-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or errors:
            raise RuntimeError(f"the test proxy did not start: {errors[0] if errors else 'timed out'}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        self._thread.join(10)

    def cut(self) -> None:
        """Drop every byte of the open connections without closing them; close new ones at once."""
        self._cutting = True
        for flow in list(self._flows):
            flow.dead = True

    def heal(self) -> None:
        """New connections work again; the ones cut stay silent, like flows a NAT forgot."""
        self._cutting = False

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cutting:  # no route: the client learns at once and retries on its backoff
            writer.close()
            return
        flow = _Flow()
        self._flows.append(flow)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        request_line, *header_lines = head[:-4].split(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if self.refuse_with is not None:
            writer.write(f"HTTP/1.1 {self.refuse_with} Refused by test proxy\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = await self._open(host.strip("[]"), int(port), writer)
            if upstream is None:
                return
            self.tunnels.append(target)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            url = urlsplit(target)
            upstream = await self._open(url.hostname or "", url.port or 80, writer)
            if upstream is None:
                return
            self.forwarded.append(f"{method} {target}")
            origin_form = (url.path or "/") + (f"?{url.query}" if url.query else "")
            kept = [line for line in header_lines if line.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP]
            # One request per upstream connection keeps this proxy simple: ask both ends to close after it.
            rewritten = [f"{method} {origin_form} {version}".encode("latin-1"), *kept, b"Connection: close"]
            upstream[1].write(b"\r\n".join(rewritten) + b"\r\n\r\n")
        up_reader, up_writer = upstream
        await asyncio.gather(
            self._pump(reader, up_writer, flow), self._pump(up_reader, writer, flow), return_exceptions=True
        )

    async def _open(self, host: str, port: int, writer: asyncio.StreamWriter):
        try:
            return await asyncio.open_connection(host, port)
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return None

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, flow: _Flow) -> None:
        try:
            while data := await source.read(1 << 16):
                if flow.dead:
                    continue
                sink.write(data)
                await sink.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            # Either side closing ends the exchange for both (a cut flow tells nobody).
            if not flow.dead:
                sink.close()
