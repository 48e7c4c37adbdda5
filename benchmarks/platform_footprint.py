"""Benchmark — the platform's memory with a fleet on it, and the cost of `/oauth/token`.

    .venv/bin/python -m benchmarks.platform_footprint [--quick] [--deployments N] [--tools T]

Starts a real mock platform, creates N deployments (default 1,000; `--quick` 200) through its API,
exchanges every deployment's id and secret at `POST /oauth/token` (the runtime's client-credentials
flow) and connects N lightweight protocol clients with those tokens (a WebSocket, the real
`connector.hello`, pings at the announced heartbeat: `benchmarks.fleet_client.Connector`, not full runtimes);
with `--tools T` each hello announces the same T tools with an input schema (a fleet running one bundle).
Prints the platform's RSS fresh, after the deployments and holding the fleet (budget ≤ 100 MiB), its
kernel-kept peak, and `/oauth/token` p50/p99 (budget p50 ≤ 2 ms). The per-client token limit (0.5/s,
burst 10) and the per-address one (5/s, burst 50) are respected by asking once per deployment and
spreading the requests over loopback source addresses (127.0.0.2, 127.0.0.3 …), 40 per address.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import orjson

from .loadgen import KeepAliveConnection
from .output import emit
from .stats import Table, fmt_mb, fmt_ms, percentile, verdict

RSS_BUDGET = 100 * 1_048_576
TOKEN_P50_BUDGET_MS = 2.0
#: Token requests per loopback source address: inside the per-address burst (50).
PER_ADDRESS = 40
SETTLE_SECONDS = 3.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.platform_footprint", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="200 deployments and connectors")
    parser.add_argument("--deployments", type=int, default=None, help="deployments = connectors (default 1,000)")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up waiting for the fleet after S seconds")
    parser.add_argument("--tools", type=int, default=0, help="tools each connector announces (default 0)")
    args = parser.parse_args(argv)
    if args.deployments is None:
        args.deployments = 200 if args.quick else 1000
    if not 1 <= args.deployments <= 250 * PER_ADDRESS:
        parser.error(f"--deployments must be within 1..{250 * PER_ADDRESS}")
    if not 0 <= args.tools <= 100:
        parser.error("--tools must be within 0..100")
    return args


def fleet_tools(count: int) -> list[dict]:
    """`count` tools as a hello announces them, each with a small realistic input schema."""
    return [
        {
            "name": f"tool_{k}",
            "description": f"Tool {k}: looks a city up and answers in the units asked for.",
            "timeoutMs": 30000,
            "inputSchema": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 1},
                    "units": {"enum": ["metric", "imperial"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 14},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        }
        for k in range(count)
    ]


def source_address(index: int) -> str:
    """The loopback address the `index`-th token request comes from (127.0.0.2 upwards, PER_ADDRESS each)."""
    return f"127.0.0.{2 + index // PER_ADDRESS}"


@dataclass
class Footprint:
    deployments: int
    connected: int
    tools: int
    rss_fresh: int
    rss_deployments: int
    rss_held: int
    peak: int
    token_ms: list[float]
    connect_s: float
    #: the platform's own CPU per `/oauth/token` (user + system time over the phase / requests)
    token_cpu_us: float = 0.0


async def create_deployments(url: str, token: str, count: int) -> list[tuple[str, str]]:
    """`count` deployments through `POST /api/deployments`: [(deploymentId, secret)], 8 at a time."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connections = [await KeepAliveConnection(url, headers).connect() for _ in range(8)]
    created: list[tuple[str, str]] = [("", "")] * count

    async def worker(conn: KeepAliveConnection, indexes: range) -> None:
        for i in indexes:
            status, body = await conn.post_json("/api/deployments", {"name": f"footprint-{i:05d}"})
            if status != 201 and status != 200 or not isinstance(body, dict):
                raise SystemExit(f"creating deployment {i} failed: {status} {body!r:.200}")
            created[i] = (body["deploymentId"], body["secret"])

    await asyncio.gather(*(worker(c, range(k, count, len(connections))) for k, c in enumerate(connections)))
    for conn in connections:
        await conn.close()
    return created


async def exchange_tokens(url: str, credentials: list[tuple[str, str]]) -> tuple[list[str], list[float]]:
    """One `/oauth/token` per deployment, sequentially: (access tokens, each request's milliseconds)."""
    tokens, millis = [], []
    conn: KeepAliveConnection | None = None
    for i, (client_id, secret) in enumerate(credentials):
        if i % PER_ADDRESS == 0:
            if conn is not None:
                await conn.close()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            conn = await KeepAliveConnection(url, headers, local_addr=(source_address(i), 0)).connect()
        assert conn is not None
        form = urlencode({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        raw = conn.request_bytes("POST", "/oauth/token", form.encode())
        started = time.perf_counter()
        status, body = await conn.send(raw)
        millis.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"/oauth/token for deployment {i} answered {status}: {body[:200]!r}")
        tokens.append(orjson.loads(body)["access_token"])
    if conn is not None:
        await conn.close()
    return tokens, millis


async def run(args: argparse.Namespace, work: Path) -> Footprint:
    from .fleet import raise_fd_limit, wait_for
    from .fleet_client import Connector, FleetLog
    from .procstats import status_bytes, tree_cpu_seconds
    from .stack import start_platform

    raise_fd_limit(2 * args.deployments + 256)
    platform = start_platform(work / "platform")
    log = FleetLog()
    connectors: list[Connector] = []
    try:
        await asyncio.sleep(SETTLE_SECONDS)  # the app's lazy first-request work is not the fleet's cost
        rss_fresh = status_bytes(platform.pid, "VmRSS")
        credentials = await create_deployments(platform.url, platform.token, args.deployments)
        await asyncio.sleep(SETTLE_SECONDS)
        rss_deployments = status_bytes(platform.pid, "VmRSS")
        cpu_before = tree_cpu_seconds(platform.pid)
        tokens, token_ms = await exchange_tokens(platform.url, credentials)
        token_cpu_us = (tree_cpu_seconds(platform.pid) - cpu_before) / len(credentials) * 1e6

        started = time.monotonic()
        tools = fleet_tools(args.tools)
        connectors = [
            Connector(i, platform.process.ws_url, token, deployment_id, log, tools)
            for i, (token, (deployment_id, _)) in enumerate(zip(tokens, credentials, strict=True))
        ]
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c.run()) for c in connectors]
            all_in = await wait_for(lambda: len(log.registered_at) >= args.deployments, args.timeout, interval=0.2)
            connect_s = time.monotonic() - started
            await asyncio.sleep(SETTLE_SECONDS)
            rss_held = status_bytes(platform.pid, "VmRSS")
            peak = status_bytes(platform.pid, "VmHWM")
            for connector in connectors:
                connector.stopping = True
            for task in tasks:
                task.cancel()
        if not all_in:
            print(f"only {len(log.registered_at)} of {args.deployments} connectors registered", file=sys.stderr)
        return Footprint(
            args.deployments,
            len(log.registered_at),
            args.tools,
            rss_fresh,
            rss_deployments,
            rss_held,
            peak,
            token_ms,
            connect_s,
            token_cpu_us,
        )
    finally:
        platform.stop()


def render(result: Footprint) -> Table:
    n = result.deployments
    table = Table(
        f"platform footprint: {n:,} deployments, {n:,} connectors connected (protocol clients, "
        f"{result.tools} tools each)",
        ["figure", "value", "budget", "met"],
    )
    table.add("platform RSS, fresh (after its first requests)", fmt_mb(result.rss_fresh), "—", "—")
    table.add(f"platform RSS after creating {n:,} deployments", fmt_mb(result.rss_deployments), "—", "—")
    table.add(
        f"platform RSS holding {result.connected:,} connectors",
        fmt_mb(result.rss_held),
        f"≤ {fmt_mb(RSS_BUDGET)}",
        verdict(result.rss_held <= RSS_BUDGET and result.connected == n),
    )
    per = (result.rss_held - result.rss_deployments) / max(1, result.connected)
    table.add("RSS per connected connector", f"{per / 1024:.1f} KiB", "—", "—")
    table.add("platform peak RSS (kernel VmHWM)", fmt_mb(result.peak), "—", "—")
    p50 = percentile(result.token_ms, 50)
    table.add(
        f"`/oauth/token` p50 / p99 ({len(result.token_ms):,} requests, one per deployment)",
        f"{fmt_ms(p50)} / {fmt_ms(percentile(result.token_ms, 99))}",
        f"p50 ≤ {TOKEN_P50_BUDGET_MS:g} ms",
        verdict(p50 <= TOKEN_P50_BUDGET_MS),
    )
    table.add(
        "platform CPU per `/oauth/token` (load bends it less than wall time)",
        f"{result.token_cpu_us:,.0f} µs",
        "—",
        "—",
    )
    table.add("fleet connect (tokens in hand → all registered)", f"{result.connect_s:.2f} s", "—", "—")
    table.note(
        "RSS is the platform process's VmRSS from /proc; each token request is timed by the client on a "
        f"keep-alive connection, {PER_ADDRESS} per loopback source address (the per-address limit)"
    )
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-platform-footprint-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    emit(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
