"""Benchmark 5 — one platform holding a fleet of connectors, then a mass disconnect.

    .venv/bin/python -m benchmarks.fleet [--quick] [--connectors N] [--hold S] [--heartbeat S]

N lightweight protocol clients (not full runtimes: a websockets connection, `connector.hello`,
WebSocket pings at the platform's announced heartbeat) each connect as their own deployment.
After all are registered, the fleet is held for a while to read the platform's CPU and RSS per
connector; then `POST /api/sim/disconnect` drops every connection of the org, and each client
reconnects on the real policy, `edge_protocol.backoff.Backoff` with its default 5 s initial delay
(±10 % jitter). The table gives the time until ≥ 99 % (and 100 %) are registered again, and every
handshake refusal seen during the storm. Default N = 1,000 (`--quick`: 100).

With `--handshake-rate` below the herd's arrival rate the platform shapes it (503 + `Retry-After`,
SPEC.md §14) and the clients honour the hint. The table then sets the real storm beside
`benchmarks.reconnect_storm`'s simulation of the same fleet and rate (time to 99 %, peak attempts/s
over one-second bins), and the re-registration budget is the simulation's time plus the grace.
Hold the fleet ≥ 30 s (the default) so every link is stable and each client's schedule starts again
from 5 s, as the simulation assumes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from edge_protocol import jsonrpc
from edge_protocol.backoff import Backoff, parse_retry_after

from .output import emit
from .reconnect_storm import StormResult, simulate
from .stats import Table, fmt_mb, percentile, verdict

RECOVERED_SHARE = 0.99
#: The platform-side handshake and hello must finish within this much after the latest backoff delay.
HANDSHAKE_GRACE_S = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 connectors, held 10 s")
    parser.add_argument("--connectors", type=int, default=None, help="fleet size (default 1,000)")
    parser.add_argument("--hold", type=float, default=None, help="seconds the registered fleet is held (default 30)")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        help="platform heartbeat seconds (clients ping at the announced value; default 10)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="sample the platform with py-spy during the reconnect storm; write the stacks "
        "and a summary of the hottest frames into DIR",
    )
    parser.add_argument(
        "--restart",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the disconnect, also restart the platform (same port and data) and time "
        "the re-registration (default: on, off with --quick)",
    )
    parser.add_argument(
        "--handshake-rate",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="the platform's --handshake-rate (default: its own, 2000/s); below the fleet's "
        "arrival rate it refuses with 503 + Retry-After, which the clients honour",
    )
    parser.add_argument(
        "--recovery-timeout",
        type=float,
        default=60.0,
        help="give up waiting for re-registration after this many seconds",
    )
    args = parser.parse_args(argv)
    if args.connectors is None:
        args.connectors = 100 if args.quick else 1000
    if args.hold is None:
        args.hold = 10.0 if args.quick else 30.0
    if args.restart is None:
        args.restart = not args.quick
    if args.connectors < 1:
        parser.error("--connectors must be at least 1")
    if args.hold <= 0 or args.heartbeat <= 0:
        parser.error("--hold and --heartbeat must be positive")
    return args


def raise_fd_limit(needed: int) -> int:
    """Lift the soft open-files limit towards the hard one (inherited by the platform we start)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


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

    def __init__(self, index: int, ws_url: str, token: str, deployment_id: str, log: FleetLog) -> None:
        self.index = index
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
                                "tools": [],
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
            # Read its end: a ping cut short by the close is the link going away, which the caller counts.
            await asyncio.gather(ping_task, return_exceptions=True)


async def create_deployments(platform, count: int) -> list[tuple[str, str]]:
    """`count` deployments of the bench org, each with a deployment token: [(deploymentId, token)]."""
    semaphore = asyncio.Semaphore(8)
    async with httpx.AsyncClient(
        base_url=platform.url, timeout=120, headers={"Authorization": f"Bearer {platform.token}"}
    ) as http:

        async def one(i: int) -> tuple[str, str]:
            async with semaphore:
                created = await http.post("/api/deployments", json={"name": f"fleet-{i:05d}"})
                created.raise_for_status()
                deployment_id = created.json()["deploymentId"]
                minted = await http.post(
                    "/api/dev/tokens",
                    json={
                        "sub": f"deployment:{deployment_id}",
                        "orgId": "org-bench",
                        "deploymentId": deployment_id,
                        "expiresIn": 3600,
                    },
                )
                minted.raise_for_status()
                return deployment_id, minted.json()["token"]

        return await asyncio.gather(*(one(i) for i in range(count)))


async def connected_count(platform) -> int:
    async with httpx.AsyncClient(
        base_url=platform.url, timeout=30, headers={"Authorization": f"Bearer {platform.token}"}
    ) as http:
        response = await http.get("/api/connectors")
        response.raise_for_status()
        body = response.json()
        return len(body["connectors"] if isinstance(body, dict) else body)


async def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


@dataclass
class FleetResult:
    connectors: int
    connect_all_s: float | None
    hello_p50_ms: float
    hello_p99_ms: float
    platform_cpu_percent: float
    platform_rss_base: int
    platform_rss_held: int
    platform_seen: int
    to_99_s: float | None
    to_100_s: float | None
    recovered: int
    refusals: Counter
    backoff_window_s: float
    storm_platform_cpu_s: float
    storm_client_cpu_s: float
    #: the restart phase: platform stop → start took this long; re-registration after the stop
    restart_down_s: float | None = None
    restart_to_99_s: float | None = None
    restart_to_100_s: float | None = None
    restart_recovered: int = 0
    restart_refusals: Counter = field(default_factory=Counter)
    #: seconds from the sim call until the last link saw its close frame
    close_spread_s: float = 0.0
    #: p50 / p99 seconds between a close frame and the connection being fully closed (client side)
    close_wait_p50_s: float = 0.0
    close_wait_p99_s: float = 0.0
    #: the herd's shape: peak handshake attempts in one second, and attempts in all, after the disconnect
    peak_attempts_per_s: int = 0
    attempts: int = 0
    restart_peak_attempts_per_s: int = 0
    restart_attempts: int = 0
    #: the platform's --handshake-rate when given, and the simulation of the same storms at that rate
    handshake_rate: float | None = None
    simulated: StormResult | None = None
    restart_simulated: StormResult | None = None


async def run_fleet(args: argparse.Namespace, work: Path) -> FleetResult:
    from tests.support.waiting import free_port

    from .procstats import tree_cpu_seconds, tree_rss
    from .stack import start_platform

    # A fixed port, so a restarted platform is found again at the same URL (the last --port wins).
    shaping = [] if args.handshake_rate is None else ["--handshake-rate", str(args.handshake_rate)]
    platform = start_platform(
        work / "platform", extra_args=["--heartbeat", str(args.heartbeat), *shaping, "--port", str(free_port())]
    )
    tasks: list[asyncio.Task] = []
    connectors: list[Connector] = []
    try:
        print(f"creating {args.connectors} deployments …", file=sys.stderr)
        identities = await create_deployments(platform, args.connectors)
        log = FleetLog()
        rss_base = tree_rss(platform.pid)
        connectors = [
            Connector(i, platform.process.ws_url, token, dep, log) for i, (dep, token) in enumerate(identities)
        ]
        started = time.monotonic()
        tasks = [asyncio.create_task(c.run()) for c in connectors]
        all_in = await wait_for(lambda: len(log.registered_at) >= args.connectors, 120)
        connect_all = time.monotonic() - started if all_in else None

        cpu_before = tree_cpu_seconds(platform.pid)
        hold_started = time.monotonic()
        await asyncio.sleep(args.hold)  # the measurement window itself
        cpu_percent = (tree_cpu_seconds(platform.pid) - cpu_before) / (time.monotonic() - hold_started) * 100
        rss_held = tree_rss(platform.pid)
        seen = await connected_count(platform)

        log.refusals.clear()
        recording = None
        if args.profile is not None:
            from .profiling import record

            args.profile.mkdir(parents=True, exist_ok=True)
            recording = record(platform.pid, args.profile / "platform-storm.collapsed.txt")
            await asyncio.sleep(0.5)  # py-spy attaches asynchronously
        storm_cpu_before = (tree_cpu_seconds(platform.pid), time.process_time())
        disconnect_at = time.monotonic()
        async with httpx.AsyncClient(
            base_url=platform.url, timeout=60, headers={"Authorization": f"Bearer {platform.token}"}
        ) as http:
            response = await http.post("/api/sim/disconnect", json={})
            response.raise_for_status()
        await wait_for(lambda: len(log.registrations_after(disconnect_at)) >= args.connectors, args.recovery_timeout)
        storm_ended = time.monotonic()
        storm_platform_cpu = tree_cpu_seconds(platform.pid) - storm_cpu_before[0]
        storm_client_cpu = time.process_time() - storm_cpu_before[1]
        if recording is not None:
            write_profile_summary(recording.stop(), args.profile / "platform-storm.summary.txt")
        registrations = log.registrations_after(disconnect_at)
        probe = Backoff()
        window = probe.initial * (1 + probe.jitter)
        hello = [s * 1000 for s in log.hello_seconds]
        disconnect_closes: dict[str, Any] = close_figures(log.closes, disconnect_at)  # before the restart adds its own
        refusals = Counter(log.refusals)  # the restart phase starts its own count
        peak, attempts = attempt_rates(log.attempts, disconnect_at, storm_ended)
        restart = await restart_phase(platform, log, args) if args.restart else {}
        simulated = restart_simulated = None
        if args.handshake_rate is not None:
            # The sim disconnect drops every link of a platform that stays up: a storm with no downtime.
            simulated = simulate(args.connectors, args.handshake_rate, 0.0, shaped=True)
            if "restart_down_s" in restart:
                restart_simulated = simulate(
                    args.connectors, args.handshake_rate, restart["restart_down_s"], shaped=True
                )
        return FleetResult(
            connectors=args.connectors,
            connect_all_s=connect_all,
            hello_p50_ms=percentile(hello, 50),
            hello_p99_ms=percentile(hello, 99),
            platform_cpu_percent=cpu_percent,
            platform_rss_base=rss_base,
            platform_rss_held=rss_held,
            platform_seen=seen,
            to_99_s=time_to_share(disconnect_at, registrations, args.connectors, RECOVERED_SHARE),
            to_100_s=time_to_share(disconnect_at, registrations, args.connectors, 1.0),
            recovered=len(registrations),
            refusals=refusals,
            backoff_window_s=window,
            storm_platform_cpu_s=storm_platform_cpu,
            storm_client_cpu_s=storm_client_cpu,
            **disconnect_closes,
            **restart,
            peak_attempts_per_s=peak,
            attempts=attempts,
            handshake_rate=args.handshake_rate,
            simulated=simulated,
            restart_simulated=restart_simulated,
        )
    finally:
        for connector in connectors:
            connector.stopping = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        platform.stop()


async def restart_phase(platform, log: FleetLog, args: argparse.Namespace) -> dict:
    """Stop the platform (SIGTERM: it closes every link with 1012), start it again on the same port
    and data, and time the fleet's return. Links must first have lived `STABLE_AFTER_SECONDS`, so
    each client's backoff starts again from its initial delay, as after a long-lived connection."""
    from edge_protocol.backoff import STABLE_AFTER_SECONDS

    newest = max(max(times) for times in log.registered_at.values())
    await asyncio.sleep(max(0.0, newest + STABLE_AFTER_SECONDS + 1 - time.monotonic()))  # policy time, not a sync
    log.refusals.clear()
    stopped_at = time.monotonic()
    await asyncio.to_thread(platform.process.stop)
    await asyncio.to_thread(platform.process.start)
    down = time.monotonic() - stopped_at
    await wait_for(lambda: len(log.registrations_after(stopped_at)) >= args.connectors, args.recovery_timeout)
    registrations = log.registrations_after(stopped_at)
    peak, attempts = attempt_rates(log.attempts, stopped_at)
    return {
        "restart_peak_attempts_per_s": peak,
        "restart_attempts": attempts,
        "restart_down_s": down,
        "restart_to_99_s": time_to_share(stopped_at, registrations, args.connectors, RECOVERED_SHARE),
        "restart_to_100_s": time_to_share(stopped_at, registrations, args.connectors, 1.0),
        "restart_recovered": len(registrations),
        "restart_refusals": Counter(log.refusals),
    }


def write_profile_summary(collapsed: Path, target: Path) -> None:
    from .profiling import summarize_collapsed, top_self

    text = collapsed.read_text() if collapsed.exists() else ""
    total, hot = summarize_collapsed(text, top=40)
    lines = [f"platform during the reconnect storm: {total} samples", "", "inclusive%  self%  frame"]
    lines += [f"{h.inclusive_pct:9.1f} {h.self_pct:6.1f}  {h.frame}" for h in hot]
    lines += ["", "self time:"] + [f"{pct:6.1f}  {frame}" for frame, pct in top_self(text, 25)]
    target.write_text("\n".join(lines) + "\n")


def render(r: FleetResult, heartbeat: float, hold: float) -> Table:
    then = "sim disconnect, then a platform restart" if r.restart_down_s is not None else "then sim disconnect"
    table = Table(
        f"fleet: {r.connectors:,} connectors, heartbeat {heartbeat:g} s, held {hold:g} s, {then}",
        ["figure", "value", "budget", "met"],
    )
    table.add(
        "connectors registered (client side / platform's /api/connectors)",
        f"{r.connectors:,} / {r.platform_seen:,}",
        f"{r.connectors:,} held",
        verdict(r.platform_seen >= r.connectors),
    )
    table.add(
        "initial connect of the whole fleet", "—" if r.connect_all_s is None else f"{r.connect_all_s:.2f} s", "—", "—"
    )
    table.add(
        "hello round trip p50 / p99 (all handshakes)", f"{r.hello_p50_ms:.1f} / {r.hello_p99_ms:.1f} ms", "—", "—"
    )
    table.add("platform CPU while holding the fleet", f"{r.platform_cpu_percent:.1f} % of one core", "—", "—")
    per_connector = max(0, r.platform_rss_held - r.platform_rss_base) / r.connectors
    table.add(
        "platform RSS (before → holding) / per connector",
        f"{fmt_mb(r.platform_rss_base)} → {fmt_mb(r.platform_rss_held)} / {per_connector / 1024:.1f} KiB",
        "—",
        "—",
    )
    limit = r.backoff_window_s + HANDSHAKE_GRACE_S
    budget = f"≤ {limit:.1f} s (backoff ≤ {r.backoff_window_s:g} s + {HANDSHAKE_GRACE_S:g} s)"
    if r.simulated is not None:  # a shaped herd: the simulation of the same storm is the yardstick
        limit = r.simulated.to_99_s + HANDSHAKE_GRACE_S
        budget = f"≤ {limit:.1f} s (simulated {r.simulated.to_99_s:.1f} s + {HANDSHAKE_GRACE_S:g} s)"
    table.add(
        f"after disconnect: ≥ {RECOVERED_SHARE:.0%} re-registered",
        "never" if r.to_99_s is None else f"{r.to_99_s:.2f} s",
        budget,
        verdict(r.to_99_s is not None and r.to_99_s <= limit),
    )
    table.add(
        "after disconnect: 100 % re-registered",
        f"never ({r.recovered:,} back)" if r.to_100_s is None else f"{r.to_100_s:.2f} s",
        "—",
        "—",
    )
    table.add(
        "after disconnect: handshake attempts, peak in one second / in all",
        f"{r.peak_attempts_per_s:,}/s / {r.attempts:,}",
        "—" if r.simulated is None else f"simulated {r.simulated.peak_attempts_per_s:,}/s / {r.simulated.attempts:,}",
        "—",
    )
    table.add(
        "sim disconnect: last close frame received / close handshake wait p50, p99",
        f"{r.close_spread_s:.2f} s / {r.close_wait_p50_s * 1000:.0f}, {r.close_wait_p99_s * 1000:.0f} ms",
        "—",
        "—",
    )
    table.add(
        "CPU spent on the reconnect storm: platform / simulated fleet",
        f"{r.storm_platform_cpu_s:.2f} s / {r.storm_client_cpu_s:.2f} s "
        f"({r.storm_platform_cpu_s / r.connectors * 1000:.2f} ms per platform handshake)",
        "—",
        "—",
    )
    refusals = ", ".join(f"{k}: {v}" for k, v in sorted(r.refusals.items())) or "none"
    # A 503 with Retry-After is the platform shaping the herd (SPEC §14), not a failure.
    server_errors = sum(v for k, v in r.refusals.items() if k.startswith("HTTP 5") and "Retry-After" not in k)
    table.add("handshake refusals during the reconnect storm", refusals, "no 5xx storm", verdict(server_errors == 0))
    if r.restart_down_s is not None:
        table.add(
            "platform restart (SIGTERM, start again on the same port): stopped → listening",
            f"{r.restart_down_s:.2f} s",
            "—",
            "—",
        )
        restart_limit, restart_budget = limit, f"≤ {limit:.1f} s"
        if r.restart_simulated is not None:
            restart_limit = r.restart_simulated.to_99_s + HANDSHAKE_GRACE_S
            restart_budget = f"≤ {restart_limit:.1f} s (simulated {r.restart_simulated.to_99_s:.1f} s + grace)"
        table.add(
            f"after the restart: ≥ {RECOVERED_SHARE:.0%} re-registered (from the stop)",
            "never" if r.restart_to_99_s is None else f"{r.restart_to_99_s:.2f} s",
            restart_budget,
            verdict(r.restart_to_99_s is not None and r.restart_to_99_s <= restart_limit),
        )
        table.add(
            "after the restart: handshake attempts, peak in one second / in all",
            f"{r.restart_peak_attempts_per_s:,}/s / {r.restart_attempts:,}",
            "—"
            if r.restart_simulated is None
            else f"simulated {r.restart_simulated.peak_attempts_per_s:,}/s / {r.restart_simulated.attempts:,}",
            "—",
        )
        table.add(
            "after the restart: 100 % re-registered",
            f"never ({r.restart_recovered:,} back)" if r.restart_to_100_s is None else f"{r.restart_to_100_s:.2f} s",
            "—",
            "—",
        )
        restart_refusals = ", ".join(f"{k}: {v}" for k, v in sorted(r.restart_refusals.items())) or "none"
        restart_5xx = sum(v for k, v in r.restart_refusals.items() if k.startswith("HTTP 5") and "Retry-After" not in k)
        table.add("handshake refusals around the restart", restart_refusals, "no 5xx storm", verdict(restart_5xx == 0))
    table.note("platform RSS 'before' is measured after the deployments were created")
    if r.handshake_rate is not None:
        table.note(
            f"the platform admitted {r.handshake_rate:g} handshakes/s (--handshake-rate); the simulation is "
            "benchmarks.reconnect_storm's (real Backoff and HandshakeAdmission, same fleet and rate)"
        )
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile is not None:
        from .profiling import missing_profiler

        if problem := missing_profiler():
            print(problem, file=sys.stderr)
            return 1
    limit = raise_fd_limit(2 * args.connectors + 256)
    if limit < args.connectors + 64:
        print(
            f"the open-files limit ({limit}) is too low for {args.connectors} connectors; raise `ulimit -n`",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        result = asyncio.run(run_fleet(args, Path(tmp)))
    emit(render(result, args.heartbeat, args.hold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
