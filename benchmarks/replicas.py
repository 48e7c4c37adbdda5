"""Benchmark 9 — one deployment served by 1, 2 and 3 replicas, and a rolling restart under load (SPEC.md §14).

    .venv/bin/python -m benchmarks.replicas [--quick] [--calls N] [--concurrency 64] [--rate 200] [--roll-seconds 30]

One platform, one deployment with `replicas: 3`, three real `edge-connector start` runtimes (one Node.js
worker each) serving an echo tool and a `count` tool that appends each call id to a ledger file.

1. Throughput of the echo tool through the platform with 1, then 2, then 3 replicas connected (`--calls`
   calls from `--concurrency` keep-alive callers, the deployment named in each call). Everything shares
   this machine's cores: the platform, the load generator and every runtime with its worker, so more
   replicas add CPU contention as much as capacity; the table says what it measured, not more.
2. A rolling restart: a steady `--rate` calls/s on `count` for `--roll-seconds`, while each replica in
   turn gets SIGTERM (it drains: `connector.draining`, calls in flight finish, close 1000), is waited
   for, started again and waited for on `/healthz`. Reported: calls, failed calls (target 0), calls run
   twice (target 0, from the ledger), latency p50/p99/max during the roll, and each restart's duration.
3. `kill -9` of one replica under the same steady load on `slow_count` (50 ms a call, so calls are in
   flight when it dies), for `--kill-seconds`: the calls that failed (only `connector_unavailable`, only
   those the killed replica was running) and whether any call ran twice.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tests.support.bundles import JsTool, echo_tool, write_bundle

from .loadgen import KeepAliveConnection, PacedCall, paced, throughput
from .output import emit
from .stack import Platform, Runtime, StackError, start_platform, start_runtime
from .stats import Table, percentile, verdict

COUNT = JsTool("count", "require('fs').appendFileSync(input.ledger, ctx.callId + '\\n'); return { n: input.n };")
SLOW_COUNT = JsTool(
    "slow_count",
    "await new Promise(r => setTimeout(r, 50));"
    "require('fs').appendFileSync(input.ledger, ctx.callId + '\\n'); return { n: input.n };",
)
REPLICAS = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 calls per level, a 12 s roll")
    parser.add_argument("--calls", type=int, default=None, help="calls per throughput level (default 6,000)")
    parser.add_argument("--concurrency", type=int, default=64, help="callers for the throughput levels (default 64)")
    parser.add_argument("--rate", type=float, default=200.0, help="calls/s during the roll (default 200)")
    parser.add_argument(
        "--roll-seconds", type=float, default=None, help="length of the steady load the roll runs under (default 30)"
    )
    parser.add_argument(
        "--kill-seconds", type=float, default=None, help="length of the steady load around the kill -9 (default 10)"
    )
    args = parser.parse_args(argv)
    if args.calls is None:
        args.calls = 1000 if args.quick else 6000
    if args.roll_seconds is None:
        args.roll_seconds = 12.0 if args.quick else 30.0
    if args.kill_seconds is None:
        args.kill_seconds = 6.0 if args.quick else 10.0
    if args.calls < 10 or args.concurrency < 1 or args.rate <= 0 or args.roll_seconds <= 0 or args.kill_seconds <= 0:
        parser.error("--calls ≥ 10, --concurrency ≥ 1, --rate, --roll-seconds and --kill-seconds above 0")
    return args


@dataclass
class RollResult:
    calls: list[PacedCall]
    restarts_s: list[float]
    ran: Counter[str]
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return sum(1 for call in self.calls if call.status != 200)

    @property
    def ran_twice(self) -> int:
        return sum(1 for count in self.ran.values() if count > 1)


@dataclass
class BenchResult:
    throughput: dict[int, float]
    roll: RollResult
    rate: float
    roll_seconds: float
    #: the kill -9 phase (same shape: restarts_s holds the moment of the kill, seconds into its load)
    kill: RollResult | None = None


class Pool:
    def __init__(self, platform: Platform, work: Path) -> None:
        self.platform, self.work = platform, work
        with platform.client() as http:
            made = http.post("/api/deployments", json={"name": "bench-pool", "replicas": REPLICAS})
        if made.status_code != 201:
            raise StackError(f"deployment refused: {made.status_code} {made.text[:300]}")
        self.deployment_id = made.json()["deploymentId"]
        (work / "ledger").mkdir(exist_ok=True)
        self.ledger = work / "ledger" / "ledger.txt"
        self.runtimes: dict[int, Runtime] = {}

    def start(self, index: int) -> Runtime:
        directory = self.work / f"replica-{index}"
        if not (directory / "manifest.json").exists():
            # The ledger is outside the sandbox's scratch dir: the bundle asks to write there (SPEC §10).
            write_bundle(
                directory,
                [echo_tool(), COUNT, SLOW_COUNT],
                version=1,
                sandbox={"permissions": {"fsWrite": [str(self.ledger.parent)]}},
            )
        self.runtimes[index] = start_runtime(
            self.platform, directory, env={"DEPLOYMENT_ID": self.deployment_id, "EC_WORKERS": "1"}
        )
        return self.runtimes[index]

    def restart(self, index: int) -> float:
        """SIGTERM, wait for the exit, start again, wait for /healthz; seconds it took."""
        started = time.monotonic()
        runtime = self.runtimes[index]
        runtime.process.send_signal(signal.SIGTERM)
        try:
            code = runtime.process.wait(30)
        except subprocess.TimeoutExpired:
            raise StackError(f"replica {index} did not exit within 30 s of SIGTERM:\n{runtime.log_tail()}") from None
        if code != 0:
            raise StackError(f"replica {index} exited {code} after SIGTERM:\n{runtime.log_tail()}")
        self.start(index)
        return time.monotonic() - started

    def connected(self) -> int:
        with self.platform.client(timeout=10) as http:
            return len(http.get("/api/connectors").json()["connectors"])

    def stop(self) -> None:
        for runtime in self.runtimes.values():
            runtime.stop()


async def _connections(platform: Platform, count: int) -> list[KeepAliveConnection]:
    headers = {"Authorization": f"Bearer {platform.token}", "Content-Type": "application/json"}
    return [await KeepAliveConnection(platform.url, headers).connect() for _ in range(count)]


async def measure_throughput(pool: Pool, calls: int, concurrency: int) -> float:
    connections = await _connections(pool.platform, concurrency)
    body = orjson.dumps({"deploymentId": pool.deployment_id, "arguments": {"n": 1}})
    try:

        async def make_caller(index: int):
            connection = connections[index]
            raw = connection.request_bytes("POST", "/api/tools/echo/call", body)

            async def call() -> None:
                status, answer = await connection.send(raw)
                if status != 200:
                    raise StackError(f"echo call failed: {status} {answer[:200]!r}")

            return call

        warmup = await throughput(make_caller, concurrency, min(calls, 500))
        del warmup
        return (await throughput(make_caller, concurrency, calls)).per_second
    finally:
        for connection in connections:
            await connection.close()


async def under_load(pool: Pool, rate: float, seconds: float, tool: str, work) -> list[PacedCall]:
    """`rate` calls/s of `tool` for at least `seconds` and until `work()` (run in a thread) has returned."""
    connections = await _connections(pool.platform, 32)

    def request(index: int) -> bytes:
        return connections[0].request_bytes(
            "POST",
            f"/api/tools/{tool}/call",
            orjson.dumps(
                {
                    "deploymentId": pool.deployment_id,
                    "timeoutMs": 10_000,
                    "arguments": {"ledger": str(pool.ledger), "n": index},
                }
            ),
        )

    try:
        load_started = time.perf_counter()
        worker = asyncio.create_task(asyncio.to_thread(work))
        calls = await paced(
            connections,
            request,
            rate,
            stop=lambda: worker.done() and time.perf_counter() - load_started >= seconds,
            max_seconds=seconds + 120,
        )
        await worker
    finally:
        for connection in connections:
            await connection.close()
    return calls


def _pace_until(moment: float) -> None:
    while time.monotonic() < moment:  # pacing the scenario, not waiting for a state
        time.sleep(0.05)


def _outcome(pool: Pool, calls: list[PacedCall], moments: list[float]) -> RollResult:
    ran = Counter(pool.ledger.read_text().split()) if pool.ledger.exists() else Counter()
    failures = Counter(error_code(c) for c in calls if c.status != 200)
    return RollResult(calls, moments, ran, failures)


async def roll_under_load(pool: Pool, rate: float, seconds: float) -> RollResult:
    restarts: list[float] = []

    def roll() -> None:
        # Spread the three restarts over the load: one at each third, so each runs under steady traffic.
        began = time.monotonic()
        for index in range(REPLICAS):
            _pace_until(began + index * seconds / REPLICAS + 1.0)
            restarts.append(pool.restart(index))

    calls = await under_load(pool, rate, seconds, "count", roll)
    return _outcome(pool, calls, restarts)


async def kill_under_load(pool: Pool, rate: float, seconds: float) -> RollResult:
    """SIGKILL one replica a third of the way into a steady load of 50 ms calls."""
    killed_at: list[float] = []

    def kill() -> None:
        began = time.monotonic()
        _pace_until(began + seconds / 3)
        pool.runtimes[1].process.send_signal(signal.SIGKILL)
        killed_at.append(time.monotonic() - began)
        pool.runtimes[1].process.wait(10)

    calls = await under_load(pool, rate, seconds, "slow_count", kill)
    return _outcome(pool, calls, killed_at)


def error_code(call: PacedCall) -> str:
    """The `error.code` of a refused call's body, else its HTTP status."""
    body = call.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code"))
    return f"HTTP {call.status}"


async def run(args: argparse.Namespace, work: Path) -> BenchResult:
    platform = start_platform(work / "platform")
    pool = Pool(platform, work)
    try:
        rates: dict[int, float] = {}
        for index in range(REPLICAS):
            pool.start(index)
            if pool.connected() != index + 1:
                raise StackError(f"expected {index + 1} connectors, the platform lists {pool.connected()}")
            rates[index + 1] = await measure_throughput(pool, args.calls, args.concurrency)
        roll = await roll_under_load(pool, args.rate, args.roll_seconds)
        pool.ledger.unlink(missing_ok=True)  # the kill phase's ledger starts empty
        kill = await kill_under_load(pool, args.rate, args.kill_seconds)
        return BenchResult(rates, roll, args.rate, args.roll_seconds, kill)
    finally:
        pool.stop()
        platform.stop()


def render(result: BenchResult, calls: int, concurrency: int) -> Table:
    table = Table("Replicas: one deployment, 1-3 connectors on this machine", ["measure", "result", "target", "met"])
    for count, per_second in result.throughput.items():
        table.add(
            f"echo throughput, {count} replica{'s' if count > 1 else ''} ({concurrency} callers, {calls:,} calls)",
            f"{per_second:,.0f} calls/s",
            "—",
            "—",
        )
    roll = result.roll
    ok = [c.latency * 1000 for c in roll.calls if c.status == 200]
    seconds = max((c.scheduled_at for c in roll.calls), default=0.0)
    table.add(
        f"rolling restart of {REPLICAS} replicas under {result.rate:g} calls/s: calls sent",
        f"{len(roll.calls):,} over {seconds:.1f} s",
        f"≥ {result.rate:g}/s",
        verdict(len(roll.calls) >= 0.95 * result.rate * seconds),
    )
    table.add(
        "rolling restart: failed calls",
        f"{roll.failed}" + (f" ({dict(roll.failures)})" if roll.failed else ""),
        "0",
        verdict(roll.failed == 0),
    )
    table.add("rolling restart: calls run twice (tool ledger)", f"{roll.ran_twice}", "0", verdict(roll.ran_twice == 0))
    table.add(
        "rolling restart: calls run (ledger) / answered 200",
        f"{sum(roll.ran.values()):,} / {len(ok):,}",
        "equal",
        verdict(sum(roll.ran.values()) == len(ok)),
    )
    if ok:
        table.add(
            "rolling restart: latency p50 / p99 / max",
            f"{percentile(ok, 50):.1f} / {percentile(ok, 99):.1f} / {max(ok):.1f} ms",
            "—",
            "—",
        )
    table.add(
        "each restart: SIGTERM → exited → started → /healthz 200",
        ", ".join(f"{s:.1f} s" for s in roll.restarts_s),
        "—",
        "—",
    )
    if result.kill is not None:
        kill = result.kill
        killed_ok = [c.latency * 1000 for c in kill.calls if c.status == 200]
        table.add(
            f"kill -9 of 1 of {REPLICAS} replicas under {result.rate:g} calls/s of a 50 ms tool: calls sent",
            f"{len(kill.calls):,} (killed {kill.restarts_s[0]:.1f} s in)"
            if kill.restarts_s
            else f"{len(kill.calls):,}",
            "—",
            "—",
        )
        only_its_calls = set(kill.failures) <= {"connector_unavailable"}
        table.add(
            "kill -9: failed calls (the killed replica's calls in flight)",
            f"{kill.failed}" + (f" ({dict(kill.failures)})" if kill.failed else ""),
            "only connector_unavailable",
            verdict(only_its_calls),
        )
        table.add("kill -9: calls run twice (tool ledger)", f"{kill.ran_twice}", "0", verdict(kill.ran_twice == 0))
        failed_sent = [c.scheduled_at for c in kill.calls if c.status != 200]
        if failed_sent and kill.restarts_s:
            # New calls go to the survivors at once: the failures are the calls sent just before the kill.
            table.add(
                "kill -9: failed calls were sent, relative to the kill",
                f"{(min(failed_sent) - kill.restarts_s[0]) * 1000:+.0f} to "
                f"{(max(failed_sent) - kill.restarts_s[0]) * 1000:+.0f} ms",
                "—",
                "—",
            )
        if killed_ok:
            table.add(
                "kill -9: latency p50 / p99 / max",
                f"{percentile(killed_ok, 50):.1f} / {percentile(killed_ok, 99):.1f} / {max(killed_ok):.1f} ms",
                "—",
                "—",
            )
    table.note(
        "platform, load generator and all runtimes (1 Node.js worker each) share this machine's cores: "
        "throughput with more replicas measures contention as much as capacity"
    )
    table.note("latency is counted from each call's scheduled start (a stall shows as latency, not as a lower rate)")
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        try:
            result = asyncio.run(run(args, Path(tmp)))
        except StackError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    emit(render(result, args.calls, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
