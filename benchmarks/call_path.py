"""Benchmark 1 — a trivial echo tool through platform → runtime → node, beside the official `mcp` SDK.

    .venv/bin/python -m benchmarks.call_path [--quick] [--calls N] [--concurrency 1,16,64]

Ours: a real mock platform and a real `edge-connector start` (Node.js workers) on 127.0.0.1; the
callers POST `/api/tools/echo/call` over keep-alive connections with a minimal HTTP client
(benchmarks/loadgen.py), so the load generator costs little CPU. Reference: the `mcp` SDK's MCPServer
serving the same echo tool over stdio, driven the same way: a raw newline JSON-RPC client
(benchmarks/stdio_rpc.py, pre-encoded requests, many in flight on the one pipe), so neither side's
figures carry a client library. Both sides print the serving side's CPU per call (ours: platform +
runtime + node workers; theirs: the server process). The SDK driven through its own `Client` is kept as
an extra, labelled row: that library's CPU lands in its figures.
Prints sequential p50/p99 and throughput at each concurrency, ratios, and where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .loadgen import KeepAliveConnection, ThroughputResult, sequential, throughput
from .output import emit
from .stats import LatencySummary, Table, fmt_ms, fmt_ratio, percentile, ratio, summarize_latencies, verdict

P50_BUDGET_MS = 1.0
P99_BUDGET_MS = 5.0
THROUGHPUT_BUDGET = 3000.0
REFERENCE_FACTOR = 2.0
#: Issue 18, raw clients on both sides: serving CPU per call at most half the SDK server's.
CPU_FACTOR = 0.5
MESSAGE = {"message": "hello"}
#: No phase of a run may take longer than this; a hung product fails the run instead of hanging it.
PHASE_TIMEOUT_SECONDS = 300.0


async def bounded(phase):
    """Await one measured phase with the run's deadline (no per-call cost to the load generator)."""
    try:
        return await asyncio.wait_for(phase, PHASE_TIMEOUT_SECONDS)
    except TimeoutError:
        raise SystemExit(
            f"a benchmark phase took more than {PHASE_TIMEOUT_SECONDS:.0f} s; is the product stuck?"
        ) from None


@dataclass
class SideResult:
    name: str
    latency: LatencySummary
    throughput: dict[int, ThroughputResult]
    errors: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    #: serving-side CPU µs per call: "seq" for the sequential phase, else the number of callers
    serving_cpu_us: dict[int | str, float] = field(default_factory=dict)


def parse_concurrency(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--concurrency takes comma-separated integers, got {text!r}") from None
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("--concurrency levels must be positive integers")
    return levels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.call_path", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 sequential calls, 1,000 per throughput level")
    parser.add_argument("--calls", type=int, default=None, help="sequential calls per side (default 2,000)")
    parser.add_argument("--throughput-calls", type=int, default=None, help="calls per throughput level (default 6,000)")
    parser.add_argument(
        "--concurrency",
        type=parse_concurrency,
        default=[1, 16, 64],
        help="comma-separated numbers of concurrent callers (default 1,16,64)",
    )
    parser.add_argument("--skip-reference", action="store_true", help="measure only edge-connector")
    parser.add_argument(
        "--skip-sdk-client", action="store_true", help="skip the extra row: the SDK driven through its own Client"
    )
    parser.add_argument("--skip-ours", action="store_true", help="measure only the mcp SDK reference")
    parser.add_argument("--workers", type=int, default=None, help="EC_WORKERS for the runtime (default: its own)")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="after the measured runs, load both processes again under py-spy and write "
        "their collapsed stacks and a summary of the hottest frames into DIR",
    )
    args = parser.parse_args(argv)
    if args.calls is None:
        args.calls = 300 if args.quick else 2000
    if args.throughput_calls is None:
        args.throughput_calls = 1000 if args.quick else 6000
    if args.calls < 10 or args.throughput_calls < 10:
        parser.error("--calls and --throughput-calls must be at least 10")
    return args


# ------------------------------------------------------------------------------------ reference
async def measure_mcp_reference(calls: int, throughput_calls: int, levels: list[int]) -> SideResult:
    """The SDK's stdio server driven by a raw newline JSON-RPC client: only the server's work is measured."""
    from .procstats import tree_cpu_seconds
    from .stdio_rpc import StdioRpcClient

    server = Path(__file__).with_name("mcp_echo_server.py")
    client = StdioRpcClient([sys.executable, str(server)])
    await client.start()
    errors = 0
    tail = client.encoder("tools/call", {"name": "echo", "arguments": MESSAGE})
    try:

        async def call() -> None:
            nonlocal errors
            result = await client.send(tail)
            if result.get("isError") or result.get("structuredContent") != MESSAGE:
                errors += 1

        async def shared_pipe(_: int):
            return call  # every caller shares the one stdio session, as an MCP client does

        for _ in range(min(200, calls)):  # warm-up: imports, pydantic model caches
            await call()
        cpu: dict[int | str, float] = {}
        before = tree_cpu_seconds(client.pid)
        latency = summarize_latencies(await bounded(sequential(call, calls)))
        cpu["seq"] = (tree_cpu_seconds(client.pid) - before) / calls * 1e6
        results = {}
        for level in levels:
            before = tree_cpu_seconds(client.pid)
            results[level] = await bounded(throughput(shared_pipe, level, throughput_calls))
            cpu[level] = (tree_cpu_seconds(client.pid) - before) / results[level].calls * 1e6
    finally:
        await client.close()
    return SideResult("mcp SDK server (stdio, raw client)", latency, results, errors, serving_cpu_us=cpu)


async def measure_sdk_client_library(calls: int, throughput_calls: int, level: int) -> SideResult:
    """The extra row: the SDK's server driven through the SDK's own `Client` (its CPU lands in the figures)."""
    from mcp import Client, StdioServerParameters

    server = Path(__file__).with_name("mcp_echo_server.py")
    params = StdioServerParameters(command=sys.executable, args=[str(server)])
    errors = 0
    async with Client(params) as client:

        async def call() -> None:
            nonlocal errors
            result = await client.call_tool("echo", MESSAGE)
            if result.is_error or result.structured_content != MESSAGE:
                errors += 1

        for _ in range(min(200, calls)):
            await call()
        latency = summarize_latencies(await bounded(sequential(call, calls)))

        async def shared_session(_: int):
            return call  # the SDK multiplexes concurrent requests over its one stdio session

        results = {level: await bounded(throughput(shared_session, level, throughput_calls))}
    return SideResult("mcp SDK through its own Client", latency, results, errors)


# ------------------------------------------------------------------------------------------ ours
async def measure_edge_connector(
    calls: int, throughput_calls: int, levels: list[int], workers: int | None, profile_dir: Path | None = None
) -> SideResult:
    from .bundles import make_echo_bundle
    from .procstats import tree_cpu_seconds
    from .stack import start_platform, start_runtime, wait_for_tool

    with tempfile.TemporaryDirectory(prefix="bench-call-path-") as tmp:
        platform = start_platform(Path(tmp, "platform"))
        runtime = None
        try:
            platform.publish(make_echo_bundle(Path(tmp, "bundle")))
            runtime = start_runtime(
                platform, Path(tmp, "install"), env={"EC_WORKERS": str(workers)} if workers else None
            )
            wait_for_tool(platform, "echo", MESSAGE)
            headers = {"Authorization": f"Bearer {platform.token}", "Content-Type": "application/json"}
            errors = 0
            durations_ms: list[float] = []

            async def caller(_: int):
                conn = await KeepAliveConnection(platform.url, headers).connect()
                connections.append(conn)
                raw = conn.request_bytes("POST", "/api/tools/echo/call", b'{"arguments":{"message":"hello"}}')

                async def call() -> None:
                    nonlocal errors
                    status, body = await conn.send(raw)
                    if status != 200 or b'"output":{"message":"hello"}' not in body:
                        errors += 1
                        if errors <= 3:
                            print(f"call failed: {status} {body[:200]!r}", file=sys.stderr)
                    elif record_durations:
                        durations_ms.append(float(orjson.loads(body)["durationMs"]))

                return call

            connections: list[KeepAliveConnection] = []
            record_durations = False
            one = await caller(0)
            for _ in range(min(200, calls)):
                await one()
            record_durations = True  # only the sequential phase: the runtime's own share of each call
            serving_before = tree_cpu_seconds(platform.pid) + tree_cpu_seconds(runtime.pid)
            latency = summarize_latencies(await bounded(sequential(one, calls)))
            serving_cpu: dict[int | str, float] = {
                "seq": (tree_cpu_seconds(platform.pid) + tree_cpu_seconds(runtime.pid) - serving_before) / calls * 1e6
            }
            record_durations = False

            # Where the time goes: the same connection on the platform's cheapest routes.
            floor_conn = connections[0]
            healthz = floor_conn.request_bytes("GET", "/healthz")
            me = floor_conn.request_bytes("GET", "/api/me")

            async def call_raw(raw: bytes):
                async def call() -> None:
                    await floor_conn.send(raw)

                return call

            extra = {
                "healthz_p50_ms": summarize_latencies(await bounded(sequential(await call_raw(healthz), 500))).p50_ms,
                "api_me_p50_ms": summarize_latencies(await bounded(sequential(await call_raw(me), 500))).p50_ms,
            }
            if durations_ms:
                extra["runtime_duration_p50_ms"] = percentile(durations_ms, 50)
            # The platform's own account of the last sequential calls: hub → runtime → hub.
            status, recent = await floor_conn.send(floor_conn.request_bytes("GET", "/api/calls?limit=500"))
            if status == 200:
                hub_ms = [
                    c["durationMs"]
                    for c in orjson.loads(recent).get("calls", [])
                    if c.get("tool") == "echo" and isinstance(c.get("durationMs"), (int, float))
                ]
                if hub_ms:
                    extra["hub_duration_p50_ms"] = percentile(hub_ms, 50)

            results = {}
            for level in levels:
                cpu_before = {"platform": tree_cpu_seconds(platform.pid), "runtime": tree_cpu_seconds(runtime.pid)}
                result = await bounded(throughput(caller, level, throughput_calls))
                results[level] = result
                extra[f"platform_cpu_per_call_us@{level}"] = (
                    (tree_cpu_seconds(platform.pid) - cpu_before["platform"]) / result.calls * 1e6
                )
                extra[f"runtime_cpu_per_call_us@{level}"] = (
                    (tree_cpu_seconds(runtime.pid) - cpu_before["runtime"]) / result.calls * 1e6
                )
                serving_cpu[level] = (
                    extra[f"platform_cpu_per_call_us@{level}"] + extra[f"runtime_cpu_per_call_us@{level}"]
                )
            if profile_dir is not None:
                await profile_under_load(
                    caller,
                    max(levels),
                    throughput_calls,
                    profile_dir,
                    {"platform": platform.pid, "runtime": runtime.pid},
                )
            for conn in connections:
                await conn.close()
            return SideResult("edge-connector", latency, results, errors, extra, serving_cpu)
        finally:
            if runtime is not None:
                runtime.stop()
            platform.stop()


async def profile_under_load(caller, level: int, calls: int, folder: Path, pids: dict[str, int]) -> None:
    """A separate, unmeasured run at `level` callers with py-spy sampling each process."""
    from .profiling import record, summarize_collapsed, top_self

    folder.mkdir(parents=True, exist_ok=True)
    recordings = {name: record(pid, folder / f"{name}.collapsed.txt") for name, pid in pids.items()}
    await asyncio.sleep(0.5)  # py-spy attaches asynchronously; its first samples must see the load
    result = await bounded(throughput(caller, level, calls))
    for name, recording in recordings.items():
        path = recording.stop()
        text = path.read_text() if path.exists() else ""
        total, hot = summarize_collapsed(text, top=25)
        lines = [
            f"{name} (pid {pids[name]}): {total} samples while {result.calls} calls ran at {level} callers "
            f"({result.per_second:,.0f} calls/s under the profiler)",
            "",
            "inclusive%  self%  frame",
        ]
        lines += [f"{h.inclusive_pct:9.1f} {h.self_pct:6.1f}  {h.frame}" for h in hot]
        lines += ["", "self time:"] + [f"{pct:6.1f}  {frame}" for frame, pct in top_self(text, 20)]
        (folder / f"{name}.summary.txt").write_text("\n".join(lines) + "\n")
        print("\n".join(lines[:20]), file=sys.stderr)


# ----------------------------------------------------------------------------------------- table
def render(
    ours: SideResult | None,
    reference: SideResult | None,
    calls: int,
    levels: list[int],
    client_library: SideResult | None = None,
) -> Table:
    table = Table(
        f"call path: echo tool, {calls:,} sequential calls, throughput at {', '.join(map(str, levels))} callers "
        f"(raw clients on both sides)",
        ["figure", "edge-connector", "mcp SDK server (stdio)", "ours vs ref", "target", "met"],
    )

    def cell(side: SideResult | None, text) -> str:
        return "—" if side is None else text(side)

    def latency_row(label: str, attr: str, budget: float, against_reference: bool) -> None:
        ours_value = getattr(ours.latency, attr) if ours else None
        ref_value = getattr(reference.latency, attr) if reference else None
        better = ratio(ref_value, ours_value) if ref_value is not None and ours_value is not None else None
        met = None
        if ours_value is not None:
            met = ours_value <= budget and (not against_reference or better is None or better >= 1.0)
        table.add(
            label,
            cell(ours, lambda s: fmt_ms(getattr(s.latency, attr))),
            cell(reference, lambda s: fmt_ms(getattr(s.latency, attr))),
            fmt_ratio(better) + " faster" if better is not None else "—",
            f"≤ {budget:g} ms" + (" and ≤ ref" if against_reference else ""),
            verdict(met),
        )

    # Issue 18, raw clients on both sides: p50 no worse than the SDK server's, 64-caller throughput at
    # least 2x, serving CPU per call at most half; DESIGN.md's absolute budgets beside them.
    latency_row("sequential p50", "p50_ms", P50_BUDGET_MS, against_reference=True)
    latency_row("sequential p99", "p99_ms", P99_BUDGET_MS, against_reference=False)
    for level in levels:
        ours_rate = ours.throughput[level].per_second if ours else None
        ref_rate = reference.throughput[level].per_second if reference else None
        better = ours_rate / ref_rate if ours_rate and ref_rate else None
        is_budgeted = level == 64
        met = None
        if is_budgeted and ours_rate is not None:
            met = ours_rate >= THROUGHPUT_BUDGET and (better is None or better >= REFERENCE_FACTOR)
        table.add(
            f"throughput, {level} callers",
            cell(ours, lambda s, level=level: f"{s.throughput[level].per_second:,.0f} calls/s"),
            cell(reference, lambda s, level=level: f"{s.throughput[level].per_second:,.0f} calls/s"),
            fmt_ratio(better) if better is not None else "—",
            f"≥ {THROUGHPUT_BUDGET:,.0f}/s and ≥ {REFERENCE_FACTOR:g}× ref" if is_budgeted else "—",
            verdict(met),
        )
    keys: list[int | str] = ["seq", *levels]
    for key in keys:
        ours_cpu = ours.serving_cpu_us.get(key) if ours else None
        ref_cpu = reference.serving_cpu_us.get(key) if reference else None
        share = ours_cpu / ref_cpu if ours_cpu is not None and ref_cpu else None
        table.add(
            "serving CPU per call, " + ("sequential" if key == "seq" else f"{key} callers"),
            "—" if ours_cpu is None else f"{ours_cpu:,.0f} µs",
            "—" if ref_cpu is None else f"{ref_cpu:,.0f} µs",
            f"{share:.2f}× ref" if share is not None else "—",
            f"≤ {CPU_FACTOR:g}× ref",
            verdict(None if share is None else share <= CPU_FACTOR),
        )
    if client_library is not None:
        top = max(client_library.throughput)
        rate = client_library.throughput[top]
        table.add(
            "extra: SDK via its own `Client` (its CPU included): p50 / throughput",
            cell(ours, lambda s: f"{fmt_ms(s.latency.p50_ms)} / {s.throughput[top].per_second:,.0f} calls/s"),
            f"{fmt_ms(client_library.latency.p50_ms)} / {rate.per_second:,.0f} calls/s ({top} callers)",
            cell(
                ours,
                lambda s: (
                    f"{fmt_ratio(ratio(client_library.latency.p50_ms, s.latency.p50_ms))} faster / "
                    f"{fmt_ratio(s.throughput[top].per_second / rate.per_second)}"
                ),
            ),
            "— (not a target: client library)",
            "—",
        )
        table.note(
            f"{client_library.name}: {client_library.errors} failed calls; that client's own CPU per call at "
            f"{top} callers {rate.client_cpu_seconds / rate.calls * 1e6:.0f} µs"
        )
    for side in (ours, reference):
        if side is None:
            continue
        cpu = ", ".join(
            f"{lvl}: {side.throughput[lvl].client_cpu_seconds / side.throughput[lvl].calls * 1e6:.0f} µs"
            for lvl in levels
        )
        table.note(f"{side.name}: {side.errors} failed calls; load-generator CPU per call ({cpu})")
    table.note(
        "serving CPU: ours = platform + runtime + node workers (each process tree's user + system time); "
        "the SDK's = its server process"
    )
    if ours is not None:
        x = ours.extra
        parts = [
            f"platform HTTP floor p50: GET /healthz {fmt_ms(x['healthz_p50_ms'])}, "
            f"GET /api/me (JWT check) {fmt_ms(x['api_me_p50_ms'])}"
        ]
        if "hub_duration_p50_ms" in x:
            parts.append(
                f"the platform hub's time per call (its /api/calls durationMs: WebSocket out, runtime, "
                f"WebSocket back) p50 {fmt_ms(x['hub_duration_p50_ms'])}"
            )
        if "runtime_duration_p50_ms" in x:
            parts.append(
                f"the runtime's own time per call (durationMs: schema check + node round trip) p50 "
                f"{fmt_ms(x['runtime_duration_p50_ms'])}; the rest of the end-to-end p50 is HTTP in and out "
                f"of the platform"
            )
        table.note("where the time goes: " + "; ".join(parts))
        for level in levels:
            table.note(
                f"CPU per call at {level} callers: platform {x[f'platform_cpu_per_call_us@{level}']:.0f} µs, "
                f"runtime + node workers {x[f'runtime_cpu_per_call_us@{level}']:.0f} µs"
            )
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile is not None:
        from .profiling import missing_profiler

        if problem := missing_profiler():
            print(problem, file=sys.stderr)
            return 1
    reference = ours = client_library = None
    if not args.skip_reference:
        try:
            import mcp  # noqa: F401
        except ImportError:
            print(
                "the reference needs the official mcp SDK: pip install -e '.[bench]' (or pass --skip-reference)",
                file=sys.stderr,
            )
            return 1
        reference = asyncio.run(measure_mcp_reference(args.calls, args.throughput_calls, args.concurrency))
        if not args.skip_sdk_client:
            client_library = asyncio.run(
                measure_sdk_client_library(
                    min(args.calls, 500), min(args.throughput_calls, 1000), max(args.concurrency)
                )
            )
    if not args.skip_ours:
        ours = asyncio.run(
            measure_edge_connector(args.calls, args.throughput_calls, args.concurrency, args.workers, args.profile)
        )
    emit(render(ours, reference, args.calls, args.concurrency, client_library))
    return 0


if __name__ == "__main__":
    sys.exit(main())
