"""Benchmark — the same echo tool through three MCP servers, in one run, each driven by a raw client.

    .venv/bin/python -m benchmarks.mcp_call_path [--quick] [--calls N] [--throughput-calls N] [--concurrency 16,64]

(a) the platform's `/mcp` → hub → runtime → node: pre-encoded HTTP POSTs of revision 2026-07-28
    (no initialize, no session) over keep-alive connections (benchmarks/loadgen.py);
(b) the reference: the `mcp` SDK's own high-level server (MCPServer) with a Python echo function
    over stdio (benchmarks/mcp_echo_server.py);
(c) `edge-connector mcp DIR` over stdio: the SDK's low-level server in front of the runtime's
    executor and Node.js workers.
(Not `benchmarks/mcp.py`: run as a script, `mcp_echo_server.py` would import it instead of the SDK.)
(b) and (c) are driven by a raw newline JSON-RPC client (benchmarks/stdio_rpc.py), many requests in
flight on the one pipe. Prints sequential p50/p99, throughput at each concurrency, serving-side CPU
per call, and where the time goes. Targets (DESIGN.md): (a) and (c) throughput ≥ 1× (b), p50 ≤ 1.5× (b).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .call_path import bounded, parse_concurrency
from .loadgen import KeepAliveConnection, ThroughputResult, sequential, throughput
from .output import emit
from .stats import LatencySummary, Table, fmt_ms, fmt_ratio, percentile, summarize_latencies, verdict
from .stdio_rpc import StdioRpcClient

MESSAGE = {"message": "hello"}
THROUGHPUT_FACTOR = 1.0  # (a) and (c) carry at least the SDK server's throughput
P50_FACTOR = 1.5  # and answer within 1.5× its p50
MODERN = "2026-07-28"
RECENT_CALLS_LIMIT = 500  # GET /api/calls?limit= at most
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}
ECHO_TOOL_JS = """\
export default {
  name: "echo",
  description: "Return the input unchanged",
  inputSchema: %s,
  async run(input) { return input; },
};
"""


@dataclass
class Side:
    name: str
    latency: LatencySummary
    throughput: dict[int, ThroughputResult]
    cpu_per_call_us: dict[int, float]
    errors: int = 0
    notes: list[str] = field(default_factory=list)
    #: Serving CPU per call by process, at each level: {level: {"platform": µs, "node workers": µs, …}}.
    cpu_parts_us: dict[int, dict[str, float]] = field(default_factory=dict)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mcp_call_path", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test, CI)")
    parser.add_argument("--calls", type=int, default=None, help="sequential calls per server (default 2000, quick 200)")
    parser.add_argument(
        "--throughput-calls", type=int, default=None, help="calls per throughput level (default 5000, quick 500)"
    )
    parser.add_argument("--concurrency", type=parse_concurrency, default=[16, 64], help="caller counts, e.g. 16,64")
    parser.add_argument(
        "--workers", type=int, default=2, help="Node.js workers for (a) and (c) (default 2, the runtime's)"
    )
    args = parser.parse_args(argv)
    args.calls = args.calls or (200 if args.quick else 2000)
    args.throughput_calls = args.throughput_calls or (500 if args.quick else 5000)
    return args


def _own_cpu(pid: int) -> float:
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def _children_cpu(pid: int) -> float:
    from .procstats import tree_cpu_seconds

    return tree_cpu_seconds(pid) - _own_cpu(pid)


def process_parts(roots: dict[str, int]) -> dict[str, Callable[[], float]]:
    """CPU-seconds readers of the serving processes: each root itself, and its Node.js workers (its children)."""

    def own(pid: int) -> Callable[[], float]:
        return lambda: _own_cpu(pid)

    parts = {name: own(pid) for name, pid in roots.items()}
    parts["node workers"] = lambda: sum(_children_cpu(pid) for pid in roots.values())
    return parts


async def _measure(
    name: str,
    call: Callable[[], Awaitable[None]],
    make_caller,
    parts: dict[str, Callable[[], float]],
    calls: int,
    throughput_calls: int,
    levels: list[int],
    errors: Callable[[], int],
) -> Side:
    for _ in range(min(200, calls)):  # warm-up: imports, caches, JIT of the node workers
        await call()
    latency = summarize_latencies(await bounded(sequential(call, calls)))
    results, cpu, split = {}, {}, {}
    for level in levels:
        before = {part: read() for part, read in parts.items()}
        result = await bounded(throughput(make_caller, level, throughput_calls))
        results[level] = result
        split[level] = {part: (read() - before[part]) / result.calls * 1e6 for part, read in parts.items()}
        cpu[level] = sum(split[level].values())
    return Side(name, latency, results, cpu, errors(), cpu_parts_us=split)


# ------------------------------------------------------------------------------ (b) and (c): stdio
async def measure_stdio(
    name: str,
    argv: list[str],
    calls: int,
    throughput_calls: int,
    levels: list[int],
    stderr_path: Path | None = None,
    process: str = "server",
) -> Side:
    client = StdioRpcClient(argv, stderr_path=stderr_path)
    await client.start()
    failures = 0
    tail = client.encoder("tools/call", {"name": "echo", "arguments": MESSAGE})
    try:

        async def call() -> None:
            nonlocal failures
            result = await client.send(tail)
            if result.get("isError") or result.get("structuredContent") != MESSAGE:
                failures += 1

        async def shared_pipe(_: int):
            return call  # every caller shares the one stdio session, as an MCP client does

        parts = process_parts({process: client.pid})
        return await _measure(name, call, shared_pipe, parts, calls, throughput_calls, levels, lambda: failures)
    finally:
        await client.close()


def write_echo_project(root: Path) -> Path:
    from .bundles import ECHO_SCHEMA

    (root / "src" / "tools").mkdir(parents=True, exist_ok=True)
    (root / "edge.json").write_text(json.dumps({"name": "bench-echo", "toolsDir": "src/tools"}))
    (root / "package.json").write_text(json.dumps({"name": "bench-echo", "version": "1.0.0", "type": "module"}))
    (root / "src" / "tools" / "echo.js").write_text(ECHO_TOOL_JS % json.dumps(ECHO_SCHEMA))
    return root


# ----------------------------------------------------------------------------------- (a): /mcp
async def measure_platform(calls: int, throughput_calls: int, levels: list[int], workers: int) -> tuple[Side, dict]:
    from .bundles import make_echo_bundle
    from .stack import start_platform, start_runtime, wait_for_tool

    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
        platform = start_platform(Path(tmp, "platform"))
        runtime = None
        connections: list[KeepAliveConnection] = []
        try:
            platform.publish(make_echo_bundle(Path(tmp, "bundle")))
            runtime = start_runtime(platform, Path(tmp, "install"), env={"EC_WORKERS": str(workers)})
            wait_for_tool(platform, "echo", MESSAGE)
            headers = {
                "Authorization": f"Bearer {platform.token}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": MODERN,
                "Mcp-Method": "tools/call",
                "Mcp-Name": "echo",
            }
            body = orjson.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "echo", "arguments": MESSAGE, "_meta": ENVELOPE},
                }
            )
            failures = 0

            async def caller(_: int):
                conn = await KeepAliveConnection(platform.url, headers).connect()
                connections.append(conn)
                raw = conn.request_bytes("POST", "/mcp", body)

                async def call() -> None:
                    nonlocal failures
                    status, answer = await conn.send(raw)
                    if status != 200 or b'"structuredContent":{"message":"hello"}' not in answer:
                        failures += 1
                        if failures <= 3:
                            print(f"/mcp call failed: {status} {answer[:300]!r}", file=sys.stderr)

                return call

            one = await caller(0)
            side = await _measure(
                "(a) /mcp → hub → runtime → node",
                one,
                caller,
                process_parts({"platform": platform.pid, "runtime": runtime.pid}),
                calls,
                throughput_calls,
                levels,
                lambda: failures,
            )

            # Where the time goes: the same stack without the MCP layer, and the hub's and runtime's shares.
            plain_conn = await KeepAliveConnection(
                platform.url, {"Authorization": f"Bearer {platform.token}", "Content-Type": "application/json"}
            ).connect()
            connections.append(plain_conn)
            plain_raw = plain_conn.request_bytes("POST", "/api/tools/echo/call", b'{"arguments":{"message":"hello"}}')
            runtime_ms: list[float] = []

            async def plain() -> None:
                status, answer = await plain_conn.send(plain_raw)
                if status == 200:
                    runtime_ms.append(float(orjson.loads(answer)["durationMs"]))

            breakdown = {
                "call_api_p50_ms": summarize_latencies(await bounded(sequential(plain, min(calls, 1000)))).p50_ms,
                "runtime_p50_ms": percentile(runtime_ms, 50) if runtime_ms else float("nan"),
            }
            # The hub's record of the newest of those plain calls, not of the throughput phases (the API
            # gives at most RECENT_CALLS_LIMIT).
            newest = max(1, min(len(runtime_ms), RECENT_CALLS_LIMIT))
            status, recent = await plain_conn.send(plain_conn.request_bytes("GET", f"/api/calls?limit={newest}"))
            hub_ms = [c["durationMs"] for c in orjson.loads(recent).get("calls", [])] if status == 200 else []
            breakdown["hub_p50_ms"] = percentile(hub_ms, 50) if hub_ms else float("nan")
            return side, breakdown
        finally:
            for conn in connections:
                await conn.close()
            if runtime is not None:
                runtime.stop()
            platform.stop()


# ------------------------------------------------------------------------------------------ table
def render(sides: list[Side], reference: Side, breakdown: dict, calls: int, levels: list[int]) -> Table:
    table = Table(
        f"MCP: echo tool, {calls:,} sequential calls, throughput at {', '.join(map(str, levels))} callers "
        f"(raw clients)",
        ["figure", *(s.name for s in sides), "target for (a), (c)"],
    )
    ref_p50 = reference.latency.p50_ms

    def judged(side: Side, ok: bool | None) -> str:
        return "" if side is reference or ok is None else f" ({verdict(ok)})"

    table.add(
        "sequential p50",
        *(
            fmt_ms(s.latency.p50_ms)
            + (
                ""
                if s is reference
                else f" = {fmt_ratio(s.latency.p50_ms / ref_p50)} ref"
                + judged(s, s.latency.p50_ms <= P50_FACTOR * ref_p50)
            )
            for s in sides
        ),
        f"≤ {P50_FACTOR:g}× (b)",
    )
    table.add("sequential p99", *(fmt_ms(s.latency.p99_ms) for s in sides), "—")
    for level in levels:
        ref_rate = reference.throughput[level].per_second
        table.add(
            f"throughput, {level} callers",
            *(
                f"{s.throughput[level].per_second:,.0f}/s"
                + (
                    ""
                    if s is reference
                    else f" = {fmt_ratio(s.throughput[level].per_second / ref_rate)} ref"
                    + judged(s, s.throughput[level].per_second >= THROUGHPUT_FACTOR * ref_rate)
                )
                for s in sides
            ),
            f"≥ {THROUGHPUT_FACTOR:g}× (b)",
        )
        table.add(
            f"serving CPU per call, {level} callers", *(f"{s.cpu_per_call_us[level]:,.0f} µs" for s in sides), "—"
        )
    for side in sides:
        table.note(f"{side.name}: {side.errors} failed calls")
    a, _b, _c = sides
    top = levels[-1]
    for side in sides:
        parts = side.cpu_parts_us.get(top, {})
        if parts:
            split = ", ".join(f"{part} {us:,.0f} µs" for part, us in parts.items() if us >= 0.5)
            table.note(f"where the CPU goes, {side.name}, per call at {top} callers: {split}")
    table.note(
        "where the time goes, sequential p50 on (a)'s stack: the plain call API (HTTP in, hub, runtime, node) "
        f"{fmt_ms(breakdown['call_api_p50_ms'])}, of which the hub's round trip (WebSocket out, runtime, back) "
        f"{fmt_ms(breakdown['hub_p50_ms'])} and the runtime's own time (argument check, sandboxed Node.js call) "
        f"{fmt_ms(breakdown['runtime_p50_ms'])}; the MCP layer of /mcp adds "
        f"{fmt_ms(a.latency.p50_ms - breakdown['call_api_p50_ms'])}"
    )
    table.note(
        "the SDK server layer: (b) is the SDK's high-level server and its stdio transport around a Python echo; "
        "(c) runs the SDK's low-level server on an event-loop stdio transport, then the runtime's executor and "
        "a Node.js worker; (a) answers a plain 2026-07-28 tools/call beside the SDK (same envelope checks, "
        "the same JSON) and hands every other request to the SDK's Streamable HTTP entry"
    )
    return table


async def run(args: argparse.Namespace) -> tuple[list[Side], dict]:
    levels = args.concurrency
    reference_server = Path(__file__).with_name("mcp_echo_server.py")
    reference = await measure_stdio(
        "(b) mcp SDK MCPServer (stdio)",
        [sys.executable, str(reference_server)],
        args.calls,
        args.throughput_calls,
        levels,
        process="SDK server",
    )
    with tempfile.TemporaryDirectory(prefix="bench-mcp-local-") as tmp:
        project = write_echo_project(Path(tmp, "project"))
        local = await measure_stdio(
            "(c) edge-connector mcp DIR (stdio)",
            [
                sys.executable,
                "-m",
                "edge_cli",
                "mcp",
                str(project),
                "--no-watch",
                "--workers",
                str(args.workers),
                "--log-level",
                "WARNING",
            ],
            args.calls,
            args.throughput_calls,
            levels,
            stderr_path=Path(tmp, "mcp.log"),
            process="edge-connector mcp",
        )
    platform, breakdown = await measure_platform(args.calls, args.throughput_calls, levels, args.workers)
    return [platform, reference, local], breakdown


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sides, breakdown = asyncio.run(run(args))
    emit(render(sides, sides[1], breakdown, args.calls, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
