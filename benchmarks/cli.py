"""CLI start-up: whole-process wall time of `edge-connector --help` and `status`, beside the floor of any
typer CLI (`python -c "import typer"`) measured in the same run.

`status` runs against nothing listening (its error path: no runtime on the health port), so it measures
start-up plus one refused loopback connection. Medians of N runs; each run is a fresh interpreter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from tests.support.waiting import free_port

from .output import emit
from .stats import Table, fmt_ratio, verdict

HELP_FLOOR_RATIO, STATUS_LIMIT_S = 2.0, 0.150


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs each instead of 7")
    parser.add_argument("--runs", type=int, default=None, help="runs per command (default 7, quick 3)")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 3 if args.quick else 7
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def median_wall(command: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall time in seconds of `command`, run `runs` times (after one unmeasured warm-up for the page cache)."""
    samples = []
    for i in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=60, check=False)
        if i:
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli = [sys.executable, "-m", "edge_cli"]
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "HEALTH_PORT": str(free_port()), "EC_DISABLE_TRAY": "1"}
        floor = median_wall([sys.executable, "-c", "import typer"], args.runs, env)
        help_s = median_wall([*cli, "--help"], args.runs, env)
        status_s = median_wall([*cli, "status"], args.runs, {**env})
    table = Table(f"CLI start-up (median of {args.runs} fresh processes)", ["command", "wall", "budget", "met"])
    table.add('floor: python -c "import typer"', f"{floor * 1000:.0f} ms", "—", "—")
    table.add(
        "edge-connector --help",
        f"{help_s * 1000:.0f} ms ({fmt_ratio(help_s / floor)} the floor)",
        f"≤ {HELP_FLOOR_RATIO:.0f}× floor",
        verdict(help_s <= HELP_FLOOR_RATIO * floor),
    )
    table.add(
        "edge-connector status (nothing running)",
        f"{status_s * 1000:.0f} ms",
        f"≤ {STATUS_LIMIT_S * 1000:.0f} ms",
        verdict(status_s <= STATUS_LIMIT_S),
    )
    table.note("each run is `python -m edge_cli …` in a fresh interpreter; the machine may be shared")
    emit(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
