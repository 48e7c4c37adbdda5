"""Benchmark 4 — idle footprint of a connected runtime: RSS of python and of each node worker, CPU.

    .venv/bin/python -m benchmarks.footprint [--quick] [--seconds S]

Starts a real platform and `edge-connector start` with the echo bundle at default settings
(heartbeat 30 s, sync every 600 s, 2 workers), makes one call so every worker has loaded its tools,
lets it settle, then measures over 60 s (`--quick`: 10 s) with nothing else happening: CPU seconds
of the python process and of the node workers (as a percentage of one core) and RSS at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from .output import emit
from .stats import Table, fmt_mb, verdict

PYTHON_RSS_BUDGET = 60 * 1_048_576
NODE_RSS_BUDGET = 50 * 1_048_576
CPU_BUDGET_PERCENT = 1.0
SETTLE_SECONDS = 3.0


@dataclass(frozen=True)
class ProcessFootprint:
    label: str
    pid: int
    rss: int
    cpu_percent: float
    cpu_seconds: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.footprint", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="measure CPU over 10 s instead of 60 s")
    parser.add_argument("--seconds", type=float, default=None, help="length of the idle window (default 60)")
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 10.0 if args.quick else 60.0
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def label_for(proc: psutil.Process, root_pid: int) -> str:
    if proc.pid == root_pid:
        return "runtime (python)"
    try:
        # node renames its main thread, so the executable and arguments tell what it is
        command = " ".join(proc.cmdline())
        exe = Path(proc.exe()).name
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return f"pid {proc.pid}"
    return "node worker" if exe.startswith("node") or "host.mjs" in command else exe


def measure_idle(root_pid: int, seconds: float) -> list[ProcessFootprint]:
    """CPU over the window and RSS at its end, for the runtime and each descendant alive throughout."""
    root = psutil.Process(root_pid)
    procs = [root, *root.children(recursive=True)]
    before = {p.pid: _cpu(p) for p in procs}
    started = time.monotonic()
    # An idle window is just waiting: the benchmark itself must not poke the runtime meanwhile.
    time.sleep(seconds)
    wall = time.monotonic() - started
    results = []
    for proc in procs:
        try:
            used = _cpu(proc) - before[proc.pid]
            results.append(
                ProcessFootprint(label_for(proc, root_pid), proc.pid, proc.memory_info().rss, used / wall * 100, used)
            )
        except psutil.NoSuchProcess:
            pass
    return results


def render(results: list[ProcessFootprint], seconds: float) -> Table:
    table = Table(
        f"idle footprint over {seconds:g} s (default settings, echo bundle loaded)",
        ["process", "pid", "RSS", "CPU (% of one core)", "budget", "met"],
    )
    for r in results:
        is_python = r.label.startswith("runtime")
        rss_budget = PYTHON_RSS_BUDGET if is_python else NODE_RSS_BUDGET
        met = r.rss <= rss_budget and r.cpu_percent <= CPU_BUDGET_PERCENT
        table.add(
            r.label,
            r.pid,
            fmt_mb(r.rss),
            f"{r.cpu_percent:.2f} % ({r.cpu_seconds:.2f} s)",
            f"≤ {fmt_mb(rss_budget)}, ≤ {CPU_BUDGET_PERCENT:g} %",
            verdict(met),
        )
    total_cpu = sum(r.cpu_percent for r in results)
    total_rss = sum(r.rss for r in results)
    table.add(
        "whole tree",
        "—",
        fmt_mb(total_rss),
        f"{total_cpu:.2f} % ({sum(r.cpu_seconds for r in results):.2f} s)",
        f"≤ {CPU_BUDGET_PERCENT:g} % CPU",
        verdict(total_cpu <= CPU_BUDGET_PERCENT),
    )
    table.note(
        "CPU is user + system time read from /proc (10 ms resolution) over the window; heartbeats "
        "(30 s) and the sync poll (600 s) are the only scheduled work at default settings"
    )
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .bundles import make_echo_bundle
    from .stack import start_platform, start_runtime, wait_for_tool

    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        platform = start_platform(Path(tmp, "platform"))
        runtime = None
        try:
            platform.publish(make_echo_bundle(Path(tmp, "bundle")))
            runtime = start_runtime(platform, Path(tmp, "install"))
            for _ in range(8):  # reach every worker (the platform picks; a few calls cover 2 workers)
                wait_for_tool(platform, "echo", {"message": "warm"})
            time.sleep(SETTLE_SECONDS)  # a measurement window, not synchronisation: let start-up garbage settle
            results = measure_idle(runtime.pid, args.seconds)
        finally:
            if runtime is not None:
                runtime.stop()
            platform.stop()
    emit(render(results, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
