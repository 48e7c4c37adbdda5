"""Benchmark 2 — sync of a 50 MB incompressible bundle: upload → swapped → callable, and peak RSS.

    .venv/bin/python -m benchmarks.sync [--quick] [--runs N]

Ours: a real platform and a real `edge-connector start` serving a small echo bundle (v1). The
benchmark uploads a ~50 MB bundle (random ballast, so gzip cannot shrink it) whose echo tool adds a
marker, makes it the org default, and calls `echo` until the marker answers. It reports the upload
time, the time from the end of the upload to the first answer of the new version, the total, and
the growth of the runtime tree's RSS while it synced (sampled every 5 ms, plus the python process's
kernel high-water mark VmHWM).
Reference: `curl` downloading the same archive from a loopback HTTP server, then `sha256sum` of it.
"""

from __future__ import annotations

import argparse
import http.server
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .output import emit
from .stats import Table, fmt_mb, fmt_ratio, verdict

TOTAL_BUDGET_S = 3.0
RSS_BUDGET_BYTES = 30 * 1_048_576
#: Every upload is a new version of one bundle, as a user's re-deploys are.
BUNDLE_NAME = "bench-sync"


@dataclass(frozen=True)
class SyncRun:
    upload_s: float
    to_live_s: float
    rss_growth: int
    hwm_growth: int
    python_growth: int
    processes_before: int
    processes_peak: int
    #: The runtime's own account of the swap, from its log line "… is now serving (…)".
    runtime_breakdown: str = ""

    @property
    def total_s(self) -> float:
        return self.upload_s + self.to_live_s


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one sync and one reference download")
    parser.add_argument("--runs", type=int, default=None, help="syncs to time (default 3, --quick 1)")
    parser.add_argument("--skip-ours", action="store_true", help="measure only the curl + sha256sum reference")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


# ------------------------------------------------------------------------------------ reference
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass


def serve_directory(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A loopback static file server on a free port, running on a daemon thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def curl_and_sha256(url: str, target: Path) -> tuple[float, str]:
    """Seconds for `curl -o target url && sha256sum target`, and the hex digest sha256sum printed."""
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", str(target), url], check=True)
    out = subprocess.run(["sha256sum", str(target)], check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed, out.split()[0]


def measure_reference(archive: Path, runs: int, scratch: Path) -> float:
    server, url = serve_directory(archive.parent)
    try:
        curl_and_sha256(f"{url}/{archive.name}", scratch / "warm.tar.gz")  # page cache, curl's first start
        return statistics.median(
            curl_and_sha256(f"{url}/{archive.name}", scratch / "copy.tar.gz")[0] for _ in range(runs)
        )
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------ ours
def measure_ours(work: Path, runs: int, big_bundles: list) -> list[SyncRun]:
    from tests.support.waiting import wait_until

    from .bundles import make_echo_bundle
    from .procstats import PeakRssSampler, status_bytes, tree
    from .stack import start_platform, start_runtime, wait_for_tool

    platform = start_platform(work / "platform")
    runtime = None
    try:
        platform.publish(make_echo_bundle(work / "small", name=BUNDLE_NAME, marker="small"))
        runtime = start_runtime(platform, work / "install")
        wait_for_tool(platform, "echo", {"message": "x"}, accept=lambda out: out.get("bundle") == "small")
        results = []
        for bundle in big_bundles:
            marker = bundle.marker
            # Sampling starts after the runtime settled, so the growth is the sync's own.
            hwm_before = status_bytes(runtime.pid, "VmHWM")
            processes_before = len(tree(runtime.pid))
            swaps_before = len(swap_breakdowns(runtime.output))
            sampler = PeakRssSampler(runtime.pid).start()
            started = time.perf_counter()
            version = int(platform.upload(bundle)["version"])
            uploaded = time.perf_counter()
            platform.set_default(bundle.manifest.bundle, version)
            wait_for_tool(
                platform, "echo", {"message": "x"}, timeout=120, accept=lambda out, m=marker: out.get("bundle") == m
            )
            live = time.perf_counter()
            growth = sampler.stop()
            try:  # the runtime logs its timing right after the swap, which may trail the first answer
                logged = wait_until(partial(_new_swaps, runtime.output, swaps_before), 5.0)[0]
            except AssertionError:
                logged = ""
            results.append(
                SyncRun(
                    uploaded - started,
                    live - uploaded,
                    growth,
                    max(0, status_bytes(runtime.pid, "VmHWM") - hwm_before),
                    sampler.root_growth,
                    processes_before,
                    sampler.max_processes,
                    logged,
                )
            )
        return results
    finally:
        if runtime is not None:
            runtime.stop()
        platform.stop()


_SERVING = re.compile(r"is now serving \(([^)]*)\)")


def swap_breakdowns(log_lines: list[str]) -> list[str]:
    """Every "is now serving (… ms: download …, verify …, load + swap …)" detail the runtime logged."""
    return [m.group(1) for m in map(_SERVING.search, list(log_lines)) if m]


def _new_swaps(log_lines: list[str], seen: int) -> list[str]:
    """The swap details logged after the first `seen` ones."""
    return swap_breakdowns(log_lines)[seen:]


def render(reference_s: float, runs: list[SyncRun], archive_size: int) -> Table:
    table = Table(
        f"sync: {archive_size:,}-byte ({fmt_mb(archive_size)}) incompressible bundle",
        ["figure", "edge-connector", "curl + sha256sum", "ours / ref", "budget", "met"],
    )
    if not runs:
        table.add("download + verify", "—", f"{reference_s:.3f} s", "—", "—", "—")
        return table
    median = lambda values: statistics.median(values)  # noqa: E731
    upload = median(r.upload_s for r in runs)
    to_live = median(r.to_live_s for r in runs)
    total = median(r.total_s for r in runs)
    growth = max(r.rss_growth for r in runs)
    hwm = max(r.hwm_growth for r in runs)
    python_growth = max(r.python_growth for r in runs)
    worst = max(runs, key=lambda r: r.rss_growth)
    table.add("upload (POST archive)", f"{upload:.3f} s", "—", "—", "—", "—")
    table.add(
        "upload done → new version answers",
        f"{to_live:.3f} s",
        f"{reference_s:.3f} s",
        fmt_ratio(to_live / reference_s),
        "—",
        "—",
    )
    table.add(
        "upload start → new version answers",
        f"{total:.3f} s",
        "—",
        "—",
        f"≤ {TOTAL_BUDGET_S:g} s",
        verdict(total <= TOTAL_BUDGET_S),
    )
    table.add(
        "runtime python peak RSS growth (sampled / kernel VmHWM)",
        f"{fmt_mb(python_growth)} / {fmt_mb(hwm)}",
        "—",
        "—",
        f"≤ {fmt_mb(RSS_BUDGET_BYTES)}",
        verdict(max(python_growth, hwm) <= RSS_BUDGET_BYTES),
    )
    table.add(
        "runtime tree peak RSS growth (python + node workers)",
        fmt_mb(growth),
        "—",
        "—",
        f"≤ {fmt_mb(RSS_BUDGET_BYTES)}",
        verdict(growth <= RSS_BUDGET_BYTES),
    )
    table.note(
        f"processes in the runtime tree: {worst.processes_before} before, up to {worst.processes_peak} during "
        "the swap (new workers load the new bundle while the old ones finish), so the tree's peak "
        "includes one extra worker pool for a moment"
    )
    for i, run in enumerate(runs, 1):
        if run.runtime_breakdown:
            table.note(f"sync {i}, the runtime's own timing: {run.runtime_breakdown}")
    table.note(f"median of {len(runs)} sync(s); peak RSS is the worst run")
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("curl") or not shutil.which("sha256sum"):
        print("this benchmark needs curl and sha256sum on PATH", file=sys.stderr)
        return 1
    from .bundles import largest_ballast, make_echo_bundle

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        # A fresh random bundle per run: equal checksums would (rightly) skip the download.
        bundles = [
            make_echo_bundle(work / f"big-{i}", name=BUNDLE_NAME, marker=f"big-{i}", ballast_bytes=largest_ballast())
            for i in range(args.runs)
        ]
        for bundle in bundles:  # only the archives are needed from here on
            shutil.rmtree(bundle.archive.parent / bundle.manifest.bundle)
        reference_s = measure_reference(bundles[0].archive, max(args.runs, 3), work)
        runs = [] if args.skip_ours else measure_ours(work, args.runs, bundles)
        emit(render(reference_s, runs, bundles[0].size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
