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

The clients and their log are in `fleet_client.py`; this module (over 400 lines, on purpose) is the
benchmark's script: its arguments, its phases in the order they run (connect, hold, disconnect, restart)
and the one table that reports them, read top to bottom.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from edge_protocol.backoff import Backoff

from .fleet_client import Connector, FleetLog, attempt_rates, close_figures, time_to_share
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
