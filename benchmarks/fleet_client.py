"""The fleet benchmark's connectors (`benchmarks/fleet.py`): lightweight protocol clients, and what they saw.

Each `Connector` is a websockets connection that says `connector.hello`, pings at the platform's
announced heartbeat and reconnects on the runtime's real `Backoff` (honouring a 503's `Retry-After` as
the runtime does); `FleetLog` records every attempt, registration, refusal and close, and the functions
below turn it into the benchmark's figures.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from edge_protocol import jsonrpc
from edge_protocol.backoff import Backoff, parse_retry_after

from .stats import percentile


@dataclass
class FleetLog:
    """What the clients saw, in `time.monotonic()` seconds."""

    registered_at: dict[int, list[float]] = field(default_factory=dict)
    hello_seconds: list[float] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)
    #: Every handshake attempt's start, to see the herd's shape.
    attempts: list[float] = field(default_factory=list)
    disconnects: int = 0
    #: (close frame received, connection fully closed) per lost link, to see the close handshake's wait.
    closes: list[tuple[float, float]] = field(default_factory=list)

    def registrations_after(self, moment: float) -> list[float]:
        """For each connector, its first registration at or after `moment`."""
        firsts = []
        for times in self.registered_at.values():
            later = [t for t in times if t >= moment]
            if later:
                firsts.append(min(later))
        return firsts


def time_to_share(moment: float, registrations: list[float], total: int, share: float) -> float | None:
    """Seconds after `moment` until `share` of `total` connectors had re-registered; None if never."""
    needed = max(1, int(-(-total * share // 1)))  # ceil without floats going astray
    if len(registrations) < needed:
        return None
    return sorted(registrations)[needed - 1] - moment


def attempt_rates(attempts: list[float], since: float, until: float | None = None) -> tuple[int, int]:
    """(peak attempts in any one-second bin counted from `since`, attempts in all) in [since, until)."""
    storm = [t for t in attempts if t >= since and (until is None or t < until)]
    bins = Counter(int(t - since) for t in storm)
    return max(bins.values(), default=0), len(storm)


def close_figures(closes: list[tuple[float, float]], since: float) -> dict[str, float]:
    storm = [(seen, done) for seen, done in closes if seen >= since]
    if not storm:
        return {}
    waits = [done - seen for seen, done in storm]
    return {
        "close_spread_s": max(seen for seen, _ in storm) - since,
        "close_wait_p50_s": percentile(waits, 50),
        "close_wait_p99_s": percentile(waits, 99),
    }


class Connector:
    """One simulated connector: connect, hello, stay (pings answered by websockets), reconnect with backoff."""

    def __init__(
        self, index: int, ws_url: str, token: str, deployment_id: str, log: FleetLog, tools: list | None = None
    ) -> None:
        self.index = index
        self.tools = tools or []  # what its hello announces (the wire form of each tool)
        self.ws_url = ws_url
        self.token = token
        self.deployment_id = deployment_id
        self.log = log
        self.backoff = Backoff(rng=random.Random(index))
        self.stopping = False
        self.close_seen: float | None = None

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        while not self.stopping:
            connected_at: float | None = None
            self.close_seen = None
            try:
                started = time.monotonic()
                self.log.attempts.append(started)
                async with connect(
                    self.ws_url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=30,
                    ping_interval=None,
                    compression=None,
                    close_timeout=2,
                ) as ws:
                    connected_at = time.monotonic()
                    await ws.send(
                        jsonrpc.request(
                            1,
                            jsonrpc.HELLO,
                            {
                                "connectorVersion": "bench-fleet",
                                "deploymentId": self.deployment_id,
                                "bundle": None,
                                "tools": self.tools,
                                "concurrency": 1,
                            },
                        )
                    )
                    reply = jsonrpc.parse_message(await ws.recv())
                    if not isinstance(reply, jsonrpc.Response) or reply.error is not None:
                        self.log.refusals[f"hello error {getattr(reply, 'error', None)}"] += 1
                    else:
                        now = time.monotonic()
                        self.log.hello_seconds.append(now - started)
                        self.log.registered_at.setdefault(self.index, []).append(now)
                        heartbeat = float(reply.result.get("heartbeatSeconds") or 30)
                        await self._stay(ws, heartbeat)
            except InvalidStatus as exc:
                retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
                if exc.response.status_code == 503 and retry_after is not None:
                    # The platform is shaping the herd (SPEC §14): take its slot, as the runtime does.
                    self.log.refusals["HTTP 503 + Retry-After"] += 1
                    await asyncio.sleep(self.backoff.after_retry_after(retry_after))
                    continue
                self.log.refusals[f"HTTP {exc.response.status_code}"] += 1
            except (TimeoutError, OSError) as exc:
                self.log.refusals[type(exc).__name__] += 1
            except Exception as exc:  # ConnectionClosed and friends: the link went away
                if type(exc).__name__.startswith("ConnectionClosed"):
                    self.log.disconnects += 1
                else:
                    self.log.refusals[type(exc).__name__] += 1
            if self.stopping:
                return
            if self.close_seen is not None:
                self.log.closes.append((self.close_seen, time.monotonic()))
            if connected_at is not None:
                self.backoff.connection_lost(time.monotonic() - connected_at)
            # The real reconnect policy is the subject of this benchmark, so its delay is waited out.
            await asyncio.sleep(self.backoff.next_delay())

    async def _stay(self, ws, heartbeat: float) -> None:
        """Read frames until the link closes; ping every heartbeat as SPEC §7 asks of both ends."""

        async def pinger() -> None:
            while True:
                await asyncio.sleep(heartbeat)
                pong = await ws.ping()
                await asyncio.wait_for(pong, 2 * heartbeat)

        ping_task = asyncio.create_task(pinger())
        try:
            async for frame in ws:
                message = jsonrpc.parse_message(frame)
                if isinstance(message, jsonrpc.Request):  # no tools here: answer so the platform never waits
                    await ws.send(
                        jsonrpc.error(
                            message.id,
                            {
                                "code": jsonrpc.METHOD_NOT_FOUND,
                                "message": "fleet client has no tools",
                                "data": {"kind": "tool_not_found"},
                            },
                        )
                    )
        finally:
            self.close_seen = time.monotonic()
            ping_task.cancel()
            # Read its end without waiting for it: a ping cut short by the close is the link going away,
            # which the caller counts. Awaiting it could hang: a cancel that lands as a pong arrives is
            # swallowed by wait_for, and the pinger then pings on a link that stays open until we return.
            ping_task.add_done_callback(_read_end)


def _read_end(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a closed link's ping failing is expected, not an error to report
