"""What the runtime counts: per-tool call counts for `/statusz`, Prometheus series for `/metrics`.

One private registry per runtime (not prometheus-client's global one) so tests and embedded runtimes
never share series. Gauges that mirror state are read at scrape time through callbacks, so the call
path only pays for one counter increment and one histogram observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The one series every tool name that the active bundle does not have shares: the names come from
#: the platform, and one series per name received would let a peer grow memory without bound.
UNKNOWN_TOOL = "(unknown)"
#: Tools of every bundle this runtime has run (renamed tools keep their old series); past it, one more.
MAX_TOOL_SERIES = 2_000

# Tool calls are sub-millisecond to tens of seconds; buckets cover both ends.
_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass
class ToolCounts:
    calls: int = 0
    errors: int = 0
    total_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "avgDurationMs": round(self.total_ms / self.calls, 3) if self.calls else None,
        }


class RuntimeMetrics:
    def __init__(self, is_known_tool: Callable[[str], bool] = lambda name: True) -> None:
        self._is_known_tool = is_known_tool
        self.registry = CollectorRegistry(auto_describe=True)
        self.per_tool: dict[str, ToolCounts] = {}
        self._calls = Counter(
            "edge_tool_calls",
            "Tool calls answered, by tool and outcome (ok or the error kind).",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "edge_tool_call_duration_seconds",
            "Time from receiving a tools/call to answering it.",
            ["tool"],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._disconnects = Counter(
            "edge_disconnects",
            "Established links to the platform that ended.",
            registry=self.registry,
        )
        self._sync_errors = Counter(
            "edge_bundle_sync_errors",
            "Bundle sync attempts that failed.",
            registry=self.registry,
        )
        self._gauges: list[Gauge] = []
        self._series: dict[tuple[str, str], tuple[Any, Any]] = {}

    def series_name(self, tool: str) -> str:
        """`tool` when it has (or may get) its own series, else `UNKNOWN_TOOL`."""
        if tool in self.per_tool:
            return tool
        if len(self.per_tool) >= MAX_TOOL_SERIES or not self._is_known_tool(tool):
            return UNKNOWN_TOOL
        return tool

    def call_finished(self, tool: str, outcome: str, seconds: float) -> None:
        tool = self.series_name(tool)
        counts = self.per_tool.get(tool)
        if counts is None:
            counts = self.per_tool[tool] = ToolCounts()
        counts.calls += 1
        counts.total_ms += seconds * 1000
        if outcome != "ok":
            counts.errors += 1
        series = self._series.get((tool, outcome))
        if series is None:  # prometheus_client's labels() takes a lock and builds a key on every call
            series = self._series[(tool, outcome)] = (self._calls.labels(tool, outcome), self._duration.labels(tool))
        series[0].inc()
        series[1].observe(seconds)

    def disconnected(self) -> None:
        self._disconnects.inc()

    def sync_failed(self) -> None:
        self._sync_errors.inc()

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge whose value is read from runtime state at every scrape."""
        gauge = Gauge(name, documentation, registry=self.registry)
        gauge.set_function(read)
        self._gauges.append(gauge)

    def render(self) -> bytes:
        return generate_latest(self.registry)
