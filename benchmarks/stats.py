"""Pure helpers shared by the benchmarks: percentiles, rates, ratios and the printed table.

Kept free of I/O so `tests/unit/test_benchmarks.py` can check the arithmetic the tables rely on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], pct: float) -> float:
    """The `pct`-th percentile (0–100) with linear interpolation between ranks (numpy's default)."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


def summarize_latencies(seconds: Sequence[float]) -> LatencySummary:
    """Summarise per-call durations given in seconds, reported in milliseconds."""
    millis = [s * 1000 for s in seconds]
    return LatencySummary(
        count=len(millis),
        p50_ms=percentile(millis, 50),
        p99_ms=percentile(millis, 99),
        mean_ms=sum(millis) / len(millis),
        max_ms=max(millis),
    )


def ratio(reference: float, ours: float) -> float:
    """How many times better ours is than the reference when lower is better (latency, time, bytes)."""
    if ours <= 0:
        return math.inf
    return reference / ours


def fmt_ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def fmt_mb(n_bytes: float) -> str:
    return f"{n_bytes / 1_048_576:.1f} MiB"


def fmt_ratio(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.2f}×"


def verdict(met: bool | None) -> str:
    """The last column of every table: did this figure meet its budget?"""
    if met is None:
        return "—"
    return "yes" if met else "NO"


@dataclass
class Table:
    """One printed table: a title, column headers and rows of already formatted cells.

    Rendered as a Markdown table so the output can be pasted into docs/performance.md unchanged.
    """

    title: str
    headers: Sequence[str]
    rows: list[Sequence[str]]
    notes: list[str]

    def __init__(self, title: str, headers: Sequence[str]) -> None:
        self.title = title
        self.headers = list(headers)
        self.rows = []
        self.notes = []

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"row has {len(cells)} cells, table has {len(self.headers)} columns")
        self.rows.append([str(c) for c in cells])

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

        def line(cells: Iterable[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [f"### {self.title}", "", line(self.headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(row) for row in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out)
