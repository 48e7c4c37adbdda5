"""A minimal HTTP/1.1 keep-alive client for load generation, and the loops that drive it.

Why not httpx: on a 2-core machine the load generator shares the CPU with the platform, the runtime
and node. httpx costs ~10x more CPU per request than writing pre-encoded bytes to a socket and
reading one Content-Length response, so it would measure itself. This client does only that; every
response's status is checked by the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson


class HttpError(RuntimeError):
    pass


@dataclass
class KeepAliveConnection:
    """One persistent connection; requests on it are strictly sequential."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    #: the client's own address, e.g. ("127.0.0.7", 0): loopback has a whole /8 to spread per-address limits over
    local_addr: tuple[str, int] | None = None
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None

    async def connect(self) -> KeepAliveConnection:
        parts = urlsplit(self.url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port, local_addr=self.local_addr)
        return self

    def request_bytes(self, method: str, path: str, body: bytes = b"") -> bytes:
        """The whole request, encoded once; benchmarks resend the same bytes."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def send(self, raw_request: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None, "connect() first"
        self._writer.write(raw_request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = None
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                raise HttpError("chunked responses are not supported by the benchmark client")
        body = await self._reader.readexactly(length) if length else b""
        return status, body

    async def post_json(self, path: str, payload: object) -> tuple[int, object]:
        status, body = await self.send(self.request_bytes("POST", path, orjson.dumps(payload)))
        return status, orjson.loads(body) if body else None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass


Call = Callable[[], Awaitable[None]]


async def sequential(call: Call, count: int) -> list[float]:
    """Run `call` `count` times back to back; the duration of each in seconds."""
    samples = []
    clock = time.perf_counter
    for _ in range(count):
        started = clock()
        await call()
        samples.append(clock() - started)
    return samples


@dataclass(frozen=True)
class ThroughputResult:
    concurrency: int
    calls: int
    seconds: float
    client_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0


async def throughput(
    make_caller: Callable[[int], Awaitable[Call]], concurrency: int, total_calls: int
) -> ThroughputResult:
    """`concurrency` callers share `total_calls` calls; each caller is made by `make_caller(i)`.

    Callers are all created and connected before the clock starts, so connection setup is not timed.
    """
    callers = [await make_caller(i) for i in range(concurrency)]
    remaining = total_calls

    async def worker(call: Call) -> int:
        nonlocal remaining
        done = 0
        while remaining > 0:
            remaining -= 1
            await call()
            done += 1
        return done

    cpu_started = time.process_time()
    started = time.perf_counter()
    done = await asyncio.gather(*(worker(c) for c in callers))
    elapsed = time.perf_counter() - started
    return ThroughputResult(concurrency, sum(done), elapsed, time.process_time() - cpu_started)


@dataclass(frozen=True)
class PacedCall:
    index: int
    scheduled_at: float  # seconds after the load started
    latency: float  # seconds from the scheduled start to the answer (waiting for a free connection included)
    status: int  # HTTP status; 0 when the request itself failed
    body: object


async def paced(
    connections: list[KeepAliveConnection],
    request_for: Callable[[int], bytes],
    rate: float,
    stop: Callable[[], bool],
    max_seconds: float,
) -> list[PacedCall]:
    """A steady load: call `index` starts at `index / rate` s, on the next free connection, until `stop()`
    or `max_seconds`. Latency is measured from the scheduled start, so a stall shows as latency
    instead of silently lowering the rate (no coordinated omission)."""
    free: asyncio.Queue[KeepAliveConnection] = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)
    results: list[PacedCall] = []
    clock = time.perf_counter
    started = clock()

    async def one(index: int, scheduled: float) -> None:
        connection = await free.get()
        try:
            status, body = await connection.send(request_for(index))
            parsed: object = orjson.loads(body) if body else None
        except (OSError, asyncio.IncompleteReadError, HttpError, orjson.JSONDecodeError) as exc:
            status, parsed = 0, {"error": {"code": "client", "message": f"{type(exc).__name__}: {exc}"}}
        finally:
            free.put_nowait(connection)
        results.append(PacedCall(index, scheduled - started, clock() - scheduled, status, parsed))

    async with asyncio.TaskGroup() as group:
        index = 0
        while not stop() and clock() - started < max_seconds:
            scheduled = started + index / rate
            wait = scheduled - clock()
            if wait > 0:
                await asyncio.sleep(wait)
            group.create_task(one(index, scheduled))
            index += 1
    return sorted(results, key=lambda call: call.index)
